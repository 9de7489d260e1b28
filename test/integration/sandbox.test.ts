// The WhatsApp Cloud API sandbox over real HTTP: Meta's errors and limits, templates, the service window,
// faults, signed webhooks in Meta's byte form, at-least-once delivery, and the phone page.
import { createHmac } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import { optionsFromEnv } from '../../sandbox/cli';
import { startSandbox, type Sandbox } from '../../sandbox/server';

const TOKEN = 'test-token';
const SECRET = 'test-app-secret';
const PHONE_ID = '100000000000001';
const ANNA = '4915112345678';

interface Answer {
	status: number;
	headers: Headers;
	body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let sandbox: Sandbox;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
	const response = await fetch(`${sandbox.url}${path}`, {
		method,
		headers: { 'Content-Type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await response.text();
	let parsed: unknown = text;
	try {
		parsed = JSON.parse(text);
	} catch {
		// a bare 5xx or an HTML page: keep the text
	}
	return { status: response.status, headers: response.headers, body: parsed };
}

function send(message: Record<string, unknown>, version = 'v23.0'): Promise<Answer> {
	return call('POST', `/${version}/${PHONE_ID}/messages`, { messaging_product: 'whatsapp', ...message }, { Authorization: `Bearer ${TOKEN}` });
}

function text(to: string, body = 'Hello'): Promise<Answer> {
	return send({ to, type: 'text', text: { body } });
}

function template(to: string, name: string, code: string, components: unknown[] = []): Promise<Answer> {
	return send({ to, type: 'template', template: { name, language: { code }, components } });
}

function welcome(to: string, name = 'Anna'): Promise<Answer> {
	return template(to, 'welcome', 'de', [{ type: 'body', parameters: [{ type: 'text', text: name }] }]);
}

function newsletter(to: string): Promise<Answer> {
	return template(to, 'newsletter', 'en', [
		{ type: 'header', parameters: [{ type: 'text', text: 'March' }] },
		{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: 'spring offers' }] },
	]);
}

function inbound(input: Record<string, unknown>): Promise<Answer> {
	return call('POST', '/_sandbox/inbound', input);
}

function control(method: string, path: string, body?: unknown): Promise<Answer> {
	return call(method, `/_sandbox/${path}`, body);
}

function expectMetaError(answer: Answer, code: number, httpStatus = 400): void {
	expect(answer.status).toBe(httpStatus);
	expect(answer.body.error).toEqual(
		expect.objectContaining({
			code,
			type: 'OAuthException',
			message: expect.any(String),
			fbtrace_id: expect.stringMatching(/^[A-Za-z0-9_-]{10,}$/),
			error_data: { messaging_product: 'whatsapp', details: expect.any(String) },
		}),
	);
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** A webhook endpoint that keeps the raw bytes and answers with the next status from a script (then 200). */
class Receiver {
	readonly received: { raw: Buffer; headers: IncomingHttpHeaders }[] = [];
	statuses: number[] = [];
	/** How long each answer is held back, and the most requests that were open at once. */
	holdMs = 0;
	open = 0;
	mostOpen = 0;
	private server!: Server;
	url = '';

	async start(): Promise<void> {
		this.server = createServer((request, response) => {
			this.mostOpen = Math.max(this.mostOpen, ++this.open);
			const chunks: Buffer[] = [];
			request.on('data', (chunk: Buffer) => chunks.push(chunk));
			request.on('end', () => {
				this.received.push({ raw: Buffer.concat(chunks), headers: request.headers });
				setTimeout(() => {
					this.open--;
					response.writeHead(this.statuses.shift() ?? 200);
					response.end();
				}, this.holdMs);
			});
		});
		await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
	}

	events(): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
		return this.received.map((r) => JSON.parse(r.raw.toString('utf8')));
	}

	statusesOf(wamid: string): string[] {
		return this.events()
			.map((event) => event.entry[0].changes[0].value.statuses?.[0])
			.filter((status) => status?.id === wamid)
			.map((status) => status.status);
	}

	clear(): void {
		this.received.length = 0;
		this.statuses = [];
		this.holdMs = 0;
		this.mostOpen = 0;
	}

	async stop(): Promise<void> {
		this.server.closeAllConnections();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}
}

const receiver = new Receiver();

beforeAll(async () => {
	await receiver.start();
	sandbox = await startSandbox({
		accessToken: TOKEN,
		appSecret: SECRET,
		webhookUrl: receiver.url,
		pairRateSeconds: 0,
		statusDelaysMs: { sent: 10, delivered: 30, read: 60 },
		redelivery: { initialDelayMs: 50, maxAttempts: 3 },
	});
});

afterAll(async () => {
	await sandbox.close();
	await receiver.stop();
});

beforeEach(async () => {
	await control('POST', 'reset');
	receiver.clear();
});

describe('Graph API: authentication and the phone number', () => {
	it('answers a missing or wrong bearer token with 190 (HTTP 401)', async () => {
		const missing = await call('POST', `/v23.0/${PHONE_ID}/messages`, { messaging_product: 'whatsapp', to: ANNA, text: { body: 'x' } });
		expectMetaError(missing, 190, 401);
		const wrong = await call('GET', `/v23.0/${PHONE_ID}`, undefined, { Authorization: 'Bearer nope' });
		expectMetaError(wrong, 190, 401);
	});

	it('describes the phone number for a credential test, under any version', async () => {
		const answer = await call('GET', `/v25.0/${PHONE_ID}`, undefined, { Authorization: `Bearer ${TOKEN}` });
		expect(answer.status).toBe(200);
		expect(answer.body).toEqual(
			expect.objectContaining({ verified_name: 'Sandbox Business', display_phone_number: '+49 30 1234567', id: PHONE_ID, quality_rating: 'GREEN' }),
		);
	});

	it('answers an unknown phone number id with 100', async () => {
		const answer = await call('POST', '/v23.0/999/messages', { messaging_product: 'whatsapp', to: ANNA, type: 'text', text: { body: 'x' } }, {
			Authorization: `Bearer ${TOKEN}`,
		});
		expectMetaError(answer, 100);
		expect(answer.body.error.error_subcode).toBe(33);
	});
});

describe('Graph API: request validation', () => {
	it('names a missing required parameter the way Meta does', async () => {
		const answer = await call('POST', `/v23.0/${PHONE_ID}/messages`, { to: ANNA, type: 'text', text: { body: 'x' } }, { Authorization: `Bearer ${TOKEN}` });
		expectMetaError(answer, 100);
		expect(answer.body.error.message).toBe('(#100) The parameter messaging_product is required.');

		const noBody = await send({ to: ANNA, type: 'text', text: {} });
		expect(noBody.body.error.message).toBe("(#100) The parameter text['body'] is required.");

		const noRecipient = await send({ type: 'text', text: { body: 'x' } });
		expectMetaError(noRecipient, 100);
	});

	it('refuses an unknown message type and interactive values out of range', async () => {
		expectMetaError(await send({ to: ANNA, type: 'fax', fax: {} }), 100);
		await inbound({ from: ANNA, text: 'hi' });
		const longTitle = await send({
			to: ANNA,
			type: 'interactive',
			interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'x'.repeat(21) } }] } },
		});
		expectMetaError(longTitle, 131009);
		expect(longTitle.body.error.error_data.details).toContain('Max length: 20');
		const fourButtons = await send({
			to: ANNA,
			type: 'interactive',
			interactive: {
				type: 'button',
				body: { text: 'Pick' },
				action: { buttons: ['a', 'b', 'c', 'd'].map((id) => ({ type: 'reply', reply: { id, title: id } })) },
			},
		});
		expectMetaError(fourButtons, 131009);
	});
});

