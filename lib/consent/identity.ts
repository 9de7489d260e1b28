/**
 * Who a ledger operation is about. People are found by keyed HMACs of their number (in the one form the ledger keeps,
 * whatever form a wa_id has: lib/phone.ts) and of Meta's business-scoped user id; the number itself is only stored
 * encrypted.
 */
import { ValidationError } from '../errors';
import { digitsOf, isBusinessScopedUserId, normalizeRecipient, numberForms, numberOfWaId, type CountryCode } from '../phone';
import type { LedgerContext, Queryable } from './context';
import type { CipherContext } from './crypto';

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
	marketing_resumed_at: Date | null;
}

const SUBJECT_COLUMNS = 'id, phone_enc, last_inbound_at, marketing_stopped_at, marketing_resumed_at';

/** Finds the person a recipient names; `lock` takes the row lock that orders a send against a withdrawal. */
export async function findSubject(
	tx: Queryable,
	identity: Identity,
	lock: 'none' | 'share' | 'update' = 'none',
): Promise<SubjectRow | undefined> {
	const where = identity.kind === 'phone' ? 'phone_hmac = $1' : USER_MATCH;
	const suffix = lock === 'none' ? '' : lock === 'share' ? ' FOR SHARE' : ' FOR UPDATE';
	const [row] = await tx.query<SubjectRow>(`SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE ${where} LIMIT 1${suffix}`, [identity.lookup]);
	return row;
}

/** A user id names a person by their own user id or by the parent user id of linked business portfolios. */
const USER_MATCH = '(user_id_hmac = $1 OR parent_user_id_hmac = $1)';

/** What a webhook says a person is known by besides their number. */
export interface UserIds {
	userId?: string;
	parentUserId?: string;
}

/**
 * Ties the user ids a webhook reported with the person's number to that person: from now on a message that
 * carries only the user id (a username user's) is theirs. A user id names one person, so a stale tie of the same id
 * to someone else (an earlier number of theirs) is undone.
 */
export async function tieUserIds(ctx: Pick<LedgerContext, 'keys'>, tx: Queryable, subjectId: string, ids: UserIds): Promise<void> {
	const user = ids.userId ? ctx.keys.lookupHmac(`user:${ids.userId}`) : null;
	const parent = ids.parentUserId ? ctx.keys.lookupHmac(`user:${ids.parentUserId}`) : null;
	if (!user && !parent) return;
	// Someone the ledger knew only by this user id (keyed by it in place of a number) is this person: their window
	// and sends move over, and the row goes, unless events name it (the chain is append-only); then it stays, and
	// erasure still reaches it through this person's user id (findPeople).
	const [alias] = await tx.query<{ id: string; last_inbound_at: Date | null }>(
		'SELECT id, last_inbound_at FROM subjects WHERE phone_hmac = $1 AND id <> $2 FOR UPDATE',
		[user, subjectId],
	);
	if (alias) {
		await tx.query('UPDATE subjects SET last_inbound_at = greatest(last_inbound_at, $2) WHERE id = $1', [subjectId, alias.last_inbound_at]);
		await tx.query('UPDATE sends SET subject_id = $1 WHERE subject_id = $2', [subjectId, alias.id]);
		await tx.query('DELETE FROM subjects s WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.subject_id = s.id)', [alias.id]);
	}
	await tx.query(
		`UPDATE subjects SET user_id_hmac = CASE WHEN user_id_hmac = $2 THEN NULL ELSE user_id_hmac END,
			parent_user_id_hmac = CASE WHEN parent_user_id_hmac = $3 THEN NULL ELSE parent_user_id_hmac END
		 WHERE id <> $1 AND (user_id_hmac = $2 OR parent_user_id_hmac = $3)`,
		[subjectId, user, parent],
	);
	await tx.query(
		`UPDATE subjects SET user_id_hmac = coalesce($2, user_id_hmac), parent_user_id_hmac = coalesce($3, parent_user_id_hmac) WHERE id = $1`,
		[subjectId, user, parent],
	);
}

