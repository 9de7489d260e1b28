/** The bound on requests waiting for Meta's answer (the Send node's Parallel Requests). */
import { Semaphore } from '../../lib/whatsapp';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
	test('at most `size` holders; the others get their place in arrival order as places are given back', async () => {
		const semaphore = new Semaphore(2);
		const order: string[] = [];
		const first = await semaphore.acquire();
		const second = await semaphore.acquire();
		const third = semaphore.acquire().then((release) => (order.push('third'), release));
		const fourth = semaphore.acquire().then((release) => (order.push('fourth'), release));
		await turn();
		expect(order).toEqual([]);
		first();
		first(); // giving a place back twice frees it once
		await turn();
		expect(order).toEqual(['third']);
		second();
		await turn();
		expect(order).toEqual(['third', 'fourth']);
		(await third)();
		(await fourth)();
		await semaphore.acquire();
		await semaphore.acquire();
	});

	test('a waiter that is cancelled leaves the queue and gets the signal\'s reason', async () => {
		const semaphore = new Semaphore(1);
		const held = await semaphore.acquire();
		const controller = new AbortController();
		const cancelled = semaphore.acquire(controller.signal);
		const next = semaphore.acquire();
		controller.abort(new Error('execution cancelled'));
		await expect(cancelled).rejects.toThrow('execution cancelled');
		held();
		await expect(next).resolves.toEqual(expect.any(Function));
	});

	test('refuses a size that is not a whole number of at least 1', () => {
		expect(() => new Semaphore(0)).toThrow(/at least 1/);
	});
});
