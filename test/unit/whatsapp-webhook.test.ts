import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { ValidationError } from '../../lib/errors';
import { parseTriggerItem, parseWebhook, parseWebhookFor, verifySignature, type WebhookEvent } from '../../lib/whatsapp/webhook';

const SECRET = 'app-secret';
const METADATA = { display_phone_number: '49301234567', phone_number_id: '100000000000001' };

/** Meta's byte form: every non-ASCII code point as \uXXXX and `/` as `\/`. */
function metaBytes(payload: unknown): Buffer {
	const text = JSON.stringify(payload)
		.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
		.replace(/\//g, '\\/');
	return Buffer.from(text, 'utf8');
}

function sign(raw: Buffer, secret = SECRET): string {
	return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

function webhook(value: Record<string, unknown>, field = 'messages') {
	return { object: 'whatsapp_business_account', entry: [{ id: '200000000000001', changes: [{ value: { messaging_product: 'whatsapp', metadata: METADATA, ...value }, field }] }] };
}

const contacts = [{ profile: { name: 'Jürgen Müller' }, wa_id: '4915112345678', user_id: 'DE.1502576394655843' }];

function message(fields: Record<string, unknown>) {
	return webhook({ contacts, messages: [{ from: '4915112345678', id: 'wamid.IN1', timestamp: '1764340000', ...fields }] });
}

describe('verifySignature', () => {
	const payload = message({ type: 'text', text: { body: 'Grüße 👋 https://example.com/a' } });
	const raw = metaBytes(payload);

	test('accepts the HMAC of the raw bytes, non-ASCII escaped as Meta sends them', () => {
		expect(raw.toString()).toContain('Gr\\u00fc\\u00dfe \\ud83d\\udc4b https:\\/\\/example.com');
		expect(verifySignature(raw, sign(raw), SECRET)).toBe(true);
	});

	test('a re-serialised body does not verify', () => {
		const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw.toString())), 'utf8');
		expect(JSON.parse(reserialised.toString())).toEqual(payload);
		expect(verifySignature(reserialised, sign(raw), SECRET)).toBe(false);
	});

	test('refuses a wrong secret, a changed byte, a missing, unprefixed, short, long or non-hex header', () => {
		const good = sign(raw);
		const changed = Buffer.from(raw);
		changed[changed.length - 2] ^= 1;
		expect(verifySignature(raw, sign(raw, 'other'), SECRET)).toBe(false);
		expect(verifySignature(changed, good, SECRET)).toBe(false);
		expect(verifySignature(raw, undefined, SECRET)).toBe(false);
		expect(verifySignature(raw, good.slice('sha256='.length), SECRET)).toBe(false);
		expect(verifySignature(raw, good.slice(0, -2), SECRET)).toBe(false);
		expect(verifySignature(raw, `${good}00`, SECRET)).toBe(false);
		expect(verifySignature(raw, `sha256=${'zz'.repeat(32)}`, SECRET)).toBe(false);
		expect(verifySignature(raw, good, '')).toBe(false);
	});
});

