/**
 * Withdrawal (checklist 21–26): effective at once, from any channel, idempotent, never erasing earlier proof.
 * A withdrawal also lands on the suppression list, which outlives erasure, so the number is only messaged again
 * after a new double opt-in.
 */
import { ValidationError } from '../errors';
import { digitsOf } from '../phone';
import { appendEvent } from './chain';
import type { LedgerContext, Queryable } from './context';
import { once } from './deliveries';
import { findSender, findSubject, phoneOf, resolveRecipient, type SubjectRow } from './identity';
import { recordWindow } from './optin';
import { WITHDRAWAL_CHANNELS, type WithdrawalInput, type WithdrawalResult } from './types';
import { loadPurposes } from './gate';

/** 'marketing' withdraws marketing messages for every purpose but keeps utility messages (Handle STOP's narrow scope). */
export type WithdrawalScope = 'all' | 'marketing' | string[];

export interface Withdrawal extends Omit<WithdrawalInput, 'recipient' | 'purposes'> {
	/** A number or business-scoped user id, as typed by a person (e-mail, support desk, web form). */
	recipient?: string;
	/** The sender of a WhatsApp message: its wa_id, and user id when Meta sends one. */
	waId?: string;
	userId?: string;
	purposes: WithdrawalScope;
}

function describeScope(scope: WithdrawalScope): string[] {
	return scope === 'all' || scope === 'marketing' ? [scope] : scope;
}

export async function revoke(ctx: LedgerContext, input: Withdrawal): Promise<WithdrawalResult> {
	if (!WITHDRAWAL_CHANNELS.includes(input.channel)) {
		throw new ValidationError('channel', `'${String(input.channel)}' is not a withdrawal channel`, `Use one of: ${WITHDRAWAL_CHANNELS.join(', ')}`);
	}
	const scope = input.purposes;
	if (scope !== 'all' && scope !== 'marketing' && (!Array.isArray(scope) || scope.length === 0)) {
		throw new ValidationError('purposes', 'Say which purposes are withdrawn', "Use 'all', 'marketing' or a list of purpose ids");
	}
	if (input.recipient === undefined && input.waId === undefined && input.userId === undefined) {
		throw new ValidationError('recipient', 'Say whose consent is withdrawn', 'Give the phone number (or the WhatsApp sender)');
	}
	const identity = input.recipient !== undefined ? resolveRecipient(ctx, input.recipient, ctx.options.defaultCountry) : undefined;
	const at = input.at ?? ctx.now();
	return once(ctx, input.messageId === undefined ? undefined : `withdrawal:${input.messageId}`, async (tx) => {
		if (Array.isArray(scope)) await loadPurposes(tx, scope, 'purposes');
		const subject = identity
			? await findSubject(tx, identity, 'update')
			: await findSender(ctx, tx, { waId: input.waId, userId: input.userId });
		const e164 = subject
			? phoneOf(ctx, subject)
			: identity?.kind === 'phone'
				? identity.e164
				: input.waId
					? `+${digitsOf(input.waId)}`
					: undefined;
		const suppressed = e164 ? await suppress(ctx, tx, e164, describeScope(scope), at) : false;
		const withdrawn = subject ? await withdrawConsents(tx, subject, scope, at) : [];
		if (subject && (input.channel === 'whatsapp' || input.channel === 'whatsapp_button')) {
			await recordWindow(tx, subject.id, at); // the STOP message itself lets the business confirm it once
		}
		if (withdrawn.length > 0 || suppressed) {
			await appendEvent(tx, ctx.keys, {
				type: 'consent.withdrawn',
				subjectId: subject?.id ?? null,
				at,
				payload: { scope: describeScope(scope), withdrawn, channel: input.channel, messageId: input.messageId, evidence: input.evidence },
			});
		}
		return { withdrawn, known: subject !== undefined, subjectId: subject?.id, phone: e164 };
	});
}

