import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{ displayName: 'Text', name: 'body', type: 'string', typeOptions: { rows: 3 }, default: '', required: true, description: 'Up to 1,024 characters' },
	{
		displayName: 'Buttons',
		name: 'buttons',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: {},
		placeholder: 'Add Button',
		description: 'One to three reply buttons',
		options: [
			{
				name: 'button',
				displayName: 'Button',
				values: [
					{ displayName: 'Title', name: 'title', type: 'string', default: '', description: 'Up to 20 characters' },
					{ displayName: 'ID', name: 'id', type: 'string', default: '', description: 'Comes back in the reply, e.g. yes or order-42-confirm' },
				],
			},
		],
	},
	{ displayName: 'Header', name: 'header', type: 'string', default: '', description: 'Optional, up to 60 characters' },
	{ displayName: 'Footer', name: 'footer', type: 'string', default: '', description: 'Optional, up to 60 characters' },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendButtons'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	const buttons = (read('buttons', index, {}) as { button?: { id: string; title: string }[] }).button ?? [];
	return {
		type: 'interactive',
		body: read('body', index) as string,
		buttons: buttons.map((button) => ({ id: button.id || button.title, title: button.title })),
		header: (read('header', index) as string) || undefined,
		footer: (read('footer', index) as string) || undefined,
	};
}
