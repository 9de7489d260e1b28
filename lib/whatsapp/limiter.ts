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

	/**
	 * `burst`: how many messages may leave back to back after a pause (a small allowance; 1 means strictly paced).
	 * `secondMs`: the length of the "second" the rate is kept over; a little more than 1,000 keeps a margin.
	 */
	constructor(perSecond: number = MESSAGES_PER_SECOND.default, burst = 1, secondMs = 1000) {
		if (!(perSecond >= MESSAGES_PER_SECOND.min && perSecond <= MESSAGES_PER_SECOND.max)) {
			throw new ValidationError(
				'messagesPerSecond',
				`Messages per second must be between ${MESSAGES_PER_SECOND.min} and ${MESSAGES_PER_SECOND.max}, got ${perSecond}`,
				'Meta allows 80 per second by default, 1,000 after its automatic upgrade, 20 for numbers shared with the Business app',
			);
		}
		if (!(Number.isInteger(burst) && burst >= 1)) throw new ValidationError('burst', `The burst allowance must be a whole number of at least 1, got ${burst}`);
		this.perSecond = perSecond;
		this.intervalMs = secondMs / perSecond;
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

/**
 * The last guard before a request leaves: at most `perSecond` requests start in any sliding second, as Meta counts
 * them. The throughput limiter paces the slots, but work between a slot and its request (the consent gate's
 * re-check, answered for many sends at once) shifts requests by a few to tens of milliseconds, and requests shifted
 * together could make a second that holds more than the limit. `marginMs` widens the window, e.g. for a path to
 * Meta whose delay varies; it also lowers the steady pace to perSecond per (1,000 + margin) ms.
 */
export class SendWindow {
	private readonly starts: number[] = [];
	private readonly windowMs: number;

	constructor(
		readonly perSecond: number,
		marginMs = 0,
	) {
		this.windowMs = 1000 + marginMs;
	}

	/** Records a start at `now` and returns 0, or returns the milliseconds until one is allowed (nothing recorded). */
	tryStart(now: number = performance.now()): number {
		while (this.starts.length > 0 && this.starts[0] <= now - this.windowMs) this.starts.shift();
		if (this.starts.length >= this.perSecond) return this.starts[0] + this.windowMs - now;
		this.starts.push(now);
		return 0;
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

	/** Waits for the recipient's next slot; resolves with it, for `handBack`. */
	async take(recipient: string, signal?: AbortSignal): Promise<number> {
		signal?.throwIfAborted();
		if (this.spacingMs === 0) return 0;
		const now = performance.now();
		const slot = Math.max(this.nextSlot.get(recipient) ?? -Infinity, now);
		this.nextSlot.set(recipient, slot + this.spacingMs);
		if (this.nextSlot.size > PAIR_MEMORY) this.forgetPassed(now);
		await sleep(slot - now, signal);
		return slot;
	}

	/**
	 * The attempt that took `slot` reached nobody (Meta refused it before sending, e.g. 130429): the next message to
	 * the recipient need not be spaced from it. Its retry would otherwise wait the whole spacing (6 s) instead of
	 * Meta's Retry-After. Only while no later message to the recipient took a slot: that one is spaced from this
	 * slot, and a retry is spaced from that one.
	 */
	handBack(recipient: string, slot: number): void {
		if (this.spacingMs > 0 && this.nextSlot.get(recipient) === slot + this.spacingMs) this.nextSlot.set(recipient, slot);
	}

	private forgetPassed(now: number): void {
		for (const [recipient, slot] of this.nextSlot) if (slot <= now) this.nextSlot.delete(recipient);
	}
}

/**
 * Meta counts per business number, not per workflow: clients that send from the same number with the same
 * settings share one pair of limiters in this process, so concurrent executions together stay within the limit.
 */
export interface Limiters {
	throughput: ThroughputLimiter;
	pairRate: PairRateLimiter;
	window: SendWindow;
}

/**
 * Meta (and the sandbox) count requests as they arrive, and the way there adds a delay that varies by tens of
 * milliseconds on a busy machine or network; slots are paced over a second this much longer, and the send window
 * is as long, so a limit of 1,000/s is kept with up to 1,000 / 1.04 ≈ 960 requests a second.
 */
export const SEND_MARGIN_MS = 40;

/**
 * How much of the pace a newsletter may make up at once after its sends fell behind it (a garbage collection, a slow
 * slice of the ledger): strictly paced, every such gap is lost for good, and a 5,000-recipient run at 1,000/s that
 * loses 2 s in gaps of tens of milliseconds ends at 700/s. The send window still holds every sliding second plus its
 * margin to the limit, so a burst that makes up 50 ms never sends more than Meta's limit in any second.
 */
export const CATCH_UP_MS = 50;

/** The burst allowance of a pace: CATCH_UP_MS of its slots, at least one (20/s: 1, 80/s: 4, 1,000/s: 50). */
export function catchUpBurst(messagesPerSecond: number): number {
	return Math.max(1, Math.floor((messagesPerSecond * CATCH_UP_MS) / 1000));
}

const sharedLimiters = new Map<string, Limiters>();

export function limitersFor(sender: string, messagesPerSecond: number, pairRateSeconds: number): Limiters {
	const key = `${sender}|${messagesPerSecond}|${pairRateSeconds}`;
	let limiters = sharedLimiters.get(key);
	if (!limiters) {
		const throughput = new ThroughputLimiter(messagesPerSecond, catchUpBurst(messagesPerSecond), 1000 + SEND_MARGIN_MS);
		limiters = { throughput, pairRate: new PairRateLimiter(pairRateSeconds), window: new SendWindow(throughput.perSecond, SEND_MARGIN_MS) };
		sharedLimiters.set(key, limiters);
	}
	return limiters;
}
