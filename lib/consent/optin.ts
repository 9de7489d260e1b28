/**
 * Double opt-in (checklist 7–14): a sign-up creates a pending request with a one-time code; only an inbound WhatsApp
 * message carrying that code, from the very number that was entered, confirms it (BGH I ZR 164/09). A user with a
 * WhatsApp username writes without a number (only their business-scoped user id): their code confirms when an
 * earlier message tied the user id to the number, or when the number they share on Meta's contact info request is
 * the one entered; until then it waits.
 */
import { isIP } from 'node:net';
import { ConsentError, ValidationError } from '../errors';
import { numberOfWaId, waIdMatches } from '../phone';
import { appendEvent, sealPayload } from './chain';
import type { IpMode, LedgerContext, Queryable } from './context';
import { CODE_ALPHABET, CODE_LENGTH, codeCandidates, newCode, newId, sha256Hex } from './crypto';
import { duplicateOf, once } from './deliveries';
import { deliveryKeyHmac } from './keyed';
import { owedRow, type OwedItem, type Owing } from './outbox';
import { confirmOptIns, findConfirmations, type ConfirmationRow, type RequestRow } from './optin-groups';
import { loadPurposes } from './gate';
import { findSenders, phoneContext, phoneOf, resolveRecipient, senderLookups, tieUserIds } from './identity';
import type { ConfirmOutcome, ConfirmResult, InboundMessage, OptInRequest, OptInRequested } from './types';
import { optInRequestSchema, parse } from './validation';
import { z } from 'zod';

export class TooManyRequestsError extends ConsentError {
	constructor(limit: number) {
		super('too_many_requests', `This number already asked ${limit} times in the last hour`, {
			field: 'phone',
			hint: 'Wait an hour, or use the code from the last WhatsApp link',
		});
	}
}

/** SQLSTATEs the opt-in functions raise for refusals (see the migrations). */
const UNKNOWN_PURPOSE = 'CL001';
const TOO_MANY_REQUESTS = 'CL002';
const UNIQUE_VIOLATION = '23505';

function keptAddress(ip: string | undefined, mode: IpMode, hash: (ip: string) => string): string | undefined {
	if (!ip || mode === 'off') return undefined;
	if (mode === 'hashed') return hash(ip);
	if (isIP(ip) === 4) return ip.replace(/\.\d+$/, '.0');
	if (isIP(ip) === 6) return `${ip.split(':').slice(0, 3).join(':')}::/48`;
	return undefined;
}

export async function requestOptIn(ctx: LedgerContext, input: OptInRequest): Promise<OptInRequested> {
	const request = parse(optInRequestSchema, input);
	const identity = resolveRecipient(ctx, request.phone, ctx.options.defaultCountry, 'phone');
	if (identity.kind !== 'phone') throw new ValidationError('phone', 'A sign-up needs a phone number, not a user id');
	const purposes = [...new Set(request.purposes)];
	const at = request.at ?? ctx.now();
	const expiresAt = new Date(at.getTime() + ctx.options.codeTtlMinutes * 60_000);
	const textHash = sha256Hex(request.consentText.text);
	const code = newCode();
	const requestId = newId();

	const newSubject = newId();
	const payload = sealPayload(ctx.keys, 'optin.requested', {
		requestId,
		purposes,
		textHash,
		textVersion: request.consentText.version,
		language: request.consentText.language,
		pageUrl: request.source.pageUrl,
		widgetVersion: request.source.widgetVersion,
		ip: keptAddress(request.source.ip, request.source.ipMode ?? ctx.options.ipMode, (ip) => ctx.keys.ipHmac(ip)),
		ipMode: request.source.ipMode ?? ctx.options.ipMode,
		userAgent: request.source.userAgent,
		expiresAt: expiresAt.toISOString(),
	});
	let subjectId: string;
	try {
		subjectId = await ctx.optIns.signUps.run({
			new_subject: newSubject,
			phone_hmac: identity.lookup,
			// Stored only when this id is the new person's (an existing person keeps the number they have).
			phone_enc: ctx.keys.encrypt(identity.e164, phoneContext(newSubject)),
			at,
			at_ms: at.getTime(),
			text_hash: textHash,
			text_version: request.consentText.version,
			text: { language: request.consentText.language, body: request.consentText.text },
			request_id: requestId,
			code_hmac: ctx.keys.codeHmac(code),
			purposes,
			expires_at: expiresAt,
			recent_since: new Date(at.getTime() - 3_600_000),
			payload: payload.sealed,
			payload_hash: payload.hash,
		});
	} catch (error) {
		const code = (error as { code?: string }).code;
		if (code === UNKNOWN_PURPOSE) await loadPurposes(ctx.store, purposes, 'purposes'); // throws, naming the known ones
		if (code === TOO_MANY_REQUESTS) throw new TooManyRequestsError(ctx.options.maxRequestsPerNumberPerHour);
		throw error;
	}
	return { requestId, subjectId, phone: identity.e164, purposes, code, expiresAt, textHash };
}

