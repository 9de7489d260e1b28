// The WhatsApp client against the local Cloud API sandbox over real HTTP: what it sends, every error class,
// retries (counted in the sandbox's request log), cancellation, the consent hook before each attempt, timeouts.
import { createServer } from 'node:net';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import {
	ConnectionError,
	mapWithConcurrency,
	OutcomeUnknownError,
	WhatsAppApiError,
	WhatsAppClient,
	type ClientOptions,
	type OutgoingMessage,
	type RetryAdvice,
} from '../../lib/whatsapp';

const TOKEN = 'sandbox-token';
const PHONE_ID = '100000000000001';
const WELCOME: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] };

interface LoggedRequest {
	seq: number;
	at: string;
	method: string;
	path: string;
	body?: Record<string, unknown>;
	outcome: { status: string; code?: number; wamid?: string; fault?: boolean };
}

let sandbox: Sandbox;
let numbers = 0;

/** A fresh recipient per use, so the pair-rate memory of one test never delays another. Never ends in 0000. */
function recipient(): string {
	numbers += 1;
	return `+49151${String(numbers).padStart(6, '0')}55`;
}

function client(options: Partial<ClientOptions> = {}): WhatsAppClient {
	return new WhatsAppClient({ accessToken: TOKEN, phoneNumberId: PHONE_ID, baseUrl: sandbox.url, pairRateSeconds: 0, backoff: { baseDelayMs: 20 }, ...options });
}

