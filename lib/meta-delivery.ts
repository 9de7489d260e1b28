/**
 * One POST from Meta as the Opt-In Trigger answers it, without n8n: the signature over the raw bytes, the events
 * for this business number only, and what the ledger committed (invariant 4: 200 only after the commit).
 */
import type { TriggerEvent } from './events';
import { redactPersonalData } from './redact';
import { parseWebhookFor, verifySignature, type NumberEvents, type WebhookEvent } from './whatsapp/webhook';

export interface MetaDelivery {
	/** The request body exactly as received. */
	raw: Buffer | undefined;
	/** The X-Hub-Signature-256 header as the HTTP server handed it over. */
	signature: string | string[] | undefined;
}

export interface MetaExpectations {
	appSecret: string;
	/** The credential's Phone Number ID: events for any other number change nothing. */
	phoneNumberId: string;
}

export type MetaAnswer =
	| { httpStatus: 401; text: string }
	| { httpStatus: 500; text: string; error: Error }
	| { httpStatus: 200; text: string; emitted: TriggerEvent[]; otherNumbers: NumberEvents['otherNumbers'] };

/** A signed body that is not JSON: one rejected event, kept like any other event that cannot be understood. */
function eventsOfBody(raw: Buffer, phoneNumberId: string): NumberEvents {
	const text = raw.toString('utf8');
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch (error) {
		return { events: [{ kind: 'rejected', reason: `The body is not JSON (${(error as Error).message})`, raw: text }], otherNumbers: [] };
	}
	return parseWebhookFor(body, phoneNumberId);
}

/**
 * Checks and records one delivery. `record` commits the events in the ledger and returns what the workflow may
 * start with; it is not called when no event is for this number. Each event is taken on its own (invariant 6): one
 * that cannot be understood (a body that is not a webhook included) reaches `record` as a `rejected` event, to be
 * kept, and is answered 200 with the rest. Only a failure of `record` itself (the store) is answered 500, so Meta
 * delivers again.
 */
export async function receiveMetaDelivery(
	delivery: MetaDelivery,
	expected: MetaExpectations,
	record: (events: WebhookEvent[]) => Promise<TriggerEvent[]>,
): Promise<MetaAnswer> {
	if (!delivery.raw || !verifySignature(delivery.raw, delivery.signature, expected.appSecret)) return { httpStatus: 401, text: 'Invalid signature' };
	try {
		const { events, otherNumbers } = eventsOfBody(delivery.raw, expected.phoneNumberId);
		const emitted = events.length > 0 ? await record(events) : [];
		return { httpStatus: 200, text: 'OK', emitted, otherNumbers };
	} catch (error) {
		return { httpStatus: 500, text: 'Not recorded; please retry', error: error as Error };
	}
}

/** The log line for events that came for another business number (none of them was read further). */
export function otherNumbersNotice(otherNumbers: NumberEvents['otherNumbers'], own: string): string | undefined {
	if (otherNumbers.length === 0) return undefined;
	const list = otherNumbers.map((other) => `${other.events} for ${other.phoneNumberId}`).join(', ');
	return `WhatsApp webhook events for another business number ignored (${list}; this credential's Phone Number ID is ${own}). Give each number's trigger its own WhatsApp credential, or subscribe only this number's account to this callback URL.`;
}

/** The events the workflow starts with: those of the wanted kinds, with personal data redacted if asked. */
export function workflowItems(emitted: TriggerEvent[], wanted: Iterable<string>, redact: boolean): TriggerEvent[] {
	const kinds = new Set(wanted);
	return emitted.filter((event) => kinds.has(event.event)).map((event) => (redact ? redactPersonalData(event) : event));
}
