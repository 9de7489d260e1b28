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
		description:
			"Up to 1,024 characters, above WhatsApp's own button that shares the person's number. For people with a WhatsApp username, whose messages carry no number; the answer completes a pending sign-up.",
	},
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['requestContactInfo'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	return { type: 'contact_info_request', body: read('body', index) as string };
}
