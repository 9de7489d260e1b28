/**
 * Blue ticks (and the typing dots) for a message the person sent. Not a message to the person, so no consent
 * question: it only tells them their message was read. Meta takes it only for a message this number received.
 */
import { NodeApiError, updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties, type JsonObject } from 'n8n-workflow';
import { markAsReadRequest, WhatsAppApiError } from '../../../../lib/whatsapp';
import { redactPersonalData } from '../../../../lib/redact';
import { toNodeError } from '../../../shared/errors';
import { clientFor } from '../../transport/client';
import { parameterReader } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	{
		displayName: 'Message ID',
		name: 'messageId',
		type: 'string',
		default: '={{ $json.message.id }}',
		required: true,
		description:
			"The wamid of a message the person sent to this business number (the message ID the Opt-In Trigger outputs). Only received messages can be marked as read: Meta refuses the ID of a message the business sent.",
	},
	{
		displayName: 'Show Typing Indicator',
		name: 'typingIndicator',
		type: 'boolean',
		default: false,
		description: 'Whether to also show the typing dots until the reply goes out, at most 25 seconds. Only worth it when a reply follows.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['message'], operation: ['markAsRead'] } }, properties);

/** Meta's answer to an id that is not a received message: the generic fix of 100 would not say that. */
const NOT_RECEIVED_FIX = "Use the id of a message the person sent to this number (the message ID the Opt-In Trigger outputs), not the wamid of a message the business sent";

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const read = parameterReader(this);
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const options = this.getNodeParameter('options', 0, {}) as { dryRun?: boolean; redactOutput?: boolean; messagesPerSecond?: number; pairRateSeconds?: number };
	const pace = { messagesPerSecond: options.messagesPerSecond ?? 80, pairRateSeconds: options.pairRateSeconds ?? 6 };
	const signal = this.getExecutionCancelSignal();
	const marked: INodeExecutionData[] = [];
	const failed: INodeExecutionData[] = [];
	for (let index = 0; index < items.length; index++) {
		const messageId = String(read('messageId', index) ?? '');
		const typingIndicator = read('typingIndicator', index, false) === true;
		let json: JsonObject;
		try {
			if (options.dryRun) {
				json = { status: 'would_mark_read', dryRun: true, request: markAsReadRequest(messageId, typingIndicator) as unknown as JsonObject };
			} else {
				await clientFor(credentials, pace, String(read('options.phoneNumberId', index, '') ?? '')).markAsRead(messageId, signal, typingIndicator);
				json = { status: 'read', messageId, typingIndicator };
			}
		} catch (error) {
			const fix = error instanceof WhatsAppApiError && error.metaCode === 100 ? NOT_RECEIVED_FIX : (error as { hint?: string }).hint;
			if (!this.continueOnFail()) {
				if (error instanceof WhatsAppApiError) {
					throw new NodeApiError(this.getNode(), { code: error.metaCode, message: error.message } as JsonObject, { message: error.message, description: fix, httpCode: String(error.httpStatus), itemIndex: index });
				}
				throw toNodeError(this.getNode(), error, index);
			}
			json = { status: 'failed', messageId, code: error instanceof WhatsAppApiError ? error.metaCode : null, message: (error as Error).message, fix: fix ?? null };
		}
		const out = { ...items[index].json, whatsapp: json };
		(json.status === 'failed' ? failed : marked).push({ json: options.redactOutput ? redactPersonalData(out) : out, pairedItem: { item: index } });
	}
	return [marked, failed];
}