/**
 * Everyone an inbound message's sender may be known as: by the number its wa_id belongs to (in either form), or the
 * user id; the one known by the number first. Locked, in one order, for the change to come.
 * Usually one person; two where an older version kept a Brazilian, Mexican or Argentinian sender under the wa_id's
 * form of the number and the sign-up under the other: a withdrawal must reach both.
 */
export async function findSenders(
	ctx: Pick<LedgerContext, 'keys'>,
	tx: Queryable,
	sender: { waId?: string } & UserIds,
): Promise<SubjectRow[]> {
	const keys = senderLookups(ctx, sender);
	if (keys.phones.length === 0 && keys.userId === undefined && keys.parentUserId === undefined) return [];
	return tx.query<SubjectRow>(
		`SELECT ${SUBJECT_COLUMNS} FROM subjects
		 WHERE phone_hmac = ANY($1::text[]) OR user_id_hmac = $2 OR parent_user_id_hmac = $4
		 ORDER BY (phone_hmac = $3) DESC, (user_id_hmac = $2) DESC, id FOR UPDATE`,
		[keys.phones, keys.userId ?? '', keys.phones[0] ?? '', keys.parentUserId ?? ''],
	);
}

/** Everyone a number may be known as (both forms of a number that has two): what erasure must reach. */
export async function findPeople(ctx: Pick<LedgerContext, 'keys'>, tx: Queryable, identity: Identity): Promise<SubjectRow[]> {
	if (identity.kind === 'user') {
		return tx.query<SubjectRow>(`SELECT ${SUBJECT_COLUMNS} FROM subjects WHERE ${USER_MATCH} OR phone_hmac = $1 ORDER BY (phone_hmac = $1), id FOR UPDATE`, [identity.lookup]);
	}
	const forms = numberForms(identity.e164).map((form) => ctx.keys.lookupHmac(form));
	// And whoever the ledger knew only by this person's user id before the two were tied (tieUserIds).
	return tx.query<SubjectRow>(
		`SELECT ${SUBJECT_COLUMNS} FROM subjects
		 WHERE phone_hmac = ANY($1::text[])
			OR phone_hmac IN (SELECT user_id_hmac FROM subjects WHERE phone_hmac = ANY($1::text[]) AND user_id_hmac IS NOT NULL)
		 ORDER BY (phone_hmac = ANY($1::text[])) DESC, id FOR UPDATE`,
		[forms],
	);
}

/** The keys a sender is found by: the kept form of the number first, then the wa_id's own form if it differs. */
export function senderLookups(ctx: Pick<LedgerContext, 'keys'>, sender: { waId?: string } & UserIds) {
	const digits = sender.waId ? digitsOf(sender.waId) : '';
	const phones = digits ? [...new Set([numberOfWaId(digits), `+${digits}`])].map((form) => ctx.keys.lookupHmac(form)) : [];
	return {
		phones,
		userId: sender.userId ? ctx.keys.lookupHmac(`user:${sender.userId}`) : undefined,
		parentUserId: sender.parentUserId ? ctx.keys.lookupHmac(`user:${sender.parentUserId}`) : undefined,
	};
}

export function assertSender(sender: { waId?: string; userId?: string }): void {
	if (!sender.waId && !sender.userId) {
		throw new ValidationError('from', 'The message has no sender', "Pass the sender's wa_id or business-scoped user id");
	}
}

/** Where a person's number is stored: bound to their row, so it cannot be moved to another person's. */
export const phoneContext = (subjectId: string): CipherContext => ({ table: 'subjects', column: 'phone_enc', row: subjectId });

/** The person's number; their id, not any row's, because the ciphertext is bound to it. */
export function phoneOf(ctx: Pick<LedgerContext, 'keys'>, subjectId: string, phoneEnc: string): string {
	return ctx.keys.decrypt(phoneEnc, phoneContext(subjectId));
}
