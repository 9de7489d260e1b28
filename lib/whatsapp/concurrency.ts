/**
 * Sending many items with a bounded number in flight: enough to keep the throughput limiter busy despite network
 * latency, few enough not to open hundreds of sockets. On abort it stops starting new work and rejects at once;
 * work already started gets the same signal and ends on its own. The first failure of `work` also stops new
 * starts and rejects the run, so `work` catches what should only fail its own item.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';
import { ValidationError } from '../errors';

/** Abort listeners one item in flight may hold on the run's signal (a limiter or backoff wait, the request). */
const LISTENERS_PER_ITEM = 3;

export async function mapWithConcurrency<T, R>(
	items: readonly T[],
	concurrency: number,
	work: (item: T, index: number) => Promise<R>,
	signal?: AbortSignal,
): Promise<R[]> {
	if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
		throw new ValidationError('concurrency', `Concurrency must be a whole number of at least 1, got ${concurrency}`);
	}
	signal?.throwIfAborted();
	// Every item in flight listens to the same signal; without this Node warns of a leak from 11 items on.
	if (signal) setMaxListeners(Math.max(getMaxListeners(signal), concurrency * LISTENERS_PER_ITEM + 1), signal);
	const results = new Array<R>(items.length);
	let next = 0;
	let failed = false;
	const worker = async () => {
		while (next < items.length && !failed) {
			signal?.throwIfAborted();
			const index = next++;
			try {
				results[index] = await work(items[index], index);
			} catch (error) {
				failed = true;
				throw error;
			}
		}
	};
	const workers = Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
	if (!signal) {
		await workers;
		return results;
	}
	let onAbort: (() => void) | undefined;
	const aborted = new Promise<never>((_, reject) => {
		onAbort = () => reject(signal.reason);
		signal.addEventListener('abort', onAbort, { once: true });
	});
	try {
		await Promise.race([workers, aborted]);
		return results;
	} finally {
		signal.removeEventListener('abort', onAbort!);
		// A worker that fails after the abort has already been answered for.
		workers.catch(() => undefined);
	}
}

/**
 * At most `size` holders at once; the others wait in arrival order. The Send node holds one per request waiting
 * for Meta's answer, so its Parallel Requests setting bounds those alone, not the sends being recorded in the ledger.
 */
export class Semaphore {
	private free: number;
	private readonly waiting: (() => void)[] = [];

	constructor(size: number) {
		if (!(Number.isInteger(size) && size >= 1)) throw new ValidationError('size', `The number of holders must be a whole number of at least 1, got ${size}`);
		this.free = size;
	}

	/** Resolves with the function that gives the place back; rejects with the signal's reason on abort. */
	async acquire(signal?: AbortSignal): Promise<() => void> {
		signal?.throwIfAborted();
		if (this.free > 0) this.free--;
		else {
			await new Promise<void>((resolve, reject) => {
				const onAbort = () => {
					this.waiting.splice(this.waiting.indexOf(granted), 1);
					reject(signal!.reason);
				};
				const granted = () => {
					signal?.removeEventListener('abort', onAbort);
					resolve();
				};
				this.waiting.push(granted);
				signal?.addEventListener('abort', onAbort, { once: true });
			});
		}
		let released = false;
		return () => {
			if (released) return;
			released = true;
			const next = this.waiting.shift();
			if (next) next();
			else this.free++;
		};
	}
}