/**
 * A message text as evidence. WhatsApp lets a person send 4,096 characters, and what it counts as one is not one
 * UTF-16 unit (400 family emoji, 👨‍👩‍👧‍👦, are 4,400): the bound only guards the ledger against a runaway input.
 */
const MAX_MESSAGE_TEXT = 65_536;

const inboundSchema = z.object({
	messageId: z.string({ required_error: 'is required' }).min(1, 'is empty').max(256),
	from: z.string({ invalid_type_error: 'must be text' }).regex(/^\+?\d{6,20}$/, 'must be the digits of a wa_id').optional(),
	userId: z.string().max(140).optional(),
	parentUserId: z.string().max(140).optional(),
	sharedPhone: z.string().regex(/^\d{6,20}$/, 'must be the digits of a phone number').optional(),
	text: z.string({ invalid_type_error: 'must be text' }).max(MAX_MESSAGE_TEXT, `is longer than ${MAX_MESSAGE_TEXT} characters`).default(''),
	at: z.date({ required_error: 'is required', invalid_type_error: 'must be a date' }),
});

export function parseInbound(message: InboundMessage): InboundMessage {
	const parsed = parse(inboundSchema, message, 'message');
	if (!parsed.from && !parsed.userId) throw new ValidationError('message.from', 'The message has no sender');
	return parsed as InboundMessage;
}

/** A word that looks like a code: a person trying one, not chatting. Only these count as failed attempts. */
const CODE_WORD = new RegExp(`(^|[^A-Z0-9])[${CODE_ALPHABET}]{${CODE_LENGTH}}($|[^A-Z0-9])`);

export async function confirm(ctx: LedgerContext, input: InboundMessage, owing?: Owing<ConfirmResult>): Promise<ConfirmResult & { duplicate: boolean; owed?: OwedItem }> {
	const message = parseInbound(input);
	const key = `message:${message.messageId}`;
	return (await confirmAtOnce(ctx, message, key, owing)) ?? once(ctx, key, (tx) => confirmIn(ctx, tx, message), owing);
}

/**
 * The common case, a live code from the right number, in two calls and no open transaction: find the request, then
 * confirm it under the person's lock if nothing it depends on changed meanwhile. Anything else (no code, wrong
 * number, expired, a race) returns undefined and takes the full path in `confirmIn`.
 */
