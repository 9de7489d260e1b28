import { ConnectionError, OutcomeUnknownError, WhatsAppApiError } from '../../lib/whatsapp/errors';
import { DEFAULT_RETRY_POLICY, retryDelayMs, withRetries, type RetryPolicy } from '../../lib/whatsapp/retry';

const top: RetryPolicy = { ...DEFAULT_RETRY_POLICY, random: () => 0.999999 };
const bottom: RetryPolicy = { ...DEFAULT_RETRY_POLICY, random: () => 0 };

function meta(metaCode: number, retryAfterMs?: number): WhatsAppApiError {
	return new WhatsAppApiError({ metaCode, httpStatus: 400, metaMessage: `(#${metaCode})`, retryAfterMs });
}

describe('retryDelayMs', () => {
	test('full jitter: between 0 and a cap that doubles per attempt', () => {
		expect(retryDelayMs(meta(130429), 1, bottom)).toBe(0);
		expect(retryDelayMs(meta(130429), 1, top)).toBeCloseTo(500, 0);
		expect(retryDelayMs(meta(130429), 2, top)).toBeCloseTo(1000, 0);
		expect(retryDelayMs(meta(130429), 3, top)).toBeCloseTo(2000, 0);
	});

	test('never shorter than Retry-After', () => {
		expect(retryDelayMs(meta(130429, 3000), 1, bottom)).toBe(3000);
		expect(retryDelayMs(meta(130429, 3000), 1, top)).toBeGreaterThan(3000);
	});

	test('a Retry-After beyond the longest wait ends the retries', () => {
		expect(retryDelayMs(meta(130429, 120_000), 1, top)).toBeUndefined();
	});

	test('the pair rate waits at least 6 s', () => {
		expect(retryDelayMs(meta(131056), 1, bottom)).toBe(6000);
	});

	test('a connection that never opened is retried', () => {
		expect(retryDelayMs(new ConnectionError('http://x'), 1, bottom)).toBe(0);
	});

	test.each([131047, 131026, 131049, 131050, 131048, 131057, 100, 132000, 132001, 190, 368, 999_999])('%i is not retried', (code) => {
		expect(retryDelayMs(meta(code), 1, top)).toBeUndefined();
	});

	test('an unknown outcome, a foreign error and the last attempt are not retried', () => {
		expect(retryDelayMs(new OutcomeUnknownError('timeout', 'no answer'), 1, top)).toBeUndefined();
		expect(retryDelayMs(new Error('consent withdrawn'), 1, top)).toBeUndefined();
		expect(retryDelayMs(meta(130429), 4, top)).toBeUndefined();
	});
});

describe('withRetries', () => {
	const quick: RetryPolicy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 5 };

	test('retries a retryable error and counts the attempts', async () => {
		let calls = 0;
		const result = await withRetries(async () => {
			calls++;
			if (calls < 3) throw meta(131016);
			return 'ok';
		}, quick);
		expect(result).toEqual({ value: 'ok', attempts: 3 });
	});

	test('gives up after maxAttempts with the last error, which knows the attempts', async () => {
		let calls = 0;
		const failure = withRetries(async () => {
			calls++;
			throw meta(131016);
		}, { ...quick, maxAttempts: 3 });
		await expect(failure).rejects.toMatchObject({ metaCode: 131016, attempts: 3 });
		expect(calls).toBe(3);
	});

	test('a foreign error passes through unchanged after one attempt', async () => {
		const refusal = new Error('withdrawn');
		let calls = 0;
		await expect(
			withRetries(async () => {
				calls++;
				throw refusal;
			}, quick),
		).rejects.toBe(refusal);
		expect(calls).toBe(1);
	});

	test('an abort during the backoff ends it with the signal’s reason', async () => {
		const controller = new AbortController();
		const reason = new Error('stopped');
		let calls = 0;
		const run = withRetries(
			async () => {
				calls++;
				throw meta(130429, 10_000);
			},
			{ ...DEFAULT_RETRY_POLICY },
			controller.signal,
		);
		setTimeout(() => controller.abort(reason), 20);
		const started = Date.now();
		await expect(run).rejects.toBe(reason);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(calls).toBe(1);
	});
});
