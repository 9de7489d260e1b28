/**
 * Withdrawal (checklist 21–26): effective at once, from any channel, idempotent, never erasing earlier proof.
 * A withdrawal also lands on the suppression list, which outlives erasure, so the number is only messaged again
 * after a new double opt-in.
 */
import { ValidationError } from '../errors';
import { numberOfWaId } from '../phone';
import { appendEvents } from './chain';
import type { LedgerContext, Queryable } from './context';
import { once } from './deliveries';
import type { OwedItem, Owing } from './outbox';
import { findPeople, findSenders, phoneOf, resolveRecipient } from './identity';
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
	/** A STOP written on WhatsApp owes the person one confirmation; a changed number or an e-mail does not. */
	owesConfirmation?: boolean;
}

function describeScope(scope: WithdrawalScope): string[] {
	return scope === 'all' || scope === 'marketing' ? [scope] : scope;
}

export async function revoke(ctx: LedgerContext, input: Withdrawal, owing?: Owing<Omit<WithdrawalResult, 'duplicate'>>): Promise<WithdrawalResult & { owed?: OwedItem }> {
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
	const owesConfirmation = input.owesConfirmation ?? (input.channel === 'whatsapp' || input.channel === 'whatsapp_button');
	return once(ctx, input.messageId === undefined ? undefined : `withdrawal:${input.messageId}`, async (tx) => {
		if (Array.isArray(scope)) await loadPurposes(tx, scope, 'purposes');
		const people = identity ? await findPeople(ctx, tx, identity) : await findSenders(ctx, tx, { waId: input.waId, userId: input.userId });
		const e164 = people[0]
			? phoneOf(ctx, people[0].id, people[0].phone_enc)
			: identity?.kind === 'phone'
				? identity.e164
				: input.waId
					? numberOfWaId(input.waId)
					: undefined;
		const suppressed = e164 ? await suppress(ctx, tx, e164, describeScope(scope), at) : false;
		const ended = new Set<string>();
		let changed = false;
		for (const person of people) {
			const result = await withdrawConsents(tx, person.id, scope, at, owesConfirmation);
			result.ended.forEach((purpose) => ended.add(purpose));
			changed ||= result.changed;
		}
		const withdrawn = [...ended].sort();
		// Every change of the tables the gate reads has its event (invariant 5), a marketing withdrawal that only moves
		// an earlier one's time later included: that time decides what a confirmation in its second may give back.
		if (changed || suppressed) {
			await appendEvents(
				tx,
				ctx.keys,
				(people.length > 0 ? people.map((person) => person.id) : [null]).map((subjectId) => ({
					type: 'consent.withdrawn' as const,
					subjectId,
					at,
					payload: { scope: describeScope(scope), withdrawn, channel: input.channel, messageId: input.messageId, evidence: input.evidence },
				})),
			);
		}
		return { withdrawn, scope: describeScope(scope), known: people.length > 0, subjectId: people[0]?.id, phone: e164 };
	}, owing);
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
 * Ends the consents in scope that were given before the withdrawal (`withdrawal_wins`): a STOP delivered late must
 * not end a consent given again after it, and must end one given before it, however often the number was entered in
 * the widget since. 'marketing' ends the marketing of those purposes and keeps their utility messages. Pending
 * requests in scope made before it are cancelled. The withdrawal closes the 24 h window opened before it, and a STOP
 * written on WhatsApp owes the person one confirmation.
 */
async function withdrawConsents(
	tx: Queryable,
	subjectId: string,
	scope: WithdrawalScope,
	at: Date,
	owesConfirmation: boolean,
): Promise<{ ended: string[]; changed: boolean }> {
	await tx.query(
		`UPDATE subjects SET last_activity_at = greatest(last_activity_at, $2), last_withdrawal_at = greatest(last_withdrawal_at, $2),
			stop_owed_at = CASE WHEN $3 THEN greatest(stop_owed_at, $2) ELSE stop_owed_at END
		 WHERE id = $1`,
		[subjectId, at, owesConfirmation],
	);
	const given = `withdrawal_wins($2, CASE state WHEN 'confirmed' THEN confirmed_at ELSE requested_at END)`;
	if (scope === 'marketing') {
		// Only rows whose marketing withdrawal this one makes later: a late-delivered earlier STOP changes nothing.
		const marked = await tx.query<{ fresh: boolean }>(
			`WITH given AS (
				SELECT purpose, marketing_withdrawn_at IS NULL AS fresh FROM consents
				WHERE subject_id = $1 AND state IN ('pending', 'confirmed') AND ${given}
					AND (marketing_withdrawn_at IS NULL OR marketing_withdrawn_at < $2)
			)
			UPDATE consents c SET marketing_withdrawn_at = $2
			FROM given WHERE c.subject_id = $1 AND c.purpose = given.purpose
			RETURNING given.fresh`,
			[subjectId, at],
		);
		return { ended: marked.some((row) => row.fresh) ? ['marketing'] : [], changed: marked.length > 0 };
	}
	const purposes = scope === 'all' ? null : scope;
	const rows = await tx.query<{ purpose: string }>(
		`WITH cancelled AS (
			UPDATE optin_requests SET status = 'cancelled'
			WHERE subject_id = $1 AND status = 'pending' AND withdrawal_wins($2, created_at) AND ($3::text[] IS NULL OR purposes && $3::text[])
		)
		UPDATE consents SET state = 'withdrawn', withdrawn_at = $2
		WHERE subject_id = $1 AND state IN ('pending', 'confirmed') AND ($3::text[] IS NULL OR purpose = ANY($3::text[])) AND ${given}
		RETURNING purpose`,
		[subjectId, at, purposes],
	);
	return { ended: rows.map((row) => row.purpose), changed: rows.length > 0 };
}

export interface MarketingPreference {
	waId?: string;
	userId?: string;
	value: 'stop' | 'resume';
	at: Date;
}

export interface PreferenceResult {
	changed: boolean;
	known: boolean;
	subjectId?: string;
}

export function assertPreference(preference: MarketingPreference): void {
	if (preference.value !== 'stop' && preference.value !== 'resume') {
		throw new ValidationError('value', `'${String(preference.value)}' is not a marketing preference`, "Use 'stop' or 'resume'");
	}
}

/**
 * Meta's in-app switch "stop marketing messages from this business" (user_preferences webhook, or error 131050).
 * It blocks marketing until resumed; resuming restores nothing we did not have: consent is still needed.
 */
export async function setMarketingPreference(
	ctx: LedgerContext,
	preference: MarketingPreference,
	deliveryKey?: string,
	owing?: Owing<PreferenceResult>,
): Promise<PreferenceResult & { duplicate: boolean; owed?: OwedItem }> {
	assertPreference(preference);
	return once(ctx, deliveryKey, (tx) => applyMarketingPreference(ctx, tx, preference, 'in_app'), owing);
}

/**
 * The switch inside the caller's transaction. Stop and resume each keep their latest time and the later wins (a
 * stop in the same second as a resume wins), so the outcome does not depend on the order Meta delivers them in.
 */
export async function applyMarketingPreference(
	ctx: LedgerContext,
	tx: Queryable,
	preference: MarketingPreference,
	source: 'in_app' | 'error_131050',
): Promise<PreferenceResult> {
	const people = await findSenders(ctx, tx, preference);
	if (people.length === 0) return { changed: false, known: false };
	const stop = preference.value === 'stop';
	const changed = await tx.query<{ id: string }>(
		stop
			? `UPDATE subjects SET marketing_stopped_at = greatest(marketing_stopped_at, $2) WHERE id = ANY($1::text[])
				AND marketing_stopped_at IS DISTINCT FROM greatest(marketing_stopped_at, $2) RETURNING id`
			: `UPDATE subjects SET marketing_resumed_at = greatest(marketing_resumed_at, $2) WHERE id = ANY($1::text[])
				AND marketing_resumed_at IS DISTINCT FROM greatest(marketing_resumed_at, $2) RETURNING id`,
		[people.map((person) => person.id), preference.at],
	);
	await appendEvents(
		tx,
		ctx.keys,
		changed.map((row) => ({ type: stop ? ('marketing.stopped' as const) : ('marketing.resumed' as const), subjectId: row.id, at: preference.at, payload: { source } })),
	);
	return { changed: changed.length > 0, known: true, subjectId: people[0].id };
}