async function confirmAtOnce(
	ctx: LedgerContext,
	message: InboundMessage,
	key: string,
	owing: Owing<ConfirmResult> | undefined,
): Promise<(ConfirmResult & { duplicate: boolean; owed?: OwedItem }) | undefined> {
	const codes = codeCandidates(message.text).map((code) => ctx.keys.codeHmac(code));
	// A parent user id is tied on the full path (confirm_opt_ins ties only the user id).
	if (codes.length === 0 || !message.from || message.parentUserId) return undefined;
	const request = chooseRequest(ctx, await ctx.optIns.searches.run({ codes, at: message.at }), message);
	if (!request || request.status !== 'pending' || request.attempts >= ctx.options.maxCodeAttempts) return undefined;
	if (message.at.getTime() > new Date(request.expires_at).getTime()) return undefined;
	const phone = phoneOf(ctx, request.subject_id, request.phone_enc);
	if (!waIdMatches(phone, message.from)) return undefined;
	// Someone known so far only by this user id becomes this person (tieUserIds), on the full path.
	if (message.userId && (await ctx.store.query('SELECT 1 FROM subjects WHERE phone_hmac = $1', [ctx.keys.lookupHmac(`user:${message.userId}`)])).length > 0) return undefined;
	const confirmation = confirmationOf(ctx, request, message, phone);
	if (confirmation.purposes.length === 0) return undefined;
	const result: ConfirmResult = { outcome: 'confirmed', duplicate: false, subjectId: request.subject_id, purposes: confirmation.purposes };
	const delivery = deliveryKeyHmac(ctx.keys, key);
	// What the confirmation owes the workflow is written by confirm_opt_ins with it (the outbox).
	const due = owing?.owe({ ...result, phone });
	const owed = owing && due && owedRow(ctx, key, owing.handOver, due);
	let outcome: string;
	try {
		outcome = await ctx.optIns.confirmations.run({
			...confirmation.row,
			delivery_key: delivery,
			result: JSON.stringify(result),
			processed_at: ctx.now(),
			owed: owed?.row ?? null,
		});
	} catch (error) {
		if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
		outcome = 'duplicate'; // the full path recorded this message at the same moment
	}
	if (outcome === 'duplicate') return duplicateOf<ConfirmResult>(ctx, key, owing);
	return outcome === 'confirmed' ? { ...result, phone, owed: owed?.item } : undefined;
}

/**
 * The request a message's code confirms. A message holds several code-length runs of letters, and any of them may
 * happen to be someone else's live code: the sender's own request comes first, else the newest match (which then
 * refuses: wrong number).
 */
function chooseRequest(ctx: LedgerContext, requests: RequestRow[], message: InboundMessage, senderId?: string): RequestRow | undefined {
	const from = message.from;
	const own = from
		? requests.find((request) => waIdMatches(phoneOf(ctx, request.subject_id, request.phone_enc), from))
		: requests.find((request) => request.subject_id === senderId);
	return own ?? requests[0];
}

/**
 * What confirming `request` by `message` writes: the purposes still open and the row `confirm_opt_ins` takes.
 * `phone` is the request's number, which the caller has already decrypted to compare it with the sender.
 */
function confirmationOf(ctx: LedgerContext, request: RequestRow, message: InboundMessage, phone: string) {
	const superseded = new Set(request.superseded ?? []);
	const purposes = request.purposes.filter((purpose) => !superseded.has(purpose));
	const sender = senderLookups(ctx, { waId: message.from, userId: message.userId });
	const payload = sealPayload(ctx.keys, 'optin.confirmed', {
		requestId: request.id,
		purposes,
		textHash: request.text_hash,
		textVersion: request.text_version,
		evidence: {
			messageId: message.messageId,
			receivedAt: message.at.toISOString(),
			text: message.text,
			waId: message.from,
			// How the ledger knows the sender's number when the message did not carry it.
			...(message.from ? {} : { userId: message.userId, number: message.sharedPhone ? 'shared_on_request' : 'tied_by_earlier_message' }),
		},
	});
	const row: ConfirmationRow = {
		delivery_key: null,
		result: null,
		processed_at: null,
		owed: null,
		request_id: request.id,
		subject: request.subject_id,
		attempts: request.attempts,
		superseded: request.superseded ?? [],
		purposes,
		at: message.at,
		at_ms: message.at.getTime(),
		text_hash: request.text_hash,
		text_version: request.text_version,
		user_id_hmac: sender.userId ?? null,
		suppression_hmac: ctx.keys.suppressionHmac(phone),
		payload: payload.sealed,
		payload_hash: payload.hash,
	};
	return { purposes, row };
}

