/**
 * The server side of a sign-up, framework-free: read what the form sent, ask the ledger for a pending request, and
 * answer with the WhatsApp link that carries the one-time code. The Opt-In Trigger node calls these functions.
 */
import QRCode from 'qrcode';
import { z } from 'zod';
import { ConsentError, ValidationError } from '../errors';
import { digitsOf, toE164 } from '../phone';
import { newCode } from '../consent/crypto';
import type { OptInRequest, OptInRequested } from '../consent/types';
import type { WidgetConfig, WidgetLanguage } from './config';
import { HONEYPOT_FIELD } from './markup';
import { TooManySignupsError, type SignupRateLimiter } from './rate-limit';
import { STRINGS, consentTextFor, type WidgetStrings } from './texts';

/** Recorded with every request, so the proof says which widget showed the text (checklist 7). */
export const WIDGET_VERSION = '1.0.0';

/** Matches the ledger's default code lifetime; only used for the decoy answer to bots. */
const DECOY_TTL_MINUTES = 24 * 60;

export interface Submission {
	/** E.164. */
	phone: string;
	purposes: string[];
	ageConfirmed: true;
	language: WidgetLanguage;
	pageUrl?: string;
	/** True when the hidden field was filled in: a bot, answered as usual but never recorded. */
	honeypot: boolean;
}

export interface SignupResponse {
	status: 'pending';
	waLink: string;
	qrSvg: string;
	code: string;
	/** ISO 8601. */
	expiresAt: string;
	message: string;
}

export interface SignupErrorBody {
	status: 'error';
	field?: string;
	message: string;
}

type ErrorKey = Exclude<keyof WidgetStrings['errors'], 'tooMany'>;

/** A submitted field is missing or wrong; the message is in the visitor's language and says what to do. */
export class SignupInputError extends ValidationError {
	readonly language: WidgetLanguage;

	constructor(field: string, language: WidgetLanguage, key: ErrorKey, minimumAge: number) {
		const message = STRINGS[language].errors[key];
		super(field, typeof message === 'function' ? message(minimumAge) : message);
		this.language = language;
	}
}