describe('Graph API: the 24 h customer service window', () => {
	it('refuses free-form messages outside the window with 131047 and accepts them inside', async () => {
		expectMetaError(await text(ANNA), 131047);
		await inbound({ from: ANNA, name: 'Anna', text: 'Hallo' });
		const accepted = await text(`+${ANNA}`);
		expect(accepted.status).toBe(200);
		expect(accepted.body).toEqual({
			messaging_product: 'whatsapp',
			contacts: [{ input: `+${ANNA}`, wa_id: ANNA }],
			messages: [{ id: expect.stringMatching(/^wamid\.[A-Za-z0-9+/=]{40,120}$/) }],
		});
		for (const media of ['image', 'document', 'audio', 'video']) {
			const answer = await send({ to: ANNA, type: media, [media]: { link: 'https://example.com/file.pdf' } });
			expect(answer.status).toBe(200);
		}
	});

	it('closes the window 24 h after the last inbound message; templates still go out', async () => {
		await inbound({ from: ANNA, text: 'Hallo' });
		await control('POST', 'clock', { advanceSeconds: 24 * 3600 - 60 });
		expect((await text(ANNA)).status).toBe(200);
		await control('POST', 'clock', { advanceSeconds: 61 });
		expectMetaError(await text(ANNA), 131047);
		expect((await welcome(ANNA)).status).toBe(200);
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body.serviceWindowOpenUntil).toBeNull();
	});
});