describe('verifySignature against generated hostile headers (fast-check)', () => {
	const raw = metaBytes(message({ type: 'text', text: { body: 'STOP' } }));
	const good = sign(raw);
	const hex = good.slice('sha256='.length);
	/** What may pass: one header, `sha256=` and exactly 64 hex characters, equal to the HMAC of the bytes. */
	const oracle = (header: unknown) => typeof header === 'string' && /^sha256=[0-9a-fA-F]{64}$/.test(header) && header.slice(7).toLowerCase() === hex;
	const anyText = fc.string({ unit: 'binary', maxLength: 80 });
	const hexText = fc.stringMatching(/^[0-9a-fA-F]{0,70}$/);
	const header = fc.oneof(
		// Anything at all, and anything after the prefix.
		anyText,
		anyText.map((tail) => `sha256=${tail}`),
		hexText.map((digits) => `sha256=${digits}`),
		// The right signature with something around it: whitespace, another value, half a hex digit, garbage.
		fc.tuple(anyText, anyText).filter(([before, after]) => before + after !== '').map(([before, after]) => `${before}${good}${after}`),
		fc.tuple(fc.constantFrom('', ' ', '\t', '\n', '0', 'z', 'g', '=', ',', ';'), fc.constantFrom('', ' ', '\t', '\r\n', '0', 'a', 'zz', '\u0000')).map(([before, after]) => `${before}${good}${after}`),
		// One character of the digest replaced, removed or the prefix's case changed.
		fc.tuple(fc.nat({ max: 63 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 2 })).map(([at, by]) => `sha256=${hex.slice(0, at)}${by}${hex.slice(at + 1)}`),
		fc.nat({ max: 63 }).map((at) => `sha256=${hex.slice(0, at)}${hex.slice(at + 1)}`),
		fc.mixedCase(fc.constant(good)),
		// Several headers: Node joins repeated headers with ", "; a framework may hand over an array.
		fc.array(fc.oneof(fc.constant(good), anyText.map((text) => `sha256=${text}`)), { minLength: 2, maxLength: 4 }).chain((values) =>
			fc.constantFrom(', ', ',', ' ,', '\n').map((separator) => values.join(separator)),
		),
		fc.array(fc.oneof(fc.constant(good), anyText), { minLength: 1, maxLength: 3 }),
		fc.constantFrom(undefined, null, 42, {}, Buffer.from(good)),
	);

	test('accepts exactly one `sha256=` + 64 hex digits of the right HMAC, and nothing else', () => {
		fc.assert(
			fc.property(header, (value) => {
				expect(verifySignature(raw, value as string | string[] | undefined, SECRET)).toBe(oracle(value));
			}),
			{ numRuns: 5000 },
		);
	});

	test('the generated inputs do reach the right signature, joined and repeated', () => {
		expect(verifySignature(raw, good, SECRET)).toBe(true);
		expect(verifySignature(raw, `sha256=${hex.toUpperCase()}`, SECRET)).toBe(true);
		expect(verifySignature(raw, `${good}, ${good}`, SECRET)).toBe(false);
		expect(verifySignature(raw, [good], SECRET)).toBe(false);
		expect(verifySignature(raw, [good, good], SECRET)).toBe(false);
		expect(verifySignature(raw, `${good}0`, SECRET)).toBe(false);
		expect(verifySignature(raw, `${good}zz`, SECRET)).toBe(false);
	});
});

