import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { ListRow, OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{ displayName: 'Text', name: 'body', type: 'string', typeOptions: { rows: 3 }, default: '', required: true, description: 'Up to 1,024 characters' },
	{
		displayName: 'Button Text',
		name: 'button',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Choose a time',
		description: 'The button that opens the list, up to 20 characters',
	},
	{
		displayName: 'Sections',
		name: 'sections',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: {},
		placeholder: 'Add Section',
		description: 'Up to 10 sections with up to 10 rows in all; with more than one section each needs a title',
		options: [
			{
				name: 'section',
				displayName: 'Section',
				values: [
					{ displayName: 'Title', name: 'title', type: 'string', default: '', description: 'Up to 24 characters; needed when the list has more than one section' },
					{
						displayName: 'Rows',
						name: 'rows',
						type: 'fixedCollection',
						typeOptions: { multipleValues: true, sortable: true },
						default: {},
						placeholder: 'Add Row',
						options: [
							{
								name: 'row',
								displayName: 'Row',
								values: [
									{ displayName: 'Title', name: 'title', type: 'string', default: '', description: 'Up to 24 characters' },
									{ displayName: 'Description', name: 'description', type: 'string', default: '', description: 'Optional, up to 72 characters' },
									{ displayName: 'ID', name: 'id', type: 'string', default: '', description: 'Comes back in the reply (interactiveId), up to 200 characters; empty: the title' },
								],
							},
						],
					},
				],
			},
		],
	},
	{ displayName: 'Header', name: 'header', type: 'string', default: '', description: 'Optional, up to 60 characters' },
	{ displayName: 'Footer', name: 'footer', type: 'string', default: '', description: 'Optional, up to 60 characters' },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendList'] } }, properties);

type Section = { title?: string; rows?: { row?: ListRow[] } };

export function build(read: ParameterReader, index: number): OutgoingMessage {
	const sections = (read('sections', index, {}) as { section?: Section[] }).section ?? [];
	return {
		type: 'list',
		body: read('body', index) as string,
		button: read('button', index) as string,
		sections: sections.map((section) => ({
			title: section.title || undefined,
			rows: (section.rows?.row ?? []).map((row) => ({ id: row.id, title: row.title, description: row.description || undefined })),
		})),
		header: (read('header', index) as string) || undefined,
		footer: (read('footer', index) as string) || undefined,
	};
}
