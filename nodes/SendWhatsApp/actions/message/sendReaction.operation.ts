import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';
import type { ParameterReader } from '../../../shared/parameters';
import type { OutgoingMessage } from '../../../../lib/whatsapp';

const properties: INodeProperties[] = [
	{
		displayName: 'Message ID',
		name: 'messageId',
		type: 'string',
		default: '={{ $json.message.id }}',
		required: true,
		description: "The wamid of the person's message to react to (the message ID the Opt-In Trigger outputs). A reaction is a message inside the 24-hour window.",
	},
	{ displayName: 'Emoji', name: 'emoji', type: 'string', default: '👍', description: 'One emoji; empty removes the reaction sent before' },
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['sendReaction'] } }, properties);

export function build(read: ParameterReader, index: number): OutgoingMessage {
	return { type: 'reaction', messageId: read('messageId', index) as string, emoji: (read('emoji', index, '') as string) ?? '' };
}
