/** Meta's side of the trigger: the verification handshake and signed events, committed before they are answered. */
import { timingSafeEqual } from 'node:crypto';
import type { IDataObject, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { otherNumbersNotice, receiveMetaDelivery, replaysNotice, workflowItems } from '../../lib/meta-delivery';
import { ledgerFor, replayWindowMsOf } from '../shared/ledger';
import { triggerOptions, widgetConfigOf } from './widgetConfig';

function sameSecret(given: string, expected: string): boolean {
	const a = Buffer.from(given);
	const b = Buffer.from(expected);
	return a.length === b.length && timingSafeEqual(a, b);
}

export async function answerHandshake(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const query = this.getRequestObject().query as IDataObject;
	const response = this.getResponseObject();
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const token = String(credentials.verifyToken ?? '');
	if (query['hub.mode'] === 'subscribe' && token !== '' && sameSecret(String(query['hub.verify_token'] ?? ''), token)) {
		response.status(200).type('text/plain').send(String(query['hub.challenge'] ?? ''));
	} else {
		response.status(403).type('text/plain').send('Verify token does not match the WhatsApp credential');
	}
	return { noWebhookResponse: true };
}

/**
 * A signed POST from Meta. A missing or wrong signature is answered 401 and changes nothing; events for another
 * business number than the credential's are logged and answered 200 without touching the ledger; a ledger that
 * cannot commit answers 500, so Meta delivers again; only what is committed is acknowledged with 200 (invariant 4).
 *
 * What the events owe the workflow stays in the ledger's outbox until n8n has stored the execution (invariant 7).
 * For an `onReceived` webhook that returns workflow data, n8n answers only after it created the execution (n8n
 * 2.41.1, packages/cli/src/webhooks/webhook-helpers.ts: the answer is deferred at line 1028, the execution created
 * by WorkflowRunner.run at 1123, the answer sent at 1162), so the items are handed over when that 200 has gone out.
 */
export async function receiveMetaEvents(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const raw = request.rawBody ?? (await request.readRawBody(), request.rawBody);
	const phoneNumberId = String(credentials.phoneNumberId ?? '');
	const ledgerCredentials = await this.getCredentials('consentLedgerApi');
	const replayWindowMs = replayWindowMsOf(ledgerCredentials);
	// The parameters the replies name are read only for a POST with a message (lib/events.ts): most POSTs carry
	// delivery statuses alone, and n8n evaluates each parameter and the webhook URL anew for every request.
	const replies = () => {
		const config = widgetConfigOf(this);
		return { business: config.businessName, signupUrl: triggerOptions(this).signupUrl || this.getNodeWebhookUrl('setup'), fallbackLanguage: config.languages[0] };
	};
	// Only what the workflow starts with is owed to it (written to the ledger's outbox), and the events that could not
	// be understood, which are reported in n8n's log below: the statuses most POSTs carry are not, by default.
	const wanted = new Set(this.getNodeParameter('events', []) as string[]);
	const answer = await receiveMetaDelivery(
		{ raw, signature: request.headers['x-hub-signature-256'] },
		{ appSecret: String(credentials.appSecret ?? ''), phoneNumberId, replayWindowMs },
		() => ledgerFor(ledgerCredentials),
		replies,
		(event) => wanted.has(event) || event === 'event.rejected',
	);
	if (answer.httpStatus !== 200) {
		if (answer.httpStatus === 500) this.logger.error(`WhatsApp webhook not recorded, Meta will deliver it again: ${answer.error.message}`);
		response.status(answer.httpStatus).type('text/plain').send(answer.text);
		return { noWebhookResponse: true };
	}
	const notice = otherNumbersNotice(answer.otherNumbers, phoneNumberId);
	if (notice) this.logger.warn(notice);
	const replays = replaysNotice(answer.replays, replayWindowMs);
	if (replays) this.logger.warn(replays);
	for (const event of answer.emitted) {
		if (event.event === 'event.rejected') this.logger.warn(`WhatsApp webhook event not understood, kept in the consent ledger as ${String(event.rejectedId)}: ${String(event.reason)}`);
	}
	const items = workflowItems(answer.emitted, wanted, triggerOptions(this).redactOutput === true).map((json) => ({ json: json as IDataObject }));
	const settle = (handedOver: boolean) =>
		(handedOver ? answer.handOver.done() : answer.handOver.release()).catch((error: Error) =>
			this.logger.warn(`The consent ledger could not mark WhatsApp events as handed to the workflow; they will be handed over again, with the same eventId: ${error.message}`),
		);
	if (items.length === 0) {
		// Nothing this workflow starts with: the events owe it nothing more.
		response.status(200).type('text/plain').send(answer.text);
		await settle(true);
		return { noWebhookResponse: true };
	}
	// n8n's answer (see above) says it has stored the execution: only a 200 that went out hands the items over.
	response.once('finish', () => void settle(response.statusCode === 200));
	return { workflowData: [items] };
}
