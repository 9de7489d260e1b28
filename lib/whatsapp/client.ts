/**
 * The WhatsApp Cloud API client: sends within Meta's limits, retries only what Meta asks to be retried, and never
 * resends a request whose outcome is unknown. `beforeAttempt` runs right before every HTTP request, after all
 * waiting: the Send node asks the consent gate there, so a withdrawal committed a moment earlier still stops it.
 */
import { ValidationError } from '../errors';
import { randomBytes } from 'node:crypto';
import { ConnectionError, errorFromResponse, MARKETING_MESSAGES_NOT_ONBOARDED, OutcomeUnknownError, WhatsAppApiError, WhatsAppError, type ErrorContext } from './errors';
import { nodeHttpFetch, type HttpAnswer, type HttpFetch } from './http';
import { limitersFor, MESSAGES_PER_SECOND, sleep, type PairRateLimiter, type SendWindow, type ThroughputLimiter } from './limiter';
import { buildMessage, checkMediaFile, markAsReadRequest, recipientKey, type MediaFile, type MediaKind, type OutgoingMessage } from './messages';
import { DEFAULT_GRAPH_VERSION } from './graph-version';
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from './retry';
import { parseTemplatePage, type TemplatePage } from './templates';

/** What the Send node needs of each template: enough to list it, fill its fields and ask the gate its category. */
const TEMPLATE_FIELDS = 'id,name,language,status,category,parameter_format,components';

export interface ClientOptions {
	accessToken: string;
	phoneNumberId: string;
	/** Default https://graph.facebook.com; the sandbox's URL in tests. */
	baseUrl?: string;
	/** Default `DEFAULT_GRAPH_VERSION`. */
	graphVersion?: string;
	/** How long to wait for Meta's answer to one request (default 20 s). */
	timeoutMs?: number;
	/** Attempts per message, the first included (default 4). */
	maxAttempts?: number;
	/** Default 80, Meta's standard; 1 to 1,000. */
	messagesPerSecond?: number;
	/** Minimum spacing per recipient in seconds (default 6; 0 turns it off). */
	pairRateSeconds?: number;
	/** Cap of the first backoff in ms (default 500), and the longest single wait (default 60 s). */
	backoff?: { baseDelayMs?: number; maxDelayMs?: number };
	/** Default: node:http(s) with kept-alive connections (`nodeHttpFetch`); any fetch fits. */
	fetch?: HttpFetch;
}

export interface SendOptions {
	signal?: AbortSignal;
	/**
	 * Awaited immediately before every HTTP attempt, after limiter waits and backoff sleeps. If it throws, no
	 * request is made and its error reaches the caller unchanged.
	 */
	beforeAttempt?: () => Promise<void>;
	/**
	 * Send a template through Meta's Marketing Messages API (`/marketing_messages`). Meant for MARKETING templates
	 * only: Meta refuses any other message there. While the business has not accepted that API's terms, the message
	 * goes through `/messages` (see `send`).
	 */
	marketingMessages?: boolean;
}

/** The edge of the business number that took a message. */
export type SendEndpoint = 'messages' | 'marketing_messages';

/**
 * Business numbers (base URL and phone number id) whose account answered that it has not accepted the Marketing
 * Messages API terms: for the rest of the process their marketing templates go straight to `/messages`, instead of
 * costing every message a refused request first. A restart asks again, which picks up a later onboarding.
 */
const notOnboarded = new Set<string>();

export interface SentMessage {
	/** Meta's message id (wamid), up to 128 characters; status webhooks refer to it. */
	wamid: string;
	/** The WhatsApp id Meta resolved the number to; may differ from the number sent to (BR, MX, AR). */
	waId?: string;
	/** The business-scoped user id, when Meta returned one. */
	userId?: string;
	/** What was sent in `to` / `recipient`, as Meta echoes it. */
	input?: string;
	messageStatus?: string;
	/** HTTP attempts made, the successful one included. */
	attempts: number;
	/** The edge that took the message. */
	endpoint: SendEndpoint;
}

export interface PhoneNumberInfo {
	id: string;
	display_phone_number?: string;
	verified_name?: string;
	quality_rating?: string;
	[key: string]: unknown;
}

const GRAPH_VERSION = /^v\d+\.\d+$/;