async function control(method: string, path: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
	const response = await fetch(`${sandbox.url}/_sandbox/${path}`, {
		method,
		headers: { 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	if (!response.ok) throw new Error(`sandbox ${method} ${path}: ${response.status} ${await response.text()}`);
	return response.json();
}

async function requests(): Promise<LoggedRequest[]> {
	return (await control('GET', 'messages')).requests;
}

function fault(body: Record<string, unknown>): Promise<unknown> {
	return control('POST', 'faults', body);
}

async function rejection(promise: Promise<unknown>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
	try {
		await promise;
	} catch (error) {
		return error;
	}
	throw new Error('expected a rejection');
}

beforeAll(async () => {
	sandbox = await startSandbox({ pairRateSeconds: 0, throughputPerSecond: 1000, timeoutFaultMs: 3000 });
});

afterAll(async () => {
	await sandbox.close();
});

beforeEach(async () => {
	await control('POST', 'reset');
});

describe('sending', () => {
	test('every message type reaches the sandbox as built, with Meta’s ids back', async () => {
		const to = recipient();
		await control('POST', 'inbound', { from: to, text: 'Hallo' });
		const whatsapp = client();
		const template = await whatsapp.send(to, WELCOME);
		expect(template).toMatchObject({ waId: to.slice(1), input: to.slice(1), messageStatus: 'accepted', attempts: 1 });
		expect(template.wamid).toMatch(/^wamid\./);
		const named = await whatsapp.send(to, { type: 'template', name: 'order_update', language: 'en', body: { first_name: 'Anna', order_id: 'A-1042', status: 'on its way' } });
		const text = await whatsapp.send(to, { type: 'text', text: 'Danke!', previewUrl: true });
		expect(text.messageStatus).toBeUndefined();
		await whatsapp.send(to, { type: 'interactive', body: 'Angebote per WhatsApp?', buttons: [{ id: 'yes', title: 'Ja' }, { id: 'no', title: 'Nein' }] });
		await whatsapp.send(to, { type: 'media', mediaType: 'document', link: 'https://example.com/menu.pdf', filename: 'menu.pdf', caption: 'Speisekarte' });

		const log = await requests();
		expect(log.map((entry) => entry.outcome.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
		// Meta's current Graph API version by default (v26.0, its changelog of 29 July 2026)
		expect(log[0].path).toBe(`/v26.0/${PHONE_ID}/messages`);
		expect(log[1].outcome.wamid).toBe(named.wamid);
		expect(log.map((entry) => entry.body?.type)).toEqual(['template', 'template', 'text', 'interactive', 'document']);
		expect(log[2].body).toMatchObject({ to: to.slice(1), text: { body: 'Danke!', preview_url: true } });
	});

	test('a business-scoped user id is addressed in `recipient`', async () => {
		const to = recipient();
		await control('POST', 'inbound', { from: to, text: 'Hi', userId: 'DE.7734519920' });
		const sent = await client().send('DE.7734519920', { type: 'text', text: 'Hallo' });
		expect(sent).toMatchObject({ waId: to.slice(1), userId: 'DE.7734519920' });
		expect((await requests())[0].body).toMatchObject({ recipient: 'DE.7734519920' });
	});

	test('a configurable Graph version', async () => {
		await client({ graphVersion: 'v25.0' }).send(recipient(), WELCOME);
		expect((await requests())[0].path).toBe(`/v25.0/${PHONE_ID}/messages`);
	});

	test('mark as read and the phone number for the credential test', async () => {
		const to = recipient();
		const inbound = await control('POST', 'inbound', { from: to, text: 'Hallo' });
		await client().markAsRead(inbound.messageId);
		expect((await control('GET', `chats/${to.slice(1)}`)).messages[0].status).toBe('read');
		expect(await client().getPhoneNumber()).toMatchObject({ id: PHONE_ID, verified_name: 'Sandbox Business', display_phone_number: '+49 30 1234567' });
		expect(await rejection(client().markAsRead('wamid.unknown'))).toMatchObject({ metaCode: 100, retry: 'never' });
	});

	test('a builder mistake is refused before any request', async () => {
		const error = await rejection(client().send(recipient(), { type: 'interactive', body: 'x', buttons: [{ id: 'a', title: 'A title that is far too long' }] }));
		expect(error).toMatchObject({ field: 'buttons[0].title', limit: 20 });
		expect(await requests()).toHaveLength(0);
	});
});

describe('errors Meta answers, as the sandbox produces them', () => {
	test('131047: free text outside the 24 h window', async () => {
		const error = await rejection(client().send(recipient(), { type: 'text', text: 'Hallo' }));
		expect(error).toBeInstanceOf(WhatsAppApiError);
		expect(error).toMatchObject({ metaCode: 131047, httpStatus: 400, retry: 'never', outcomeUnknown: false });
		expect(error.fix).toBe('The customer has not written in the last 24 hours: send an approved template instead');
		expect(error.fbtraceId).toMatch(/^[\w-]{23}$/);
		expect(await requests()).toHaveLength(1);
	});

	test('132000 names the template and the counts; 132001 the template and language', async () => {
		const counts = await rejection(client().send(recipient(), { type: 'template', name: 'newsletter', language: 'en', header: ['March'], body: ['Anna'] }));
		expect(counts).toMatchObject({ metaCode: 132000, retry: 'never' });
		expect(counts.fix).toContain("Template 'newsletter' expects 2 body parameters, got 1");
		const unknown = await rejection(client().send(recipient(), { type: 'template', name: 'welcome', language: 'fr' }));
		expect(unknown).toMatchObject({ metaCode: 132001 });
		expect(unknown.fix).toContain("Template 'welcome' does not exist in language 'fr'");
	});

	test('190: a wrong token, also for the credential test', async () => {
		const wrong = client({ accessToken: 'expired' });
		for (const error of [await rejection(wrong.send(recipient(), WELCOME)), await rejection(wrong.getPhoneNumber())]) {
			expect(error).toMatchObject({ metaCode: 190, httpStatus: 401, retry: 'never' });
			expect(error.fix).toBe('The access token is invalid or expired: create a new one and update the credential');
		}
		expect(await requests()).toHaveLength(2);
	});

	test('131026 undeliverable, 131050 marketing stopped, 100 unknown phone number id', async () => {
		expect(await rejection(client().send('+4915100000000', WELCOME))).toMatchObject({ metaCode: 131026, retry: 'never' });
		const stopped = recipient();
		await control('POST', 'preferences', { waId: stopped.slice(1), value: 'stop' });
		const marketing = await rejection(client().send(stopped, { type: 'template', name: 'newsletter', language: 'en', header: ['March'], body: ['Anna', 'News'] }));
		expect(marketing).toMatchObject({ metaCode: 131050, retry: 'never', marketingOptOut: true });
		expect(await rejection(client({ phoneNumberId: '999' }).send(recipient(), WELCOME))).toMatchObject({ metaCode: 100, retry: 'never' });
		expect(await requests()).toHaveLength(3);
	});

	test.each<[number, RetryAdvice, string, string]>([
		[131048, 'never', 'Spam rate limit hit', 'spam'],
		[131049, 'much-later', 'healthy ecosystem engagement', 'not an opt-out'],
		[131057, 'much-later', 'maintenance mode', 'about a minute'],
		[368, 'never', 'policies violations', 'policy violation'],
		[131031, 'never', 'Account has been locked', 'locked'],
		[133010, 'never', 'Not Registered', 'not registered'],
		[130472, 'never', 'part of an experiment', 'do not treat it as an opt-out'],
		[131042, 'never', 'payment issue', 'payment method'],
		[131026, 'never', 'Message Undeliverable', 'mark the number as undeliverable'],
		[132015, 'never', 'Template is Paused', "Template 'welcome' is paused"],
		[132016, 'never', 'Template is Disabled', "Template 'welcome' was paused too often and is disabled"],
		[424242, 'never', 'An unknown error occurred', ''],
	])('injected %i is classed %s and sent once, with Meta\'s title and the fix', async (code, retry, title, fix) => {
		await fault({ count: 3, kind: 'error', code });
		const error = await rejection(client({ maxAttempts: 3 }).send(recipient(), WELCOME));
		expect(error).toBeInstanceOf(WhatsAppApiError);
		expect(error).toMatchObject({ metaCode: code, retry, attempts: 1 });
		expect(error.message).toContain(title);
		expect(error.fix.length).toBeGreaterThan(10);
		expect(error.fix).toContain(fix);
		expect(await requests()).toHaveLength(1);
	});

	test.each([4, 80007])('injected %i (throttling, before Meta takes the message) is retried with backoff until it goes through', async (code) => {
		await fault({ count: 2, kind: 'error', code });
		const sent = await client({ maxAttempts: 3 }).send(recipient(), WELCOME);
		expect(sent.attempts).toBe(3);
		expect((await requests()).map((entry) => entry.outcome.code ?? entry.outcome.status)).toEqual([code, code, 'accepted']);
	});

	test.each([
		[1, 500],
		[2, 503],
		[131000, 500],
		[131016, 503],
		[999_998, 500],
	])('injected %i (HTTP %i) on a send is an unknown outcome: Meta does not say it was not sent, so it is not sent again', async (code, httpStatus) => {
		await fault({ count: 1, kind: 'error', code, httpStatus });
		const error = await rejection(client({ maxAttempts: 3 }).send(recipient(), WELCOME));
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ reason: 'server_error', metaCode: code, httpStatus, outcomeUnknown: true, retry: 'never', attempts: 1 });
		expect(error.message).toContain('may or may not have been sent');
		expect(await requests()).toHaveLength(1);
	});

	test('mark as read is harmless to repeat: 131016 and a bare 503 are retried there', async () => {
		const inbound = await control('POST', 'inbound', { from: recipient(), text: 'Hallo' });
		await fault({ count: 1, kind: 'error', code: 131016, httpStatus: 503 });
		await fault({ count: 1, kind: 'http5xx', status: 503 });
		await client({ maxAttempts: 3 }).markAsRead(inbound.messageId);
		expect((await requests()).map((entry) => entry.outcome.code ?? entry.outcome.status)).toEqual([131016, 'http5xx', 'ok']);
	});

	test('a bare 5xx without Meta’s envelope on a send is an unknown outcome, sent once; a bare 429 is retried', async () => {
		await fault({ count: 1, kind: 'http5xx', status: 502 });
		const error = await rejection(client({ maxAttempts: 2 }).send(recipient(), WELCOME));
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ reason: 'server_error', httpStatus: 502, attempts: 1 });
		expect(await requests()).toHaveLength(1);
	});

	test('no connection at all: a retryable ConnectionError, and nothing was sent', async () => {
		const port = await new Promise<number>((resolve) => {
			const probe = createServer().listen(0, '127.0.0.1', () => {
				const { port: free } = probe.address() as { port: number };
				probe.close(() => resolve(free));
			});
		});
		const error = await rejection(client({ baseUrl: `http://127.0.0.1:${port}`, maxAttempts: 2 }).send(recipient(), WELCOME));
		expect(error).toBeInstanceOf(ConnectionError);
		expect(error).toMatchObject({ retry: 'backoff', outcomeUnknown: false, attempts: 2 });
	});
});

describe('retries', () => {
	test('130429 honours Retry-After between attempts', async () => {
		await fault({ count: 2, kind: 'error', code: 130429 });
		const attemptTimes: number[] = [];
		const sent = await client({ maxAttempts: 4 }).send(recipient(), WELCOME, { beforeAttempt: async () => void attemptTimes.push(performance.now()) });
		expect(sent.attempts).toBe(3);
		const log = await requests();
		expect(log.map((entry) => entry.outcome.code ?? entry.outcome.status)).toEqual([130429, 130429, 'accepted']);
		// The sandbox asks for Retry-After: 1 (second); our own backoff is 20 ms, so only the header explains the wait.
		expect(attemptTimes[1] - attemptTimes[0]).toBeGreaterThanOrEqual(990);
		expect(attemptTimes[2] - attemptTimes[1]).toBeGreaterThanOrEqual(990);
	});

	test('131056 waits at least Meta’s 6 s pair spacing before the retry', async () => {
		await fault({ count: 1, kind: 'error', code: 131056 });
		const attemptTimes: number[] = [];
		const sent = await client().send(recipient(), WELCOME, { beforeAttempt: async () => void attemptTimes.push(performance.now()) });
		expect(sent.attempts).toBe(2);
		expect(attemptTimes[1] - attemptTimes[0]).toBeGreaterThanOrEqual(5990);
		expect(await requests()).toHaveLength(2);
	}, 20_000);

	test('gives up after maxAttempts with the last error and the count', async () => {
		await fault({ count: 5, kind: 'error', code: 80007 });
		const error = await rejection(client({ maxAttempts: 3 }).send(recipient(), WELCOME));
		expect(error).toMatchObject({ metaCode: 80007, attempts: 3 });
		expect(await requests()).toHaveLength(3);
	});
});

describe('timeouts: outcome unknown, never retried', () => {
	test('no answer in time is reported as outcome unknown and sent only once', async () => {
		await fault({ count: 1, kind: 'timeout' });
		const error = await rejection(client({ timeoutMs: 300, maxAttempts: 4 }).send(recipient(), WELCOME));
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ reason: 'timeout', outcomeUnknown: true, retryable: false, attempts: 1 });
		expect(error.message).toContain('may or may not have been sent');
		expect(await requests()).toHaveLength(1);
		// The next message is unaffected.
		expect((await client({ timeoutMs: 300 }).send(recipient(), WELCOME)).attempts).toBe(1);
	});

	test('why: the message went out although the answer never came', async () => {
		const to = recipient();
		await fault({ count: 1, kind: 'timeout', processed: true });
		expect(await rejection(client({ timeoutMs: 300 }).send(to, WELCOME))).toBeInstanceOf(OutcomeUnknownError);
		const chat = await control('GET', `chats/${to.slice(1)}`);
		expect(chat.messages.filter((message: { direction: string }) => message.direction === 'out')).toHaveLength(1);
		expect(await requests()).toHaveLength(1);
	});
});

