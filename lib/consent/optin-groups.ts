/**
 * Sign-ups and confirmations travel to the database in groups: the calls that arrive while the previous group runs go
 * together, into one call of a set-based SQL function (migration 4) that writes each table once for the whole group
 * and appends the group's events under one lock of the chain head. On a campaign launch this is what keeps the
 * ledger ahead of the visitors; at low load a group is one call, one turn of the event loop later.
 *
 * A group is all or nothing. When it fails (a refusal, a race with another writer) the coalescer runs each of its
 * calls again as a group of one, so every caller gets its own answer or its own error.
 */
import { Coalescer } from '../coalescer';
import type { Queryable, Store } from '../store';
import { callLinked } from './chain';
import type { LedgerKeys } from './crypto';
import type { owedRow } from './outbox';

/** Enough to amortise a call on a busy launch; small enough that a failed group costs little to redo one by one. */
const MAX_GROUP = 50;

/** One sign-up as `request_opt_ins` takes it. */
export interface SignUpRow {
	new_subject: string;
	phone_hmac: string;
	phone_enc: string;
	at: Date;
	at_ms: number;
	text_hash: string;
	text_version: string;
	/** The text shown, sent once per group however many sign-ups saw it. */
	text: { language: string; body: string };
	request_id: string;
	code_hmac: string;
	purposes: string[];
	expires_at: Date;
	recent_since: Date;
	payload: string;
	payload_hash: string;
}

/** The codes a message may carry (as HMACs) and when it was sent. */
export interface CodeSearch {
	codes: string[];
	at: Date;
}

/** A request whose code a message carries, with what confirming it needs (`find_confirmations`). */
export interface RequestRow {
	id: string;
	subject_id: string;
	purposes: string[];
	status: string;
	attempts: number;
	expires_at: Date;
	text_hash: string;
	text_version: string;
	phone_enc: string;
	superseded: string[] | null;
}

/** One confirmation as `confirm_opt_ins` takes it: the request as the caller found it, and what confirming writes. */
export interface ConfirmationRow {
	/** The message's delivery key, recorded with `result` as handled; null inside a transaction that records it itself. */
	delivery_key: string | null;
	result: string | null;
	processed_at: Date | null;
	/** The outbox row the confirmation owes the workflow, written with it; null when nothing is owed. */
	owed: ReturnType<typeof owedRow>['row'] | null;
	request_id: string;
	subject: string;
	attempts: number;
	superseded: string[];
	purposes: string[];
	at: Date;
	at_ms: number;
	text_hash: string;
	text_version: string;
	user_id_hmac: string | null;
	suppression_hmac: string;
	payload: string;
	payload_hash: string;
}

export type ConfirmationOutcome = 'confirmed' | 'duplicate' | 'changed';

/** Numbers the items 1…n, the key each function answers by. */
function numbered<T extends object>(items: T[]): string {
	return JSON.stringify(items.map((item, index) => ({ ...item, n: index + 1 })));
}

/** Answers in item order: the rows of item n at index n - 1. */
function byItem<T extends { n: number }>(rows: T[], count: number): T[][] {
	const answers: T[][] = Array.from({ length: count }, () => []);
	for (const row of rows) answers[Number(row.n) - 1].push(row);
	return answers;
}

/** The subject each sign-up was recorded for; raises (CL001, CL002, CL003) if any sign-up of the group is refused. */
export async function requestOptIns(db: Queryable | Store, keys: LedgerKeys, signUps: SignUpRow[], maxRecent: number): Promise<string[]> {
	const texts = new Map<string, { hash: string; version: string; language: string; body: string; at: Date }>();
	for (const { text_hash: hash, text_version: version, text, at } of signUps) {
		if (!texts.has(hash)) texts.set(hash, { hash, version, ...text, at });
	}
	const items = signUps.map(({ text: _text, ...item }) => item);
	const answers = (rows: { n: number; subject_id: string; seq: number }[]) => byItem(rows, signUps.length).map(([row]) => row);
	const rows = await callLinked(db, keys, 'request_opt_ins', [numbered(items), JSON.stringify([...texts.values()]), maxRecent], (rows: { n: number; subject_id: string; seq: number }[]) =>
		answers(rows).map((row, i) => ({ seq: Number(row.seq), type: 'optin.requested', subjectId: row.subject_id, atMs: signUps[i].at_ms, payloadHash: signUps[i].payload_hash })),
	);
	return answers(rows).map((row) => row.subject_id);
}

export async function findConfirmations(db: Queryable, searches: CodeSearch[]): Promise<RequestRow[][]> {
	const rows = await db.call<RequestRow & { n: number }>('find_confirmations', [numbered(searches)]);
	return byItem(rows, searches.length);
}

export async function confirmOptIns(db: Queryable | Store, keys: LedgerKeys, confirmations: ConfirmationRow[]): Promise<ConfirmationOutcome[]> {
	type Answer = { n: number; outcome: ConfirmationOutcome; seq: number | null };
	const answers = (rows: Answer[]) => byItem(rows, confirmations.length).map(([row]) => row);
	const rows = await callLinked(db, keys, 'confirm_opt_ins', [numbered(confirmations)], (rows: Answer[]) =>
		answers(rows).flatMap((row, i) => {
			const item = confirmations[i];
			return row.seq === null ? [] : [{ seq: Number(row.seq), type: 'optin.confirmed', subjectId: item.subject, atMs: item.at_ms, payloadHash: item.payload_hash }];
		}),
	);
	return answers(rows).map((row) => row.outcome);
}

/** The coalescers of one ledger: concurrent callers outside a transaction share these. */
export class OptInGroups {
	readonly signUps: Coalescer<SignUpRow, string>;
	readonly searches: Coalescer<CodeSearch, RequestRow[]>;
	readonly confirmations: Coalescer<ConfirmationRow, ConfirmationOutcome>;

	constructor(store: Store, keys: LedgerKeys, maxRecent: number) {
		// Two groups of a kind may be on their way at once: one is written while the next one gathers. A group that
		// appends events is a transaction with their keyed links, made here after the database numbered them.
		const options = { maxBatch: MAX_GROUP, lanes: 2 };
		this.signUps = new Coalescer((items) => requestOptIns(store, keys, items, maxRecent), options);
		this.searches = new Coalescer((items) => findConfirmations(store, items), options);
		this.confirmations = new Coalescer((items) => confirmOptIns(store, keys, items), options);
	}
}
