/**
 * Double opt-in (checklist 7–14): a sign-up creates a pending request with a one-time code; only an inbound WhatsApp
 * message carrying that code, from the very number that was entered, confirms it (BGH I ZR 164/09).
 */
import { isIP } from 'node:net';
import { ConsentError, ValidationError } from '../errors';
import { digitsOf, waIdMatches } from '../phone';
import { appendEvent } from './chain';
import type { IpMode, LedgerContext, Queryable } from './context';
import { CODE_ALPHABET, CODE_LENGTH, codeCandidates, newCode, newId, sha256Hex } from './crypto';
import { once } from './deliveries';
import { loadPurposes } from './gate';
import { findSender, phoneOf, resolveRecipient, senderLookups } from './identity';
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

	const subjectId = await ctx.store.transaction(async (tx) => {
		await loadPurposes(tx, purposes, 'purposes');
		const [subject] = await tx.query<{ id: string; recent: number }>(
			`WITH shown AS (
				INSERT INTO consent_texts (hash, version, language, body, first_shown_at) VALUES ($5, $6, $7, $8, $4)
				ON CONFLICT (hash) DO NOTHING
			), subject AS (
				INSERT INTO subjects (id, phone_hmac, phone_enc, created_at, last_activity_at) VALUES ($1, $2, $3, $4, $4)
				ON CONFLICT (phone_hmac) DO UPDATE SET last_activity_at = greatest(subjects.last_activity_at, EXCLUDED.last_activity_at)
				RETURNING id
			)
			SELECT subject.id,
				(SELECT count(*) FROM optin_requests r WHERE r.subject_id = subject.id AND r.created_at > $9)::int AS recent
			FROM subject`,
			[
				newId(),
				identity.lookup,
				ctx.keys.encrypt(identity.e164),
				at,
				textHash,
				request.consentText.version,
				request.consentText.language,
				request.consentText.text,
				new Date(at.getTime() - 3_600_000),
			],
		);
		if (Number(subject.recent) >= ctx.options.maxRequestsPerNumberPerHour) {
			throw new TooManyRequestsError(ctx.options.maxRequestsPerNumberPerHour);
		}
		await tx.query(
			`WITH request AS (
				INSERT INTO optin_requests (id, subject_id, code_hmac, purposes, text_hash, text_version, status, created_at, expires_at)
				VALUES ($1, $2, $3, $4::text[], $5, $6, 'pending', $7, $8)
			)
			INSERT INTO consents (subject_id, purpose, state, text_hash, text_version, requested_at)
			SELECT $2, purpose, 'pending', $5, $6, $7 FROM unnest($4::text[]) AS purpose
			ON CONFLICT (subject_id, purpose) DO UPDATE SET
				state = CASE WHEN consents.state = 'confirmed' THEN 'confirmed' ELSE 'pending' END,
				requested_at = EXCLUDED.requested_at`,
			[requestId, subject.id, ctx.keys.codeHmac(code), purposes, textHash, request.consentText.version, at, expiresAt],
		);
		await appendEvent(tx, ctx.keys, {
			type: 'optin.requested',
			subjectId: subject.id,
			at,
			payload: {
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
			},
		});
		return subject.id;
	});
	return { requestId, subjectId, phone: identity.e164, purposes, code, expiresAt, textHash };
}

const inboundSchema = z.object({
	messageId: z.string({ required_error: 'is required' }).min(1, 'is empty').max(256),
	from: z.string({ invalid_type_error: 'must be text' }).regex(/^\+?\d{6,20}$/, 'must be the digits of a wa_id').optional(),
	userId: z.string().max(128).optional(),
	text: z.string({ invalid_type_error: 'must be text' }).max(4096).default(''),
	at: z.date({ required_error: 'is required', invalid_type_error: 'must be a date' }),
});

export function parseInbound(message: InboundMessage): InboundMessage {
	const parsed = parse(inboundSchema, message, 'message');
	if (!parsed.from && !parsed.userId) throw new ValidationError('message.from', 'The message has no sender');
	return parsed as InboundMessage;
}

/** A word that looks like a code: a person trying one, not chatting. Only these count as failed attempts. */
const CODE_WORD = new RegExp(`(^|[^A-Z0-9])[${CODE_ALPHABET}]{${CODE_LENGTH}}($|[^A-Z0-9])`);

