// The client's own pacing against the sandbox over real HTTP: messages per second per business number, shared by
// every client of that number in the process, and the spacing per recipient (pair rate).
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { mapWithConcurrency, WhatsAppClient, type ClientOptions, type OutgoingMessage } from '../../lib/whatsapp';
import { nodeHttpFetch, type HttpFetch } from '../../lib/whatsapp/http';

const WELCOME: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] };

let sandbox: Sandbox;
let numbers = 0;

function recipient(): string {
	numbers += 1;
	return `+49152${String(numbers).padStart(6, '0')}77`;
}

function client(options: Partial<ClientOptions>): WhatsAppClient {
	return new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, ...options });
}

/** The client's HTTP, noting when each request leaves: the attempts as Meta would count them. */
function timed(times: number[]): HttpFetch {
	return (url, init) => {
		times.push(performance.now());
		return nodeHttpFetch(url, init);
	};
}

async function control(method: string, path: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
	const response = await fetch(`${sandbox.url}/_sandbox/${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
	return response.json();
}

async function outcomes(): Promise<(string | number)[]> {
	const { requests } = await control('GET', 'messages');
	return requests.map((entry: { outcome: { status: string; code?: number } }) => entry.outcome.code ?? entry.outcome.status);
}

/** Messages per second over the whole run, from the first attempt to the last. */
function rate(times: number[]): number {
	const sorted = [...times].sort((a, b) => a - b);
	return ((sorted.length - 1) / (sorted[sorted.length - 1] - sorted[0])) * 1000;
}

/** The most attempts that fell into any one second. */
function busiestSecond(times: number[]): number {
	const sorted = [...times].sort((a, b) => a - b);
	let most = 0;
	for (let start = 0, end = 0; end < sorted.length; end++) {
		while (sorted[end] - sorted[start] >= 1000) start++;
		most = Math.max(most, end - start + 1);
	}
	return most;
}

beforeAll(async () => {
	sandbox = await startSandbox({ throughputPerSecond: 1000, pairRateSeconds: 0 });
});

afterAll(async () => {
	await sandbox.close();
});

beforeEach(async () => {
	await control('POST', 'reset');
});

describe('throughput', () => {
	test('250 messages at 50 per second: measured rate within 10 %, no burst above it', async () => {
		const times: number[] = [];
		const whatsapp = client({ messagesPerSecond: 50, pairRateSeconds: 0, fetch: timed(times) });
		const items = Array.from({ length: 250 }, () => recipient());
		const results = await mapWithConcurrency(items, 40, (to) => whatsapp.send(to, WELCOME));
		expect(results.every((result) => result.attempts === 1)).toBe(true);
		expect(times).toHaveLength(250);
		expect(rate(times)).toBeGreaterThan(45);
		expect(rate(times)).toBeLessThan(55);
		expect(busiestSecond(times)).toBeLessThanOrEqual(55);
		expect(new Set(await outcomes())).toEqual(new Set(['accepted']));
	}, 30_000);

	test('two clients of the same number share one budget, as Meta counts it', async () => {
		const times: number[] = [];
		const first = client({ messagesPerSecond: 40, pairRateSeconds: 0, fetch: timed(times) });
		const second = client({ messagesPerSecond: 40, pairRateSeconds: 0, fetch: timed(times) });
		const run = (whatsapp: WhatsAppClient) =>
			mapWithConcurrency(
				Array.from({ length: 100 }, () => recipient()),
				20,
				(to) => whatsapp.send(to, WELCOME),
			);
		await Promise.all([run(first), run(second)]);
		expect(times).toHaveLength(200);
		expect(rate(times)).toBeGreaterThan(36);
		expect(rate(times)).toBeLessThan(44);
	}, 30_000);

	test('paced 20 % below the sandbox’s limit, no request draws 130429', async () => {
		await control('PATCH', 'config', { throughputPerSecond: 25 });
		const whatsapp = client({ messagesPerSecond: 20, pairRateSeconds: 0, maxAttempts: 1 });
		await mapWithConcurrency(
			Array.from({ length: 80 }, () => recipient()),
			20,
			(to) => whatsapp.send(to, WELCOME),
		);
		expect(new Set(await outcomes())).toEqual(new Set(['accepted']));
	}, 30_000);
});

// The sandbox checks spacing on arrival, the client on departure: loopback jitter of a few milliseconds would turn
// an exact match into a rare 131056, so the sandbox is set 5 % looser. The spacing itself is asserted on our side.
describe('pair rate', () => {
	test('messages to one person are spaced, others are not held back by them', async () => {
		await control('PATCH', 'config', { pairRateSeconds: 1.9 });
		const whatsapp = client({ pairRateSeconds: 2, maxAttempts: 1 });
		const anna = recipient();
		const ben = recipient();
		const order: string[] = [];
		const annaTimes: number[] = [];
		const toAnna = (label: string) =>
			whatsapp.send(anna, WELCOME, {
				beforeAttempt: async () => {
					annaTimes.push(performance.now());
					order.push(label);
				},
			});
		await Promise.all([toAnna('anna 1'), toAnna('anna 2'), toAnna('anna 3'), whatsapp.send(ben, WELCOME, { beforeAttempt: async () => void order.push('ben') })]);
		expect(order.indexOf('ben')).toBeLessThan(order.indexOf('anna 2'));
		expect(annaTimes[1] - annaTimes[0]).toBeGreaterThanOrEqual(1990);
		expect(annaTimes[2] - annaTimes[1]).toBeGreaterThanOrEqual(1990);
		expect(await outcomes()).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
	}, 20_000);

	test('a retry after 130429 waits for Retry-After, not for the spacing; the next message is spaced from the one that went out', async () => {
		const whatsapp = client({ pairRateSeconds: 4, backoff: { baseDelayMs: 50 } });
		const anna = recipient();
		const times: number[] = [];
		const hook = { beforeAttempt: async () => void times.push(performance.now()) };
		// Meta refuses the first request for the number's throughput, with Retry-After: 1: nothing reached Anna.
		await control('POST', 'faults', { kind: 'error', code: 130429, count: 1 });
		expect(await whatsapp.send(anna, WELCOME, hook)).toMatchObject({ attempts: 2 });
		await whatsapp.send(anna, WELCOME, hook);
		expect(times).toHaveLength(3);
		expect(times[1] - times[0]).toBeGreaterThanOrEqual(990);
		expect(times[1] - times[0]).toBeLessThan(3000);
		expect(times[2] - times[1]).toBeGreaterThanOrEqual(3990);
		expect(await outcomes()).toEqual([130429, 'accepted', 'accepted']);
	}, 20_000);

	test('the default spacing is Meta’s 6 s', async () => {
		await control('PATCH', 'config', { pairRateSeconds: 5.7 });
		const whatsapp = client({ maxAttempts: 1 });
		const anna = recipient();
		const times: number[] = [];
		const hook = { beforeAttempt: async () => void times.push(performance.now()) };
		await Promise.all([whatsapp.send(anna, WELCOME, hook), whatsapp.send(anna, WELCOME, hook)]);
		expect(times[1] - times[0]).toBeGreaterThanOrEqual(5990);
		expect(await outcomes()).toEqual(['accepted', 'accepted']);
	}, 20_000);
});