/** Connection errors raised before any byte of the request left: nothing reached Meta. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A request body that is not JSON: the multipart form of a media upload. */
class FormBody {
	constructor(
		readonly contentType: string,
		readonly bytes: Buffer,
	) {}
}

/** `multipart/form-data` with Meta's three fields: messaging_product, type and the file itself. */
function uploadForm(file: MediaFile): FormBody {
	const boundary = `----n8n-whatsapp-consent-${randomBytes(12).toString('hex')}`;
	// Quotes and line breaks would end the header early; the name is only a label for Meta.
	const name = (file.fileName || 'file').replace(/["\r\n\\]/g, '_');
	const field = (fieldName: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${fieldName}"\r\n\r\n${value}\r\n`;
	const head = `${field('messaging_product', 'whatsapp')}${field('type', file.mimeType)}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${file.mimeType}\r\n\r\n`;
	return new FormBody(`multipart/form-data; boundary=${boundary}`, Buffer.concat([Buffer.from(head), Buffer.from(file.data), Buffer.from(`\r\n--${boundary}--\r\n`)]));
}

interface SendAnswer {
	contacts?: { input?: string; wa_id?: string; user_id?: string }[];
	messages?: { id?: string; message_status?: string }[];
}

export class WhatsAppClient {
	readonly baseUrl: string;
	readonly graphVersion: string;
	private readonly accessToken: string;
	private readonly phoneNumberId: string;
	private readonly timeoutMs: number;
	private readonly retryPolicy: RetryPolicy;
	private readonly throughput: ThroughputLimiter;
	private readonly pairRate: PairRateLimiter;
	private readonly window: SendWindow;
	private readonly fetch: HttpFetch;

	constructor(options: ClientOptions) {
		if (!options.accessToken?.trim()) throw new ValidationError('accessToken', 'The access token is empty', 'Paste the permanent token of a system user from Meta Business settings');
		if (!/^\d+$/.test(options.phoneNumberId ?? '')) {
			throw new ValidationError('phoneNumberId', `'${options.phoneNumberId}' is not a phone number ID`, 'Copy the Phone number ID (digits only) from WhatsApp Manager → API Setup, not the phone number itself');
		}
		const baseUrl = (options.baseUrl ?? 'https://graph.facebook.com').replace(/\/+$/, '');
		if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw new ValidationError('baseUrl', `'${options.baseUrl}' is not a web address`, 'Use https://graph.facebook.com');
		const graphVersion = options.graphVersion ?? DEFAULT_GRAPH_VERSION;
		if (!GRAPH_VERSION.test(graphVersion)) throw new ValidationError('graphVersion', `'${graphVersion}' is not a Graph API version`, `Use a version such as ${DEFAULT_GRAPH_VERSION}`);
		const timeoutMs = options.timeoutMs ?? 20_000;
		if (!(timeoutMs >= 100)) throw new ValidationError('timeoutMs', `The timeout must be at least 100 ms, got ${timeoutMs}`);

		this.accessToken = options.accessToken.trim();
		this.phoneNumberId = options.phoneNumberId;
		this.baseUrl = baseUrl;
		this.graphVersion = graphVersion;
		this.timeoutMs = timeoutMs;
		this.retryPolicy = {
			...DEFAULT_RETRY_POLICY,
			...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
			...(options.backoff?.baseDelayMs === undefined ? {} : { baseDelayMs: options.backoff.baseDelayMs }),
			...(options.backoff?.maxDelayMs === undefined ? {} : { maxDelayMs: options.backoff.maxDelayMs }),
		};
		checkRetryPolicy(this.retryPolicy);
		const limiters = limitersFor(`${baseUrl}/${this.phoneNumberId}`, options.messagesPerSecond ?? MESSAGES_PER_SECOND.default, options.pairRateSeconds ?? 6);
		this.throughput = limiters.throughput;
		this.pairRate = limiters.pairRate;
		this.window = limiters.window;
		this.fetch = options.fetch ?? nodeHttpFetch;
	}

	/**
	 * Sends one message to `recipient` (E.164 number or business-scoped user id); a media file is uploaded first
	 * (`uploadMedia`) and sent by its id. Resolves with Meta's ids; rejects
	 * with a `ValidationError` before anything is sent, a `WhatsAppError` (check `outcomeUnknown` before sending
	 * again), the signal's reason, or what `beforeAttempt` threw.
	 */
	async send(recipient: string, outgoing: OutgoingMessage, options: SendOptions = {}): Promise<SentMessage> {
		const { signal, beforeAttempt } = options;
		let message = buildMessage(recipient, outgoing);
		if (outgoing.type === 'media' && outgoing.file) {
			// Uploaded only now that the message is valid (and, from sendWithConsent, reserved with the gate's yes):
			// nobody's refusal costs an upload. `beforeAttempt` still runs before the message itself.
			const { file, ...sent } = outgoing;
			message = buildMessage(recipient, { ...sent, id: await this.uploadMedia(outgoing.mediaType, file, signal) });
		}
		const number = `${this.baseUrl}/${this.phoneNumberId}`;
		let endpoint: SendEndpoint = options.marketingMessages && message.type === 'template' && !notOnboarded.has(number) ? 'marketing_messages' : 'messages';
		const pairKey = recipientKey(message);
		const context: ErrorContext | undefined = message.type === 'template' ? { templateName: message.template.name, language: message.template.language.code } : undefined;
		const { value: answer, attempts } = await withRetries(
			async () => {
				// Pair rate first: its wait can be seconds, and a throughput slot taken before it would be wasted.
				const pairSlot = await this.pairRate.take(pairKey, signal);
				try {
					await this.throughput.take(signal);
					for (;;) {
						// The check comes last, after any wait: should the send window hold the request back, it is asked again.
						for (;;) {
							await beforeAttempt?.();
							signal?.throwIfAborted();
							const wait = this.window.tryStart();
							if (wait === 0) break;
							await sleep(wait, signal);
						}
						try {
							return (await this.request('POST', `${this.phoneNumberId}/${endpoint}`, message, signal, context, 'send')) as SendAnswer;
						} catch (error) {
							// Only this answer moves a message to /messages: it says the Marketing Messages API took nothing.
							// Any other error (an unknown outcome above all) is the message's, and is never sent a second way.
							if (endpoint !== 'marketing_messages' || !(error instanceof WhatsAppApiError) || error.metaCode !== MARKETING_MESSAGES_NOT_ONBOARDED) throw error;
							notOnboarded.add(number);
							endpoint = 'messages';
						}
					}
				} catch (error) {
					// An error that is retried reached nobody (Meta took nothing): the retry is spaced from the message before.
					if (error instanceof WhatsAppError && (error.retry === 'backoff' || error.retry === 'after-pair-rate')) this.pairRate.handBack(pairKey, pairSlot);
					throw error;
				}
			},
			this.retryPolicy,
			signal,
		);
		const sent = answer.messages?.[0];
		if (typeof sent?.id !== 'string' || sent.id === '') throw new OutcomeUnknownError('unreadable_answer', 'the answer carried no message id');
		const contact = answer.contacts?.[0];
		return {
			wamid: sent.id,
			waId: contact?.wa_id,
			userId: contact?.user_id,
			input: contact?.input,
			messageStatus: sent.message_status,
			attempts,
			endpoint,
		};
	}

	/**
	 * Marks an inbound message as read (blue ticks), with `typingIndicator` also the typing dots. Harmless to repeat,
	 * so it is retried like a send that never left.
	 */
	async markAsRead(wamid: string, signal?: AbortSignal, typingIndicator = false): Promise<void> {
		const body = markAsReadRequest(wamid, typingIndicator);
		await withRetries(() => this.request('POST', `${this.phoneNumberId}/messages`, body, signal), this.retryPolicy, signal);
	}

	/**
	 * Uploads a file (`POST /{phone-number-id}/media`) after checking it against Meta's limits for `kind`; resolves
	 * with the media id to send it by. An upload is no message: one whose answer was lost is only an unused file on
	 * Meta's side (deleted after 30 days), so it says "nothing was sent" rather than "may have been sent".
	 */
	async uploadMedia(kind: MediaKind, file: MediaFile, signal?: AbortSignal): Promise<string> {
		checkMediaFile(kind, file);
		let answer: { id?: unknown };
		try {
			({ value: answer } = (await withRetries(() => this.request('POST', `${this.phoneNumberId}/media`, uploadForm(file), signal), this.retryPolicy, signal)) as { value: { id?: unknown } });
		} catch (error) {
			if (!(error instanceof OutcomeUnknownError)) throw error;
			throw new WhatsAppError('whatsapp_upload_failed', `The upload of the file got no usable answer (${error.reason}): the message was not sent`, {
				retry: 'never',
				fix: 'Run it again: the message goes out once its file is uploaded',
				cause: error,
			});
		}
		if (typeof answer?.id !== 'string' || answer.id === '') {
			throw new WhatsAppError('whatsapp_upload_failed', 'The answer to the upload carried no media id: the message was not sent', { retry: 'never', fix: 'Check the Graph base URL in the credential and run it again' });
		}
		return answer.id;
	}

	/** The business number's details; the credential test calls it to prove token and number id. */
	async getPhoneNumber(signal?: AbortSignal): Promise<PhoneNumberInfo> {
		return (await this.request('GET', this.phoneNumberId, undefined, signal)) as PhoneNumberInfo;
	}

	/**
	 * One page of the business account's templates (`GET /{waba-id}/message_templates`), every status included;
	 * `after` is the cursor of the page before. Read-only, so retried like a send that never left.
	 */
	async listTemplates(wabaId: string, page: { after?: string; limit?: number } = {}, signal?: AbortSignal): Promise<TemplatePage> {
		if (!/^\d+$/.test(wabaId ?? '')) {
			throw new ValidationError('businessAccountId', `'${wabaId}' is not a WhatsApp Business Account ID`, 'Copy the WhatsApp Business Account ID (digits only) from WhatsApp Manager → Account tools into the WhatsApp credential');
		}
		const query = new URLSearchParams({ fields: TEMPLATE_FIELDS, limit: String(page.limit ?? 100) });
		if (page.after) query.set('after', page.after);
		const { value } = await withRetries(() => this.request('GET', `${wabaId}/message_templates?${query}`, undefined, signal), this.retryPolicy, signal);
		return parseTemplatePage(value);
	}

	/** `kind` 'send': an answer that may follow an accepted message is an outcome unknown, never retried. */
	/** `path`: the object and edge under the version, e.g. `{phone-number-id}/messages`. */
	private async request(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal, context?: ErrorContext, kind: 'send' | 'other' = 'other'): Promise<unknown> {
		const url = `${this.baseUrl}/${this.graphVersion}/${path}`;
		// A plain controller and timer: AbortSignal.timeout and AbortSignal.any cost more per request than the request.
		const controller = new AbortController();
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			controller.abort(new Error(`no answer within ${this.timeoutMs / 1000} s`));
		}, this.timeoutMs);
		const cancel = () => controller.abort(signal!.reason);
		if (signal?.aborted) cancel();
		else signal?.addEventListener('abort', cancel, { once: true });
		let response: HttpAnswer;
		let text: string;
		const encoded = body === undefined ? undefined : body instanceof FormBody ? body : { contentType: 'application/json', bytes: JSON.stringify(body) };
		try {
			response = await this.fetch(url, {
				method,
				headers: { Authorization: `Bearer ${this.accessToken}`, ...(encoded ? { 'Content-Type': encoded.contentType } : {}) },
				body: encoded?.bytes,
				signal: controller.signal,
			});
			text = await response.text();
		} catch (error) {
			throw this.transportError(error, signal, timedOut);
		} finally {
			clearTimeout(timer);
			signal?.removeEventListener('abort', cancel);
		}
		let parsed: unknown;
		try {
			parsed = text === '' ? undefined : JSON.parse(text);
		} catch {
			parsed = undefined;
		}
		if (!response.ok) throw errorFromResponse(response.status, parsed, response.headers.get('retry-after'), this.baseUrl, context, kind);
		if (parsed === undefined) throw new OutcomeUnknownError('unreadable_answer', `HTTP ${response.status} with a body that is not JSON`);
		return parsed;
	}

	/** A request that failed without an HTTP answer: nothing sent (retryable) or sent with the outcome unknown. */
	private transportError(error: unknown, signal: AbortSignal | undefined, timedOut: boolean): Error {
		const code = (error as { cause?: { code?: string } })?.cause?.code;
		if (code !== undefined && NOT_CONNECTED.has(code)) return new ConnectionError(this.baseUrl, error);
		if (signal?.aborted) return new OutcomeUnknownError('cancelled', 'cancelled while waiting for the answer', signal.reason);
		if (timedOut) return new OutcomeUnknownError('timeout', `no answer within ${this.timeoutMs / 1000} s`, error);
		return new OutcomeUnknownError('connection_lost', `the connection broke: ${(error as Error)?.message ?? error}`, error);
	}
}
