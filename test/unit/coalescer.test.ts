/** The micro-batcher behind the Send node's ledger calls: what it batches, and what it must never do. */
import { Coalescer } from '../../lib/coalescer';

/** A batch function that records its batches and answers when the test says so. */
function controlled() {
	const batches: number[][] = [];
	const release: (() => void)[] = [];
	const coalescer = new Coalescer<number, number>(async (inputs) => {
		batches.push(inputs);
		await new Promise<void>((resolve) => release.push(resolve));
		return inputs.map((input) => input * 10);
	}, { maxBatch: 3 });
	return { coalescer, batches, release };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
	test('calls made together go in one batch, each answered with its own result, at most maxBatch at a time', async () => {
		const { coalescer, batches, release } = controlled();
		const answers = Promise.all([1, 2, 3, 4].map((n) => coalescer.run(n)));
		await turn();
		expect(batches).toEqual([[1, 2, 3]]);
		release.shift()!();
		await turn();
		expect(batches).toEqual([[1, 2, 3], [4]]);
		release.shift()!();
		expect(await answers).toEqual([10, 20, 30, 40]);
	});

	test('a call made while a batch runs is answered by the next batch, never by the one already running', async () => {
		const { coalescer, batches, release } = controlled();
		const first = coalescer.run(1);
		await turn();
		expect(batches).toEqual([[1]]);
		const later = [coalescer.run(2), coalescer.run(3)];
		await turn();
		expect(batches).toEqual([[1]]);
		release.shift()!();
		expect(await first).toBe(10);
		await turn();
		expect(batches).toEqual([[1], [2, 3]]);
		release.shift()!();
		expect(await Promise.all(later)).toEqual([20, 30]);
	});

	test('with two lanes, a call made while a batch runs starts the second batch at once', async () => {
		const batches: number[][] = [];
		const release: (() => void)[] = [];
		const coalescer = new Coalescer<number, number>(async (inputs) => {
			batches.push(inputs);
			await new Promise<void>((resolve) => release.push(resolve));
			return inputs;
		}, { lanes: 2 });
		const first = [coalescer.run(1), coalescer.run(2)];
		await turn();
		const second = coalescer.run(3);
		await turn();
		const third = [coalescer.run(4), coalescer.run(5)];
		await turn();
		expect(batches).toEqual([[1, 2], [3]]);
		release.shift()!();
		expect(await Promise.all(first)).toEqual([1, 2]);
		await turn();
		expect(batches).toEqual([[1, 2], [3], [4, 5]]);
		release.splice(0).forEach((resolve) => resolve());
		expect(await second).toBe(3);
		expect(await Promise.all(third)).toEqual([4, 5]);
	});

	test('a batch that fails is retried one by one, so only the bad input fails', async () => {
		const seen: number[][] = [];
		const coalescer = new Coalescer<number, number>(async (inputs) => {
			seen.push(inputs);
			if (inputs.includes(13)) throw new Error('13 is bad');
			return inputs.map((input) => input + 1);
		});
		const results = await Promise.allSettled([1, 13, 2].map((n) => coalescer.run(n)));
		expect(results).toEqual([
			{ status: 'fulfilled', value: 2 },
			{ status: 'rejected', reason: new Error('13 is bad') },
			{ status: 'fulfilled', value: 3 },
		]);
		expect(seen).toEqual([[1, 13, 2], [1], [13], [2]]);
	});

	test('a batch answered with the wrong number of results fails its callers instead of mixing answers up', async () => {
		const coalescer = new Coalescer<number, number>(async () => [1]);
		await expect(Promise.all([coalescer.run(1), coalescer.run(2)])).rejects.toThrow('A batch of 2 was answered with 1 results');
	});

	test('refuses a batch size that is not a whole number of at least 1', () => {
		expect(() => new Coalescer(async (inputs: number[]) => inputs, { maxBatch: 0 })).toThrow(/at least 1/);
	});
});
