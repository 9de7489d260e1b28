/**
 * One POST from Meta as the Opt-In Trigger answers it, without n8n: the signature over the raw bytes, the events
 * for this business number only, what the ledger committed (invariant 4: 200 only after the commit), and what the
 * workflow is owed, by this POST's events and by earlier ones (invariant 7: the outbox).
 */
import type { Ledger } from './consent/ledger';
import type { HandOver } from './consent/outbox';
import { admissionFor } from './delivery-admission';
import { inDeliveryGroup } from './delivery-groups';
import { processEvents, type ProcessingOptions, type TriggerEvent } from './events';
import { redactPersonalData } from './redact';
import { parseWebhookFor, verifySignature, type NumberEvents } from './whatsapp/webhook';

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
	/**
	 * An event whose Meta timestamp is older than this (ms) is a replay: counted, answered 200, without effect. The
	 * ledger forgets handled deliveries after its operational retention, so an old signed body must not reach it.
	 */
	replayWindowMs?: number;
	/** The clock the window is measured on (the ledger's). */
	now?: () => Date;
}

/** The items of a 200, to be handed over once n8n has them, or given back. */
export interface Delivered {
	/** n8n has stored the execution: the items are owed no more (their outbox rows are deleted). */
	done(): Promise<number>;
	/** They did not reach n8n: the next delivery takes them at once. */
	release(): Promise<void>;
}

export type MetaAnswer =
	| { httpStatus: 401; text: string }
	| { httpStatus: 500; text: string; error: Error }
	| {
			httpStatus: 200;
			text: string;
			/** What the workflow is owed: earlier events' items first (oldest first), then this POST's. */
			emitted: TriggerEvent[];
			otherNumbers: NumberEvents['otherNumbers'];
			replays: number;
			handOver: Delivered;
	  };

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
 * Checks and records one delivery. The events are committed in the ledger (`processEvents`), each with what it owes
 * the workflow. Each event is taken on its own (invariant 6): one that cannot be understood (a body that is not a
 * webhook included) is kept as a `rejected` event and answered 200 with the rest. Only a failure of the store is
 * answered 500, so Meta delivers again; what that POST had committed is given back to the outbox for the redelivery.
 * A 200 also takes what earlier committed events still owe this number (a process that died before its hand-over).
 * With `owes`, only the kinds of event it names are owed to the workflow (the others are committed just the same).
 * Deliveries take turns at the ledger (`DeliveryAdmission`), so a burst of statuses cannot hold up a STOP; on the
 * embedded store, status-only deliveries that wait go together, in one transaction (`inDeliveryGroup`).
 */
export async function receiveMetaDelivery(
	delivery: MetaDelivery,
	expected: MetaExpectations,
	ledgerOf: () => Promise<Ledger>,
	replies: ProcessingOptions['replies'],
	owes?: ProcessingOptions['owes'],
): Promise<MetaAnswer> {
	if (!delivery.raw || !verifySignature(delivery.raw, delivery.signature, expected.appSecret)) return { httpStatus: 401, text: 'Invalid signature' };
	let taken: { ledger: Ledger; handOver: HandOver } | undefined;
	try {
		const { events: all, otherNumbers } = eventsOfBody(delivery.raw, expected.phoneNumberId);
		const oldest = expected.replayWindowMs === undefined ? undefined : (expected.now?.() ?? new Date()).getTime() - expected.replayWindowMs;
		const events = oldest === undefined ? all : all.filter((event) => !(event.at && event.at.getTime() < oldest));
		const ledger = await ledgerOf();
		const handOver = ledger.handOver(expected.phoneNumberId);
		taken = { ledger, handOver };
		const record = async (at: Ledger) => ({
			emitted: events.length > 0 ? await processEvents(at, events, { replies, handOver, owes }) : [],
			earlier: (await at.claimPending(handOver)) as TriggerEvent[],
		});
		// A delivery waits for its turn at the ledger; one with a message (a STOP) goes before statuses that wait,
		// which go together where the store allows it (group commit).
		const { emitted, earlier } = events.some((event) => event.kind !== 'status')
			? await admissionFor(ledger).run(true, () => record(ledger))
			: await inDeliveryGroup(ledger, record);
		const owed = [...earlier, ...emitted];
		return {
			httpStatus: 200,
			text: 'OK',
			emitted: owed,
			otherNumbers,
			replays: all.length - events.length,
			// Every row this POST wrote or took is an item of `owed`: with none, there is nothing to delete (a row missed
			// here would still be handed over, to the next POST once its lease ends).
			handOver: { done: () => (owed.length === 0 ? Promise.resolve(0) : ledger.handedOver(handOver)), release: () => ledger.release(handOver) },
		};
	} catch (error) {
		// Best effort: a store that cannot take this back frees the rows when their lease ends.
		await taken?.ledger.release(taken.handOver).catch(() => undefined);
		return { httpStatus: 500, text: 'Not recorded; please retry', error: error as Error };
	}
}

/** The log line for events that came for another business number (none of them was read further). */
export function otherNumbersNotice(otherNumbers: NumberEvents['otherNumbers'], own: string): string | undefined {
	if (otherNumbers.length === 0) return undefined;
	const list = otherNumbers.map((other) => `${other.events} for ${other.phoneNumberId}`).join(', ');
	return `WhatsApp webhook events for another business number ignored (${list}; this credential's Phone Number ID is ${own}). Give each number's trigger its own WhatsApp credential, or subscribe only this number's account to this callback URL.`;
}

/** The log line for events older than the replay window (none of them reached the ledger). */
export function replaysNotice(replays: number, windowMs: number): string | undefined {
	if (replays === 0) return undefined;
	return `${replays} WhatsApp webhook event(s) older than the replay window (${windowMs / 86_400_000} days) ignored as replays: answered 200, nothing recorded. If Meta really delivers events this late, lengthen Replay Window (and Keep Operational Records For) in the Consent Ledger credential.`;
}

/** The events the workflow starts with: those of the wanted kinds, with personal data redacted if asked. */
export function workflowItems(emitted: TriggerEvent[], wanted: Iterable<string>, redact: boolean): TriggerEvent[] {
	const kinds = new Set(wanted);
	return emitted.filter((event) => kinds.has(event.event)).map((event) => (redact ? redactPersonalData(event) : event));
}
