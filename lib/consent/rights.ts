/**
 * Data-subject rights and retention (checklist 14, 27–31, 36): what the ledger knows of a person, with the texts
 * they were shown; erasure that leaves a verifiable chain and a suppression entry; deletion when time is up.
 */
import { sendContext } from './keyed';
import { appendEvent, appendEvents, readPayload } from './chain';
import type { LedgerContext, Queryable } from './context';
import { findPeople, findSubject, phoneOf, resolveRecipient, type SubjectRow } from './identity';
import { decide } from './gate';
import { eraseOwed } from './outbox';
import type { Category, ReplyCategory } from './types';
import { ValidationError } from '../errors';

export interface ConsentRecord {
	purpose: string;
	label: string;
	state: 'pending' | 'confirmed' | 'withdrawn';
	requestedAt: string | null;
	confirmedAt: string | null;
	withdrawnAt: string | null;
	/** A STOP for marketing only: this purpose's marketing ended then, its utility messages go on. */
	marketingWithdrawnAt: string | null;
	text: { version: string; language: string; hash: string; body: string } | null;
}

export interface HistoryEvent {
	seq: number;
	type: string;
	at: string;
	/** null once erased or purged: the event stays in the chain as a tombstone. */
	details: Record<string, unknown> | null;
}

export interface PersonRecord {
	subjectId: string;
	phone: string;
	createdAt: string;
	lastMessageFromPersonAt: string | null;
	marketingStoppedInAppAt: string | null;
	marketingResumedInAppAt: string | null;
	consents: ConsentRecord[];
	history: HistoryEvent[];
}