describe('Graph API: templates', () => {
	it('answers an unknown template name or language with 132001', async () => {
		const unknownName = await template(ANNA, 'does_not_exist', 'de');
		expectMetaError(unknownName, 132001);
		expect(unknownName.body.error.error_data.details).toBe('template name (does_not_exist) does not exist in de');
		expectMetaError(await template(ANNA, 'welcome', 'fr', [{ type: 'body', parameters: [{ type: 'text', text: 'A' }] }]), 132001);
	});

	it('answers a wrong body or header parameter count with 132000 naming expected and got', async () => {
		const none = await template(ANNA, 'welcome', 'de');
		expectMetaError(none, 132000);
		expect(none.body.error.error_data.details).toBe('body: number of localizable_params (0) does not match the expected number of params (1)');

		const noHeader = await template(ANNA, 'newsletter', 'de', [
			{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: 'Angebote' }] },
		]);
		expectMetaError(noHeader, 132000);
		expect(noHeader.body.error.error_data.details).toContain('header: number of localizable_params (0)');
		expect(noHeader.body.error.error_data.details).toContain('expected number of params (1)');
	});

	it('accepts a positional template and renders it with its quick-reply button for the phone', async () => {
		const accepted = await newsletter(ANNA);
		expect(accepted.status).toBe(200);
		expect(accepted.body.messages[0].message_status).toBe('accepted');
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body.messages[0].template).toEqual(
			expect.objectContaining({
				name: 'newsletter',
				category: 'MARKETING',
				header: 'New in March',
				body: 'Hi Anna, spring offers',
				buttons: [{ type: 'quick_reply', text: 'Stop promotions', payload: 'Stop promotions' }],
			}),
		);
	});

	it('takes the quick-reply payload from the send, and lists the templates as Meta does', async () => {
		const answer = await template(ANNA, 'newsletter', 'de', [
			{ type: 'header', parameters: [{ type: 'text', text: 'März' }] },
			{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: 'Angebote' }] },
			{ type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'STOP_PROMOTIONS' }] },
		]);
		expect(answer.status).toBe(200);
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body.messages[0].template.buttons).toEqual([{ type: 'quick_reply', text: 'Stop promotions', payload: 'STOP_PROMOTIONS' }]);

		const list = await call('GET', '/v23.0/200000000000001/message_templates', undefined, { Authorization: `Bearer ${TOKEN}` });
		const names = list.body.data.map((t: { name: string; language: string }) => `${t.name}/${t.language}`);
		expect(names).toEqual(expect.arrayContaining(['welcome/de', 'welcome/en', 'newsletter/de', 'newsletter/en', 'order_update/de', 'order_update/en']));
	});

	it('pages the template list as Meta does; Meta pausing a template makes sends of it fail with 132015 until reset', async () => {
		const auth = { Authorization: `Bearer ${TOKEN}` };
		const first = await call('GET', '/v23.0/200000000000001/message_templates?limit=5', undefined, auth);
		expect(first.body.data).toHaveLength(5);
		expect(first.body.data[0]).toMatchObject({ id: expect.stringMatching(/^\d+$/), name: 'welcome', status: 'APPROVED' });
		expect(first.body.paging.next).toContain(`after=${first.body.paging.cursors.after}`);
		const rest = await call('GET', `/v23.0/200000000000001/message_templates?limit=5&after=${first.body.paging.cursors.after}`, undefined, auth);
		expect(rest.body.data.map((t: { name: string }) => t.name)).toEqual(['order_update', 'ticket_reply', 'ticket_reply', 'spring_sale', 'delivery_slot']);
		expect(rest.body.paging.next).toBeUndefined();

		expect((await control('POST', 'templates', { name: 'welcome', language: 'fr', status: 'PAUSED' })).status).toBe(404);
		expect((await control('POST', 'templates', { name: 'welcome', language: 'de', status: 'PAUSED', reason: 'LOW_QUALITY' })).body).toMatchObject({ status: 'PAUSED' });
		expectMetaError(await welcome(ANNA), 132015);
		await control('POST', 'reset');
		expect((await welcome(ANNA)).status).toBe(200);
	});

	it('needs parameter_name on every parameter of a named-parameter template', async () => {
		const named = [
			{ type: 'text', parameter_name: 'first_name', text: 'Anna' },
			{ type: 'text', parameter_name: 'order_id', text: 'A-1042' },
			{ type: 'text', parameter_name: 'status', text: 'unterwegs' },
		];
		const accepted = await template(ANNA, 'order_update', 'de', [{ type: 'body', parameters: named }]);
		expect(accepted.status).toBe(200);
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body.messages[0].template.body).toBe('Hallo Anna, Ihre Bestellung A-1042 ist unterwegs.');

		const positional = named.map(({ type, text: value }) => ({ type, text: value }));
		const refused = await template(ANNA, 'order_update', 'de', [{ type: 'body', parameters: positional }]);
		expectMetaError(refused, 132000);
		expect(refused.body.error.error_data.details).toContain('parameter_name');

		const wrongName = [...named.slice(0, 2), { type: 'text', parameter_name: 'state', text: 'x' }];
		expectMetaError(await template(ANNA, 'order_update', 'de', [{ type: 'body', parameters: wrongName }]), 132000);
	});
});

describe('Graph API: users', () => {
	it('refuses a number that is not on WhatsApp with 131026', async () => {
		expectMetaError(await welcome('4915112340000'), 131026);
	});

	it('refuses marketing templates to a user who stopped marketing in the app with 131050, other templates still go out', async () => {
		await control('POST', 'preferences', { waId: ANNA, value: 'stop' });
		expectMetaError(await newsletter(ANNA), 131050);
		expect((await welcome(ANNA)).status).toBe(200);
		await control('POST', 'preferences', { waId: ANNA, value: 'resume' });
		expect((await newsletter(ANNA)).status).toBe(200);
	});

	it('sends to a business-scoped user id through recipient', async () => {
		await inbound({ from: ANNA, userId: 'DE.1502576394655843', text: 'Hallo' });
		const answer = await send({ recipient: 'DE.1502576394655843', type: 'text', text: { body: 'Hi' } });
		expect(answer.status).toBe(200);
		expect(answer.body.contacts).toEqual([{ input: 'DE.1502576394655843', wa_id: ANNA, user_id: 'DE.1502576394655843' }]);
		expectMetaError(await send({ recipient: 'DE.9999999999', type: 'text', text: { body: 'Hi' } }), 100);
	});

	it('marks a received message as read', async () => {
		const { body } = await inbound({ from: ANNA, text: 'Hallo' });
		const answer = await send({ status: 'read', message_id: body.messageId });
		expect(answer).toEqual(expect.objectContaining({ status: 200, body: { success: true } }));
		expectMetaError(await send({ status: 'read', message_id: 'wamid.unknown' }), 100);
	});
});