describe('parseWebhook', () => {
	test('a text message with the sender’s profile, user id and business number', () => {
		expect(parseWebhook(message({ type: 'text', text: { body: 'STOP' }, context: { from: '49301234567', id: 'wamid.OUT1' } }))).toEqual<WebhookEvent[]>([
			{
				kind: 'message',
				messageId: 'wamid.IN1',
				from: '4915112345678',
				userId: 'DE.1502576394655843',
				profileName: 'Jürgen Müller',
				at: new Date(1764340000 * 1000),
				type: 'text',
				text: 'STOP',
				buttonPayload: undefined,
				interactiveId: undefined,
				contextMessageId: 'wamid.OUT1',
				phoneNumberId: '100000000000001',
			},
		]);
	});

	test('the "Stop promotions" quick reply of a marketing template', () => {
		const [event] = parseWebhook(message({ type: 'button', button: { payload: 'Stop promotions', text: 'Stop promotions' }, context: { id: 'wamid.T1' } }));
		expect(event).toMatchObject({ kind: 'message', type: 'button', text: 'Stop promotions', buttonPayload: 'Stop promotions', contextMessageId: 'wamid.T1' });
	});

	test('an interactive button reply', () => {
		const [event] = parseWebhook(message({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Ja, gerne' } } }));
		expect(event).toMatchObject({ kind: 'message', type: 'interactive', text: 'Ja, gerne', interactiveId: 'yes' });
	});

	test('statuses, a failed one with its errors, their pricing, and unknown fields, statuses and pricing shapes tolerated', () => {
		const events = parseWebhook(
			webhook({
				statuses: [
					{ id: 'wamid.OUT1', status: 'delivered', timestamp: '1764340001', recipient_id: '4915112345678', conversation: { id: 'c1' }, pricing: { category: 'service' } },
					{ id: 'wamid.OUT1', status: 'deleted', timestamp: '1764340002', recipient_id: '4915112345678' },
					{
						id: 'wamid.OUT2',
						status: 'failed',
						timestamp: 1764340003,
						recipient_id: '4915112340001',
						errors: [{ code: 131026, title: 'Message Undeliverable', message: 'Message Undeliverable', error_data: { details: 'not on WhatsApp' }, href: 'https://x' }],
					},
					// pricing Meta reshapes: the status stands, without it
					{ id: 'wamid.OUT3', status: 'sent', timestamp: '1764340004', pricing: { category: 42, type: ['regular'] } },
				],
				some_future_field: { anything: true },
			}),
		);
		expect(events).toEqual<WebhookEvent[]>([
			{ kind: 'status', messageId: 'wamid.OUT1', status: 'delivered', recipientId: '4915112345678', at: new Date(1764340001000), errors: undefined, pricing: { category: 'service' } },
			{
				kind: 'status',
				messageId: 'wamid.OUT2',
				status: 'failed',
				recipientId: '4915112340001',
				at: new Date(1764340003000),
				errors: [{ code: 131026, title: 'Message Undeliverable', message: 'Message Undeliverable', details: 'not on WhatsApp' }],
			},
			{ kind: 'status', messageId: 'wamid.OUT3', status: 'sent', at: new Date(1764340004000), pricing: undefined },
		]);
	});

	test('the in-app marketing switch (user_preferences)', () => {
		const events = parseWebhook(
			webhook(
				{
					contacts: [{ wa_id: '4915112345678', profile: { name: 'Anna' } }],
					user_preferences: [{ wa_id: '4915112345678', detail: 'User requested to stop marketing messages', category: 'marketing_messages', value: 'stop', timestamp: 1764340005 }],
				},
				'user_preferences',
			),
		);
		expect(events).toEqual<WebhookEvent[]>([
			{ kind: 'preference', waId: '4915112345678', userId: undefined, category: 'marketing_messages', value: 'stop', at: new Date(1764340005000) },
		]);
	});

	test('a system event without contacts: user_changed_number', () => {
		const events = parseWebhook(
			webhook({
				messages: [
					{
						from: '4915112345678',
						id: 'wamid.SYS1',
						timestamp: '1764340010',
						type: 'system',
						system: { body: 'User A changed from 4915112345678 to 4917612345678', wa_id: '4917612345678', type: 'user_changed_number' },
					},
				],
			}),
		);
		expect(events).toEqual<WebhookEvent[]>([
			{
				kind: 'system',
				type: 'user_changed_number',
				messageId: 'wamid.SYS1',
				from: '4915112345678',
				newWaId: '4917612345678',
				body: 'User A changed from 4915112345678 to 4917612345678',
				at: new Date(1764340010000),
			},
		]);
	});

	test('several entries and changes keep their order; other fields yield nothing', () => {
		const body = {
			object: 'whatsapp_business_account',
			entry: [
				{ id: '1', changes: [{ field: 'account_update', value: { event: 'VERIFIED_ACCOUNT', phone_number: '4930123' } }] },
				{ id: '1', changes: message({ type: 'text', text: { body: 'a' } }).entry[0].changes },
				{ id: '1', changes: webhook({ statuses: [{ id: 'wamid.X', status: 'read', timestamp: '1764340020' }] }).entry[0].changes },
			],
		};
		expect(parseWebhook(body).map((event) => event.kind)).toEqual(['message', 'status']);
	});

	test.each([
		['a page webhook', { object: 'page', entry: [] }],
		['no body', undefined],
		['a string', 'hello'],
	])('%s is a typed error', (_name, body) => {
		expect(() => parseWebhook(body)).toThrow(ValidationError);
		expect(() => parseWebhook(body)).toThrow(/not a WhatsApp Cloud API webhook/);
	});

	test('an event that cannot be read is a rejected event with the reason and Meta\'s bytes; its siblings are read', () => {
		const noId = { from: '4915112345678', timestamp: '1764340000', type: 'text', text: { body: 'no id' } };
		const body = webhook({
			contacts,
			messages: [
				noId,
				{ from: '4915112345678', id: 'wamid.OK', timestamp: '1764340001', type: 'reaction', reaction: { emoji: '👍' } },
			],
			statuses: [{ id: 'wamid.OUT1', status: 'failed', timestamp: '1764340002', errors: [{ code: '131050' }, { code: 'soon' }] }],
			user_preferences: [{ wa_id: '4915112345678', category: 'marketing_messages', value: 'snooze', timestamp: 1764340003 }],
		});
		const events = parseWebhook(body);
		expect(events.map((event) => event.kind)).toEqual(['rejected', 'message', 'rejected', 'rejected']);
		expect(events[0]).toEqual({ kind: 'rejected', reason: 'messages[0].id: Required', raw: noId, at: new Date(1764340000000) });
		// an unknown message type is an ordinary message, with no text: it means "other"
		expect(events[1]).toMatchObject({ kind: 'message', messageId: 'wamid.OK', type: 'reaction', text: '' });
		expect(events[2]).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/^statuses\[0\]\.errors\.1\.code: is not a number/) });
		expect(events[3]).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/^user_preferences\[0\]\.value: Invalid enum value/) });
		// a code as digits is the code
		const [failed] = parseWebhook(webhook({ statuses: [{ id: 'wamid.OUT1', status: 'failed', timestamp: '1764340002', errors: [{ code: '131050' }] }] }));
		expect(failed).toMatchObject({ kind: 'status', errors: [{ code: 131050 }] });
	});
});

