/**
 * The append-only, hash-chained history (checklist 35). Each event's hash covers the previous hash, its own
 * position, type, subject, time and the hash of its (encrypted) payload. Erasure blanks a payload but keeps its
 * hash, so the chain still verifies; any other edit, insertion or removal breaks it.
 *
 * The hash is computed in the database (`append_event`, see the migrations) under the chain head's row lock, so
 * concurrent writers on PostgreSQL append one after another without a race; `verifyChain` recomputes it here, and
 * compares the gate's tables with what the events say (projection.ts).
 *
 * SHA-256 alone can be recomputed by anyone who can write to the database, after any edit. So each event also has a
 * keyed link (table `event_links`, migration 11): an HMAC under the ledger's chain key (LedgerKeys.linkMac) over its
 * sequence number and content, made here from what this process appends, never from what the database says it holds, in the
 * transaction that appends it. An edit, a removal (the sequence numbers after it move) or an insertion without the
 * secret then fails verification. Truncating the newest events leaves no gap: the checkpoint that Verify outputs,
 * kept outside the database, finds that. Events from before a ledger's chain key (written by an earlier version) are
 * held by their SHA-256 links up to the hash the chain key was made after (LedgerKeys.keyedStart).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FollowUp, Queryable, Store } from '../store';
import { Projection, type ConsentRowFacts, type SubjectFacts } from './projection';
import { sha256Hex, type ChainLink, type CipherContext, type LedgerKeys } from './crypto';

export type EventType =
	| 'purposes.defined'
	| 'optin.requested'
	| 'optin.confirmed'
	| 'optin.refused'
	| 'consent.withdrawn'
	| 'marketing.stopped'
	| 'marketing.resumed'
	| 'send.recorded'
	| 'subject.exported'
	| 'subject.erased'
	| 'retention.purged';

export interface LedgerEvent {
	type: EventType;
	subjectId: string | null;
	at: Date;
	payload: Record<string, unknown>;
}

/** An event's payload as the chain stores it: encrypted, with the hash the chain links cover. */
export interface SealedPayload {
	sealed: string;
	hash: string;
}

/**
 * A payload is bound to its event's type: its sequence number is given by the database after encryption, and the
 * chain covers the ciphertext's hash, so a payload moved to another event breaks the chain anyway.
 */
const payloadContext = (type: string): CipherContext => ({ table: 'events', column: 'payload', row: type });

/** Seals a payload for `appendEvent`, or for an SQL function that appends its event itself. */
export function sealPayload(keys: LedgerKeys, type: EventType, payload: Record<string, unknown>): SealedPayload {
	const sealed = keys.encrypt(JSON.stringify(payload), payloadContext(type));
	return { sealed, hash: sha256Hex(sealed) };
}

/**
 * Gives the events just appended in the caller's transaction their keyed links. Their content is what the caller
 * appended, with the sequence numbers the database gave them.
 */
export async function linkEvents(tx: Queryable, keys: LedgerKeys, links: ChainLink[]): Promise<void> {
	const call = linkCall(keys, links);
	if (call) await tx.call(call.fn, call.args);
}

/** The call that gives these events their keyed links; none for no events. */
export function linkCall(keys: LedgerKeys, links: ChainLink[]): FollowUp | undefined {
	return links.length === 0 ? undefined : { fn: 'link_events', args: [links.map((link) => link.seq), links.map((link) => keys.linkMac(link))] };
}

/**
 * Calls a function that appends events, and links them, in one transaction: the caller's (`db` a transaction) or
 * one of its own (`db` the store, Store.callThen). `links` says which events the answer's rows appended.
 */
export async function callLinked<T>(db: Queryable | Store, keys: LedgerKeys, fn: string, args: unknown[], links: (rows: T[]) => ChainLink[]): Promise<T[]> {
	const then = (rows: T[]) => linkCall(keys, links(rows));
	if ('callThen' in db) return db.callThen<T>(fn, args, then);
	const rows = await db.call<T>(fn, args);
	const next = then(rows);
	if (next) await db.call(next.fn, next.args);
	return rows;
}

