/**
 * Meta's two send limits, kept on our side so a newsletter runs at full speed without 130429 / 131056 errors:
 * messages per second per business number, and spacing between messages to the same person.
 *
 * Both hand out time slots (the generic cell rate algorithm, i.e. a token bucket that starts empty and holds at
 * most `burst` tokens): a caller reserves the next free slot synchronously, then sleeps until it. Reserving before
 * sleeping is what makes them safe for many concurrent senders, with no lock. An aborted wait gives its slot up
 * unused, which only ever slows the pace down, never speeds it up.
 */
import { ValidationError } from '../errors';

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	if (signal?.aborted) return Promise.reject(signal.reason);
	if (ms <= 0) return Promise.resolve();
	return new Promise((resolve, reject) => {
		const onAbort = () => {
			clearTimeout(timer);
			reject(signal!.reason);
		};
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}

export const MESSAGES_PER_SECOND = { default: 80, min: 1, max: 1000 } as const;

export class ThroughputLimiter {
	readonly perSecond: number;
	private readonly intervalMs: number;
	/** How far a caller may run ahead of the pace: `burst - 1` intervals. */
	private readonly toleranceMs: number;
	private nextSlot = -Infinity;

	/** `burst`: how many messages may leave back to back after a pause (a small allowance; 1 means strictly paced). */
	constructor(perSecond: number = MESSAGES_PER_SECOND.default, burst = 1) {
		if (!(perSecond >= MESSAGES_PER_SECOND.min && perSecond <= MESSAGES_PER_SECOND.max)) {
			throw new ValidationError(
				'messagesPerSecond',
				`Messages per second must be between ${MESSAGES_PER_SECOND.min} and ${MESSAGES_PER_SECOND.max}, got ${perSecond}`,
				'Meta allows 80 per second by default, 1,000 after its automatic upgrade, 20 for numbers shared with the Business app',
			);
		}
		if (!(Number.isInteger(burst) && burst >= 1)) throw new ValidationError('burst', `The burst allowance must be a whole number of at least 1, got ${burst}`);
		this.perSecond = perSecond;
		this.intervalMs = 1000 / perSecond;
		this.toleranceMs = (burst - 1) * this.intervalMs;
	}

	/** Waits for the next free slot; rejects with the signal's reason on abort. */
	async take(signal?: AbortSignal): Promise<void> {
		signal?.throwIfAborted();
		const now = performance.now();
		const slot = Math.max(this.nextSlot, now - this.toleranceMs);
		this.nextSlot = slot + this.intervalMs;
		await sleep(slot - now, signal);
	}
}

/** Above this many remembered recipients, the ones whose spacing has passed are forgotten. */
const PAIR_MEMORY = 10_000;

export class PairRateLimiter {
	readonly seconds: number;
	private readonly spacingMs: number;
	private readonly nextSlot = new Map<string, number>();

	/** `seconds`: minimum spacing between two messages to the same recipient; 0 turns the limiter off. */
	constructor(seconds = 6) {
		if (!(seconds >= 0 && seconds <= 3600)) {
			throw new ValidationError('pairRateSeconds', `The spacing per recipient must be between 0 and 3,600 seconds, got ${seconds}`, "Meta's pair rate is about one message every 6 seconds");
		}
		this.seconds = seconds;
		this.spacingMs = seconds * 1000;
	}

	async take(recipient: string, signal?: AbortSignal): Promise<void> {
		signal?.throwIfAborted();
		if (this.spacingMs === 0) return;
		const now = performance.now();
		const slot = Math.max(this.nextSlot.get(recipient) ?? -Infinity, now);
		this.nextSlot.set(recipient, slot + this.spacingMs);
		if (this.nextSlot.size > PAIR_MEMORY) this.forgetPassed(now);
		await sleep(slot - now, signal);
	}

	private forgetPassed(now: number): void {
		for (const [recipient, slot] of this.nextSlot) if (slot <= now) this.nextSlot.delete(recipient);
	}
}

/**
 * Meta counts per business number, not per workflow: clients that send from the same number with the same
 * settings share one pair of limiters in this process, so concurrent executions together stay within the limit.
 */
const sharedLimiters = new Map<string, { throughput: ThroughputLimiter; pairRate: PairRateLimiter }>();

export function limitersFor(sender: string, messagesPerSecond: number, pairRateSeconds: number): { throughput: ThroughputLimiter; pairRate: PairRateLimiter } {
	const key = `${sender}|${messagesPerSecond}|${pairRateSeconds}`;
	let limiters = sharedLimiters.get(key);
	if (!limiters) {
		limiters = { throughput: new ThroughputLimiter(messagesPerSecond), pairRate: new PairRateLimiter(pairRateSeconds) };
		sharedLimiters.set(key, limiters);
	}
	return limiters;
}
