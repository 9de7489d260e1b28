/**
 * Meta's two send limits, kept on our side so a newsletter runs at full speed without 130429 / 131056 errors:
 * messages per second per business number, and spacing between messages to the same person. Both schedule
 * callers into time slots (GCRA), so many concurrent senders share them fairly; waits end early on abort.
 */

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	if (ms <= 0) return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(timer);
			reject(signal!.reason);
		};
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}

export class ThroughputLimiter {
	private readonly interval: number;
	private readonly tolerance: number;
	private nextSlot = 0;

	/** `burst`: how many messages may go out at once before the pace applies (a small allowance, default 1). */
	constructor(
		readonly perSecond: number,
		burst = 1,
	) {
		if (!(perSecond >= 1 && perSecond <= 1000)) {
			throw new RangeError(`Messages per second must be between 1 and 1,000, got ${perSecond}`);
		}
		this.interval = 1000 / perSecond;
		this.tolerance = (Math.max(1, burst) - 1) * this.interval;
	}

	async take(signal?: AbortSignal): Promise<void> {
		const now = performance.now();
		const slot = Math.max(this.nextSlot, now - this.tolerance);
		this.nextSlot = slot + this.interval;
		await sleep(slot - now, signal);
	}
}

export class PairRateLimiter {
	private readonly spacing: number;
	private readonly next = new Map<string, number>();

	constructor(seconds: number) {
		this.spacing = Math.max(0, seconds) * 1000;
	}

	async take(recipient: string, signal?: AbortSignal): Promise<void> {
		if (this.spacing === 0) return;
		const now = performance.now();
		const slot = Math.max(this.next.get(recipient) ?? 0, now);
		this.next.set(recipient, slot + this.spacing);
		if (this.next.size > 10_000) this.forgetBefore(now);
		await sleep(slot - now, signal);
	}

	private forgetBefore(now: number): void {
		for (const [recipient, slot] of this.next) if (slot < now) this.next.delete(recipient);
	}
}

/** Runs `work` over `items` with at most `limit` at a time, in order of start; stops starting new ones on abort. */
export async function mapWithConcurrency<T, R>(
	items: readonly T[],
	limit: number,
	work: (item: T, index: number) => Promise<R>,
	signal?: AbortSignal,
): Promise<R[]> {
	const results = new Array<R>(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			if (signal?.aborted) throw signal.reason;
			const index = next++;
			results[index] = await work(items[index], index);
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
	return results;
}
