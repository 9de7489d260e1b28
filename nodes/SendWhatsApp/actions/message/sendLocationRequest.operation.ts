import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{
		displayName: 'Text',
		name: 'body',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		required: true,
		placeholder: 'Where should we pick you up? Tap Send Location.',
		description: "Up to 1,024 characters, shown above WhatsApp's Send Location button. The shared location reaches the Opt-In Trigger as a message with message.location.",
	},
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendLocationRequest'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	return { type: 'location_request', body: read('body', index) as string };
}
