/**
 * What can go wrong talking to the Cloud API, as typed errors. Meta's error envelope is read by `error.code`, never
 * by HTTP status or title, because Meta reuses statuses across unrelated causes (131056 and 131047 are both 400).
 * Every error says whether to retry and how, and carries the fix in words an n8n user can act on.
 */
import { ConsentError } from '../errors';

/**
 * How a failed request may be retried: `backoff` right away with exponential backoff, `after-pair-rate` not before
 * Meta's 6 s pair spacing, `much-later` not within this run (hours, or a minute for an upgrading number), `never`.
 */
export type RetryAdvice = 'backoff' | 'after-pair-rate' | 'much-later' | 'never';

export class WhatsAppError extends ConsentError {
	readonly retry: RetryAdvice;
	/**
	 * The request may have reached Meta and the message may have gone out. Such a request is never sent again
	 * automatically: a second copy to a customer is worse than a visible error.
	 */
	readonly outcomeUnknown: boolean;
	/** How many HTTP attempts were made before giving up, set by the retry loop. */
	attempts?: number;

	constructor(code: string, message: string, options: { retry: RetryAdvice; fix: string; outcomeUnknown?: boolean; cause?: unknown }) {
		super(code, message, { hint: options.fix, cause: options.cause });
		this.retry = options.retry;
		this.outcomeUnknown = options.outcomeUnknown ?? false;
	}

	get retryable(): boolean {
		return this.retry !== 'never';
	}

	/** The fix in plain words (the same text as `hint`). */
	get fix(): string {
		return this.hint ?? '';
	}
}

interface CodeAdvice {
	retry: RetryAdvice;
	fix: string | ((context: ErrorContext) => string);
	/**
	 * `unknown`: on a send, Meta does not document that this error means the message was not accepted, so the
	 * message may have gone out: never sent again, reported as outcome unknown. Other requests (mark as read, the
	 * credential test) are harmless to repeat and keep `retry`.
	 */
	onSend?: 'unknown';
}

/** What the failed request was about, so a fix can name the template. */
export interface ErrorContext {
	templateName?: string;
	language?: string;
	details?: string;
}

/**
 * The Marketing Messages API's answer to a business that has not accepted its terms: code 131055, message "(#200) You
 * must accept the Marketing Messages Lite API terms to use the API." (as providers document Meta's answer, e.g.
 * 360dialog's "Expected errors" of MM Lite). The message was not sent, so it may go through /messages instead.
 */
export const MARKETING_MESSAGES_NOT_ONBOARDED = 131055;

const PAIR_RATE_FIX = 'Too many messages to the same person in a short time: wait at least 6 seconds between messages to one person';
const OPERATOR_FIX = 'an operator has to act in WhatsApp Manager before more messages can be sent';

/**
 * Meta's codes, what they mean and whether a retry can send a message twice. Sources: the project's reference
 * (../shared/reference/whatsapp-cloud-api.md, "Errors", gathered from Meta's developer documentation) and Meta's
 * error code page (developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes, as
 * copied by providers' docs), whose titles and details are quoted below.
 *
 * Retried, because Meta documents them as a refusal before the message was taken (throttling):
 * - 130429 "Rate limit hit", HTTP 429 with Retry-After; details "Message failed to send because there were too
 *   many messages sent from this phone number in a short period of time" (also in Meta's webhook errors reference).
 * - 131056 "(Business Account, Consumer Account) pair rate limit hit": too many messages to the same recipient in
 *   a short time, HTTP 400; the reference says retry after at least 6 s.
 * - 4 "API Too Many Calls": the app reached its API call rate limit; 80007 "Rate limit issues": the WhatsApp
 *   Business Account reached its rate limit. Both are in Meta's "Throttling errors"; the reference says backoff.
 * Never retried on a send and reported as outcome unknown (`onSend: 'unknown'`), because nothing Meta writes says
 * the message was not accepted:
 * - 1 "API Unknown: invalid request or possible server error"; 2 "API Service: temporary due to downtime or due to
 *   being overloaded"; 131000 "Something went wrong" (an unknown error); 131016 "Service unavailable: a service is
 *   temporarily unavailable". The reference lists 1, 2 and 131016 as "transient server errors", which says when
 *   to try again, not whether the first attempt reached the customer.
 * - Any other code with HTTP 5xx, and a bare 5xx without Meta's envelope (see `errorFromResponse`).
 */
