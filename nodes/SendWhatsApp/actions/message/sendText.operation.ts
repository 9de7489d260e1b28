import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		required: true,
		description: 'Up to 4,096 characters. Free text is only possible within 24 hours after the person last wrote; otherwise use Send Template.',
	},
	{
		displayName: 'Show Link Preview',
		name: 'previewUrl',
		type: 'boolean',
		default: false,
		description: 'Whether to show a preview of the first link in the text',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendText'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	return { type: 'text', text: read('text', index) as string, previewUrl: read('previewUrl', index) as boolean };
}
