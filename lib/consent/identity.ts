/**
 * Who a ledger operation is about. People are found by keyed HMACs of their number, of the wa_id WhatsApp reports
 * and of Meta's business-scoped user id; the number itself is only stored encrypted.
 */
import { ValidationError } from '../errors';
import { digitsOf, isBusinessScopedUserId, normalizeRecipient, type CountryCode } from '../phone';
import type { LedgerContext, Queryable } from './context';

export type Identity =
	| { kind: 'phone'; e164: string; lookup: string }
	| { kind: 'user'; userId: string; lookup: string };

/** A recipient as a user writes it: a number in any format the default country resolves, or a user id. */
export function resolveRecipient(
	ctx: Pick<LedgerContext, 'keys'>,
	recipient: unknown,
	defaultCountry: CountryCode | undefined,
	field = 'recipient',
): Identity {
	const normalized = normalizeRecipient(recipient, defaultCountry, field);
	if (isBusinessScopedUserId(normalized)) {
		return { kind: 'user', userId: normalized, lookup: ctx.keys.lookupHmac(`user:${normalized}`) };
	}
	return { kind: 'phone', e164: normalized, lookup: ctx.keys.lookupHmac(normalized) };
}

export interface SubjectRow {
	id: string;
	phone_enc: string;
	last_inbound_at: Date | null;
	marketing_stopped_at: Date | null;
	marketing_withdrawn_at: Date | null;
}

const SUBJECT_COLUMNS = 'id, phone_enc, last_inbound_at, marketing_stopped_at, marketing_withdrawn_at';

/** Finds the person a recipient names; `lock` takes the row lock that orders a send against a withdrawal. */
export async function findSubject(
	tx: Queryable,
	identity: Identity,
	lock: 'none' | 'share' | 'update' = 'none',
): Promise<SubjectRow | undefined> {
	const column = identity.kind === 'phone' ? 'phone_hmac' : 'user_id_hmac';
	const suffix = lock === 'none' ? '' : lock === 'share' ? ' FOR SHARE' : ' FOR UPDATE';
	const [row] = await tx.query<SubjectRow>(
		`SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE ${column} = $1 LIMIT 1${suffix}`,
		[identity.lookup],
	);
	return row;
}

/** The sender of an inbound message, by the number its wa_id spells, the wa_id bound at confirmation, or the user id. */
export async function findSender(
	ctx: Pick<LedgerContext, 'keys'>,
	tx: Queryable,
	sender: { waId?: string; userId?: string },
): Promise<SubjectRow | undefined> {
	const keys = senderLookups(ctx, sender);
	if (keys.phone === undefined && keys.userId === undefined) return undefined;
	const [row] = await tx.query<SubjectRow>(
		`SELECT ${SUBJECT_COLUMNS} FROM subjects
		 WHERE phone_hmac = $1 OR wa_id_hmac = $2 OR user_id_hmac = $3
		 ORDER BY (phone_hmac = $1) DESC LIMIT 1 FOR UPDATE`,
		[keys.phone ?? '', keys.waId ?? '', keys.userId ?? ''],
	);
	return row;
}

export function senderLookups(ctx: Pick<LedgerContext, 'keys'>, sender: { waId?: string; userId?: string }) {
	const digits = sender.waId ? digitsOf(sender.waId) : '';
	return {
		phone: digits ? ctx.keys.lookupHmac(`+${digits}`) : undefined,
		waId: digits ? ctx.keys.lookupHmac(`wa:${digits}`) : undefined,
		userId: sender.userId ? ctx.keys.lookupHmac(`user:${sender.userId}`) : undefined,
	};
}

/**
 * The wa_id key a person keeps: only for a wa_id whose digits differ from their number (Brazil, Mexico, Argentina),
 * which the number's own key cannot find; any other is found by the number. Keeping none then also lets a
 * confirmation update the person's row in place, with no indexed column changed (no new index entries).
 */
export function keptWaIdKey(ctx: Pick<LedgerContext, 'keys'>, e164: string, waId: string | undefined): string | null {
	if (!waId || digitsOf(waId) === digitsOf(e164)) return null;
	return senderLookups(ctx, { waId }).waId ?? null;
}

export function assertSender(sender: { waId?: string; userId?: string }): void {
	if (!sender.waId && !sender.userId) {
		throw new ValidationError('from', 'The message has no sender', "Pass the sender's wa_id or business-scoped user id");
	}
}

export function phoneOf(ctx: Pick<LedgerContext, 'keys'>, subject: Pick<SubjectRow, 'phone_enc'>): string {
	return ctx.keys.decrypt(subject.phone_enc);
}
