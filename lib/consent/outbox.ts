/**
 * The outbox (invariant 7): what a committed webhook event owes the workflow is written in the transaction of the
 * event's effect, keyed by the event's delivery key, and handed over until n8n has it.
 *
 * A POST that writes or takes rows claims them (`HandOver.claim`) for a lease: a duplicate delivery running beside it
 * does not hand the same rows over a second time. The POST then either hands them over (`handedOver`: the rows are
 * deleted, n8n has stored the execution) or gives them back (`release`: it answered 500, so Meta delivers again).
 * A process that dies in between gives nothing back: its rows come back when the lease ends, to the next POST for
 * the same business number, or to the redelivery of their own event.
 */
import { digitsOf, numberForms, numberOfWaId } from '../phone';
import type { LedgerContext, Queryable } from './context';
import { newId } from './crypto';
import type { Identity } from './identity';

/** An item the trigger owes; the ledger keeps it as given and adds its `eventId`. */
export type OwedItem = Record<string, unknown>;

/** Who an owed item is about, so erasure finds it: the sender or recipient, and the person the ledger knows. */
export interface OwedTo {
	waId?: string;
	userId?: string;
	phone?: string;
	subjectId?: string;
}

/**
 * What a ledger call owes the workflow when it commits: built from its result, inside its transaction; undefined when
 * the workflow does not start with it (nothing is written to the outbox).
 */
export interface Owing<R> {
	handOver: HandOver;
	owe(result: R): { item: OwedItem; about: OwedTo } | undefined;
}

/** One POST's hand-over: the rows it wrote or took, for one business number. */
export interface HandOver {
	readonly claim: string;
	/** The Phone Number ID whose trigger owes the items. */
	readonly channel: string;
}

/**
 * How long a claim keeps other POSTs off its rows: far longer than n8n takes to store an execution after the trigger
 * returns (one INSERT), short enough that a process that died hands over within minutes.
 */
export const HAND_OVER_LEASE_MS = 60_000;

/** The most earlier items one POST hands over, oldest first; the rest go with the next POSTs. */
export const PENDING_BATCH = 100;

export function newHandOver(channel: string): HandOver {
	return { claim: newId(), channel };
}

/** The item's id: stable across redeliveries and restarts (a keyed HMAC of the delivery key, no wamid in it). */
export function eventIdOf(ctx: Pick<LedgerContext, 'keys'>, deliveryKey: string): string {
	return ctx.keys.lookupHmac(`outbox:${deliveryKey}`).slice(0, 32);
}

// The only two places the outbox encrypts and decrypts: the row's id is its context.
function seal(ctx: Pick<LedgerContext, 'keys'>, id: string, item: OwedItem): string {
	return ctx.keys.encrypt(JSON.stringify(item), { table: 'outbox', column: 'item_enc', row: id });
}

function unseal(ctx: Pick<LedgerContext, 'keys'>, id: string, sealed: string): OwedItem {
	return JSON.parse(ctx.keys.decrypt(sealed, { table: 'outbox', column: 'item_enc', row: id })) as OwedItem;
}

/** The keyed HMACs a person's outbox rows are found by: every form of their number, and their user id. */
function peopleOf(ctx: Pick<LedgerContext, 'keys'>, about: OwedTo): string[] {
	const numbers = new Set<string>();
	const digits = about.waId ? digitsOf(about.waId) : '';
	if (digits) for (const form of [numberOfWaId(digits), `+${digits}`]) numbers.add(form);
	if (about.phone) for (const form of numberForms(about.phone)) numbers.add(form);
	const keys = [...numbers].map((form) => ctx.keys.lookupHmac(form));
	if (about.userId) keys.push(ctx.keys.lookupHmac(`user:${about.userId}`));
	return keys;
}

/** The row an owed item becomes: its id, sealed item and lookups, claimed by the POST that commits it. */
export function owedRow(ctx: LedgerContext, deliveryKey: string, handOver: HandOver, owed: { item: OwedItem; about: OwedTo }) {
	const id = eventIdOf(ctx, deliveryKey);
	const item = { ...owed.item, eventId: id };
	return {
		row: {
			id,
			channel: handOver.channel,
			item_enc: seal(ctx, id, item),
			subject_ids: owed.about.subjectId ? [owed.about.subjectId] : [],
			people: peopleOf(ctx, owed.about),
			created_at: ctx.now(),
			claim: handOver.claim,
		},
		item,
	};
}