interface RequestRow {
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

export async function confirm(ctx: LedgerContext, input: InboundMessage): Promise<ConfirmResult & { duplicate: boolean }> {
	const message = parseInbound(input);
	return once(ctx, `message:${message.messageId}`, (tx) => confirmIn(ctx, tx, message));
}

async function confirmIn(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<ConfirmResult> {
	const codes = codeCandidates(message.text).map((code) => ctx.keys.codeHmac(code));
	// Lock the person before reading their request: every writer takes the person's row first, so a withdrawal
	// running at the same moment is ordered before or after this, never interleaved (and never deadlocked).
	const [owner] =
		codes.length === 0
			? []
			: await tx.query<{ id: string }>(
					`SELECT id FROM subjects WHERE id = (
						SELECT subject_id FROM optin_requests WHERE code_hmac = ANY($1::text[]) ORDER BY created_at DESC LIMIT 1
					) FOR UPDATE`,
					[codes],
				);
	const [request] = !owner
		? []
		: await tx.query<RequestRow>(
				`SELECT r.id, r.subject_id, r.purposes, r.status, r.attempts, r.expires_at, r.text_hash, r.text_version, s.phone_enc,
					(SELECT array_agg(c.purpose) FROM consents c
					 WHERE c.subject_id = r.subject_id AND c.purpose = ANY(r.purposes) AND c.withdrawn_at > $2) AS superseded
				 FROM optin_requests r JOIN subjects s ON s.id = r.subject_id
				 WHERE r.code_hmac = ANY($1::text[]) AND r.subject_id = $3
				 ORDER BY r.created_at DESC LIMIT 1`,
				[codes, message.at, owner.id],
			);
	if (!request) return unmatched(ctx, tx, message, codes.length > 0);

	const result = (outcome: ConfirmOutcome, hint?: string, purposes = request.purposes): ConfirmResult => ({
		outcome,
		duplicate: false,
		subjectId: request.subject_id,
		purposes,
		hint,
	});
	const phone = phoneOf(ctx, request);
	if (!message.from || !waIdMatches(phone, message.from)) {
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
	const superseded = new Set(request.superseded ?? []);
	const purposes = request.purposes.filter((purpose) => !superseded.has(purpose));

	const sender = senderLookups(ctx, { waId: message.from, userId: message.userId });
	const seq = await appendEvent(tx, ctx.keys, {
		type: 'optin.confirmed',
		subjectId: request.subject_id,
		at: message.at,
		payload: {
			requestId: request.id,
			purposes,
			textHash: request.text_hash,
			textVersion: request.text_version,
			evidence: { messageId: message.messageId, receivedAt: message.at.toISOString(), text: message.text, waId: message.from },
		},
	});
	await tx.query(
		`WITH request AS (
			UPDATE optin_requests SET status = 'confirmed' WHERE id = $1
		), consent AS (
			UPDATE consents SET state = 'confirmed', confirmed_at = $2, withdrawn_at = NULL, text_hash = $3, text_version = $4,
				confirm_event_seq = $5
			WHERE subject_id = $6 AND purpose = ANY($7::text[])
		), subject AS (
			UPDATE subjects SET wa_id_hmac = $8, user_id_hmac = coalesce($9, user_id_hmac), marketing_withdrawn_at = NULL,
				last_inbound_at = greatest(last_inbound_at, $2), last_activity_at = greatest(last_activity_at, $2)
			WHERE id = $6
		), narrowed AS (
			INSERT INTO suppressions (hmac, scope, since)
			SELECT s.hmac, p.id, s.since FROM suppressions s CROSS JOIN purposes p
			WHERE s.hmac = $10 AND s.scope = 'all' AND NOT (p.id = ANY($7::text[]))
			ON CONFLICT DO NOTHING
		)
		DELETE FROM suppressions WHERE hmac = $10 AND (scope IN ('all', 'marketing') OR scope = ANY($7::text[]))`,
		[
			request.id,
			message.at,
			request.text_hash,
			request.text_version,
			seq,
			request.subject_id,
			purposes,
			sender.waId,
			sender.userId ?? null,
			ctx.keys.suppressionHmac(phone),
		],
	);
	return { ...result('confirmed', undefined, purposes), phone };
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
			`SELECT id, attempts FROM optin_requests WHERE subject_id = $1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1`,
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
 * that alone: no consent is implied, and retention deletes them like anyone without consent.
 */
export async function openWindow(ctx: LedgerContext, tx: Queryable, message: InboundMessage): Promise<string | undefined> {
	const known = await findSender(ctx, tx, { waId: message.from, userId: message.userId });
	if (known) {
		await recordWindow(tx, known.id, message.at);
		return known.id;
	}
	// A username user we never met: no number to key a window on, and nothing to send to later either.
	if (!message.from) return undefined;
	const phone = `+${digitsOf(message.from)}`;
	const lookups = senderLookups(ctx, { waId: message.from, userId: message.userId });
	const [created] = await tx.query<{ id: string }>(
		`INSERT INTO subjects (id, phone_hmac, phone_enc, wa_id_hmac, user_id_hmac, created_at, last_inbound_at, last_activity_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
		 ON CONFLICT (phone_hmac) DO UPDATE SET last_inbound_at = greatest(subjects.last_inbound_at, EXCLUDED.last_inbound_at)
		 RETURNING id`,
		[newId(), ctx.keys.lookupHmac(phone), ctx.keys.encrypt(phone), lookups.waId, lookups.userId ?? null, message.at],
	);
	return created.id;
}

/** Every inbound message opens or renews the 24 h window for service replies. */
export async function recordWindow(tx: Queryable, subjectId: string, at: Date): Promise<void> {
	await tx.query(
		`UPDATE subjects SET last_inbound_at = greatest(last_inbound_at, $2) WHERE id = $1`,
		[subjectId, at],
	);
}