/** Appends one event inside the caller's transaction; returns its sequence number. */
export async function appendEvent(tx: Queryable, keys: LedgerKeys, event: LedgerEvent): Promise<number> {
	const [seq] = await appendEvents(tx, keys, [event]);
	return seq;
}

/**
 * Appends events inside the caller's transaction, under one lock of the chain head (`append_events`), with their
 * keyed links; returns their sequence numbers in order.
 */
export async function appendEvents(tx: Queryable, keys: LedgerKeys, events: LedgerEvent[]): Promise<number[]> {
	if (events.length === 0) return [];
	const payloads = events.map((event) => sealPayload(keys, event.type, event.payload));
	const rows = await tx.query<{ seq: number }>('SELECT seq FROM append_events($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS seq', [
		events.map((event) => event.type),
		events.map((event) => event.subjectId),
		events.map((event) => event.at.getTime()),
		payloads.map((payload) => payload.sealed),
		payloads.map((payload) => payload.hash),
	]);
	const seqs = rows.map((row) => Number(row.seq));
	await linkEvents(
		tx,
		keys,
		events.map((event, i) => ({ seq: seqs[i], type: event.type, subjectId: event.subjectId, atMs: event.at.getTime(), payloadHash: payloads[i].hash })),
	);
	return seqs;
}

function linkHash(prevHash: string, seq: number, type: string, subjectId: string | null, atMs: number, payloadHash: string) {
	return createHash('sha256')
		.update(`${prevHash}|${seq}|${type}|${subjectId ?? ''}|${atMs}|${payloadHash}`, 'utf8')
		.digest('hex');
}

function macMatches(stored: string, expected: string): boolean {
	const a = Buffer.from(stored, 'utf8');
	const b = Buffer.from(expected, 'utf8');
	return a.length === b.length && timingSafeEqual(a, b);
}

/** Where the chain stood at a verification: kept by the operator outside the database, and given back later. */
export interface ChainCheckpoint {
	seq: number;
	hash: string;
	/** The time of the event at `seq` (ISO 8601). */
	at: string;
}

export interface ChainVerification {
	ok: boolean;
	events: number;
	/** Events whose payload was erased; they still count as verified links. */
	tombstones: number;
	/** The first event that does not verify, and why. */
	brokenAt?: number;
	problem?: string;
	/** The person whose consent or settings in the tables no event explains. */
	subjectId?: string;
	/** The head of the verified chain: keep it elsewhere and pass it to a later verification. */
	checkpoint?: ChainCheckpoint;
}

interface EventRow {
	seq: number;
	type: string;
	subject_id: string | null;
	at_ms: number;
	payload: string | null;
	payload_hash: string;
	prev_hash: string;
	hash: string;
	mac: string | null;
}

