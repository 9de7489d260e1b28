import { ValidationError } from '../../lib/errors';
import { mapWithConcurrency } from '../../lib/whatsapp/concurrency';
import { catchUpBurst, limitersFor, PairRateLimiter, SendWindow, sleep, ThroughputLimiter } from '../../lib/whatsapp/limiter';

describe('limiter settings', () => {
	test.each([0, 0.5, 1001, Number.NaN])('%p messages per second is refused', (rate) => {
		expect(() => new ThroughputLimiter(rate)).toThrow(ValidationError);
		expect(() => new ThroughputLimiter(rate)).toThrow(/between 1 and 1000/);
	});

	test('1 and 1,000 per second are fine; a pair spacing must be 0 to 3,600 s', () => {
		expect(new ThroughputLimiter(1).perSecond).toBe(1);
		expect(new ThroughputLimiter(1000).perSecond).toBe(1000);
		expect(() => new PairRateLimiter(-1)).toThrow(ValidationError);
		expect(() => new PairRateLimiter(3601)).toThrow(ValidationError);
	});
});

describe('waiting', () => {
	test('a burst allowance lets that many go at once, then the pace applies', async () => {
		const limiter = new ThroughputLimiter(10, 3);
		const started = performance.now();
		await Promise.all([limiter.take(), limiter.take(), limiter.take()]);
		const burst = performance.now() - started;
		await limiter.take();
		expect(performance.now() - started).toBeGreaterThanOrEqual(burst + 50);
	});

	test('a newsletter makes up 50 ms of its pace after its sends fell behind, then keeps the pace', async () => {
		expect([20, 80, 1000].map(catchUpBurst)).toEqual([1, 4, 50]);
		const { throughput } = limitersFor('catch-up test', 1000, 0);
		await throughput.take();
		await sleep(200); // the sends fell behind the pace by 200 slots
		const started = performance.now();
		await Promise.all(Array.from({ length: 50 }, () => throughput.take()));
		const madeUp = performance.now() - started;
		// Paced strictly, 50 slots take 50 × 1.04 ms; made up, they go at once.
		expect(madeUp).toBeLessThan(25);
		await Promise.all(Array.from({ length: 50 }, () => throughput.take()));
		expect(performance.now() - started).toBeGreaterThanOrEqual(50);
	});

	test('an abort ends a wait at once with the signal’s reason', async () => {
		const limiter = new ThroughputLimiter(1);
		await limiter.take();
		const controller = new AbortController();
		const reason = new Error('cancelled');
		const waiting = limiter.take(controller.signal);
		setTimeout(() => controller.abort(reason), 10);
		const started = performance.now();
		await expect(waiting).rejects.toBe(reason);
		expect(performance.now() - started).toBeLessThan(500);
		await expect(new PairRateLimiter(6).take('x', controller.signal)).rejects.toBe(reason);
		await expect(sleep(10, controller.signal)).rejects.toBe(reason);
	});

	test('pair spacing 0 never waits; otherwise only the same recipient waits', async () => {
		const off = new PairRateLimiter(0);
		await off.take('a');
		await off.take('a');
		const pair = new PairRateLimiter(0.2);
		await pair.take('a');
		const started = performance.now();
		await pair.take('b');
		expect(performance.now() - started).toBeLessThan(100);
		await pair.take('a');
		expect(performance.now() - started).toBeGreaterThanOrEqual(150);
	});
});

describe('mapWithConcurrency', () => {
	test('keeps at most N in flight and the results in input order', async () => {
		let inFlight = 0;
		let most = 0;
		const results = await mapWithConcurrency([30, 10, 20, 5, 15, 25], 2, async (ms, index) => {
			inFlight++;
			most = Math.max(most, inFlight);
			await sleep(ms);
			inFlight--;
			return index;
		});
		expect(results).toEqual([0, 1, 2, 3, 4, 5]);
		expect(most).toBe(2);
		expect(await mapWithConcurrency([], 3, async () => 1)).toEqual([]);
	});

	test('the first failure stops new starts', async () => {
		const started: number[] = [];
		const failure = new Error('broken');
		await expect(
			mapWithConcurrency([1, 2, 3, 4, 5, 6], 2, async (item) => {
				started.push(item);
				await sleep(5);
				if (item === 2) throw failure;
			}),
		).rejects.toBe(failure);
		await sleep(50);
		expect(started.length).toBeLessThanOrEqual(3);
	});

	test('an abort rejects at once and starts nothing more', async () => {
		const controller = new AbortController();
		const started: number[] = [];
		const run = mapWithConcurrency(
			Array.from({ length: 20 }, (_, index) => index),
			2,
			async (item) => {
				started.push(item);
				await sleep(1000);
			},
			controller.signal,
		);
		setTimeout(() => controller.abort(new Error('stop')), 20);
		await expect(run).rejects.toThrow('stop');
		expect(started).toEqual([0, 1]);
		await expect(mapWithConcurrency([1], 0, async () => 1)).rejects.toThrow(ValidationError);
	});
});

describe('send window', () => {
	test('at most perSecond starts in any second plus the margin, however the slots before it bunched them', () => {
		const window = new SendWindow(3, 25);
		expect([window.tryStart(0), window.tryStart(1), window.tryStart(2)]).toEqual([0, 0, 0]);
		expect(window.tryStart(500)).toBe(525); // the start at 0 leaves the window at 1,025
		expect(window.tryStart(1024)).toBe(1);
		expect(window.tryStart(1025)).toBe(0);
		expect(window.tryStart(1025)).toBe(1);
		expect(window.tryStart(1026)).toBe(0);
	});
});
