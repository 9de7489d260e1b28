/**
 * Sends as the ledger sees them (checklist 15, 20): reserved under an idempotency key after the gate said yes, with
 * the consent they relied on; then accepted (with Meta's wamid) or failed. Delivery statuses that arrive later move a
 * send forward only (sent → delivered → read), whatever order Meta delivers them in.
 */
import { ValidationError } from '../errors';
import { appendEvents } from './chain';
import type { LedgerContext, Queryable } from './context';
import type { CipherContext } from './crypto';
import { once } from './deliveries';
import { campaignHmac, sendContext, sendKeyHmac, wamidHmac } from './keyed';
import { owe, type OwedItem, type Owing } from './outbox';
import { answer, refusal } from './gate';
import { phoneOf } from './identity';
import { openWindow, parseInbound } from './optin';
import { applyMarketingPreference } from './withdrawal';
import type { GateDecision, GateQuestion, InboundMessage } from './types';
import type { MessagePricing } from '../pricing';

export interface SendReservation extends GateQuestion {
	/** Unique per message: the same key can never be sent twice. */
	key: string;
	/** The Campaign Key the send belongs to, for the campaign report. */
	campaign?: string;
	/**
	 * A marketing send that gives the objection notice of Art. 21(4) GDPR if the person has not had it: the result
	 * says whether this send is the one that carries it.
	 */
	objectionNotice?: boolean;
}

export type ReservationResult =
	| { status: 'reserved'; decision: GateDecision & { allowed: true }; givesObjectionNotice?: boolean }
	| { status: 'refused'; decision: GateDecision & { allowed: false } }
	| { status: 'duplicate'; previous: { status: string; wamid: string | null; at: Date } };

const KEY = /^[\x21-\x7e]{1,512}$/;

function assertKey(key: unknown, field: string): void {
	if (typeof key !== 'string' || !KEY.test(key)) {
		throw new ValidationError(field, 'The idempotency key must be 1 to 512 visible characters without spaces');
	}
}

/** Asks the gate and reserves the key in one transaction: `reserveSends` for one send. */
export async function reserveSend(ctx: LedgerContext, reservation: SendReservation): Promise<ReservationResult> {
	assertKey(reservation?.key, 'idempotencyKey');
	const [result] = await reserveSends(ctx, [reservation]);
	return result;
}

interface PreviousSend {
	key_hmac: string;
	status: string;
	wamid_enc: string | null;
	updated_at: Date;
}

const PREVIOUS_SEND = 'SELECT key_hmac, status, wamid_enc, updated_at FROM sends WHERE key_hmac = ANY($1::text[])';

const duplicateOf = (ctx: LedgerContext, row: PreviousSend): ReservationResult => ({
	status: 'duplicate',
	previous: { status: row.status, wamid: row.wamid_enc === null ? null : ctx.keys.decrypt(row.wamid_enc, sendContext('wamid_enc', row.key_hmac)), at: new Date(row.updated_at) },
});

/**
 * Asks the gate and reserves the keys of a slice of sends in one transaction, one result per reservation in their
 * order. The subject rows are share-locked, so a withdrawal running at the same moment either commits first (and
 * the gate refuses) or waits until the reservations are made. Each reserved send gets its own `send.recorded`
 * event with the consent it relied on (the export per person reads it); the slice's events are appended under one
 * lock of the chain head. A key already sent, or reserved twice in the slice, is a duplicate: it goes out once.
 */
