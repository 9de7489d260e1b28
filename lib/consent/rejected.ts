/**
 * Webhook events the ledger could not understand (invariant 6): each is kept, with the reason and the time of the
 * delivery, so nothing Meta sent is lost and an operator can see it, while the events beside it are processed.
 * The event itself is stored encrypted with the ledger's key (it may carry a number or a message text); it is found
 * by a keyed HMAC of its bytes, so a redelivery records it once.
 */
import type { LedgerContext } from './context';
import type { CipherContext } from './crypto';
import { once } from './deliveries';
import type { OwedItem, Owing } from './outbox';

export interface RejectedEventInput {
	/** The event as Meta sent it (or the whole body, when the body is not a webhook). */
	raw: unknown;
	/** Why it was not processed: the field and what is wrong with it. */
	reason: string;
	/** Meta's time of the event, when it has one that can be read. */
	at?: Date;
}

export interface RejectedEvent {
	id: string;
	reason: string;
	receivedAt: string;
	eventAt: string | null;
	raw: unknown;
}

function serialise(raw: unknown): string {
	if (typeof raw === 'string') return raw;
	try {
		return JSON.stringify(raw) ?? String(raw);
	} catch {
		return String(raw);
	}
}

/** A reason as stored and shown: quoted values and long digit runs (a number, a wa_id) left out. */
export function scrubReason(reason: string): string {
	return String(reason)
		.replace(/'[^']*'|"[^"]*"/g, "'…'")
		.replace(/\d{6,}/g, '…')
		.slice(0, 1000);
}

/** A rejected event's text is bound to its row (its id is the keyed hash of the text). */
const rawContext = (id: string): CipherContext => ({ table: 'rejected_events', column: 'raw_enc', row: id });

export interface RejectedResult {
	id: string;
	reason: string;
	receivedAt: string;
}

export async function recordRejected(
	ctx: LedgerContext,
	input: RejectedEventInput,
	owing?: Owing<RejectedResult>,
): Promise<RejectedResult & { duplicate: boolean; owed?: OwedItem }> {
	const text = serialise(input.raw);
	const id = ctx.keys.lookupHmac(`rejected event:${text}`).slice(0, 32);
	const reason = scrubReason(input.reason);
	const at = input.at && !Number.isNaN(input.at.getTime()) ? input.at : null;
	const now = ctx.now();
	return once(ctx, `rejected:${id}`, async (tx) => {
		await tx.query(
			`INSERT INTO rejected_events (id, reason, received_at, event_at, raw_enc) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			[id, reason, now, at, ctx.keys.encrypt(text, rawContext(id))],
		);
		return { id, reason, receivedAt: now.toISOString() };
	}, owing);
}

/** The rejected events, newest first, decrypted: what an operator looks at to fix the cause. */
export async function rejectedEvents(ctx: LedgerContext, limit = 100): Promise<RejectedEvent[]> {
	const rows = await ctx.store.query<{ id: string; reason: string; received_at: Date; event_at: Date | null; raw_enc: string }>(
		'SELECT id, reason, received_at, event_at, raw_enc FROM rejected_events ORDER BY received_at DESC, id LIMIT $1',
		[Math.min(Math.max(Math.floor(limit), 1), 10_000)],
	);
	return rows.map((row) => {
		const text = ctx.keys.decrypt(row.raw_enc, rawContext(row.id));
		let raw: unknown = text;
		try {
			raw = JSON.parse(text);
		} catch {
			// kept as the text it was
		}
		return {
			id: row.id,
			reason: row.reason,
			receivedAt: new Date(row.received_at).toISOString(),
			eventAt: row.event_at === null ? null : new Date(row.event_at).toISOString(),
			raw,
		};
	});
}