const CODES: Record<number, CodeAdvice> = {
	131047: { retry: 'never', fix: 'The customer has not written in the last 24 hours: send an approved template instead' },
	131026: {
		retry: 'never',
		fix: 'The message cannot be delivered to this number (not on WhatsApp, the business is blocked, or an old WhatsApp version): mark the number as undeliverable in your CRM and do not retry',
	},
	131049: {
		retry: 'much-later',
		fix: 'Meta limits how many marketing messages this person receives from all businesses: this is not an opt-out; do not retry today, try again in a day or more',
	},
	130472: {
		retry: 'never',
		fix: "Meta held this marketing message back because the person is part of Meta's marketing-message experiment: do not retry it, and do not treat it as an opt-out (keep the person subscribed)",
	},
	131042: { retry: 'never', fix: `A problem with the account's payment method: ${OPERATOR_FIX} (Business settings → Payments)` },
	132015: {
		retry: 'never',
		fix: (context) => `${templateOf(context)} is paused by Meta for low quality: wait until it is active again, or edit it in WhatsApp Manager and use another template meanwhile`,
	},
	132016: {
		retry: 'never',
		fix: (context) => `${templateOf(context)} was paused too often and is disabled for good: create a new template and send that instead`,
	},
	131050: {
		retry: 'never',
		fix: 'The person switched off marketing messages from this business in WhatsApp: record it as a marketing opt-out and send no more marketing',
	},
	130429: { retry: 'backoff', fix: "The business number's throughput limit was reached: lower Messages Per Second" },
	131056: { retry: 'after-pair-rate', fix: PAIR_RATE_FIX },
	131048: { retry: 'never', fix: `Meta limited this number because people reported messages as spam: ${OPERATOR_FIX}; check message quality` },
	4: { retry: 'backoff', fix: 'The Meta app made too many API calls: it is retried with pauses; lower Messages Per Second if it keeps happening' },
	80007: { retry: 'backoff', fix: 'The WhatsApp Business Account reached its API rate limit: it is retried with pauses' },
	131057: { retry: 'much-later', fix: 'The business number is being upgraded to a higher throughput: try again in about a minute' },
	1: { retry: 'backoff', fix: 'A temporary error at Meta: it is retried with pauses', onSend: 'unknown' },
	2: { retry: 'backoff', fix: 'Meta is temporarily unavailable: it is retried with pauses', onSend: 'unknown' },
	131016: { retry: 'backoff', fix: 'A WhatsApp service is temporarily overloaded: it is retried with pauses', onSend: 'unknown' },
	131000: { retry: 'backoff', fix: 'Something went wrong at Meta: it is retried with pauses', onSend: 'unknown' },
	100: { retry: 'never', fix: (context) => `The request has an invalid or missing parameter: fix the field Meta names${context.details ? ` (${context.details})` : ''}` },
	131009: { retry: 'never', fix: 'A value is outside what WhatsApp allows (length, number of buttons): shorten it' },
	132000: { retry: 'never', fix: parameterCountFix },
	132001: {
		retry: 'never',
		fix: (context) =>
			`Template '${context.templateName ?? '?'}' does not exist in language '${context.language ?? '?'}' or is not approved: check its name and language code in WhatsApp Manager`,
	},
	132018: { retry: 'never', fix: 'A template parameter contains a line break, a tab or more than four spaces in a row: remove them' },
	190: { retry: 'never', fix: 'The access token is invalid or expired: create a new one and update the credential' },
	368: { retry: 'never', fix: `Meta temporarily blocked the account for a policy violation: ${OPERATOR_FIX} (Account quality shows why and until when)` },
	131031: { retry: 'never', fix: `The WhatsApp Business Account is locked (e.g. a policy violation or unverified data): ${OPERATOR_FIX}` },
	133010: { retry: 'never', fix: 'The business phone number is not registered with the Cloud API: register it in WhatsApp Manager' },
	[MARKETING_MESSAGES_NOT_ONBOARDED]: {
		retry: 'never',
		fix: "The business has not accepted the Marketing Messages API terms: accept them in WhatsApp Manager (Overview → Alerts, 'Accept terms to get started'); until then marketing templates go through /messages",
	},
};