async function confirmIn(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<ConfirmResult> {
	if (message.sharedPhone && message.userId && !message.from) return numberShared(ctx, tx, message);
	const codes = codeCandidates(message.text).map((code) => ctx.keys.codeHmac(code));
	const senderId = message.from ? undefined : await tiedPerson(ctx, tx, message);
	const find = async () =>
		codes.length === 0 ? undefined : chooseRequest(ctx, (await findConfirmations(tx, [{ codes, at: message.at }]))[0], message, senderId);
	// Lock the person before relying on their request: every writer takes the person's row first, so a withdrawal
	// running at the same moment is ordered before or after this, never interleaved (and never deadlocked).
	let request = await find();
	let locked: string | undefined;
	while (request && request.subject_id !== locked) {
		locked = request.subject_id;
		await tx.query('SELECT id FROM subjects WHERE id = $1 FOR UPDATE', [locked]);
		request = await find(); // again, under the lock
	}
	if (!request) return unmatched(ctx, tx, message, codes.length > 0);

	const result = (outcome: ConfirmOutcome, hint?: string, purposes = request.purposes): ConfirmResult => ({
		outcome,
		duplicate: false,
		subjectId: request.subject_id,
		purposes,
		hint,
	});
	const phone = phoneOf(ctx, request.subject_id, request.phone_enc);
	// A user id nobody is tied to yet may be this person's: ask for the number rather than refuse.
	if (!message.from && senderId === undefined) return awaitNumber(ctx, tx, request, message);
	if (message.from ? !waIdMatches(phone, message.from) : request.subject_id !== senderId) {
		await countAttempt(ctx, tx, request);
		await openWindow(ctx, tx, message);
		await appendEvent(tx, ctx.keys, {
			type: 'optin.refused',
			subjectId: request.subject_id,
			at: message.at,
			payload: { requestId: request.id, reason: 'wrong_number', messageId: message.messageId },
		});
		return {
			outcome: 'wrong_number',
			duplicate: false,
			purposes: request.purposes,
			hint: 'The code was sent from a different WhatsApp number than the one entered on the website: nothing was confirmed',
		};
	}
	const refused = await refusedRequest(ctx, tx, request, message);
	if (refused) {
		await recordWindow(tx, request.subject_id, message.at);
		return { ...result(refused.outcome, refused.hint, refused.purposes), phone };
	}
	return confirmLocked(ctx, tx, request, message, phone);
}

/**
 * Who a sender without a number is: the person with a number that an earlier message (or a shared number) tied their
 * user id to, if any. Not someone known only by the user id: that says nothing about which number is theirs.
 */
async function tiedPerson(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<string | undefined> {
	const keys = senderLookups(ctx, message);
	if (!keys.userId && !keys.parentUserId) return undefined;
	const [row] = await tx.query<{ id: string }>(
		`SELECT id FROM subjects WHERE (user_id_hmac = $1 OR parent_user_id_hmac = $2) AND phone_hmac <> coalesce($1, '') LIMIT 1`,
		[keys.userId ?? null, keys.parentUserId ?? null],
	);
	return row?.id;
}

/** Confirms `request` by `message` under the person's lock, which the caller holds, and ties the sender's user ids. */
async function confirmLocked(ctx: LedgerContext, tx: Queryable, request: RequestRow, message: InboundMessage, phone: string): Promise<ConfirmResult> {
	const confirmation = confirmationOf(ctx, request, message, phone);
	// No delivery key: `once` around this records the message. Under the lock taken above nothing can have changed.
	const [outcome] = await confirmOptIns(tx, ctx.keys, [confirmation.row]);
	if (outcome !== 'confirmed') throw new Error(`confirm_opt_ins answered '${outcome}' under the person's lock`);
	await tieUserIds(ctx, tx, request.subject_id, message);
	return { outcome: 'confirmed', duplicate: false, subjectId: request.subject_id, purposes: confirmation.purposes, phone };
}

/**
 * A live code from a user id the ledger cannot tie to a number (a username user whose number Meta withholds): the
 * request stays pending, marked with the user id, and the workflow asks the person for their number with a contact
 * info request. Their answer (`numberShared`) confirms it if it is the number entered. The message opens the user
 * id's window, so that the request can go out.
 */
async function awaitNumber(ctx: LedgerContext, tx: Queryable, request: RequestRow, message: InboundMessage): Promise<ConfirmResult> {
	await openWindow(ctx, tx, message);
	const refused = await refusedRequest(ctx, tx, request, message);
	if (refused) return { outcome: refused.outcome, duplicate: false, purposes: refused.purposes ?? request.purposes, hint: refused.hint };
	await tx.query('UPDATE optin_requests SET awaiting_user_hmac = $2 WHERE id = $1', [request.id, senderLookups(ctx, message).userId]);
	return {
		outcome: 'number_needed',
		duplicate: false,
		purposes: request.purposes,
		hint: 'WhatsApp did not say which number sent this code: ask the person to share their number (a contact info request); their answer completes the sign-up',
	};
}

/**
 * The answer to a contact info request: the sender's own number. It ties their user id to it, and confirms the
 * request their code left pending if that is the number entered on the website.
 */
async function numberShared(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<ConfirmResult> {
	const userKey = senderLookups(ctx, message).userId!;
	const [person] = await findSenders(ctx, tx, { waId: message.sharedPhone });
	const [request] = await tx.query<RequestRow>(
		`SELECT r.id, r.subject_id, r.purposes, r.status, r.attempts, r.expires_at, r.text_hash, r.text_version, s.phone_enc,
			(SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c
			 WHERE c.subject_id = r.subject_id AND c.purpose = ANY (r.purposes) AND withdrawal_wins(c.withdrawn_at, $2)) AS superseded
		 FROM optin_requests r JOIN subjects s ON s.id = r.subject_id
		 WHERE r.awaiting_user_hmac = $1 AND r.status = 'pending'
		 ORDER BY r.created_at DESC LIMIT 1`,
		[userKey, message.at],
	);
	if (request && request.subject_id !== person?.id) {
		await tx.query('SELECT id FROM subjects WHERE id = $1 FOR UPDATE', [request.subject_id]);
		await countAttempt(ctx, tx, request);
		await appendEvent(tx, ctx.keys, {
			type: 'optin.refused',
			subjectId: request.subject_id,
			at: message.at,
			payload: { requestId: request.id, reason: 'wrong_number', messageId: message.messageId },
		});
		return {
			outcome: 'wrong_number',
			duplicate: false,
			purposes: request.purposes,
			hint: 'The number shared on WhatsApp is not the one entered on the website: nothing was confirmed',
		};
	}
	if (!person) return unmatched(ctx, tx, message, false);
	await recordWindow(tx, person.id, message.at);
	if (!request) {
		await tieUserIds(ctx, tx, person.id, message);
		return { outcome: 'no_code', duplicate: false, subjectId: person.id, purposes: [] };
	}
	const phone = phoneOf(ctx, request.subject_id, request.phone_enc);
	const refused = await refusedRequest(ctx, tx, request, message);
	if (refused) {
		await tieUserIds(ctx, tx, person.id, message);
		return { outcome: refused.outcome, duplicate: false, subjectId: request.subject_id, purposes: refused.purposes ?? request.purposes, hint: refused.hint, phone };
	}
	return confirmLocked(ctx, tx, request, message, phone);
}

/** Why a request that matched the code cannot be confirmed by this message, if it cannot. */
async function refusedRequest(
	ctx: LedgerContext,
	tx: Queryable,
	request: RequestRow,
	message: InboundMessage,
): Promise<{ outcome: ConfirmOutcome; hint?: string; purposes?: string[] } | undefined> {
	if (request.status === 'confirmed') return { outcome: 'already_confirmed' };
	if (request.status === 'failed' || request.attempts >= ctx.options.maxCodeAttempts) {
		return { outcome: 'too_many_attempts', hint: 'Too many wrong codes: please sign up again on the website' };
	}
	// Meta delivers out of order: a STOP sent after this message may have arrived (and cancelled the request) first.
	const superseded = new Set(request.superseded ?? []);
	if (request.purposes.every((purpose) => superseded.has(purpose))) {
		await tx.query(`UPDATE optin_requests SET status = 'cancelled' WHERE id = $1`, [request.id]);
		return { outcome: 'superseded_by_withdrawal', hint: 'A withdrawal sent after this code takes precedence' };
	}
	if (request.status !== 'pending' || message.at.getTime() > new Date(request.expires_at).getTime()) {
		if (request.status === 'pending') await tx.query(`UPDATE optin_requests SET status = 'expired' WHERE id = $1`, [request.id]);
		return { outcome: 'expired', hint: 'This code has expired: please sign up again on the website to get a new one' };
	}
	return undefined;
}

/** No live code in the message: it still opens the sender's window, and a code-like word counts as an attempt. */
async function unmatched(ctx: LedgerContext, tx: Queryable, message: InboundMessage, hadCandidates: boolean): Promise<ConfirmResult> {
	const senderId = await openWindow(ctx, tx, message);
	const looksLikeCode = hadCandidates && CODE_WORD.test(message.text.toUpperCase());
	if (looksLikeCode && senderId) {
		const [pending] = await tx.query<{ id: string; attempts: number }>(
			`SELECT id, attempts FROM optin_requests WHERE subject_id = $1 AND status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 1`,
			[senderId],
		);
		if (pending) await countAttempt(ctx, tx, pending);
	}
	return {
		outcome: looksLikeCode ? 'unknown_code' : 'no_code',
		duplicate: false,
		subjectId: senderId,
		purposes: [],
		hint: looksLikeCode ? 'This code is not valid: please check it or sign up again on the website' : undefined,
	};
}

async function countAttempt(ctx: LedgerContext, tx: Queryable, request: { id: string }): Promise<void> {
	await tx.query(
		`UPDATE optin_requests SET attempts = attempts + 1,
			status = CASE WHEN attempts + 1 >= $2 AND status = 'pending' THEN 'failed' ELSE status END
		 WHERE id = $1`,
		[request.id, ctx.options.maxCodeAttempts],
	);
}

/**
 * Opens or renews the sender's 24 h window. A first message from an unknown number makes the sender known for
 * that alone: no consent implied, and retention deletes them like anyone without consent.
 */
export async function openWindow(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<string | undefined> {
	// A sender with a number is the person with that number (whoever the user id named so far joins them below).
	const [known] = await findSenders(ctx, tx, message.from ? { waId: message.from } : { userId: message.userId, parentUserId: message.parentUserId });
	if (known) {
		await recordWindow(tx, known.id, message.at);
		// A message that carries the number and the user id ties the two: a later one may carry only the user id.
		if (message.from) await tieUserIds(ctx, tx, known.id, message);
		return known.id;
	}
	if (!message.from && !message.userId) return undefined;
	// A username user we never met is known by their user id in place of a number: it is where replies go.
	const address = message.from ? numberOfWaId(message.from) : message.userId!;
	const id = newId();
	const [created] = await tx.query<{ id: string }>(
		`INSERT INTO subjects (id, phone_hmac, phone_enc, created_at, last_inbound_at, last_activity_at)
		 VALUES ($1, $2, $3, $4, $4, $4)
		 ON CONFLICT (phone_hmac) DO UPDATE SET last_inbound_at = greatest(subjects.last_inbound_at, EXCLUDED.last_inbound_at),
			last_activity_at = greatest(subjects.last_activity_at, EXCLUDED.last_activity_at)
		 RETURNING id`,
		[id, ctx.keys.lookupHmac(message.from ? address : `user:${address}`), ctx.keys.encrypt(address, phoneContext(id)), message.at],
	);
	await tieUserIds(ctx, tx, created.id, message);
	return created.id;
}

/** Every inbound message but a withdrawal opens or renews the 24 h window for service replies (checklist 19). */
export async function recordWindow(tx: Queryable, subjectId: string, at: Date): Promise<void> {
	await tx.query(
		`UPDATE subjects SET last_inbound_at = greatest(last_inbound_at, $2), last_activity_at = greatest(last_activity_at, $2) WHERE id = $1`,
		[subjectId, at],
	);
}