export async function reserveSends(ctx: LedgerContext, reservations: SendReservation[]): Promise<ReservationResult[]> {
	reservations.forEach((reservation, index) => assertKey(reservation?.key, `reservations[${index}].key`));
	if (reservations.length === 0) return [];
	return ctx.store.transaction(async (tx) => {
		const hmacOf = new Map(reservations.map((reservation) => [reservation.key, sendKeyHmac(ctx.keys, reservation.key)]));
		// A slice usually belongs to one campaign: its HMAC is made once.
		const campaigns = new Map([...new Set(reservations.map((reservation) => reservation.campaign))].map((campaign) => [campaign, campaign ? campaignHmac(ctx.keys, campaign) : null]));
		const previous = new Map((await tx.query<PreviousSend>(PREVIOUS_SEND, [[...hmacOf.values()]])).map((row) => [row.key_hmac, row]));
		const results = new Array<ReservationResult | undefined>(reservations.length);
		/** The first reservation of each key in the slice; later ones share its fate. */
		const first = new Map<string, number>();
		const asking: number[] = [];
		reservations.forEach((reservation, index) => {
			if (first.has(reservation.key)) return;
			first.set(reservation.key, index);
			const before = previous.get(hmacOf.get(reservation.key)!);
			// Only a send Meta refused outright may be tried again under its key: anything else may have gone out.
			if (before && before.status !== 'failed') results[index] = duplicateOf(ctx, before);
			else asking.push(index);
		});

		const confirmsStop = (index: number) => reservations[index].category === 'withdrawal_confirmation';
		const asksForNotice = (index: number) => reservations[index].objectionNotice === true && reservations[index].category === 'marketing';
		// Both write the person's row further down. Under a share lock, two transactions reserving for one person would
		// each wait for the other's lock to upgrade theirs (a deadlock); the update lock makes the second wait up front.
		const lock = asking.some((index) => confirmsStop(index) || asksForNotice(index)) ? 'update' : 'share';
		const decisions = asking.length === 0 ? [] : await answer(ctx, tx, asking.map((index) => reservations[index]), lock);
		const allowed: { index: number; decision: GateDecision & { allowed: true } }[] = [];
		const stopsConfirmed = new Set<string>();
		asking.forEach((index, position) => {
			let decision = decisions[position];
			// Two confirmations of one STOP in one slice: the first goes out.
			if (decision.allowed && confirmsStop(index)) {
				if (stopsConfirmed.has(decision.subjectId)) decision = refusal('no_withdrawal_to_confirm', decision.subjectId);
				else stopsConfirmed.add(decision.subjectId);
			}
			if (decision.allowed) allowed.push({ index, decision });
			else results[index] = { status: 'refused', decision };
		});

		const now = ctx.now();
		// Sorted by key, so two processes reserving overlapping slices lock the rows in the same order. A key another
		// process reserved in the meantime is neither inserted nor updated, and is reported as a duplicate below.
		const hmacAt = (index: number) => hmacOf.get(reservations[index].key)!;
		allowed.sort((a, b) => (hmacAt(a.index) < hmacAt(b.index) ? -1 : 1));
		const inserted = new Set(
			allowed.length === 0
				? []
				: (
						await tx.query<{ key_hmac: string }>(
							`INSERT INTO sends (key_hmac, key_enc, subject_id, purpose, category, consent_event_seq, campaign_hmac, status, created_at, updated_at)
							 SELECT r.key_hmac, r.key_enc, r.subject_id, r.purpose, r.category, r.consent_event_seq, r.campaign_hmac, 'reserved', $8, $8
							 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY
								AS r (key_hmac, key_enc, subject_id, purpose, category, consent_event_seq, campaign_hmac, position)
							 ORDER BY r.position
							 ON CONFLICT (key_hmac) DO UPDATE SET status = 'reserved', error_code = NULL, error_message = NULL,
								consent_event_seq = EXCLUDED.consent_event_seq, updated_at = EXCLUDED.updated_at
							 WHERE sends.status = 'failed'
							 RETURNING key_hmac`,
							[
								allowed.map(({ index }) => hmacAt(index)),
								allowed.map(({ index }) => ctx.keys.encrypt(reservations[index].key, sendContext('key_enc', hmacAt(index)))),
								allowed.map(({ decision }) => decision.subjectId ?? null),
								allowed.map(({ index }) => reservations[index].purpose),
								allowed.map(({ index }) => reservations[index].category),
								allowed.map(({ decision }) => decision.consentEventSeq ?? null),
								allowed.map(({ index }) => campaigns.get(reservations[index].campaign) ?? null),
								now,
							],
						)
					).map((row) => row.key_hmac),
		);
		const reserved = allowed.filter(({ index }) => inserted.has(hmacAt(index)));
		const noticed = await claimObjectionNotices(
			tx,
			reserved.filter(({ index, decision }) => asksForNotice(index) && decision.subjectId),
			hmacAt,
			now,
		);
		await appendEvents(
			tx,
			ctx.keys,
			reserved.map(({ index, decision }) => ({
				type: 'send.recorded',
				subjectId: decision.subjectId ?? null,
				at: now,
				payload: {
					key: reservations[index].key,
					purpose: reservations[index].purpose,
					category: reservations[index].category,
					basis: decision.reason,
					consentEventSeq: decision.consentEventSeq,
					...(noticed.has(hmacAt(index)) ? { objectionNotice: true } : {}),
				},
			})),
		);
		for (const { index, decision } of reserved) {
			results[index] = { status: 'reserved', decision, ...(reservations[index].objectionNotice ? { givesObjectionNotice: noticed.has(hmacAt(index)) } : {}) };
		}
		// A withdrawal is confirmed once: the reservation uses up the STOP it confirms.
		const confirmations = reserved.filter(({ index }) => reservations[index].category === 'withdrawal_confirmation');
		if (confirmations.length > 0) {
			await tx.query(`UPDATE subjects SET stop_confirmed_for = stop_owed_at WHERE id = ANY($1::text[])`, [
				confirmations.map(({ decision }) => decision.subjectId),
			]);
		}

		const lost = allowed.filter(({ index }) => !inserted.has(hmacAt(index)));
		if (lost.length > 0) {
			const indexOf = new Map(lost.map(({ index }) => [hmacAt(index), index]));
			const rows = await tx.query<PreviousSend>(PREVIOUS_SEND, [[...indexOf.keys()]]);
			for (const row of rows) results[indexOf.get(row.key_hmac)!] = duplicateOf(ctx, row);
		}

		return reservations.map((reservation, index): ReservationResult => {
			if (index !== first.get(reservation.key)) {
				const earlier = results[first.get(reservation.key)!]!;
				// The same key twice in one slice: the first one goes out, this one is its duplicate.
				return earlier.status === 'reserved' ? { status: 'duplicate', previous: { status: 'reserved', wamid: null, at: now } } : earlier;
			}
			return results[index]!;
		});
	});
}

