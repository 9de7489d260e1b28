/** Meta's side of the trigger: the verification handshake and signed events, committed before they are answered. */
import { timingSafeEqual } from 'node:crypto';
import type { IDataObject, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { processEvents, type TriggerEvent } from '../../lib/events';
import { parseWebhook, verifySignature } from '../../lib/whatsapp/webhook';
import { ledgerFor } from '../shared/ledger';
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
 * A signed POST from Meta. A missing or wrong signature is answered 401 and changes nothing; a ledger that cannot
 * commit answers 500, so Meta delivers again; only what is committed is acknowledged with 200 (invariant 4).
 */
export async function receiveMetaEvents(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const raw = request.rawBody ?? (await request.readRawBody(), request.rawBody);
	if (!raw || !verifySignature(raw, request.headers['x-hub-signature-256'], String(credentials.appSecret ?? ''))) {
		response.status(401).type('text/plain').send('Invalid signature');
		return { noWebhookResponse: true };
	}
	let emitted: TriggerEvent[];
	try {
		const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
		const config = widgetConfigOf(this);
		const options = triggerOptions(this);
		emitted = await processEvents(ledger, parseWebhook(JSON.parse(raw.toString('utf8'))), {
			stopScope: this.getNodeParameter('stopScope', 'all') as 'all' | 'marketing',
			replies: {
				business: config.businessName,
				signupUrl: options.signupUrl || this.getNodeWebhookUrl('setup'),
				fallbackLanguage: config.languages[0],
			},
		});
	} catch (error) {
		this.logger.error(`WhatsApp webhook not recorded, Meta will deliver it again: ${(error as Error).message}`);
		response.status(500).type('text/plain').send('Not recorded; please retry');
		return { noWebhookResponse: true };
	}
	response.status(200).type('text/plain').send('OK');
	const wanted = new Set(this.getNodeParameter('events', []) as string[]);
	const items = emitted.filter((event) => wanted.has(event.event)).map((event) => ({ json: event as IDataObject }));
	return items.length > 0 ? { noWebhookResponse: true, workflowData: [items] } : { noWebhookResponse: true };
}