/** Adds the scopes to the suppression list; true when any was new. */
async function suppress(ctx: LedgerContext, tx: Queryable, e164: string, scopes: string[], at: Date): Promise<boolean> {
	const added = await tx.query(
		`INSERT INTO suppressions (hmac, scope, since) SELECT $1, scope, $3::date FROM unnest($2::text[]) AS scope
		 ON CONFLICT DO NOTHING RETURNING scope`,
		[ctx.keys.suppressionHmac(e164), scopes, at],
	);
	return added.length > 0;
}

/**
 * Ends the consents in scope that were given before the withdrawal: a STOP delivered late must not end a consent
 * given again after it. Pending requests in scope are cancelled with them.
 */
async function withdrawConsents(tx: Queryable, subject: SubjectRow, scope: WithdrawalScope, at: Date): Promise<string[]> {
	if (scope === 'marketing') {
		const changed = await tx.query(
			`UPDATE subjects SET marketing_withdrawn_at = $2, last_activity_at = greatest(last_activity_at, $2)
			 WHERE id = $1 AND marketing_withdrawn_at IS NULL RETURNING id`,
			[subject.id, at],
		);
		return changed.length > 0 ? ['marketing'] : [];
	}
	const purposes = scope === 'all' ? null : scope;
	const rows = await tx.query<{ purpose: string }>(
		`WITH cancelled AS (
			UPDATE optin_requests SET status = 'cancelled'
			WHERE subject_id = $1 AND status = 'pending' AND created_at < $2::timestamptz + interval '1 second' AND ($3::text[] IS NULL OR purposes && $3::text[])
		), touched AS (
			UPDATE subjects SET last_activity_at = greatest(last_activity_at, $2) WHERE id = $1
		)
		UPDATE consents SET state = 'withdrawn', withdrawn_at = $2
		WHERE subject_id = $1 AND state IN ('pending', 'confirmed') AND ($3::text[] IS NULL OR purpose = ANY($3::text[]))
			-- Meta's timestamps are whole seconds: within the same second, the withdrawal wins.
			AND greatest(coalesce(confirmed_at, '-infinity'), coalesce(requested_at, '-infinity')) < $2::timestamptz + interval '1 second'
		RETURNING purpose`,
		[subject.id, at, purposes],
	);
	return rows.map((row) => row.purpose).sort();
}

export interface MarketingPreference {
	waId?: string;
	userId?: string;
	value: 'stop' | 'resume';
	at: Date;
}

/**
 * Meta's in-app switch "stop marketing messages from this business" (user_preferences webhook, or error 131050).
 * It blocks marketing until resumed; resuming restores nothing we did not have: consent is still needed.
 */
export async function setMarketingPreference(
	ctx: LedgerContext,
	preference: MarketingPreference,
	deliveryKey?: string,
): Promise<{ changed: boolean; known: boolean; subjectId?: string; duplicate: boolean }> {
	if (preference.value !== 'stop' && preference.value !== 'resume') {
		throw new ValidationError('value', `'${String(preference.value)}' is not a marketing preference`, "Use 'stop' or 'resume'");
	}
	return once(ctx, deliveryKey, async (tx) => {
		const subject = await findSender(ctx, tx, preference);
		if (!subject) return { changed: false, known: false };
		const stop = preference.value === 'stop';
		const changed = await tx.query(
			stop
				? `UPDATE subjects SET marketing_stopped_at = $2 WHERE id = $1 AND marketing_stopped_at IS NULL RETURNING id`
				: `UPDATE subjects SET marketing_stopped_at = NULL WHERE id = $1 AND marketing_stopped_at < $2 RETURNING id`,
			[subject.id, preference.at],
		);
		if (changed.length > 0) {
			await appendEvent(tx, ctx.keys, {
				type: stop ? 'marketing.stopped' : 'marketing.resumed',
				subjectId: subject.id,
				at: preference.at,
				payload: { source: deliveryKey?.startsWith('status:') ? 'error_131050' : 'in_app' },
			});
		}
		return { changed: changed.length > 0, known: true, subjectId: subject.id };
	});
}