/** What Meta's code means for a retry and what to do, as the table says; undefined for a code it does not know. */
export function adviceFor(code: number, context: ErrorContext = {}): { retry: RetryAdvice; fix: string } | undefined {
	const advice = CODES[code];
	if (advice === undefined) return undefined;
	return { retry: advice.retry, fix: typeof advice.fix === 'string' ? advice.fix : advice.fix(context) };
}

/** The template a fix is about, when the request named one (a status webhook does not). */
function templateOf(context: ErrorContext): string {
	return context.templateName ? `Template '${context.templateName}'` : 'The template';
}

/** Meta's details read e.g. `body: number of localizable_params (1) does not match the expected number of params (2)`. */
const PARAMETER_COUNT = /([\w ]+?): number of localizable_params \((\d+)\) does not match the expected number of params \((\d+)\)/;

function parameterCountFix(context: ErrorContext): string {
	const template = context.templateName ? `Template '${context.templateName}'` : 'The template';
	const counts = PARAMETER_COUNT.exec(context.details ?? '');
	if (counts) {
		const [, part, got, expected] = counts;
		const where = part === 'body' || part === 'header' ? `${part} ` : '';
		const at = where ? '' : ` (${part})`;
		return `${template} expects ${expected} ${where}parameter${expected === '1' ? '' : 's'}${at}, got ${got}: give exactly as many as the approved template has`;
	}
	return `${template} got parameters that do not match the approved template${context.details ? ` (${context.details})` : ''}: check their number and names`;
}

/** Meta answered with its error envelope. */
export class WhatsAppApiError extends WhatsAppError {
	readonly metaCode: number;
	readonly httpStatus: number;
	readonly fbtraceId?: string;
	readonly details?: string;
	/** What Meta asked to wait (Retry-After), in milliseconds, if it said. */
	readonly retryAfterMs?: number;

	constructor(init: {
		metaCode: number;
		httpStatus: number;
		metaMessage: string;
		details?: string;
		fbtraceId?: string;
		retryAfterMs?: number;
		context?: Omit<ErrorContext, 'details'>;
	}) {
		const advice = adviceFor(init.metaCode, { ...init.context, details: init.details });
		const detail = init.details && !init.metaMessage.includes(init.details) ? ` (${init.details})` : '';
		super(`whatsapp_${init.metaCode}`, `WhatsApp error ${init.metaCode}: ${init.metaMessage}${detail}`, { retry: advice?.retry ?? 'never', fix: advice?.fix ?? init.metaMessage });
		this.metaCode = init.metaCode;
		this.httpStatus = init.httpStatus;
		this.fbtraceId = init.fbtraceId;
		this.details = init.details;
		this.retryAfterMs = init.retryAfterMs;
	}

	/** Meta says the person turned marketing off: the ledger should record a marketing opt-out. */
	get marketingOptOut(): boolean {
		return this.metaCode === 131050;
	}
}

/** An answer that is not Meta's error envelope, e.g. a proxy's 502 page or a 404 from a wrong base URL. */
export class WhatsAppHttpError extends WhatsAppError {
	readonly httpStatus: number;

	constructor(httpStatus: number, url: string) {
		const transient = httpStatus === 429 || httpStatus >= 500;
		super('whatsapp_http_error', `The WhatsApp Cloud API at ${url} answered HTTP ${httpStatus} without an error description`, {
			retry: transient ? 'backoff' : 'never',
			fix: transient
				? 'The server is temporarily unavailable: it is retried with pauses'
				: 'This does not look like the WhatsApp Cloud API: check the Graph base URL and version in the credential',
		});
		this.httpStatus = httpStatus;
	}
}

/** `server_error`: Meta (or its edge) answered with an error that Meta does not document as "not sent". */
export type UnknownOutcomeReason = 'timeout' | 'connection_lost' | 'cancelled' | 'unreadable_answer' | 'server_error';

/**
 * The request was sent but no usable answer came back, or an answer that does not tell whether the message was
 * taken: the message may or may not have gone out. Never retried automatically; the caller decides (look at the
 * chat, or resend under a new idempotency key).
 */
