/**
 * The append-only, hash-chained history (checklist 35). Each event's hash covers the previous hash, its own
 * position, type, subject, time and the hash of its (encrypted) payload. Erasure blanks a payload but keeps its
 * hash, so the chain still verifies; any other edit, insertion or removal breaks it.
 *
 * The hash is computed in the database (`append_event`, see the migrations) under the chain head's row lock, so
 * concurrent writers on PostgreSQL append one after another without a race; `verifyChain` recomputes it here.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../store';
import { sha256Hex, type CipherContext, type LedgerKeys } from './crypto';

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

/** Appends one event inside the caller's transaction; returns its sequence number. */
export async function appendEvent(tx: Queryable, keys: LedgerKeys, event: LedgerEvent): Promise<number> {
	const payload = sealPayload(keys, event.type, event.payload);
	const [row] = await tx.call<{ append_event: number }>('append_event', [
		event.type,
		event.subjectId,
		event.at.getTime(),
		payload.sealed,
		payload.hash,
	]);
	return Number(row.append_event);
}

/**
 * Appends many events inside the caller's transaction, under one lock of the chain head (`append_events`); returns
 * their sequence numbers in order. For slices of sends, where one lock per event made every reservation wait.
 */
export async function appendEvents(tx: Queryable, keys: LedgerKeys, events: LedgerEvent[]): Promise<number[]> {
	if (events.length === 0) return [];
	const payloads = events.map((event) => sealPayload(keys, event.type, event.payload).sealed);
	const rows = await tx.query<{ seq: number }>('SELECT seq FROM append_events($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS seq', [
		events.map((event) => event.type),
		events.map((event) => event.subjectId),
		events.map((event) => event.at.getTime()),
		payloads,
		payloads.map(sha256Hex),
	]);
	return rows.map((row) => Number(row.seq));
}

function linkHash(prevHash: string, seq: number, type: string, subjectId: string | null, atMs: number, payloadHash: string) {
	return createHash('sha256')
		.update(`${prevHash}|${seq}|${type}|${subjectId ?? ''}|${atMs}|${payloadHash}`, 'utf8')
		.digest('hex');
}

export interface ChainVerification {
	ok: boolean;
	events: number;
	/** Events whose payload was erased; they still count as verified links. */
	tombstones: number;
	/** The first event that does not verify, and why. */
	brokenAt?: number;
	problem?: string;
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
}

const PAGE = 5000;

export async function verifyChain(store: Queryable): Promise<ChainVerification> {
	let expectedSeq = 1;
	let prevHash = '0'.repeat(64);
	let tombstones = 0;
	const broken = (seq: number, problem: string): ChainVerification => ({
		ok: false,
		events: expectedSeq - 1,
		tombstones,
		brokenAt: seq,
		problem,
	});
	for (;;) {
		const rows = await store.query<EventRow>(
			'SELECT seq, type, subject_id, at_ms, payload, payload_hash, prev_hash, hash FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2',
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
			prevHash = row.hash;
			expectedSeq++;
		}
		if (rows.length < PAGE) break;
	}
	const [head] = await store.query<{ seq: number; hash: string }>('SELECT seq, hash FROM chain_head WHERE id = 1');
	if (Number(head.seq) !== expectedSeq - 1 || head.hash !== prevHash) {
		return broken(expectedSeq, `events after ${expectedSeq - 1} were removed`);
	}
	return { ok: true, events: expectedSeq - 1, tombstones };
}

/** Decrypts the payload of an event for export; null once erased. */
export function readPayload(keys: LedgerKeys, type: string, payload: string | null): Record<string, unknown> | null {
	return payload === null ? null : (JSON.parse(keys.decrypt(payload, payloadContext(type))) as Record<string, unknown>);
}

