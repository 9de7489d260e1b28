/**
 * Meta's error envelope as typed errors. Branch on `error.code`, never on the HTTP status: Meta reuses statuses.
 * Each code says whether to retry and how, and the fix in words an n8n user can act on.
 */
import { ConsentError } from '../errors';

export type RetryAdvice = 'backoff' | 'after-pair-rate' | 'much-later' | 'never';

interface KnownCode {
	retry: RetryAdvice;
	fix: string;
}

const KNOWN: Record<number, KnownCode> = {
	131047: { retry: 'never', fix: 'The customer has not written in the last 24 hours: send an approved template instead' },
	131026: { retry: 'never', fix: 'The number cannot receive WhatsApp messages (not on WhatsApp, blocked the business, or an old app)' },
	131049: { retry: 'much-later', fix: 'Meta limits how many marketing messages this person gets from all businesses: try again in a day or two' },
	131050: { retry: 'never', fix: 'The person switched off marketing messages from this business in WhatsApp; the ledger now blocks marketing to them' },
	130429: { retry: 'backoff', fix: "The business number's throughput limit was reached: lower Messages Per Second" },
	131056: { retry: 'after-pair-rate', fix: 'Too many messages to the same person in a short time: wait at least 6 seconds between messages to one person' },
	131048: { retry: 'never', fix: 'Meta limited this number for spam: check message quality in WhatsApp Manager before sending more' },
	4: { retry: 'backoff', fix: 'The app made too many API calls: slow down' },
	80007: { retry: 'backoff', fix: 'The WhatsApp Business Account reached its rate limit: slow down' },
	131057: { retry: 'much-later', fix: 'The business number is being upgraded to a higher throughput: try again in a minute' },
	1: { retry: 'backoff', fix: 'A temporary error at Meta: it will be retried' },
	2: { retry: 'backoff', fix: 'Meta is temporarily unavailable: it will be retried' },
	131016: { retry: 'backoff', fix: 'A WhatsApp service is temporarily unavailable: it will be retried' },
	131000: { retry: 'backoff', fix: 'An unknown error at Meta: it will be retried' },
	100: { retry: 'never', fix: 'The request has an invalid or missing parameter: check the fields named in the message' },
	131009: { retry: 'never', fix: 'A parameter value is not valid: check lengths and the number of buttons' },
	132000: { retry: 'never', fix: "The number of template parameters does not match the approved template: add or remove parameters" },
	132001: { retry: 'never', fix: 'The template does not exist in this language or is not approved: check its name and language code in WhatsApp Manager' },
	132018: { retry: 'never', fix: 'A template parameter contains a line break, a tab or more than four spaces in a row: remove them' },
	190: { retry: 'never', fix: 'The access token is invalid or expired: create a new permanent token and update the credential' },
	368: { retry: 'never', fix: 'Meta blocked this account for a policy violation: see WhatsApp Manager' },
	131031: { retry: 'never', fix: 'The business account is locked: see WhatsApp Manager' },
	133010: { retry: 'never', fix: 'The business phone number is not registered: register it in WhatsApp Manager' },
};

export class WhatsAppApiError extends ConsentError {
	readonly metaCode: number;
	readonly httpStatus: number;
	readonly retry: RetryAdvice;
	readonly fbtraceId?: string;
	readonly details?: string;
	/** Seconds Meta asked to wait (Retry-After), if it said. */
	readonly retryAfterSeconds?: number;

	constructor(init: { metaCode: number; httpStatus: number; message: string; details?: string; fbtraceId?: string; retryAfterSeconds?: number }) {
		const known = KNOWN[init.metaCode];
		const detail = init.details ? `: ${init.details}` : '';
		super(`whatsapp_${init.metaCode}`, `WhatsApp error ${init.metaCode}: ${init.message}${detail}`, {
			hint: known?.fix ?? "Meta refused the message; see Meta's message above",
		});
		this.metaCode = init.metaCode;
		this.httpStatus = init.httpStatus;
		this.retry = known?.retry ?? (init.httpStatus >= 500 ? 'backoff' : 'never');
		this.fbtraceId = init.fbtraceId;
		this.details = init.details;
		this.retryAfterSeconds = init.retryAfterSeconds;
	}

	get retryable(): boolean {
		return this.retry !== 'never';
	}

	/** The fix in plain words. */
	get fix(): string {
		return this.hint!;
	}
}

/**
 * No answer came (a timeout or a broken connection after the request was sent): the message may have gone out.
 * Never retried blindly, so a message is never sent twice.
 */
export class OutcomeUnknownError extends ConsentError {
	constructor(reason: string, cause?: unknown) {
		super('outcome_unknown', `No answer from WhatsApp (${reason}): the message may or may not have been sent`, {
			hint: 'It is not sent again automatically. Check the chat, then send with a new campaign key if it did not arrive',
			cause,
		});
	}
}

/** The connection could not be made at all: nothing was sent, so it is safe to retry. */
export class ConnectionError extends ConsentError {
	constructor(baseUrl: string, cause?: unknown) {
		super('connection_failed', `Cannot reach the WhatsApp Cloud API at ${baseUrl}: ${(cause as Error)?.message ?? cause}`, {
			hint: 'Check the Base URL in the credential and the network',
			cause,
		});
	}
}

/** Reads Meta's error envelope (or a bare HTTP failure) into a typed error. */
export function errorFromResponse(httpStatus: number, body: unknown, retryAfter: string | null): WhatsAppApiError {
	const error = (body as { error?: { message?: string; code?: number; error_data?: { details?: string }; fbtrace_id?: string } })?.error;
	const seconds = retryAfter !== null && retryAfter !== '' && Number.isFinite(Number(retryAfter)) ? Number(retryAfter) : undefined;
	return new WhatsAppApiError({
		metaCode: typeof error?.code === 'number' ? error.code : httpStatus >= 500 ? 2 : httpStatus,
		httpStatus,
		message: error?.message ?? `HTTP ${httpStatus}`,
		details: error?.error_data?.details,
		fbtraceId: error?.fbtrace_id,
		retryAfterSeconds: seconds,
	});
}