/** Writes an owed item inside the transaction of its effect. */
export async function owe(ctx: LedgerContext, tx: Queryable, deliveryKey: string, handOver: HandOver, owed: { item: OwedItem; about: OwedTo }): Promise<OwedItem> {
	const { row, item } = owedRow(ctx, deliveryKey, handOver, owed);
	await tx.query(
		`INSERT INTO outbox (id, channel, item_enc, subject_ids, people, created_at, claim, claimed_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $6) ON CONFLICT (id) DO NOTHING`,
		[row.id, row.channel, row.item_enc, row.subject_ids, row.people, row.created_at, row.claim],
	);
	return item;
}

const free = `(claim IS NULL OR claimed_at < $3)`;

/**
 * Claims this process gave back while the store could not take them: the store went away between an event's commit
 * and its 500 (a restart, a crash). Without this their rows would wait out the lease, and the redelivery of their own
 * event, which comes sooner, would find them held and hand over nothing. They are freed before the next claim.
 */
export class UnreleasedClaims {
	private readonly claims = new Set<string>();

	add(claim: string): void {
		this.claims.add(claim);
	}

	/** Gives back the rows of every claim kept so far; those the store took are forgotten. */
	async releaseAll(store: Queryable): Promise<void> {
		if (this.claims.size === 0) return;
		const claims = [...this.claims];
		await store.query('UPDATE outbox SET claim = NULL, claimed_at = NULL WHERE claim = ANY($1::text[])', [claims]);
		for (const claim of claims) this.claims.delete(claim);
	}
}

/** A redelivered event: what it still owes, if no other live POST holds it; taken for this POST. */
export async function claimOwed(ctx: LedgerContext, deliveryKey: string, handOver: HandOver): Promise<OwedItem | undefined> {
	await ctx.unreleased.releaseAll(ctx.store);
	const id = eventIdOf(ctx, deliveryKey);
	const now = ctx.now();
	const [row] = await ctx.store.query<{ id: string; item_enc: string }>(
		`UPDATE outbox SET claim = $2, claimed_at = $4 WHERE id = $1 AND ${free} RETURNING id, item_enc`,
		[id, handOver.claim, new Date(now.getTime() - HAND_OVER_LEASE_MS), now],
	);
	return row && unseal(ctx, row.id, row.item_enc);
}

/** What earlier committed events still owe this business number, oldest first, taken for this POST. */
export async function claimPending(ctx: LedgerContext, handOver: HandOver, limit = PENDING_BATCH): Promise<OwedItem[]> {
	await ctx.unreleased.releaseAll(ctx.store);
	const now = ctx.now();
	const rows = await ctx.store.query<{ id: string; item_enc: string; created_at: Date }>(
		`WITH taken AS (
			SELECT id FROM outbox WHERE channel = $1 AND ${free} ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox o SET claim = $2, claimed_at = $4 FROM taken WHERE o.id = taken.id
		RETURNING o.id, o.item_enc, o.created_at`,
		[handOver.channel, handOver.claim, new Date(now.getTime() - HAND_OVER_LEASE_MS), now, limit],
	);
	rows.sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime() || (a.id < b.id ? -1 : 1));
	return rows.map((row) => unseal(ctx, row.id, row.item_enc));
}

/**
 * n8n has the executions: these POSTs' rows are done; how many rows each had. One statement for the POSTs that finish
 * at the same moment (the ledger coalesces them): on the embedded store a statement of its own costs each POST a trip.
 */
export async function handedOver(ctx: LedgerContext, handOvers: HandOver[]): Promise<number[]> {
	const rows = await ctx.store.query<{ claim: string }>('DELETE FROM outbox WHERE claim = ANY($1::text[]) RETURNING claim', [handOvers.map((handOver) => handOver.claim)]);
	const counts = new Map<string, number>();
	for (const { claim } of rows) counts.set(claim, (counts.get(claim) ?? 0) + 1);
	return handOvers.map((handOver) => counts.get(handOver.claim) ?? 0);
}

/**
 * The POST failed: its rows go to the next delivery at once, not after the lease. Should the store not take it, the
 * claim is kept and freed before this process's next claim.
 */
export async function release(ctx: LedgerContext, handOver: HandOver): Promise<void> {
	ctx.unreleased.add(handOver.claim);
	await ctx.unreleased.releaseAll(ctx.store);
}

/**
 * Erasure and retention: the rows about these people, found by subject, and for an erasure by the HMACs of every
 * form of the number (or the user id) it names, which also finds the rows of events about no known subject.
 */
export async function eraseOwed(ctx: Pick<LedgerContext, 'keys'>, tx: Queryable, subjectIds: string[], identity?: Identity): Promise<void> {
	const keys = !identity ? [] : identity.kind === 'phone' ? numberForms(identity.e164).map((form) => ctx.keys.lookupHmac(form)) : [identity.lookup];
	await tx.query('DELETE FROM outbox WHERE subject_ids && $1::text[] OR people && $2::text[]', [subjectIds, keys]);
}