/**
 * The sends that carry the objection notice: for each person who has not had it, one of these reservations (the
 * UPDATE takes the person's row, so a reservation of another process waits and then finds the notice given).
 * Returns the key HMACs that carry it.
 */
async function claimObjectionNotices(
	tx: Queryable,
	candidates: { index: number; decision: GateDecision & { allowed: true } }[],
	hmacAt: (index: number) => string,
	now: Date,
): Promise<Set<string>> {
	if (candidates.length === 0) return new Set();
	const rows = await tx.query<{ key: string }>(
		`UPDATE subjects s SET objection_notice_at = $3, objection_notice_key = c.key_hmac
		 FROM (SELECT DISTINCT ON (subject_id) subject_id, key_hmac FROM unnest($1::text[], $2::text[]) AS c (subject_id, key_hmac) ORDER BY subject_id, key_hmac) AS c
		 WHERE s.id = c.subject_id AND s.objection_notice_at IS NULL
		 RETURNING s.objection_notice_key AS key`,
		[candidates.map(({ decision }) => decision.subjectId), candidates.map(({ index }) => hmacAt(index)), now],
	);
	return new Set(rows.map((row) => row.key));
}

/** Whether this key is taken: a reservation would find it a duplicate (a key Meta refused outright is free again). */
export async function wasSent(ctx: LedgerContext, key: string): Promise<boolean> {
	const rows = await ctx.store.query<{ status: string }>('SELECT status FROM sends WHERE key_hmac = $1', [sendKeyHmac(ctx.keys, key)]);
	return rows.length > 0 && rows[0].status !== 'failed';
}

/** Whether the person has had the objection notice: a marketing reservation asking for it would not carry it. */
export async function hadObjectionNotice(ctx: LedgerContext, subjectId: string): Promise<boolean> {
	const rows = await ctx.store.query<{ had: boolean }>('SELECT objection_notice_at IS NOT NULL AS had FROM subjects WHERE id = $1', [subjectId]);
	return rows[0]?.had === true;
}

/** Meta accepted the message. The last send drives the retention clock (checklist 28). */
export async function completeSend(ctx: LedgerContext, key: string, accepted: { wamid: string }): Promise<void> {
	await completeSends(ctx, [{ key, wamid: accepted.wamid }]);
}

/**
 * Meta accepted these messages: one call of `complete_sends` (migration 15), one round trip, for a slice of
 * completions. Should a status have come for one of their wamids before (Meta's webhook can overtake the answer to
 * the send), that call changes nothing, and one transaction completes the slice and applies those statuses, in their
 * order, and then forgets them.
 */