describe('Graph API: limits', () => {
	it('answers over the throughput with 130429, HTTP 429 and Retry-After, and never accepts more than the limit per second', async () => {
		await control('PATCH', 'config', { throughputPerSecond: 4 });
		const numbers = Array.from({ length: 24 }, (_, i) => `49151123456${String(i).padStart(2, '0')}`);
		const answers = await Promise.all(numbers.map((number) => welcome(number)));
		const limited = answers.filter((answer) => answer.status === 429);
		expect(limited.length).toBeGreaterThan(0);
		for (const answer of limited) {
			expectMetaError(answer, 130429, 429);
			expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		}
		const { body } = await control('GET', 'messages');
		const acceptedAt = body.requests
			.filter((request: any) => request.outcome.status === 'accepted') // eslint-disable-line @typescript-eslint/no-explicit-any
			.map((request: any) => Date.parse(request.at)); // eslint-disable-line @typescript-eslint/no-explicit-any
		for (let i = 4; i < acceptedAt.length; i++) expect(acceptedAt[i] - acceptedAt[i - 4]).toBeGreaterThanOrEqual(1000);
	});

	it('answers a second message to the same user within the pair rate with 131056 (HTTP 400)', async () => {
		await control('PATCH', 'config', { pairRateSeconds: 6 });
		expect((await welcome(ANNA)).status).toBe(200);
		expectMetaError(await welcome(ANNA), 131056, 400);
		expect((await welcome('4915112345699')).status).toBe(200);
		await control('POST', 'clock', { advanceSeconds: 6 });
		expect((await welcome(ANNA)).status).toBe(200);
	});
});

describe('Fault injection', () => {
	it('fails the next N Graph calls with the injected Meta error, then recovers', async () => {
		await control('POST', 'faults', { count: 2, kind: 'error', code: 130429 });
		for (let i = 0; i < 2; i++) {
			const answer = await welcome(ANNA);
			expectMetaError(answer, 130429, 429);
			expect(answer.headers.get('retry-after')).toBe('1');
		}
		await control('PATCH', 'config', { pairRateSeconds: 0 });
		expect((await welcome(ANNA)).status).toBe(200);
		await control('POST', 'faults', { count: 1, kind: 'error', code: 1 });
		expectMetaError(await welcome(ANNA), 1, 500);
		await control('POST', 'faults', { count: 1, kind: 'error', code: 131047, httpStatus: 403 });
		expectMetaError(await welcome(ANNA), 131047, 403);
	});

	it('answers a bare 5xx or nothing at all, and logs each call with its outcome', async () => {
		await control('POST', 'faults', { count: 1, kind: 'http5xx', status: 503 });
		const unavailable = await welcome(ANNA);
		expect(unavailable.status).toBe(503);
		expect(typeof unavailable.body).toBe('string');

		await control('POST', 'faults', { count: 1, kind: 'timeout' });
		await expect(
			fetch(`${sandbox.url}/v23.0/${PHONE_ID}/messages`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(300) }),
		).rejects.toThrow();
		expect((await welcome(ANNA)).status).toBe(200);

		const { body } = await control('GET', 'messages');
		expect(body.requests.map((request: { outcome: unknown }) => request.outcome)).toEqual([
			{ status: 'http5xx', httpStatus: 503, fault: true },
			{ status: 'timeout', fault: true },
			{ status: 'accepted', httpStatus: 200, wamid: expect.stringMatching(/^wamid\./) },
		]);
	});

	it('can time out after the message went out, so a retry would send it twice', async () => {
		await control('POST', 'faults', { count: 1, kind: 'timeout', processed: true });
		const welcomeBody = {
			messaging_product: 'whatsapp',
			to: ANNA,
			type: 'template',
			template: { name: 'welcome', language: { code: 'de' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }] }] },
		};
		await expect(
			fetch(`${sandbox.url}/v23.0/${PHONE_ID}/messages`, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
				body: JSON.stringify(welcomeBody),
				signal: AbortSignal.timeout(300),
			}),
		).rejects.toThrow();
		const { body } = await control('GET', 'messages');
		expect(body.requests[0].outcome).toEqual({
			status: 'timeout',
			fault: true,
			processed: { status: 'accepted', httpStatus: 200, wamid: expect.stringMatching(/^wamid\./) },
		});
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body.messages).toHaveLength(1);
	});

	it('can answer a Meta error or a bare 5xx after the message went out (processed)', async () => {
		await control('POST', 'faults', { count: 1, kind: 'error', code: 131000, httpStatus: 500, processed: true });
		await control('POST', 'faults', { count: 1, kind: 'http5xx', status: 502, processed: true });
		expect((await welcome(ANNA)).status).toBe(500);
		expect((await welcome(ANNA)).status).toBe(502);
		const { body } = await control('GET', 'messages');
		const accepted = { status: 'accepted', httpStatus: 200, wamid: expect.stringMatching(/^wamid\./) };
		expect(body.requests.map((request: { outcome: unknown }) => request.outcome)).toEqual([
			{ status: 'error', httpStatus: 500, code: 131000, fault: true, processed: accepted },
			{ status: 'http5xx', httpStatus: 502, fault: true, processed: accepted },
		]);
		expect((await control('GET', `chats/${ANNA}`)).body.messages).toHaveLength(2);
	});

	it('can reset the connection instead of answering, before or after the message went out', async () => {
		await control('POST', 'faults', { count: 1, kind: 'reset' });
		await control('POST', 'faults', { count: 1, kind: 'reset', processed: true });
		for (let i = 0; i < 2; i++) await expect(welcome(ANNA)).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
		const { body } = await control('GET', 'messages');
		expect(body.requests.map((request: { outcome: unknown }) => request.outcome)).toEqual([
			{ status: 'reset', fault: true },
			{ status: 'reset', fault: true, processed: { status: 'accepted', httpStatus: 200, wamid: expect.stringMatching(/^wamid\./) } },
		]);
		expect((await control('GET', `chats/${ANNA}`)).body.messages).toHaveLength(1);
	});

	it('adds the configured latency to every Graph answer', async () => {
		await control('PATCH', 'config', { latencyMs: 300 });
		const started = Date.now();
		await welcome(ANNA);
		expect(Date.now() - started).toBeGreaterThanOrEqual(290);
	});
});