describe('parseWebhookFor: events of one business number', () => {
	test('a change for another phone number id is counted, not returned; one without metadata is kept', () => {
		const own = message({ type: 'text', text: { body: 'STOP' } }).entry[0].changes[0];
		const other = { field: 'messages', value: { ...own.value, metadata: { display_phone_number: '4930999', phone_number_id: '100000000000999' } } };
		const bare = { field: 'messages', value: { ...own.value, metadata: undefined } };
		const body = { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [other, own, bare, other] }] };
		const { events, otherNumbers } = parseWebhookFor(body, '100000000000001');
		expect(events.map((event) => event.kind)).toEqual(['message', 'message']);
		expect(otherNumbers).toEqual([{ phoneNumberId: '100000000000999', events: 2 }]);
		expect(parseWebhookFor({ object: 'page' }, '1')).toEqual({
			events: [{ kind: 'rejected', reason: expect.stringMatching(/^This is not a WhatsApp Cloud API webhook/), raw: { object: 'page' }, at: undefined }],
			otherNumbers: [],
		});
	});
});

describe("parseTriggerItem: items of n8n's built-in WhatsApp Trigger", () => {
	// The trigger emits `{ ...change.value, field: change.field }` for every change.
	const item = (body: ReturnType<typeof webhook>) => ({ ...body.entry[0].changes[0].value, field: body.entry[0].changes[0].field });

	test('a message item', () => {
		const body = message({ type: 'button', button: { payload: 'STOP_PROMOTIONS', text: 'Stop promotions' } });
		expect(parseTriggerItem(item(body))).toEqual(parseWebhook(body));
		expect(parseTriggerItem(item(body))[0]).toMatchObject({ kind: 'message', from: '4915112345678', buttonPayload: 'STOP_PROMOTIONS', phoneNumberId: '100000000000001' });
	});

	test('a status item and a preference item', () => {
		const status = webhook({ statuses: [{ id: 'wamid.OUT1', status: 'read', timestamp: '1764340001', recipient_id: '4915112345678' }] });
		expect(parseTriggerItem(item(status))).toEqual([expect.objectContaining({ kind: 'status', status: 'read' })]);
		const preference = webhook({ user_preferences: [{ wa_id: '4915112345678', category: 'marketing_messages', value: 'resume', timestamp: '1764340005' }] }, 'user_preferences');
		expect(parseTriggerItem(item(preference))).toEqual([expect.objectContaining({ kind: 'preference', value: 'resume' })]);
	});

	test('a whole webhook body is accepted too', () => {
		const body = message({ type: 'text', text: { body: 'Hallo' } });
		expect(parseTriggerItem(body)).toEqual(parseWebhook(body));
	});

	test('an item that is no WhatsApp event yields no events', () => {
		expect(parseTriggerItem({ name: 'Anna', email: 'anna@example.com' })).toEqual([]);
	});
});
