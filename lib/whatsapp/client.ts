/**
 * The WhatsApp Cloud API client: sends within Meta's limits, retries only what Meta asks to be retried, and never
 * retries a request whose outcome is unknown. `beforeAttempt` runs right before every HTTP request, after all
 * waiting: the Send node asks the consent gate there, so a withdrawal committed a moment earlier still stops it.
 */
import { ConnectionError, errorFromResponse, OutcomeUnknownError, WhatsAppApiError } from './errors';
import { PairRateLimiter, sleep, ThroughputLimiter } from './limiter';
import { messageBody, type OutgoingMessage } from './messages';

export interface ClientOptions {
	accessToken: string;
	phoneNumberId: string;
	baseUrl?: string;
	graphVersion?: string;
	/** How long to wait for Meta's answer (default 20 s). */
	timeoutMs?: number;
	/** Attempts per message, the first included (default 4). */
	maxAttempts?: number;
	/** Default 80, Meta's standard; up to 1,000 after Meta's upgrade. */
	messagesPerSecond?: number;
	/** Minimum spacing per recipient (default 6 s; 0 turns it off). */
	pairRateSeconds?: number;
	/** Base of the exponential backoff (default 500 ms). */
	backoffMs?: number;
	fetch?: typeof fetch;
}

export interface SendOptions {
	signal?: AbortSignal;
	beforeAttempt?: () => Promise<void>;
}

export interface SentMessage {
	wamid: string;
	waId?: string;
	input?: string;
	messageStatus?: string;
	attempts: number;
}

const PAIR_RATE_WAIT_MS = 6000;

export class WhatsAppClient {
	private readonly base: string;
	private readonly throughput: ThroughputLimiter;
	private readonly pairRate: PairRateLimiter;
	private readonly options: Required<Omit<ClientOptions, 'fetch'>> & { fetch: typeof fetch };

	constructor(options: ClientOptions) {
		this.options = {
			baseUrl: 'https://graph.facebook.com',
			graphVersion: 'v23.0',
			timeoutMs: 20_000,
			maxAttempts: 4,
			messagesPerSecond: 80,
			pairRateSeconds: 6,
			backoffMs: 500,
			fetch: globalThis.fetch,
			...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
		} as WhatsAppClient['options'];
		this.base = `${this.options.baseUrl.replace(/\/+$/, '')}/${this.options.graphVersion}`;
		this.throughput = new ThroughputLimiter(this.options.messagesPerSecond);
		this.pairRate = new PairRateLimiter(this.options.pairRateSeconds);
	}

	async send(recipient: string, message: OutgoingMessage, options: SendOptions = {}): Promise<SentMessage> {
		const body = messageBody(recipient, message);
		const { signal } = options;
		for (let attempt = 1; ; attempt++) {
			await this.throughput.take(signal);
			await this.pairRate.take(recipient, signal);
			await options.beforeAttempt?.();
			try {
				const answer = (await this.request('POST', `/${this.options.phoneNumberId}/messages`, body, signal)) as {
					contacts?: { input?: string; wa_id?: string }[];
					messages?: { id: string; message_status?: string }[];
				};
				const sent = answer.messages?.[0];
				if (!sent?.id) throw new OutcomeUnknownError('the answer had no message id');
				return { wamid: sent.id, waId: answer.contacts?.[0]?.wa_id, input: answer.contacts?.[0]?.input, messageStatus: sent.message_status, attempts: attempt };
			} catch (error) {
				const wait = this.retryDelay(error, attempt);
				if (wait === undefined) throw error;
				await sleep(wait, signal);
			}
		}
	}

	/** Marks an inbound message as read (blue ticks). */
	async markAsRead(wamid: string, signal?: AbortSignal): Promise<void> {
		await this.request('POST', `/${this.options.phoneNumberId}/messages`, { messaging_product: 'whatsapp', status: 'read', message_id: wamid }, signal);
	}

	/** The business number's details; used by the credential test. */
	async getPhoneNumber(signal?: AbortSignal): Promise<{ id: string; display_phone_number?: string; verified_name?: string }> {
		return (await this.request('GET', `/${this.options.phoneNumberId}`, undefined, signal)) as { id: string };
	}

	/** Milliseconds to wait before the next attempt, or undefined when the error must not be retried. */
	private retryDelay(error: unknown, attempt: number): number | undefined {
		if (attempt >= this.options.maxAttempts) return undefined;
		const backoff = Math.random() * this.options.backoffMs * 2 ** (attempt - 1); // full jitter
		if (error instanceof ConnectionError) return backoff;
		if (!(error instanceof WhatsAppApiError)) return undefined;
		const asked = (error.retryAfterSeconds ?? 0) * 1000;
		if (error.retry === 'backoff') return Math.max(asked, backoff);
		if (error.retry === 'after-pair-rate') return Math.max(asked, PAIR_RATE_WAIT_MS + backoff);
		return undefined;
	}

	private async request(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
		const timeout = AbortSignal.timeout(this.options.timeoutMs);
		const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
		let response: Response;
		try {
			response = await this.options.fetch(`${this.base}${path}`, {
				method,
				headers: { Authorization: `Bearer ${this.options.accessToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: combined,
			});
		} catch (error) {
			if (signal?.aborted) throw signal.reason;
			if (timeout.aborted) throw new OutcomeUnknownError(`no answer within ${this.options.timeoutMs / 1000} s`, error);
			// Refused or unresolvable before anything was sent: nothing reached Meta.
			const code = (error as { cause?: { code?: string } }).cause?.code;
			if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new ConnectionError(this.options.baseUrl, error);
			throw new OutcomeUnknownError((error as Error).message, error);
		}
		let parsed: unknown;
		try {
			parsed = await response.json();
		} catch (error) {
			if (signal?.aborted) throw signal.reason;
			if (response.ok) throw new OutcomeUnknownError('the answer was not JSON', error);
			parsed = undefined;
		}
		if (!response.ok) throw errorFromResponse(response.status, parsed, response.headers.get('retry-after'));
		return parsed;
	}
}