describe('Webhooks', () => {
	function hmac(raw: Buffer): string {
		return `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
	}

	it('signs the exact bytes sent, with every non-ASCII code point escaped as Meta does', async () => {
		const { body } = await inbound({ from: ANNA, name: 'Jürgen', text: 'Grüße 👋 STOPP' });
		const delivery = await waitFor(() => receiver.received[0], 'the inbound webhook');
		const raw = delivery.raw.toString('latin1');
		expect(raw).toContain('Gr\\u00fc\\u00dfe \\ud83d\\udc4b STOPP');
		expect(raw).toContain('J\\u00fcrgen');
		expect(/[^\x20-\x7e]/.test(raw)).toBe(false);
		expect(delivery.headers['x-hub-signature-256']).toBe(hmac(delivery.raw));
		const parsed = JSON.parse(delivery.raw.toString('utf8'));
		const reserialised = Buffer.from(JSON.stringify(parsed), 'utf8');
		expect(hmac(reserialised)).not.toBe(delivery.headers['x-hub-signature-256']);

		expect(parsed).toEqual({
			object: 'whatsapp_business_account',
			entry: [
				{
					id: '200000000000001',
					changes: [
						{
							field: 'messages',
							value: {
								messaging_product: 'whatsapp',
								metadata: { display_phone_number: '49301234567', phone_number_id: PHONE_ID },
								contacts: [{ profile: { name: 'Jürgen' }, wa_id: ANNA, user_id: expect.stringMatching(/^DE\.\d{16}$/) }],
								messages: [
									{ from: ANNA, id: body.messageId, timestamp: expect.stringMatching(/^\d{10}$/), type: 'text', text: { body: 'Grüße 👋 STOPP' } },
								],
							},
						},
					],
				},
			],
		});
	});

	it('keeps at most webhookConcurrency webhooks in flight, the rest in order, and lets them go when the bound is lifted', async () => {
		await control('PATCH', 'config', { webhookConcurrency: 2 });
		receiver.holdMs = 150;
		for (let n = 0; n < 8; n++) await inbound({ from: ANNA, text: `Nachricht ${n}` });
		// Eight webhooks at 2 at a time, 150 ms each: some are still held back after the first pair's answers.
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(receiver.received.length).toBeLessThan(8);
		await waitFor(async () => ((await control('GET', 'webhooks')).body.busy === false ? true : undefined), 'quiet');
		expect(receiver.mostOpen).toBe(2);
		const texts = receiver.events().map((event) => event.entry[0].changes[0].value.messages[0].text.body);
		expect(texts).toEqual(Array.from({ length: 8 }, (_, n) => `Nachricht ${n}`));
		expect(((await control('GET', 'webhooks')).body.deliveries as { attempts: unknown[] }[]).map((d) => d.attempts.length)).toEqual(Array(8).fill(1));

		// Held back with the receiver stopped answering, then the bound lifted: the rest go at once.
		receiver.holdMs = 400;
		receiver.mostOpen = 0;
		for (let n = 0; n < 6; n++) await inbound({ from: ANNA, text: `Später ${n}` });
		await control('PATCH', 'config', { webhookConcurrency: null });
		await waitFor(async () => ((await control('GET', 'webhooks')).body.busy === false ? true : undefined), 'quiet again');
		expect(receiver.mostOpen).toBeGreaterThan(2);
		expect((await control('PATCH', 'config', { webhookConcurrency: 0 })).status).toBe(400);
	});

	it('stays busy until the last status of the ladder has come, not only while a delivery is unanswered', async () => {
		// A test waits for quiet and then moves its clock or counts: a `read` still to come must keep it waiting.
		await control('PATCH', 'config', { statusDelaysMs: { sent: 10, delivered: 30, read: 400 } });
		await inbound({ from: ANNA, text: 'Hallo' });
		const wamid = (await text(ANNA)).body.messages[0].id;
		await waitFor(async () => ((await control('GET', 'webhooks')).body.busy === false ? true : undefined), 'quiet');
		expect(receiver.statusesOf(wamid)).toEqual(['sent', 'delivered', 'read']);
	});

	it('reports sent, delivered and read for an accepted message, without contacts', async () => {
		await inbound({ from: ANNA, text: 'Hallo' });
		const { body } = await text(ANNA);
		const wamid = body.messages[0].id;
		await waitFor(() => (receiver.statusesOf(wamid).length === 3 ? true : undefined), 'three statuses');
		expect(receiver.statusesOf(wamid)).toEqual(['sent', 'delivered', 'read']);
		const statusEvent = receiver.events().find((event) => event.entry[0].changes[0].value.statuses?.[0].status === 'delivered');
		const value = statusEvent.entry[0].changes[0].value;
		expect(value.contacts).toBeUndefined();
		expect(value.statuses[0]).toEqual(
			expect.objectContaining({ id: wamid, recipient_id: ANNA, pricing: expect.objectContaining({ category: 'service' }) }),
		);
	});

	it('reports a failed status with errors[] for a number that fails after acceptance', async () => {
		const { body } = await welcome('4915112340001');
		const wamid = body.messages[0].id;
		await waitFor(() => (receiver.statusesOf(wamid).includes('failed') ? true : undefined), 'the failed status');
		const failed = receiver
			.events()
			.map((event) => event.entry[0].changes[0].value.statuses?.[0])
			.find((status) => status?.status === 'failed');
		expect(failed.errors).toEqual([expect.objectContaining({ code: 131026, title: expect.any(String), error_data: { details: expect.any(String) } })]);
	});

	it('sends the in-app marketing switch as a user_preferences webhook', async () => {
		await control('POST', 'preferences', { waId: ANNA, value: 'stop' });
		const event = (await waitFor(() => receiver.events()[0], 'the preference webhook')) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
		expect(event.entry[0].changes[0].field).toBe('user_preferences');
		expect(event.entry[0].changes[0].value.user_preferences).toEqual([
			{ wa_id: ANNA, category: 'marketing_messages', value: 'stop', detail: expect.any(String), timestamp: expect.any(Number) },
		]);
	});

	it('carries a tapped quick-reply button with the context of the template message', async () => {
		const { body } = await newsletter(ANNA);
		await inbound({ from: ANNA, button: { payload: 'Stop promotions', text: 'Stop promotions' } });
		const message = await waitFor(
			() => receiver.events().map((event) => event.entry[0].changes[0].value.messages?.[0]).find((m) => m !== undefined),
			'the button message',
		);
		expect(message).toEqual(
			expect.objectContaining({
				type: 'button',
				button: { payload: 'Stop promotions', text: 'Stop promotions' },
				context: { from: '49301234567', id: body.messages[0].id },
			}),
		);
	});

	it('delivers every webhook once more per configured duplicate, byte for byte', async () => {
		await control('PATCH', 'config', { duplicateDeliveries: 2 });
		await inbound({ from: ANNA, text: 'Hallo' });
		await waitFor(() => (receiver.received.length >= 3 ? true : undefined), 'three copies');
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(receiver.received).toHaveLength(3);
		expect(new Set(receiver.received.map((r) => r.raw.toString('hex'))).size).toBe(1);
	});

	it('redelivers with backoff while the receiver answers 500, and logs every attempt', async () => {
		receiver.statuses = [500, 500];
		await inbound({ from: ANNA, text: 'Hallo' });
		const log = await waitFor(async () => {
			const { body } = await control('GET', 'webhooks');
			return body.deliveries[0]?.state === 'delivered' ? body.deliveries[0] : undefined;
		}, 'the redelivery');
		expect(log.attempts.map((attempt: { httpStatus: number }) => attempt.httpStatus)).toEqual([500, 500, 200]);
		const gaps = log.attempts.slice(1).map((attempt: { at: string }, i: number) => Date.parse(attempt.at) - Date.parse(log.attempts[i].at));
		// Each wait starts when the previous attempt was answered, so the gaps are at least 50 ms, then 100 ms.
		expect(gaps[0]).toBeGreaterThanOrEqual(49);
		expect(gaps[1]).toBeGreaterThanOrEqual(99);
		expect(receiver.received).toHaveLength(3);
		expect(new Set(receiver.received.map((r) => r.headers['x-hub-signature-256'])).size).toBe(1);
	});

	it('gives up after the configured attempts when the receiver is unreachable', async () => {
		const unreachable = new Receiver();
		await unreachable.start();
		await unreachable.stop();
		await control('PATCH', 'config', { webhookUrl: unreachable.url });
		await inbound({ from: ANNA, text: 'Hallo' });
		const log = await waitFor(async () => {
			const { body } = await control('GET', 'webhooks');
			return body.deliveries[0]?.state === 'failed' ? body.deliveries[0] : undefined;
		}, 'the failed delivery');
		expect(log.attempts).toHaveLength(3);
		expect(log.attempts[0].error).toMatch(/ECONNREFUSED/);
	});

	it('keeps events in the log without delivering them when no webhook URL is set', async () => {
		await control('PATCH', 'config', { webhookUrl: null });
		await inbound({ from: ANNA, text: 'Hallo' });
		const { body } = await control('GET', 'webhooks');
		expect(body.deliveries).toEqual([expect.objectContaining({ kind: 'message', state: 'not_delivered', attempts: [] })]);
		expect(receiver.received).toHaveLength(0);
	});

	it('shuffles webhooks within a batch when reordering is on, and still delivers each one', async () => {
		await control('PATCH', 'config', { reorderDeliveries: true });
		const count = 20;
		const sent = await Promise.all(Array.from({ length: count }, (_, i) => inbound({ from: ANNA, text: `message ${i}` })));
		await waitFor(() => (receiver.received.length >= count ? true : undefined), 'all webhooks');
		const { body } = await control('GET', 'webhooks');
		const emitted = body.deliveries.map((d: { payload: any }) => d.payload.entry[0].changes[0].value.messages[0].id); // eslint-disable-line @typescript-eslint/no-explicit-any
		const arrived = receiver.events().map((event) => event.entry[0].changes[0].value.messages[0].id);
		expect(new Set(arrived)).toEqual(new Set(sent.map((answer) => answer.body.messageId)));
		expect(arrived).not.toEqual(emitted);
	});
});

describe('Control API', () => {
	it('logs every Graph request in order with its outcome', async () => {
		await welcome(ANNA);
		await template(ANNA, 'nope', 'de');
		const { body } = await control('GET', 'messages');
		expect(body.requests).toEqual([
			expect.objectContaining({ seq: 1, method: 'POST', outcome: expect.objectContaining({ status: 'accepted', wamid: expect.any(String) }) }),
			expect.objectContaining({ seq: 2, outcome: { status: 'error', httpStatus: 400, code: 132001 } }),
		]);
	});

	it('pages its logs for a test that polls them while they grow: deliveries by state, messages after a seq', async () => {
		// Messages from the customer only: each is one delivery at once, with no statuses coming later.
		for (let n = 0; n < 3; n++) await inbound({ from: ANNA, text: `Hallo ${n}` });
		const all = (await control('GET', 'webhooks')).body as { deliveries: { id: string; state: string }[]; total: number };
		expect(all.total).toBe(3);
		expect(all.deliveries).toHaveLength(3);
		const page = (await control('GET', 'webhooks?offset=1&limit=1')).body as typeof all;
		expect(page).toMatchObject({ total: 3 });
		expect(page.deliveries.map((delivery) => delivery.id)).toEqual([all.deliveries[1].id]);
		// States move on by themselves (a delivery is attempted, then answered), so the filter is checked on its own answer.
		const state = all.deliveries[0].state;
		const inState = (await control('GET', `webhooks?state=${state}`)).body as typeof all;
		expect(inState.total).toBeGreaterThanOrEqual(1);
		expect(inState.deliveries.map((delivery) => delivery.state)).toEqual(Array(inState.total).fill(state));
		expect((await control('GET', 'webhooks?state=no-such-state')).body).toMatchObject({ deliveries: [], total: 0 });
		for (let n = 0; n < 3; n++) await text(ANNA, `Antwort ${n}`);
		expect((await control('GET', 'messages?after=2')).body.requests.map((request: { seq: number }) => request.seq)).toEqual([3]);
		expect((await control('GET', 'messages?after=3')).body.requests).toEqual([]);
		for (const bad of ['messages?after=-1', 'webhooks?limit=2.5', 'webhooks?offset=x']) {
			const answer = await control('GET', bad);
			expect(answer.status).toBe(400);
			expect(answer.body.error).toMatch(/must be a whole number of at least 0/);
		}
	});

	it('shows the chat with a customer and the state of their window and marketing switch', async () => {
		await inbound({ from: ANNA, name: 'Anna', text: 'Hallo' });
		await text(ANNA, 'Hi Anna');
		const chat = await control('GET', `chats/${ANNA}`);
		expect(chat.body).toEqual(
			expect.objectContaining({ waId: ANNA, name: 'Anna', marketing: 'resume', serviceWindowOpenUntil: expect.any(String) }),
		);
		expect(chat.body.messages.map((m: { direction: string; text: string }) => [m.direction, m.text])).toEqual([
			['in', 'Hallo'],
			['out', 'Hi Anna'],
		]);
		const list = await control('GET', 'chats');
		expect(list.body.chats.map((c: { waId: string }) => c.waId)).toEqual([ANNA]);
	});

	it('refuses malformed control input with 400 and a reason', async () => {
		const both = await inbound({ from: ANNA, text: 'x', button: { payload: 'a', text: 'a' } });
		expect(both.status).toBe(400);
		expect(both.body.error).toContain('exactly one');
		expect((await control('POST', 'faults', { count: 1, kind: 'explode' })).status).toBe(400);
		expect((await control('PATCH', 'config', { latencyMs: -1 })).status).toBe(400);
		expect((await control('GET', 'nothing')).status).toBe(404);
	});

	it('resets state and settings to how the sandbox started', async () => {
		await control('PATCH', 'config', { latencyMs: 5 });
		await inbound({ from: ANNA, text: 'Hallo' });
		await control('POST', 'reset');
		const config = await control('GET', 'config');
		expect(config.body.latencyMs).toBe(0);
		expect(config.body.accessToken).toBeUndefined();
		expect((await control('GET', 'messages')).body.requests).toEqual([]);
		expect((await control('GET', 'chats')).body.chats).toEqual([]);
		expectMetaError(await text(ANNA), 131047);
	});
});

describe('Control API: cross-site requests', () => {
	/** A raw request, as a browser would send it: any Host, Origin and Sec-Fetch-Site, a text/plain body. */
	function raw(path: string, headers: Record<string, string>, body = '{"from":"4915112345678","text":"STOP"}'): Promise<{ status: number; body: string }> {
		return new Promise((resolve, reject) => {
			const req = httpRequest(`${sandbox.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers } }, (res) => {
				let text = '';
				res.on('data', (chunk) => (text += chunk));
				res.on('end', () => resolve({ status: res.statusCode!, body: text }));
			});
			req.on('error', reject);
			req.end(body);
		});
	}
	const own = () => new URL(sandbox.url).host;
	const chats = async () => (await control('GET', 'chats')).body.chats;

	it('refuses a text/plain POST from any other site, and it changes nothing', async () => {
		let refused = 0;
		await fc.assert(
			fc.asyncProperty(fc.webUrl({ withQueryParameters: false, withFragments: false }), fc.constantFrom('inbound', 'reset', 'preferences', 'faults', 'clock'), async (page, endpoint) => {
				const origin = new URL(page).origin;
				fc.pre(origin !== `http://${own()}`);
				const answer = await raw(`/_sandbox/${endpoint}`, { Origin: origin });
				expect(answer.status).toBe(403);
				expect(JSON.parse(answer.body).error).toContain('refuses requests from other sites');
				refused++;
			}),
			{ numRuns: 60, seed: 11 },
		);
		expect(refused).toBeGreaterThan(50);
		expect(await chats()).toEqual([]);
	});

	it('refuses what the browser marks cross-site or same-site, and a Host that is not this machine (DNS rebinding)', async () => {
		for (const site of ['cross-site', 'same-site']) expect((await raw('/_sandbox/inbound', { 'Sec-Fetch-Site': site })).status).toBe(403);
		await fc.assert(
			fc.asyncProperty(fc.domain(), async (name) => {
				fc.pre(!['localhost', '127.0.0.1'].includes(name.toLowerCase()));
				const host = `${name}:${new URL(sandbox.url).port}`;
				const answer = await raw('/_sandbox/inbound', { Host: host, Origin: `http://${host}` });
				expect(answer.status).toBe(403);
				expect(JSON.parse(answer.body).error).toContain('only requests to 127.0.0.1 or localhost');
			}),
			{ numRuns: 30, seed: 12 },
		);
		expect(await chats()).toEqual([]);
	});

	it('answers its own page, and tools that send no Origin (n8n, curl)', async () => {
		expect((await raw('/_sandbox/inbound', { Origin: `http://${own()}`, 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
		expect((await raw('/_sandbox/inbound', { Host: `localhost:${new URL(sandbox.url).port}` }, '{"from":"4915112345679","text":"Hallo"}')).status).toBe(200);
		expect((await chats()).map((chat: { waId: string }) => chat.waId).sort()).toEqual([ANNA, '4915112345679']);
	});
});

describe('CLI settings', () => {
	const saved = { ...process.env };
	afterEach(() => {
		process.env = { ...saved };
	});

	it('reads the sandbox settings from the environment and refuses a malformed number', () => {
		process.env.SANDBOX_WEBHOOK_URL = 'http://127.0.0.1:5678/webhook';
		process.env.SANDBOX_LATENCY_MS = '25';
		process.env.SANDBOX_REORDER_DELIVERIES = 'true';
		delete process.env.SANDBOX_PORT;
		expect(optionsFromEnv()).toEqual(
			expect.objectContaining({ port: 8787, webhookUrl: 'http://127.0.0.1:5678/webhook', latencyMs: 25, reorderDeliveries: true }),
		);
		process.env.SANDBOX_LATENCY_MS = 'slow';
		expect(() => optionsFromEnv()).toThrow("SANDBOX_LATENCY_MS must be a number of 0 or more, got 'slow'");
		process.env.SANDBOX_LATENCY_MS = '25';
		process.env.SANDBOX_WEBHOOK_CONCURRENCY = '50';
		expect(optionsFromEnv()).toEqual(expect.objectContaining({ webhookConcurrency: 50 }));
		process.env.SANDBOX_WEBHOOK_CONCURRENCY = '0';
		expect(() => optionsFromEnv()).toThrow("SANDBOX_WEBHOOK_CONCURRENCY must be a number of 1 or more, got '0'");
	});
});

describe('Phone page', () => {
	it('serves the page and its assets from the sandbox only', async () => {
		const page = await fetch(`${sandbox.url}/`);
		expect(page.status).toBe(200);
		expect(page.headers.get('content-type')).toContain('text/html');
		expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
		const html = await page.text();
		expect(html).toContain('phone.js');
		expect(html).not.toMatch(/(src|href)="https?:/);
		expect((await fetch(`${sandbox.url}/phone.css`)).status).toBe(200);
		const script = await fetch(`${sandbox.url}/phone.js`);
		expect(script.headers.get('content-type')).toContain('javascript');
		const source = await script.text();
		expect(() => new Function(source)).not.toThrow();
		expect(source).not.toMatch(/https?:\/\//);
		expect((await fetch(`${sandbox.url}/../package.json`)).status).toBe(404);
	});
});
