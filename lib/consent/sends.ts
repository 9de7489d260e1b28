/**
 * Sends as the ledger sees them (checklist 15, 20): reserved under an idempotency key after the gate said yes, with
 * the consent they relied on; then accepted (with Meta's wamid) or failed. Delivery statuses that arrive later move a
 * send forward only (sent → delivered → read), whatever order Meta delivers them in.
 */
import { ValidationError } from '../errors';
import { appendEvent } from './chain';
import type { LedgerContext } from './context';
import { once } from './deliveries';
import { answer } from './gate';
import { openWindow, parseInbound } from './optin';
import { setMarketingPreference } from './withdrawal';
import type { GateDecision, GateQuestion, InboundMessage } from './types';

export interface SendReservation extends GateQuestion {
	/** Unique per message: the same key can never be sent twice. */
	key: string;
}

export type ReservationResult =
	| { status: 'reserved'; decision: GateDecision & { allowed: true } }
	| { status: 'refused'; decision: GateDecision & { allowed: false } }
	| { status: 'duplicate'; previous: { status: string; wamid: string | null; at: Date } };

const KEY = /^[\x21-\x7e]{1,512}$/;

/**
 * Asks the gate and reserves the key in one transaction. The subject row is share-locked, so a withdrawal running
 * at the same moment either commits first (and the gate refuses) or waits until the reservation is made.
 */
export async function reserveSend(ctx: LedgerContext, reservation: SendReservation): Promise<ReservationResult> {
	if (typeof reservation.key !== 'string' || !KEY.test(reservation.key)) {
		throw new ValidationError('idempotencyKey', 'The idempotency key must be 1 to 512 visible characters without spaces');
	}
	return ctx.store.transaction(async (tx) => {
		const [previous] = await tx.query<{ status: string; wamid: string | null; updated_at: Date }>(
			'SELECT status, wamid, updated_at FROM sends WHERE idempotency_key = $1 FOR UPDATE',
			[reservation.key],
		);
		// Only a send Meta refused outright may be tried again under its key: anything else may have gone out.
		if (previous && previous.status !== 'failed') {
			return { status: 'duplicate', previous: { status: previous.status, wamid: previous.wamid, at: new Date(previous.updated_at) } };
		}
		const [decision] = await answer(ctx, tx, [reservation], true);
		if (!decision.allowed) return { status: 'refused', decision };
		const now = ctx.now();
		await tx.query(
			`INSERT INTO sends (idempotency_key, subject_id, purpose, category, consent_event_seq, status, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, 'reserved', $6, $6)
			 ON CONFLICT (idempotency_key) DO UPDATE SET status = 'reserved', error_code = NULL, error_message = NULL,
				consent_event_seq = EXCLUDED.consent_event_seq, updated_at = EXCLUDED.updated_at`,
			[reservation.key, decision.subjectId, reservation.purpose, reservation.category, decision.consentEventSeq ?? null, now],
		);
		await appendEvent(tx, ctx.keys, {
			type: 'send.recorded',
			subjectId: decision.subjectId,
			at: now,
			payload: {
				key: reservation.key,
				purpose: reservation.purpose,
				category: reservation.category,
				basis: decision.reason,
				consentEventSeq: decision.consentEventSeq,
			},
		});
		return { status: 'reserved', decision };
	});
}

/** Meta accepted the message. The last send drives the retention clock (checklist 28). */
export async function completeSend(ctx: LedgerContext, key: string, accepted: { wamid: string }): Promise<void> {
	const now = ctx.now();
	await ctx.store.query(
		`WITH send AS (
			UPDATE sends SET status = 'accepted', wamid = $2, updated_at = $3 WHERE idempotency_key = $1 RETURNING subject_id
		)
		UPDATE subjects SET last_activity_at = greatest(last_activity_at, $3) WHERE id = (SELECT subject_id FROM send)`,
		[key, accepted.wamid, now],
	);
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
	await ctx.store.query(
		`UPDATE sends SET status = $2, error_code = $3, error_message = $4, updated_at = $5 WHERE idempotency_key = $1`,
		[key, failure.outcome, failure.code ?? null, failure.message?.slice(0, 1000) ?? null, ctx.now()],
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
}

/** Marketing stopped in the app: Meta's error 131050 on a failed status. */
export const MARKETING_STOPPED_CODE = 131050;

export async function recordStatus(
	ctx: LedgerContext,
	status: DeliveryStatus,
): Promise<{ updated: boolean; key?: string; duplicate: boolean; marketingStopped: boolean }> {
	if (!(status.status in STATUS_RANK) || status.status === ('reserved' as string)) {
		throw new ValidationError('status', `'${String(status.status)}' is not a delivery status`);
	}
	const deliveryKey = `status:${status.messageId}:${status.status}`;
	const result = await once(ctx, deliveryKey, async (tx) => {
		const error = status.errors?.[0];
		const rows = await tx.query<{ idempotency_key: string; subject_id: string | null }>(
			`UPDATE sends SET status = $2, updated_at = $3, error_code = coalesce($4, error_code), error_message = coalesce($5, error_message)
			 WHERE wamid = $1 AND (CASE status WHEN 'accepted' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4
				WHEN 'failed' THEN 5 ELSE 0 END) < $6
			 RETURNING idempotency_key, subject_id`,
			[status.messageId, status.status, status.at, error?.code ?? null, error?.message ?? error?.title ?? null, STATUS_RANK[status.status]],
		);
		return { updated: rows.length > 0, key: rows[0]?.idempotency_key };
	});
	const marketingStopped = status.status === 'failed' && (status.errors ?? []).some((error) => error.code === MARKETING_STOPPED_CODE);
	if (marketingStopped && !result.duplicate && status.recipientId) {
		await setMarketingPreference(ctx, { waId: status.recipientId, value: 'stop', at: status.at }, `${deliveryKey}:preference`);
	}
	return { ...result, marketingStopped };
}

/** Any other inbound message: opens or renews the sender's 24 h window, so a service reply is allowed (checklist 19). */
export async function recordInbound(ctx: LedgerContext, input: InboundMessage): Promise<{ subjectId?: string; duplicate: boolean }> {
	const message = parseInbound(input);
	return once(ctx, `message:${message.messageId}`, async (tx) => ({ subjectId: await openWindow(ctx, tx, message) }));
}
