/**
 * Retries what Meta asks to be retried: exponential backoff with full jitter (a random wait between 0 and the
 * doubling cap, so many senders hit by the same limit do not come back in step), never shorter than Retry-After,
 * and for the pair rate never sooner than Meta's spacing. A permanent error, an unknown outcome or any error that
 * is not a `WhatsAppError` (e.g. the consent hook refusing) ends the loop at once, unchanged.
 */
import { ValidationError } from '../errors';
import { WhatsAppApiError, WhatsAppError } from './errors';
import { sleep } from './limiter';

export interface RetryPolicy {
	/** Attempts in all, the first included. */
	maxAttempts: number;
	/** Cap of the first backoff; doubles with each attempt. */
	baseDelayMs: number;
	/** No single wait is longer; a Retry-After beyond it ends the retries (the caller schedules a later run). */
	maxDelayMs: number;
	/** Meta's pair-rate spacing, the least wait after 131056. */
	pairRateDelayMs: number;
	/** 0 ≤ x < 1; replaceable so tests can pin the jitter. */
	random?: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 60_000, pairRateDelayMs: 6000 };

export function checkRetryPolicy(policy: RetryPolicy): void {
	if (!(Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1 && policy.maxAttempts <= 20)) {
		throw new ValidationError('maxAttempts', `Attempts must be a whole number from 1 to 20, got ${policy.maxAttempts}`, '1 means no retries');
	}
	if (!(policy.baseDelayMs >= 0 && policy.maxDelayMs >= policy.baseDelayMs)) {
		throw new ValidationError('backoff', `The backoff delays are not usable (base ${policy.baseDelayMs} ms, max ${policy.maxDelayMs} ms)`);
	}
}

/** How long to wait before attempt `attempt + 1`, or undefined when `error` after attempt `attempt` is final. */
export function retryDelayMs(error: unknown, attempt: number, policy: RetryPolicy): number | undefined {
	if (!(error instanceof WhatsAppError) || attempt >= policy.maxAttempts) return undefined;
	if (error.retry !== 'backoff' && error.retry !== 'after-pair-rate') return undefined;
	const random = policy.random ?? Math.random;
	const jitter = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
	const floor = Math.max(error instanceof WhatsAppApiError ? (error.retryAfterMs ?? 0) : 0, error.retry === 'after-pair-rate' ? policy.pairRateDelayMs : 0);
	if (floor > policy.maxDelayMs) return undefined;
	// Jitter on top of the floor: everybody told "after 1 s" must not return at exactly 1 s.
	return Math.min(policy.maxDelayMs, floor + jitter);
}

/**
 * Runs `attempt` until it succeeds or fails for good. Each call gets its 1-based number. The wait between
 * attempts ends early, with the signal's reason, on abort.
 */
export async function withRetries<T>(attempt: (number: number) => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<{ value: T; attempts: number }> {
	for (let number = 1; ; number++) {
		try {
			return { value: await attempt(number), attempts: number };
		} catch (error) {
			const wait = retryDelayMs(error, number, policy);
			if (wait === undefined) {
				if (error instanceof WhatsAppError) error.attempts = number;
				throw error;
			}
			await sleep(wait, signal);
		}
	}
}
