/**
 * A micro-batcher: concurrent calls are answered together by one batch call. While a batch runs, calls that
 * arrive wait and go together in the next one, so under load the batches grow to whatever arrives during one batch
 * and at low load a call waits at most one turn of the event loop.
 *
 * A call is never answered by a batch that started before the call was made. The consent gate's re-check before
 * every HTTP attempt relies on this (invariant 1): a withdrawal committed before the check was asked for is seen.
 */
import { ValidationError } from './errors';

interface Waiting<I, O> {
	input: I;
	resolve: (output: O) => void;
	reject: (error: unknown) => void;
}

export interface CoalescerOptions {
	/** The most calls one batch answers: a transaction or a query parameter should not grow without bound (500). */
	maxBatch?: number;
	/**
	 * Batches that may run at once (1). More than one shortens the wait of a call that arrives while a batch runs,
	 * at the price of smaller batches; worth it where most of a batch's time is waiting for the database.
	 */
	lanes?: number;
}

export class Coalescer<I, O> {
	private queue: Waiting<I, O>[] = [];
	/** Lanes running a batch, or about to start one. */
	private busy = 0;
	/** A lane is about to start: calls made meanwhile join its batch instead of starting another. */
	private starting = false;
	private readonly maxBatch: number;
	private readonly lanes: number;

	/** `work` answers a batch in input order, one output per input. */
	constructor(
		private readonly work: (inputs: I[]) => Promise<O[]>,
		options: CoalescerOptions = {},
	) {
		this.maxBatch = options.maxBatch ?? 500;
		this.lanes = options.lanes ?? 1;
		for (const [field, value] of [['maxBatch', this.maxBatch], ['lanes', this.lanes]] as const) {
			if (!(Number.isInteger(value) && value >= 1)) {
				throw new ValidationError(field, `The ${field === 'maxBatch' ? 'batch size' : 'number of lanes'} must be a whole number of at least 1, got ${value}`);
			}
		}
	}

	run(input: I): Promise<O> {
		return new Promise<O>((resolve, reject) => {
			this.queue.push({ input, resolve, reject });
			// A lane that starts takes everything queued by then; calls arriving later wait for the next free lane.
			if (!this.starting && this.busy < this.lanes) {
				this.starting = true;
				this.busy++;
				// One turn of the event loop: calls made by the same burst of I/O callbacks join the same batch.
				setImmediate(() => {
					this.starting = false;
					void this.drain();
				});
			}
		});
	}

	private async drain(): Promise<void> {
		try {
			while (this.queue.length > 0) await this.settle(this.queue.splice(0, this.maxBatch));
		} finally {
			this.busy--;
		}
	}

	private async settle(batch: Waiting<I, O>[]): Promise<void> {
		let outputs: O[];
		try {
			outputs = await this.work(batch.map((call) => call.input));
		} catch (error) {
			if (batch.length === 1) {
				batch[0].reject(error);
				return;
			}
			// One bad input must not fail the others: each is tried again on its own, and only the bad one fails.
			for (const call of batch) await this.settle([call]);
			return;
		}
		if (outputs.length !== batch.length) {
			// A fault of the batch function, not of an input: nobody gets an answer that may belong to someone else.
			const error = new Error(`A batch of ${batch.length} was answered with ${outputs.length} results`);
			for (const call of batch) call.reject(error);
			return;
		}
		batch.forEach((call, index) => call.resolve(outputs[index]));
	}
}