const submissionSchema = z.object({
	phone: z.string({ required_error: 'phoneMissing', invalid_type_error: 'phoneInvalid' }).trim().min(1, 'phoneMissing').max(40, 'phoneInvalid'),
	purposes: z
		.array(z.string({ invalid_type_error: 'purposeUnknown' }), { invalid_type_error: 'purposesMissing' })
		.default([])
		.refine((purposes) => purposes.length > 0, 'purposesMissing'),
	ageConfirmed: z.union([z.literal(true), z.enum(['yes', 'on', 'true', '1'])], { errorMap: () => ({ message: 'ageMissing' }) }),
	pageUrl: z
		.string({ invalid_type_error: 'pageUrl' })
		.max(2048, 'pageUrl')
		.url('pageUrl')
		.refine((url) => /^https?:\/\//i.test(url), 'pageUrl')
		.optional(),
	[HONEYPOT_FIELD]: z.string().optional(),
});

/** The body as one plain record; a form may repeat `purposes`, one value per ticked box. */
function bodyRecord(body: unknown, contentType: 'json' | 'form'): Record<string, unknown> | undefined {
	if (contentType === 'json') {
		let parsed = body;
		if (typeof body === 'string') {
			try {
				parsed = JSON.parse(body);
			} catch {
				return undefined;
			}
		}
		return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
	}
	if (typeof body === 'string' || body instanceof URLSearchParams) {
		const params = typeof body === 'string' ? new URLSearchParams(body) : body;
		const record: Record<string, unknown> = Object.fromEntries(params);
		record.purposes = params.getAll('purposes');
		return record;
	}
	if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
	const record = { ...(body as Record<string, unknown>) };
	// Body parsers give one ticked box as a string and several as an array (some append [] to the name).
	const purposes = record.purposes ?? record['purposes[]'];
	record.purposes = typeof purposes === 'string' ? [purposes] : purposes;
	return record;
}

/** Reads a submission from the JSON the embedded script posts or the form the hosted page posts. */
export function parseSubmission(body: unknown, contentType: 'json' | 'form', config: WidgetConfig): Submission {
	const record = bodyRecord(body, contentType);
	const requested = record?.language;
	const language = config.languages.find((candidate) => candidate === requested) ?? config.languages[0];
	const fail = (field: string, key: ErrorKey): never => {
		throw new SignupInputError(field, language, key, config.minimumAge);
	};
	if (!record) return fail('body', 'body');

	const result = submissionSchema.safeParse(record);
	if (!result.success) {
		const issue = result.error.issues[0];
		const field = String(issue.path[0] ?? 'body');
		return fail(field, (issue.message in STRINGS[language].errors ? issue.message : 'body') as ErrorKey);
	}
	const input = result.data;
	const offered = new Set(config.purposes.map((purpose) => purpose.id));
	if (input.purposes.some((purpose) => !offered.has(purpose))) return fail('purposes', 'purposeUnknown');

	let phone: string;
	try {
		phone = toE164(input.phone, config.defaultCountry);
	} catch (error) {
		if (error instanceof ValidationError) return fail('phone', 'phoneInvalid');
		throw error;
	}
	return {
		phone,
		purposes: [...new Set(input.purposes)],
		ageConfirmed: true,
		language,
		pageUrl: input.pageUrl,
		honeypot: (input[HONEYPOT_FIELD] ?? '').trim() !== '',
	};
}

/** The message the visitor sends to confirm: the code with a few words, which they may edit. */
export function prefillText(code: string, lang: WidgetLanguage): string {
	return lang === 'de' ? `Anmeldung bestätigen: ${code}` : `Confirm sign-up: ${code}`;
}

export function waLinkFor(config: WidgetConfig, code: string, lang: WidgetLanguage): string {
	return `https://wa.me/${digitsOf(config.businessWhatsAppNumber)}?text=${encodeURIComponent(prefillText(code, lang))}`;
}

/**
 * Keeps scheme, host and path of the page: query strings and fragments often carry e-mail addresses or tracking ids
 * that the proof does not need (Art. 5(1)(c)).
 */
function pageWithoutQuery(url: string | undefined): string | undefined {
	if (!url) return undefined;
	try {
		const parsed = new URL(url);
		if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
		return `${parsed.origin}${parsed.pathname}`;
	} catch {
		return undefined;
	}
}

export interface SignupDeps {
	requestOptIn(request: OptInRequest): Promise<OptInRequested>;
	rateLimiter?: SignupRateLimiter;
	clock?: () => Date;
}

export interface SignupMeta {
	ip?: string;
	userAgent?: string;
	/** The Referer, used when the submission carries no page address. */
	pageUrl?: string;
}

/**
 * Records a pending sign-up and answers with the WhatsApp link. Every accepted submission gets the same answer,
 * whether the number is new, pending or already subscribed, and bots that filled the hidden field get a decoy that
 * looks the same but is never recorded.
 */
export async function handleSignup(deps: SignupDeps, config: WidgetConfig, submission: Submission, meta: SignupMeta = {}): Promise<SignupResponse> {
	const lang = submission.language;
	deps.rateLimiter?.check({ ip: meta.ip, phone: submission.phone }, lang);

	let code: string;
	let expiresAt: Date;
	if (submission.honeypot) {
		code = newCode();
		expiresAt = new Date((deps.clock ?? (() => new Date()))().getTime() + DECOY_TTL_MINUTES * 60_000);
	} else {
		const requested = await deps.requestOptIn({
			phone: submission.phone,
			purposes: submission.purposes,
			consentText: consentTextFor(config, lang),
			source: {
				pageUrl: pageWithoutQuery(submission.pageUrl ?? meta.pageUrl),
				widgetVersion: WIDGET_VERSION,
				ip: meta.ip,
				userAgent: meta.userAgent?.slice(0, 512),
			},
		});
		code = requested.code;
		expiresAt = requested.expiresAt;
	}

	const waLink = waLinkFor(config, code, lang);
	const qrSvg = await QRCode.toString(waLink, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
	return { status: 'pending', waLink, qrSvg, code, expiresAt: expiresAt.toISOString(), message: STRINGS[lang].result.message };
}

/**
 * The HTTP answer for an error from parseSubmission or handleSignup: status code and a body in the visitor's
 * language. Errors the visitor cannot fix (a ledger that is down, a misconfigured purpose) become a polite 503; the
 * caller logs the original error.
 */
export function signupErrorAnswer(
	error: unknown,
	lang: WidgetLanguage,
): { httpStatus: number; body: SignupErrorBody; retryAfterSeconds?: number } {
	const errors = STRINGS[lang].errors;
	if (error instanceof SignupInputError) return { httpStatus: 400, body: { status: 'error', field: error.field, message: error.message } };
	if (error instanceof TooManySignupsError) {
		return { httpStatus: 429, body: { status: 'error', field: error.field, message: error.message }, retryAfterSeconds: error.retryAfterMinutes * 60 };
	}
	if (error instanceof ConsentError && error.code === 'too_many_requests') {
		return { httpStatus: 429, body: { status: 'error', field: 'phone', message: errors.numberBusy }, retryAfterSeconds: 3600 };
	}
	if (error instanceof ValidationError && error.field === 'phone') {
		return { httpStatus: 400, body: { status: 'error', field: 'phone', message: errors.phoneInvalid } };
	}
	return { httpStatus: 503, body: { status: 'error', message: errors.unavailable } };
}