export interface PersonExport extends PersonRecord {
	exportedAt: string;
	requests: { id: string; purposes: string[]; status: string; createdAt: string; expiresAt: string }[];
	sends: { key: string; purpose: string; category: string; status: string; wamid: string | null; at: string; consentEventSeq: number | null }[];
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

async function personRecord(ctx: LedgerContext, db: Queryable, subject: SubjectRow & { created_at?: Date }): Promise<PersonRecord> {
	const [full] = await db.query<{ created_at: Date }>('SELECT created_at FROM subjects WHERE id = $1', [subject.id]);
	const consents = await db.query<{
		purpose: string;
		label: string;
		state: ConsentRecord['state'];
		requested_at: Date | null;
		confirmed_at: Date | null;
		withdrawn_at: Date | null;
		marketing_withdrawn_at: Date | null;
		version: string | null;
		language: string | null;
		hash: string | null;
		body: string | null;
	}>(
		`SELECT c.purpose, p.label, c.state, c.requested_at, c.confirmed_at, c.withdrawn_at, c.marketing_withdrawn_at, t.version, t.language, t.hash, t.body
		 FROM consents c JOIN purposes p ON p.id = c.purpose LEFT JOIN consent_texts t ON t.hash = c.text_hash
		 WHERE c.subject_id = $1 ORDER BY c.purpose`,
		[subject.id],
	);
	const events = await db.query<{ seq: number; type: string; at_ms: number; payload: string | null }>(
		'SELECT seq, type, at_ms, payload FROM events WHERE subject_id = $1 ORDER BY seq',
		[subject.id],
	);
	return {
		subjectId: subject.id,
		phone: phoneOf(ctx, subject.id, subject.phone_enc),
		createdAt: iso(full.created_at)!,
		lastMessageFromPersonAt: iso(subject.last_inbound_at),
		marketingStoppedInAppAt: iso(subject.marketing_stopped_at),
		marketingResumedInAppAt: iso(subject.marketing_resumed_at),
		consents: consents.map((row) => ({
			purpose: row.purpose,
			label: row.label,
			state: row.state,
			requestedAt: iso(row.requested_at),
			confirmedAt: iso(row.confirmed_at),
			withdrawnAt: iso(row.withdrawn_at),
			marketingWithdrawnAt: iso(row.marketing_withdrawn_at),
			text: row.hash ? { version: row.version!, language: row.language!, hash: row.hash, body: row.body! } : null,
		})),
		history: events.map((event) => ({
			seq: Number(event.seq),
			type: event.type,
			at: new Date(Number(event.at_ms)).toISOString(),
			details: readPayload(ctx.keys, event.type, event.payload),
		})),
	};
}

/** A person's consents with their proof; undefined when the ledger does not know them. */
export async function getConsent(ctx: LedgerContext, recipient: string): Promise<PersonRecord | undefined> {
	const subject = await findSubject(ctx.store, resolveRecipient(ctx, recipient, ctx.options.defaultCountry));
	return subject && personRecord(ctx, ctx.store, subject);
}

/** Everything about a person (Art. 15, 20); the export itself is logged (checklist 36). */
export async function exportPerson(ctx: LedgerContext, recipient: string, requestedBy?: string): Promise<PersonExport | undefined> {
	const identity = resolveRecipient(ctx, recipient, ctx.options.defaultCountry);
	return ctx.store.transaction(async (tx) => {
		const subject = await findSubject(tx, identity, 'share');
		if (!subject) return undefined;
		const now = ctx.now();
		await appendEvent(tx, ctx.keys, { type: 'subject.exported', subjectId: subject.id, at: now, payload: { requestedBy } });
		const record = await personRecord(ctx, tx, subject);
		const requests = await tx.query<{ id: string; purposes: string[]; status: string; created_at: Date; expires_at: Date }>(
			'SELECT id, purposes, status, created_at, expires_at FROM optin_requests WHERE subject_id = $1 ORDER BY created_at',
			[subject.id],
		);
		const sends = await tx.query<{
			key_hmac: string;
			key_enc: string;
			purpose: string;
			category: string;
			status: string;
			wamid_enc: string | null;
			created_at: Date;
			consent_event_seq: number | null;
		}>('SELECT key_hmac, key_enc, purpose, category, status, wamid_enc, created_at, consent_event_seq FROM sends WHERE subject_id = $1 ORDER BY created_at', [subject.id]);
		return {
			exportedAt: now.toISOString(),
			...record,
			requests: requests.map((row) => ({
				id: row.id,
				purposes: row.purposes,
				status: row.status,
				createdAt: iso(row.created_at)!,
				expiresAt: iso(row.expires_at)!,
			})),
			sends: sends.map((row) => ({
				key: ctx.keys.decrypt(row.key_enc, sendContext('key_enc', row.key_hmac)),
				purpose: row.purpose,
				category: row.category,
				status: row.status,
				wamid: row.wamid_enc === null ? null : ctx.keys.decrypt(row.wamid_enc, sendContext('wamid_enc', row.key_hmac)),
				at: iso(row.created_at)!,
				consentEventSeq: row.consent_event_seq === null ? null : Number(row.consent_event_seq),
			})),
		};
	});
}

export interface ErasureOptions {
	/** Why, e.g. "request by e-mail of 2026-11-28". */
	reason?: string;
	/**
	 * Keep the consent proof, restricted, to defend legal claims (Art. 17(3)(e)): every consent is withdrawn and the
	 * number suppressed, but the history stays readable until the retention period ends.
	 */
	retainProofForLegalClaims?: boolean;
}

export interface ErasureResult {
	erased: boolean;
	subjectId?: string;
	retainedProof: boolean;
	/** Processors to tell (Art. 19): the workflow passes this on to the CRM, newsletter and helpdesk. */
	notify: string[];
}

/** Blanks a person's event payloads (tombstones) and deletes their rows; the chain still verifies. */
/**
 * Erasure reaches every table (invariant 8): payloads blanked (their hashes keep the chain whole), the people deleted
 * and with them (ON DELETE CASCADE) their consents, requests and sends. What stays, keyed or encrypted and linked to
 * nobody, until the operational retention: the HMACs of handled deliveries (they keep a stale redelivery from
 * recreating the person), statuses that came before their send completed, rejected events; and the suppression entry.
 */
async function eraseSubjects(tx: Queryable, subjectIds: string[]): Promise<void> {
	if (subjectIds.length === 0) return;
	await tx.query('UPDATE events SET payload = NULL WHERE subject_id = ANY($1::text[]) AND payload IS NOT NULL', [subjectIds]);
	await tx.query('DELETE FROM subjects WHERE id = ANY($1::text[])', [subjectIds]);
}

export async function erase(ctx: LedgerContext, recipient: string, options: ErasureOptions = {}): Promise<ErasureResult> {
	const identity = resolveRecipient(ctx, recipient, ctx.options.defaultCountry);
	const retain = options.retainProofForLegalClaims === true;
	return ctx.store.transaction(async (tx) => {
		// Every record of the number, in both forms of a number that has two (an older version may have kept both).
		const people = await findPeople(ctx, tx, identity);
		const ids = people.map((person) => person.id);
		const now = ctx.now();
		const e164 = people[0] ? phoneOf(ctx, people[0].id, people[0].phone_enc) : identity.kind === 'phone' ? identity.e164 : undefined;
		if (e164) {
			await tx.query(
				`INSERT INTO suppressions (hmac, scope, since) VALUES ($1, 'all', $2::date) ON CONFLICT DO NOTHING`,
				[ctx.keys.suppressionHmac(e164), now],
			);
		}
		// What the workflow was still owed about them carries their number and texts: gone with them, either way.
		await eraseOwed(ctx, tx, ids, identity);
		if (ids.length > 0 && retain) {
			await tx.query(
				`WITH cancelled AS (UPDATE optin_requests SET status = 'cancelled' WHERE subject_id = ANY($1::text[]) AND status = 'pending'),
				 closed AS (UPDATE subjects SET last_withdrawal_at = greatest(last_withdrawal_at, $2) WHERE id = ANY($1::text[]))
				 UPDATE consents SET state = 'withdrawn', withdrawn_at = $2 WHERE subject_id = ANY($1::text[]) AND state <> 'withdrawn'`,
				[ids, now],
			);
		} else {
			await eraseSubjects(tx, ids);
		}
		const payload = {
			reason: options.reason,
			retainedProof: retain,
			legalBasis: retain ? 'Art. 17(3)(e) GDPR: proof of consent kept, restricted, to defend legal claims' : undefined,
			suppressed: e164 !== undefined,
		};
		await appendEvents(tx, ctx.keys, (ids.length > 0 ? ids : [null]).map((subjectId) => ({ type: 'subject.erased' as const, subjectId, at: now, payload })));
		return { erased: ids.length > 0, subjectId: ids[0], retainedProof: retain, notify: ['crm', 'newsletter', 'helpdesk'] };
	});
}

export interface PurgeResult {
	/** People who only ever had unconfirmed requests, older than the pending retention. */
	unconfirmedErased: number;
	/** Stale requests (and their codes) of people who are otherwise known. */
	requestsDeleted: number;
	/** People without consent whose proof is past its retention period. */
	proofErased: number;
	/** Operational records older than the operational retention (operational data, not chain events). */
	operational: { deliveries: number; sends: number; earlyStatuses: number; rejectedEvents: number; owedItems: number };
}

/**
 * Deletes what is kept longer than needed (Art. 5(1)(e)): unconfirmed sign-ups after the pending retention
 * (default 72 h), and the proof of people without any live consent at the end of the year plus the proof retention
 * (default 3 years, §§195, 199 BGB) after their last send, confirmation or withdrawal.
 */
export async function purge(ctx: LedgerContext): Promise<PurgeResult> {
	const now = ctx.now();
	const pendingCutoff = new Date(now.getTime() - ctx.options.pendingRetentionHours * 3_600_000);
	return ctx.store.transaction(async (tx) => {
		const unconfirmed = await tx.query<{ id: string }>(
			`SELECT s.id FROM subjects s
			 WHERE s.created_at < $1
				AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.subject_id = s.id AND (c.state <> 'pending' OR c.withdrawn_at IS NOT NULL OR c.requested_at >= $1))
				-- messaged once: the chain's send.recorded, which outlives the send's operational row
				AND NOT EXISTS (SELECT 1 FROM events e WHERE e.subject_id = s.id AND e.type = 'send.recorded')
				AND EXISTS (SELECT 1 FROM consents c WHERE c.subject_id = s.id)
			 FOR UPDATE`,
			[pendingCutoff],
		);
		const stale = await tx.query(
			`WITH requests AS (
				DELETE FROM optin_requests WHERE status <> 'confirmed' AND created_at < $1 RETURNING id
			), lapsed AS (
				DELETE FROM consents WHERE state = 'pending' AND requested_at < $1 AND withdrawn_at IS NULL
			), rewithdrawn AS (
				-- a new sign-up after a withdrawal that was never confirmed: the withdrawal stands again
				UPDATE consents SET state = 'withdrawn' WHERE state = 'pending' AND requested_at < $1 AND withdrawn_at IS NOT NULL
			)
			SELECT id FROM requests`,
			[pendingCutoff],
		);
		const expired = await tx.query<{ id: string }>(
			`SELECT s.id FROM subjects s
			 WHERE date_trunc('year', s.last_activity_at) + make_interval(years => $2 + 1) <= $1
				AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.subject_id = s.id AND c.state IN ('confirmed', 'pending'))
			 FOR UPDATE`,
			[now, ctx.options.proofRetentionYears],
		);
		const unconfirmedIds = unconfirmed.map((row) => row.id);
		const expiredIds = expired.map((row) => row.id).filter((id) => !unconfirmedIds.includes(id));
		await eraseSubjects(tx, [...unconfirmedIds, ...expiredIds]);
		await eraseOwed(ctx, tx, [...unconfirmedIds, ...expiredIds]);
		const result = { unconfirmedErased: unconfirmedIds.length, requestsDeleted: stale.length, proofErased: expiredIds.length };
		if (result.unconfirmedErased + result.requestsDeleted + result.proofErased > 0) {
			// The cutoff lets verifyChain do to its rebuilt sign-ups what this did to the rows (projection.ts).
			await appendEvent(tx, ctx.keys, { type: 'retention.purged', subjectId: null, at: now, payload: { ...result, pendingBefore: pendingCutoff.toISOString() } });
		}
		return { ...result, operational: await purgeOperational(tx, new Date(now.getTime() - ctx.options.operationalRetentionDays * 86_400_000)) };
	});
}

/**
 * The operational rows older than the cutoff: handled deliveries (a redelivery that old is a replay, refused before
 * it reaches the ledger), finished sends (a send still reserved, or of unknown outcome, stays: it may have gone out
 * and its key must not be sent again), early statuses no send claimed, rejected events, and trigger items never
 * handed over (no POST came for that number's trigger since: its workflow is gone or off). The proof of a send is its
 * send.recorded event in the chain, which stays.
 */
async function purgeOperational(tx: Queryable, cutoff: Date): Promise<PurgeResult['operational']> {
	const [row] = await tx.query<{ deliveries: number; sends: number; early: number; rejected: number; owed: number }>(
		`WITH deliveries AS (DELETE FROM processed_deliveries WHERE processed_at < $1 RETURNING 1),
		sends AS (DELETE FROM sends WHERE updated_at < $1 AND status IN ('accepted', 'sent', 'delivered', 'read', 'failed') RETURNING 1),
		early AS (DELETE FROM early_statuses WHERE received_at < $1 RETURNING 1),
		rejected AS (DELETE FROM rejected_events WHERE received_at < $1 RETURNING 1),
		owed AS (DELETE FROM outbox WHERE created_at < $1 RETURNING 1)
		SELECT (SELECT count(*) FROM deliveries)::int AS deliveries, (SELECT count(*) FROM sends)::int AS sends,
			(SELECT count(*) FROM early)::int AS early, (SELECT count(*) FROM rejected)::int AS rejected,
			(SELECT count(*) FROM owed)::int AS owed`,
		[cutoff],
	);
	return {
		deliveries: Number(row.deliveries),
		sends: Number(row.sends),
		earlyStatuses: Number(row.early),
		rejectedEvents: Number(row.rejected),
		owedItems: Number(row.owed),
	};
}

export interface Subscriber {
	subjectId: string;
	phone: string;
	confirmedAt: string;
	textVersion: string | null;
}

/**
 * One of `of` disjoint parts of the subscriber list, numbered from 1: parts 1 to `of` together hold every subscriber
 * once. A big newsletter is split so that each part runs as an execution of its own, on whichever worker is free.
 */
export interface ListPart {
	part: number;
	of: number;
}

function checkedPart(part: ListPart | undefined): ListPart | undefined {
	if (part === undefined) return undefined;
	if (!Number.isInteger(part.of) || part.of < 1 || part.of > 1000) {
		throw new ValidationError('listPart', `The number of parts must be a whole number from 1 to 1000, got ${part.of}`, 'Set "Of Parts" to how many workflows share the list');
	}
	if (!Number.isInteger(part.part) || part.part < 1 || part.part > part.of) {
		throw new ValidationError('listPart', `The part must be a whole number from 1 to ${part.of} (the number of parts), got ${part.part}`, `Give each copy of the workflow its own part, 1 to ${part.of}`);
	}
	return part;
}

/** The people the gate would let a message of this purpose and category reach now, in pages. */
export async function subscribers(
	ctx: LedgerContext,
	purpose: string,
	category: Exclude<Category, ReplyCategory>,
	page: { limit?: number; after?: string; part?: ListPart } = {},
): Promise<{ subscribers: Subscriber[]; next?: string }> {
	const limit = Math.min(Math.max(page.limit ?? 1000, 1), 10_000);
	const part = checkedPart(page.part);
	const [definition] = await ctx.store.query<{ min_text_version: string | null }>('SELECT min_text_version FROM purposes WHERE id = $1', [purpose]);
	const rows = await ctx.store.query<{
		id: string;
		phone_enc: string;
		marketing_stopped_at: Date | null;
		marketing_resumed_at: Date | null;
		marketing_withdrawn_at: Date | null;
		confirmed_at: Date;
		text_version: string | null;
		confirm_event_seq: number | null;
	}>(
		`SELECT s.id, s.phone_enc, s.marketing_stopped_at, s.marketing_resumed_at, c.marketing_withdrawn_at, c.confirmed_at, c.text_version, c.confirm_event_seq
		 FROM consents c JOIN subjects s ON s.id = c.subject_id
		 WHERE c.purpose = $1 AND c.state = 'confirmed' AND s.id > $2
		   -- the part a person is in: the first 32 bits of the MD5 of their (random) id, modulo the number of parts
		   AND ('x' || left(md5(s.id), 8))::bit(32)::bigint % $4 = $5
		 ORDER BY s.id LIMIT $3`,
		[purpose, page.after ?? '', limit, part?.of ?? 1, (part?.part ?? 1) - 1],
	);
	const now = ctx.now();
	const allowed = rows.filter(
		(row) =>
			decide(
				{
					subjectId: row.id,
					marketingStoppedAt: row.marketing_stopped_at,
					marketingResumedAt: row.marketing_resumed_at,
					consent: {
						state: 'confirmed',
						confirmedAt: new Date(row.confirmed_at),
						textVersion: row.text_version,
						confirmEventSeq: row.confirm_event_seq,
						marketingWithdrawnAt: row.marketing_withdrawn_at,
					},
					suppressed: false,
					minTextVersion: definition?.min_text_version,
				},
				category,
				now,
				ctx.options.maxConsentAgeDays,
			).allowed,
	);
	return {
		subscribers: allowed.map((row) => ({
			subjectId: row.id,
			phone: phoneOf(ctx, row.id, row.phone_enc),
			confirmedAt: new Date(row.confirmed_at).toISOString(),
			textVersion: row.text_version,
		})),
		next: rows.length === limit ? rows[rows.length - 1].id : undefined,
	};
}