export async function completeSends(ctx: LedgerContext, accepted: { key: string; wamid: string }[]): Promise<void> {
	if (accepted.length === 0) return;
	const now = ctx.now();
	const hmacs = accepted.map((send) => wamidHmac(ctx.keys, send.wamid));
	const keyHmacs = accepted.map((send) => sendKeyHmac(ctx.keys, send.key));
	const wamidEncs = accepted.map((send, index) => ctx.keys.encrypt(send.wamid, sendContext('wamid_enc', keyHmacs[index])));
	const complete = (db: Queryable, earlyApplied: boolean) => db.call<{ done: boolean }>('complete_sends', [keyHmacs, hmacs, wamidEncs, now, earlyApplied]);
	const [{ done }] = await complete(ctx.store, false);
	if (done === true) return;
	await ctx.store.transaction(async (tx) => {
		// Under the locks a status for one of these wamids takes: it is applied either here or by recordStatus, never lost.
		await complete(tx, true);
		const early = await tx.query<EarlyStatusRow>(
			`DELETE FROM early_statuses WHERE wamid_hmac = ANY($1::text[])
			 RETURNING wamid_hmac, status, at, recipient_enc, error_code, error_message, pricing_category, pricing_type`,
			[hmacs],
		);
		if (early.length === 0) return;
		const wamidOf = new Map(hmacs.map((hmac, index) => [hmac, accepted[index].wamid]));
		early.sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime() || STATUS_RANK[a.status] - STATUS_RANK[b.status]);
		for (const row of early) {
			const status: DeliveryStatus = {
				messageId: wamidOf.get(row.wamid_hmac)!,
				status: row.status as DeliveryStatus['status'],
				at: new Date(row.at),
				recipientId: row.recipient_enc === null ? undefined : ctx.keys.decrypt(row.recipient_enc, recipientContext(row.wamid_hmac)),
				errors: row.error_code === null && row.error_message === null ? undefined : [{ code: Number(row.error_code ?? 0), message: row.error_message ?? undefined }],
				pricing: row.pricing_category === null ? undefined : { category: row.pricing_category, type: row.pricing_type ?? undefined },
			};
			const updated = await applyStatus(ctx, tx, status);
			if (status.status === 'failed' && Number(row.error_code) === MARKETING_STOPPED_CODE) {
				// The in-app stop: for the recipient Meta named (already set when the status came), else the send's person.
				const subjectId = updated[0]?.subject_id;
				const [subject] = status.recipientId || !subjectId ? [] : await tx.query<{ id: string; phone_enc: string }>('SELECT id, phone_enc FROM subjects WHERE id = $1', [subjectId]);
				const waId = status.recipientId ?? (subject ? phoneOf(ctx, subject.id, subject.phone_enc).replace(/^\+/, '') : undefined);
				if (waId) await applyMarketingPreference(ctx, tx, { waId, value: 'stop', at: status.at }, 'error_131050');
			}
		}
	});
}

interface EarlyStatusRow {
	wamid_hmac: string;
	status: string;
	at: Date;
	recipient_enc: string | null;
	error_code: number | null;
	error_message: string | null;
	pricing_category: string | null;
	pricing_type: string | null;
}

/** An early status's recipient is bound to its row, the keyed hash of the wamid. */
const recipientContext = (wamidHmac: string): CipherContext => ({ table: 'early_statuses', column: 'recipient_enc', row: wamidHmac });

/** Transaction locks on wamids, in one order, so a status and the completion of its send take turns. */
async function lockWamids(tx: Queryable, hmacs: string[]): Promise<void> {
	await tx.query(`SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT DISTINCT 'wamid:' || k AS k FROM unnest($1::text[]) AS k ORDER BY 1) AS locks`, [hmacs]);
}

/**
 * Moves the send with this wamid forward to the status (never back), and keeps the first pricing Meta reports for
 * it whatever order its statuses come in; the sends it moved forward. Both conditions are on the row as it is
 * when locked, so a status that waited for another one's lock re-reads where the send has got to.
 */