const PAGE = 5000;
const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::bigint AS ${column}`;

/**
 * Recomputes every link, rebuilds the gate's tables from the events and compares (projection.ts), and, given an
 * earlier checkpoint, checks that the chain still passes through it (nothing truncated or rewritten since). One
 * snapshot of the database, so a write meanwhile is no false alarm.
 */
export function verifyChain(store: Store, keys: LedgerKeys, since?: Omit<ChainCheckpoint, 'at'>): Promise<ChainVerification> {
	return store.transaction(async (tx) => {
		await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
		return verifyIn(tx, keys, since);
	});
}

async function verifyIn(tx: Queryable, keys: LedgerKeys, since?: Omit<ChainCheckpoint, 'at'>): Promise<ChainVerification> {
	let expectedSeq = 1;
	let prevHash = '0'.repeat(64);
	let prevAt = 0;
	let tombstones = 0;
	const { from: keyedFrom, anchor } = keys.keyedStart;
	const projection = new Projection();
	const broken = (seq: number, problem: string, subjectId?: string): ChainVerification => ({
		ok: false,
		events: expectedSeq - 1,
		tombstones,
		brokenAt: seq,
		problem,
		...(subjectId === undefined ? {} : { subjectId }),
	});
	for (;;) {
		const rows = await tx.query<EventRow>(
			`SELECT e.seq, e.type, e.subject_id, e.at_ms, e.payload, e.payload_hash, e.prev_hash, e.hash, l.mac
			 FROM events e LEFT JOIN event_links l ON l.seq = e.seq WHERE e.seq >= $1 ORDER BY e.seq LIMIT $2`,
			[expectedSeq, PAGE],
		);
		for (const row of rows) {
			const seq = Number(row.seq);
			if (seq !== expectedSeq) return broken(expectedSeq, `event ${expectedSeq} is missing`);
			if (row.prev_hash !== prevHash) return broken(seq, `event ${seq} does not follow event ${seq - 1}`);
			if (row.payload === null) tombstones++;
			else if (sha256Hex(row.payload) !== row.payload_hash) return broken(seq, `the content of event ${seq} was changed`);
			const expected = linkHash(prevHash, seq, row.type, row.subject_id, Number(row.at_ms), row.payload_hash);
			if (expected !== row.hash) return broken(seq, `event ${seq} was changed (its hash does not match)`);
			if (seq === keyedFrom - 1 && row.hash !== anchor) {
				return broken(seq, `the events up to ${seq}, written before the chain was keyed, were changed since (event ${seq} is not the one the chain key was made after)`);
			}
			if (seq >= keyedFrom) {
				const link: ChainLink = { seq, type: row.type, subjectId: row.subject_id, atMs: Number(row.at_ms), payloadHash: row.payload_hash };
				if (row.mac === null) return broken(seq, `event ${seq} has no keyed link: it was not written by this package with this ledger's secret key`);
				if (!macMatches(row.mac, keys.linkMac(link))) {
					return broken(seq, `event ${seq} was changed, moved or inserted without this ledger's secret key (its keyed link does not match)`);
				}
			}
			if (since && seq === since.seq && row.hash !== since.hash) {
				return broken(seq, `event ${seq} is not the one of the checkpoint: the chain was rewritten since`);
			}
			let payload: Record<string, unknown> | null;
			try {
				payload = readPayload(keys, row.type, row.payload);
			} catch {
				return broken(seq, `the content of event ${seq} cannot be read with this ledger's keys`);
			}
			projection.apply({ type: row.type, subjectId: row.subject_id, atMs: Number(row.at_ms), payload });
			prevHash = row.hash;
			prevAt = Number(row.at_ms);
			expectedSeq++;
		}
		if (rows.length < PAGE) break;
	}
	const head = expectedSeq - 1;
	const [chainHead] = await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM chain_head WHERE id = 1');
	if (Number(chainHead.seq) !== head || chainHead.hash !== prevHash) {
		return broken(expectedSeq, `events after ${head} were removed`);
	}
	if (head < keyedFrom - 1) {
		return broken(head + 1, `the chain ends at event ${head}, before event ${keyedFrom - 1}, after which the chain key was made: events were removed`);
	}
	if (since && since.seq > head) {
		return broken(head + 1, `the chain ends at event ${head}, before the checkpoint's event ${since.seq}: events were removed since`);
	}
	const subjects = await tx.query<SubjectFacts>(`SELECT id, ${ms('marketing_stopped_at')}, ${ms('marketing_resumed_at')} FROM subjects ORDER BY id`);
	const consents = await tx.query<ConsentRowFacts>(
		`SELECT subject_id, purpose, state, ${ms('withdrawn_at')}, ${ms('marketing_withdrawn_at')} FROM consents ORDER BY subject_id, purpose`,
	);
	const difference = projection.compare(subjects, consents);
	if (difference) return broken(head, `the tables the gate reads were changed: ${difference.problem}`, difference.subjectId);
	return { ok: true, events: head, tombstones, checkpoint: { seq: head, hash: prevHash, at: new Date(prevAt).toISOString() } };
}

/** Decrypts the payload of an event for export; null once erased. */
export function readPayload(keys: LedgerKeys, type: string, payload: string | null): Record<string, unknown> | null {
	return payload === null ? null : (JSON.parse(keys.decrypt(payload, payloadContext(type))) as Record<string, unknown>);
}

