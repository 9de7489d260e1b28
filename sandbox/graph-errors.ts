/**
 * Meta's Graph API errors as the sandbox answers them: the codes, titles, HTTP statuses and the error envelope
 * `{"error":{message,type,code,error_data:{messaging_product,details},fbtrace_id}}`.
 * Titles follow Meta's wording so a client that logs them shows what it would show against Meta.
 */
import { randomBytes } from 'node:crypto';

interface ErrorDefinition {
	title: string;
	httpStatus: number;
	type?: string;
}

const DEFINITIONS: Record<number, ErrorDefinition> = {
	1: { title: 'An unknown error occurred', httpStatus: 500 },
	2: { title: 'Service temporarily unavailable', httpStatus: 503 },
	4: { title: 'Application request limit reached', httpStatus: 400 },
	10: { title: 'Permission denied', httpStatus: 403 },
	100: { title: 'Invalid parameter', httpStatus: 400 },
	190: { title: 'Invalid OAuth access token - Cannot parse access token', httpStatus: 401 },
	200: { title: 'Permissions error', httpStatus: 403 },
	2200: { title: 'Callback verification failed', httpStatus: 400 },
	// Meta's "integrity errors" come with HTTP 403 (its error code page).
	368: { title: 'Temporarily blocked for policies violations', httpStatus: 403 },
	80007: { title: 'Rate limit issues', httpStatus: 400 },
	130429: { title: 'Rate limit hit', httpStatus: 429 },
	130472: { title: "User's number is part of an experiment", httpStatus: 400 },
	131000: { title: 'Something went wrong', httpStatus: 500 },
	131009: { title: 'Parameter value is not valid', httpStatus: 400 },
	131016: { title: 'Service unavailable', httpStatus: 503 },
	131026: { title: 'Message Undeliverable', httpStatus: 400 },
	131031: { title: 'Account has been locked', httpStatus: 403 },
	131042: { title: 'Business eligibility payment issue', httpStatus: 400 },
	131047: { title: 'Re-engagement message', httpStatus: 400 },
	131048: { title: 'Spam rate limit hit', httpStatus: 400 },
	131049: { title: 'This message was not delivered to maintain healthy ecosystem engagement', httpStatus: 400 },
	131050: { title: 'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business', httpStatus: 400 },
	131053: { title: 'Media upload error', httpStatus: 400 },
	131055: { title: 'You must accept the Marketing Messages Lite API terms to use the API.', httpStatus: 400 },
	131056: { title: '(Business Account, Consumer Account) pair rate limit hit', httpStatus: 400 },
	131057: { title: 'Account in maintenance mode', httpStatus: 400 },
	132000: { title: 'Number of parameters does not match the expected number of params', httpStatus: 400 },
	132001: { title: 'Template name does not exist in the translation', httpStatus: 400 },
	132015: { title: 'Template is Paused', httpStatus: 400 },
	132016: { title: 'Template is Disabled', httpStatus: 400 },
	132018: { title: 'There was an issue with the parameters in your template', httpStatus: 400 },
	133010: { title: 'Phone number Not Registered', httpStatus: 400 },
};

/** Meta's error details for the codes whose cause the sandbox itself detects. */
export const DEFAULT_DETAILS: Record<number, string> = {
	130429: 'Cloud API message throughput has been reached.',
	131026: 'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number, the recipient has not accepted the new terms of service, or the recipient uses an old WhatsApp version.',
	131047: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
	131050: 'The recipient has stopped marketing messages from this business in the WhatsApp app.',
	131056: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
	130472: "Message failed to send because the user's phone number is part of an experiment.",
	131042: 'Message failed to send because there were one or more errors related to your payment method.',
	131049: 'In order to maintain healthy ecosystem engagement, the message failed to be delivered.',
	131031: 'The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or we were unable to verify data included in the request against data set on the WhatsApp Business Account.',
	368: 'The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.',
	132015: 'Template is paused due to low quality so it cannot be sent in a template message.',
	132016: 'Template has been paused too many times due to low quality and is now permanently disabled.',
};

export function titleOf(code: number): string {
	return DEFINITIONS[code]?.title ?? 'An unknown error occurred';
}

/** An error the sandbox answers instead of a success, exactly as Meta would. */
export class GraphApiError extends Error {
	readonly code: number;
	readonly httpStatus: number;
	readonly details: string;
	readonly type: string;
	readonly subcode?: number;
	/** Seconds for the Retry-After header (throughput errors). */
	readonly retryAfterSeconds?: number;

	constructor(
		code: number,
		details?: string,
		options: { httpStatus?: number; message?: string; subcode?: number; retryAfterSeconds?: number } = {},
	) {
		const definition = DEFINITIONS[code];
		super(options.message ?? `(#${code}) ${titleOf(code)}`);
		this.name = 'GraphApiError';
		this.code = code;
		this.httpStatus = options.httpStatus ?? definition?.httpStatus ?? 400;
		this.details = details ?? DEFAULT_DETAILS[code] ?? titleOf(code);
		this.type = definition?.type ?? 'OAuthException';
		this.subcode = options.subcode;
		this.retryAfterSeconds = options.retryAfterSeconds;
	}

	toEnvelope(): { error: Record<string, unknown> } {
		return {
			error: {
				message: this.message,
				type: this.type,
				code: this.code,
				...(this.subcode === undefined ? {} : { error_subcode: this.subcode }),
				error_data: { messaging_product: 'whatsapp', details: this.details },
				fbtrace_id: newFbtraceId(),
			},
		};
	}

	/** The shape Meta puts into `statuses[].errors[]` when a message fails after it was accepted. */
	toStatusError(): Record<string, unknown> {
		return {
			code: this.code,
			title: titleOf(this.code),
			message: titleOf(this.code),
			error_data: { details: this.details },
			href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
		};
	}
}

/** Meta's trace ids: 23 characters of URL-safe base64. */
export function newFbtraceId(): string {
	return randomBytes(18).toString('base64url').slice(0, 23);
}
