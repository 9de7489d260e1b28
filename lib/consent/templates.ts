/**
 * What Meta's template webhooks said (issue 13): a template paused, disabled, rejected or approved again, or its
 * category changed. Kept per template and kind, the latest by Meta's time, so that a Send node in any process asks
 * the gate about the category Meta applies now and refuses a template Meta does not let through. A redelivered
 * notice changes nothing twice (invariant 3).
 */
import { ValidationError } from '../errors';
import type { TemplateUpdate } from '../templates';
import type { LedgerContext } from './context';
import { once } from './deliveries';
import type { OwedItem, Owing } from './outbox';

export interface TemplateUpdateResult {
	/** False when a later notice of the same kind was recorded before (Meta's webhooks come in any order). */
	applied: boolean;
}

const NAME = /^[\w.-]{1,512}$/;

export async function recordTemplateUpdate(
	ctx: LedgerContext,
	update: TemplateUpdate,
	owing?: Owing<TemplateUpdateResult>,
): Promise<TemplateUpdateResult & { duplicate: boolean; owed?: OwedItem }> {
	const kind = update.status !== undefined ? 'status' : 'category';
	const value = update.status ?? update.category;
	if (!value || !NAME.test(update.name) || !NAME.test(update.language) || !/^\d{1,32}$/.test(update.wabaId)) {
		throw new ValidationError('template', 'A template notice needs a business account id, a template name and language, and a status or category');
	}
	const key = `template:${update.wabaId}:${update.name}:${update.language}:${kind}:${value}:${update.at.getTime()}`;
	return once(
		ctx,
		key,
		async (tx) => {
			const rows = await tx.query(
				`INSERT INTO template_updates (waba_id, name, language, kind, value, reason, template_id, at, received_at)
				 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				 ON CONFLICT (waba_id, name, language, kind) DO UPDATE SET value = EXCLUDED.value, reason = EXCLUDED.reason,
					template_id = coalesce(EXCLUDED.template_id, template_updates.template_id), at = EXCLUDED.at, received_at = EXCLUDED.received_at
				 WHERE template_updates.at <= EXCLUDED.at
				 RETURNING kind`,
				[update.wabaId, update.name, update.language, kind, value.slice(0, 64), update.reason?.slice(0, 200) ?? null, update.templateId ?? null, update.at, ctx.now()],
			);
			return { applied: rows.length > 0 };
		},
		owing,
	);
}

/** The latest notices for the templates of one business account. */
export async function templateUpdates(ctx: LedgerContext, wabaId: string): Promise<TemplateUpdate[]> {
	const rows = await ctx.store.query<{ name: string; language: string; kind: string; value: string; reason: string | null; template_id: string | null; at: Date }>(
		'SELECT name, language, kind, value, reason, template_id, at FROM template_updates WHERE waba_id = $1',
		[wabaId],
	);
	return rows.map((row) => ({
		wabaId,
		name: row.name,
		language: row.language,
		...(row.template_id ? { templateId: row.template_id } : {}),
		...(row.kind === 'status' ? { status: row.value, ...(row.reason ? { reason: row.reason } : {}) } : { category: row.value }),
		at: new Date(row.at),
	}));
}

/** A send Meta priced as marketing though the gate let it through as something else. */
export interface ConsentIncident {
	subjectId: string | null;
	purpose: string;
	/** The category the gate asked about (utility, service, withdrawal_confirmation). */
	sentAs: string;
	/** Meta's `pricing.category` (marketing, marketing_lite). */
	billedAs: string;
	reason: string;
	/** Meta's time of the status that said so. */
	at: string;
	recordedAt: string;
}

/** The incidents recorded, newest first. */
export async function consentIncidents(ctx: LedgerContext): Promise<ConsentIncident[]> {
	const rows = await ctx.store.query<{ subject_id: string | null; purpose: string; sent_as: string; billed_as: string; reason: string; at: Date; recorded_at: Date }>(
		'SELECT subject_id, purpose, sent_as, billed_as, reason, at, recorded_at FROM consent_incidents ORDER BY recorded_at DESC, at DESC',
	);
	return rows.map((row) => ({
		subjectId: row.subject_id,
		purpose: row.purpose,
		sentAs: row.sent_as,
		billedAs: row.billed_as,
		reason: row.reason,
		at: new Date(row.at).toISOString(),
		recordedAt: new Date(row.recorded_at).toISOString(),
	}));
}