export class OutcomeUnknownError extends WhatsAppError {
	readonly reason: UnknownOutcomeReason;
	/** Meta's error code, when the answer was Meta's error envelope. */
	readonly metaCode?: number;
	readonly httpStatus?: number;
	readonly fbtraceId?: string;

	constructor(reason: UnknownOutcomeReason, detail: string, cause?: unknown, answer: { metaCode?: number; httpStatus?: number; fbtraceId?: string } = {}) {
		const message =
			reason === 'server_error'
				? `WhatsApp answered ${detail}, which Meta does not document as "not sent": the message may or may not have been sent`
				: `No usable answer from WhatsApp (${detail}): the message may or may not have been sent`;
		super('whatsapp_outcome_unknown', message, {
			retry: 'never',
			outcomeUnknown: true,
			fix: 'It is not sent again automatically, so nobody gets it twice. Check the chat or the status webhooks; if it did not arrive, send it again',
			cause,
		});
		this.reason = reason;
		this.metaCode = answer.metaCode;
		this.httpStatus = answer.httpStatus;
		this.fbtraceId = answer.fbtraceId;
	}
}

/** No connection could be opened, so nothing reached Meta: safe to retry. */
export class ConnectionError extends WhatsAppError {
	constructor(baseUrl: string, cause?: unknown) {
		const reason = (cause as { cause?: { code?: string } })?.cause?.code ?? (cause as Error)?.message ?? String(cause);
		super('whatsapp_unreachable', `Cannot connect to the WhatsApp Cloud API at ${baseUrl} (${reason})`, {
			retry: 'backoff',
			fix: 'Check the Graph base URL in the credential and the network of the n8n server',
			cause,
		});
	}
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
	if (header === null || header === undefined || header.trim() === '') return undefined;
	const seconds = Number(header);
	if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(header);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface MetaEnvelope {
	error?: { message?: unknown; code?: unknown; error_data?: { details?: unknown }; fbtrace_id?: unknown };
}

/**
 * Reads a failed answer: Meta's envelope into `WhatsAppApiError`, anything else into `WhatsAppHttpError`. A bare
 * 504 is a proxy that gave up waiting for Meta, which may have sent the message meanwhile. For a send (`request`
 * 'send') every answer that can follow an accepted message is an `OutcomeUnknownError` (see the table above): a
 * bare 5xx, the codes marked `onSend: 'unknown'`, and any code Meta answered with HTTP 5xx that the table does not
 * document as a refusal.
 */
export function errorFromResponse(
	httpStatus: number,
	body: unknown,
	retryAfter: string | null,
	url: string,
	context?: Omit<ErrorContext, 'details'>,
	request: 'send' | 'other' = 'other',
): WhatsAppError {
	const error = (body as MetaEnvelope | undefined)?.error;
	if (typeof error?.code !== 'number') {
		if (httpStatus === 504) return new OutcomeUnknownError('timeout', `${url} answered 504 Gateway Timeout`, undefined, { httpStatus });
		if (request === 'send' && httpStatus >= 500) {
			return new OutcomeUnknownError('server_error', `HTTP ${httpStatus} without an error description (${url})`, undefined, { httpStatus });
		}
		return new WhatsAppHttpError(httpStatus, url);
	}
	const metaMessage = typeof error.message === 'string' ? error.message : `HTTP ${httpStatus}`;
	const fbtraceId = typeof error.fbtrace_id === 'string' ? error.fbtrace_id : undefined;
	const advice = CODES[error.code];
	if (request === 'send' && (advice?.onSend === 'unknown' || (advice === undefined && httpStatus >= 500))) {
		return new OutcomeUnknownError('server_error', `error ${error.code} with HTTP ${httpStatus} (${metaMessage})`, undefined, { metaCode: error.code, httpStatus, fbtraceId });
	}
	return new WhatsAppApiError({
		metaCode: error.code,
		httpStatus,
		metaMessage,
		details: typeof error.error_data?.details === 'string' ? error.error_data.details : undefined,
		fbtraceId,
		retryAfterMs: parseRetryAfter(retryAfter),
		context,
	});
}