async function applyStatus(ctx: LedgerContext, tx: Queryable, status: DeliveryStatus) {
	const error = status.errors?.[0];
	const wamid = wamidHmac(ctx.keys, status.messageId);
	const moved = await tx.query<{ key_hmac: string; key_enc: string; subject_id: string | null }>(
		`UPDATE sends SET status = $2, updated_at = $3, error_code = coalesce($4, error_code), error_message = coalesce($5, error_message)
		 WHERE wamid_hmac = $1 AND (CASE status WHEN 'accepted' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4
			WHEN 'failed' THEN 5 ELSE 0 END) < $6
		 RETURNING key_hmac, key_enc, subject_id`,
		[wamid, status.status, status.at, error?.code ?? null, error?.message ?? error?.title ?? null, STATUS_RANK[status.status]],
	);
	let incident: Incident | undefined;
	if (status.pricing) {
		const [priced] = await tx.query<{ key_hmac: string; subject_id: string | null; purpose: string; category: string }>(
			'UPDATE sends SET pricing_category = $2, pricing_type = $3 WHERE wamid_hmac = $1 AND pricing_category IS NULL RETURNING key_hmac, subject_id, purpose, category',
			[wamid, status.pricing.category.slice(0, 64), status.pricing.type?.slice(0, 64) ?? null],
		);
		if (priced) incident = await recordIncident(ctx, tx, priced, status);
	}
	return Object.assign(moved, { incident });
}

/** A send Meta priced as marketing although the gate let it through as something else. */
export interface Incident {
	sentAs: string;
	billedAs: string;
	purpose: string;
	subjectId: string | null;
	reason: string;
}

/**
 * Meta's pricing is its verdict on what went out: a `marketing` (or `marketing_lite`) price for a send the gate asked
 * about as utility, service or a withdrawal confirmation means the consent it relied on did not cover it (the
 * template's category changed, or the workflow called a marketing template something else). Recorded once per send.
 */
async function recordIncident(
	ctx: LedgerContext,
	tx: Queryable,
	send: { key_hmac: string; subject_id: string | null; purpose: string; category: string },
	status: DeliveryStatus,
): Promise<Incident | undefined> {
	const billedAs = status.pricing!.category.toLowerCase();
	if (!billedAs.startsWith('marketing') || send.category === 'marketing') return undefined;
	const reason = `Meta priced the message as ${billedAs}, but the consent gate let it through as ${send.category}: the template is a marketing template (its category may have changed after approval). Check the template's category in WhatsApp Manager and send it as marketing.`;
	const rows = await tx.query(
		`INSERT INTO consent_incidents (send_key_hmac, subject_id, purpose, sent_as, billed_as, reason, at, recorded_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (send_key_hmac) DO NOTHING RETURNING send_key_hmac`,
		[send.key_hmac, send.subject_id, send.purpose, send.category, billedAs.slice(0, 64), reason, status.at, ctx.now()],
	);
	return rows.length === 0 ? undefined : { sentAs: send.category, billedAs, purpose: send.purpose, subjectId: send.subject_id, reason };
}

/**
 * The send did not go out: `outcome: 'failed'` when Meta refused it (the key may be used again after a fix),
 * `'unknown'` when nobody can tell (a timeout): never sent again under this key.
 */
export async function failSend(
	ctx: LedgerContext,
	key: string,
	failure: { outcome: 'failed' | 'unknown'; code?: number; message?: string },
): Promise<void> {
	// A send that carried the objection notice and did not surely arrive hands it on to the person's next marketing
	// message: given twice is lawful, never given is not (an unknown outcome counts as not given).
	await ctx.store.query(
		`WITH send AS (
			UPDATE sends SET status = $2, error_code = $3, error_message = $4, updated_at = $5 WHERE key_hmac = $1 RETURNING subject_id
		)
		UPDATE subjects SET objection_notice_at = NULL, objection_notice_key = NULL
		WHERE id IN (SELECT subject_id FROM send) AND objection_notice_key = $1`,
		[sendKeyHmac(ctx.keys, key), failure.outcome, failure.code ?? null, failure.message?.slice(0, 1000) ?? null, ctx.now()],
	);
}