describe('the consent hook before every attempt', () => {
	test('a refusing hook stops the send: the sandbox receives nothing, the error arrives unchanged', async () => {
		const withdrawn = new Error('consent withdrawn a millisecond ago');
		const error = await rejection(client().send(recipient(), WELCOME, { beforeAttempt: async () => Promise.reject(withdrawn) }));
		expect(error).toBe(withdrawn);
		expect(await requests()).toHaveLength(0);
	});

	test('it runs again before a retry, after the backoff: a withdrawal meanwhile stops the retry', async () => {
		await fault({ count: 1, kind: 'error', code: 130429 });
		const withdrawn = new Error('withdrawn during the backoff');
		let calls = 0;
		const error = await rejection(
			client({ maxAttempts: 4 }).send(recipient(), WELCOME, {
				beforeAttempt: async () => {
					calls += 1;
					if (calls === 2) throw withdrawn;
				},
			}),
		);
		expect(error).toBe(withdrawn);
		expect(calls).toBe(2);
		expect(await requests()).toHaveLength(1);
	});
});

describe('cancellation', () => {
	test('aborting a run stops it promptly and no further request reaches the sandbox', async () => {
		const whatsapp = client({ messagesPerSecond: 20 });
		const controller = new AbortController();
		const items = Array.from({ length: 200 }, () => recipient());
		const run = mapWithConcurrency(items, 10, (to) => whatsapp.send(to, WELCOME, { signal: controller.signal }), controller.signal);
		await new Promise((resolve) => setTimeout(resolve, 500));
		const abortedAt = performance.now();
		controller.abort(new Error('execution cancelled'));
		expect((await rejection(run)).message).toBe('execution cancelled');
		expect(performance.now() - abortedAt).toBeLessThan(200);
		const soon = (await requests()).length;
		await new Promise((resolve) => setTimeout(resolve, 1000));
		const later = (await requests()).length;
		expect(later).toBe(soon);
		// About 20/s for half a second went out; the other ~190 never started.
		expect(later).toBeGreaterThan(3);
		expect(later).toBeLessThan(20);
	});

	test('an abort during a Retry-After wait ends the send without another attempt', async () => {
		await fault({ count: 1, kind: 'error', code: 130429 });
		const controller = new AbortController();
		const send = client({ maxAttempts: 4 }).send(recipient(), WELCOME, { signal: controller.signal });
		setTimeout(() => controller.abort(new Error('stop')), 200);
		expect((await rejection(send)).message).toBe('stop');
		await new Promise((resolve) => setTimeout(resolve, 1200));
		expect(await requests()).toHaveLength(1);
	});

	test('an abort while waiting for the answer is outcome unknown', async () => {
		await fault({ count: 1, kind: 'timeout' });
		const controller = new AbortController();
		const send = client({ timeoutMs: 5000 }).send(recipient(), WELCOME, { signal: controller.signal });
		setTimeout(() => controller.abort(new Error('stop')), 200);
		expect(await rejection(send)).toMatchObject({ reason: 'cancelled', outcomeUnknown: true });
		expect(await requests()).toHaveLength(1);
	});
});