const STATUS_RANK: Record<string, number> = { reserved: 0, accepted: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

export interface DeliveryStatus {
	/** The wamid the status is about. */
	messageId: string;
	status: 'sent' | 'delivered' | 'read' | 'failed';
	at: Date;
	recipientId?: string;
	errors?: { code: number; title?: string; message?: string }[];
	/** How Meta priced the message (on `sent` and later statuses). */
	pricing?: MessagePricing;
}

/** Marketing stopped in the app: Meta's error 131050 on a failed status. */
export const MARKETING_STOPPED_CODE = 131050;

export interface StatusResult {
	updated: boolean;
	/** The status showed a consent incident: Meta priced as marketing what the gate let through as something else. */
	incident?: Incident;
	/** The idempotency key of the send the status moved. */
	key?: string;
	/** Kept for a send whose completion is not recorded yet. */
	early: boolean;
	/** A failed status with Meta's 131050: marketing stopped in the app, recorded with the status. */
	marketingStopped: boolean;
}

export async function recordStatus(
	ctx: LedgerContext,
	status: DeliveryStatus,
	owing?: Owing<StatusResult>,
): Promise<StatusResult & { duplicate: boolean; owed?: OwedItem; incidentOwed?: OwedItem }> {
	if (!(status.status in STATUS_RANK) || status.status === ('reserved' as string)) {
		throw new ValidationError('status', `'${String(status.status)}' is not a delivery status`);
	}
	const deliveryKey = `status:${status.messageId}:${status.status}`;
	const marketingStopped = status.status === 'failed' && (status.errors ?? []).some((error) => error.code === MARKETING_STOPPED_CODE);
	// The incident's own trigger item, written with it (the status's item is the one `once` writes).
	let incidentOwed: OwedItem | undefined;
	const result = await once(ctx, deliveryKey, async (tx): Promise<StatusResult> => {
		let rows = await applyStatus(ctx, tx, status);
		let { incident } = rows;
		let early = false;
		if (rows.length === 0) {
			// No send has this wamid yet, or its status is already further: Meta's webhook can overtake the answer to
			// the send. Under the wamid's lock (completeSends takes it too) look again, else keep the status for it.
			const hmac = wamidHmac(ctx.keys, status.messageId);
			await lockWamids(tx, [hmac]);
			rows = await applyStatus(ctx, tx, status);
			incident ??= rows.incident;
			if (rows.length === 0) {
				const error = status.errors?.find((candidate) => candidate.code === MARKETING_STOPPED_CODE) ?? status.errors?.[0];
				const kept = await tx.query(
					`INSERT INTO early_statuses (wamid_hmac, status, at, recipient_enc, error_code, error_message, received_at, pricing_category, pricing_type)
					 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE NOT EXISTS (SELECT 1 FROM sends WHERE wamid_hmac = $1)
					 ON CONFLICT (wamid_hmac, status) DO NOTHING RETURNING status`,
					[
						hmac,
						status.status,
						status.at,
						status.recipientId ? ctx.keys.encrypt(status.recipientId, recipientContext(hmac)) : null,
						error?.code ?? null,
						(error?.message ?? error?.title)?.slice(0, 1000) ?? null,
						ctx.now(),
						status.pricing?.category.slice(0, 64) ?? null,
						status.pricing?.type?.slice(0, 64) ?? null,
					],
				);
				early = kept.length > 0;
			}
		}
		// 131050 is the in-app stop, written with the status: a status marked processed without it would lose it.
		if (marketingStopped && status.recipientId) {
			await applyMarketingPreference(ctx, tx, { waId: status.recipientId, value: 'stop', at: status.at }, 'error_131050');
		}
		const key = rows[0] ? ctx.keys.decrypt(rows[0].key_enc, sendContext('key_enc', rows[0].key_hmac)) : undefined;
		if (incident && owing) {
			incidentOwed = await owe(ctx, tx, `incident:${status.messageId}`, owing.handOver, {
				item: {
					event: 'consent.incident',
					at: status.at.toISOString(),
					messageId: status.messageId,
					recipientId: status.recipientId,
					sendKey: key,
					subjectId: incident.subjectId,
					purpose: incident.purpose,
					sentAs: incident.sentAs,
					billedAs: incident.billedAs,
					reason: incident.reason,
				},
				about: { waId: status.recipientId, subjectId: incident.subjectId ?? undefined },
			});
		}
		return { updated: rows.length > 0, key, early, marketingStopped, ...(incident ? { incident } : {}) };
	}, owing);
	return incidentOwed ? { ...result, incidentOwed } : result;
}

/** Any other inbound message: opens or renews the sender's 24 h window, so a service reply is allowed (checklist 19). */
export async function recordInbound(ctx: LedgerContext, input: InboundMessage): Promise<{ subjectId?: string; duplicate: boolean }> {
	const message = parseInbound(input);
	return once(ctx, `message:${message.messageId}`, async (tx) => ({ subjectId: await openWindow(ctx, tx, message) }));
}
