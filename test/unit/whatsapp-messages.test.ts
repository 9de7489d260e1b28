import { ValidationError } from '../../lib/errors';
import { buildMessage, markAsReadRequest, MessageLimitError, recipientKey } from '../../lib/whatsapp/messages';

const TO = '+4915112345678';

function limitError(run: () => unknown): MessageLimitError {
	try {
		run();
	} catch (error) {
		expect(error).toBeInstanceOf(MessageLimitError);
		return error as MessageLimitError;
	}
	throw new Error('expected a MessageLimitError');
}

function validationError(run: () => unknown): ValidationError {
	try {
		run();
	} catch (error) {
		expect(error).toBeInstanceOf(ValidationError);
		return error as ValidationError;
	}
	throw new Error('expected a ValidationError');
}

describe('recipients', () => {
	test('an E.164 number goes into `to` as digits', () => {
		const body = buildMessage('+4915112345678', { type: 'text', text: 'Hi' });
		expect(body).toMatchObject({ messaging_product: 'whatsapp', recipient_type: 'individual', to: '4915112345678' });
		expect(body).not.toHaveProperty('recipient');
		expect(recipientKey(body)).toBe('4915112345678');
	});

	test('a business-scoped user id goes into `recipient`', () => {
		const body = buildMessage('BR.1502576394655843', { type: 'text', text: 'Hi' });
		expect(body).toMatchObject({ recipient: 'BR.1502576394655843' });
		expect(body).not.toHaveProperty('to');
		expect(recipientKey(body)).toBe('BR.1502576394655843');
	});

	test('something that is neither is refused before sending', () => {
		expect(validationError(() => buildMessage('call me', { type: 'text', text: 'Hi' })).field).toBe('to');
	});
});

describe('text', () => {
	test('body and preview_url', () => {
		expect(buildMessage(TO, { type: 'text', text: 'See https://example.com', previewUrl: true })).toEqual({
			messaging_product: 'whatsapp',
			recipient_type: 'individual',
			to: '4915112345678',
			type: 'text',
			text: { body: 'See https://example.com', preview_url: true },
		});
		expect(buildMessage(TO, { type: 'text', text: 'Hi' })).toMatchObject({ text: { preview_url: false } });
	});

	test('empty and over-long texts are named with the limit', () => {
		expect(validationError(() => buildMessage(TO, { type: 'text', text: '  ' })).field).toBe('text');
		const error = limitError(() => buildMessage(TO, { type: 'text', text: 'x'.repeat(4097) }));
		expect(error).toMatchObject({ field: 'text', limit: 4096, actual: 4097 });
		expect(error.message).toContain('at most 4096');
	});
});

describe('templates', () => {
	test('positional parameters, header, body and buttons', () => {
		const body = buildMessage(TO, {
			type: 'template',
			name: 'newsletter',
			language: 'de',
			header: ['März'],
			body: ['Anna', 'unsere Angebote'],
			buttons: [
				{ subType: 'quick_reply', index: 0, parameter: 'STOP_PROMOTIONS' },
				{ subType: 'url', index: 1, parameter: 'A-1042' },
			],
		});
		expect(body).toMatchObject({
			type: 'template',
			template: {
				name: 'newsletter',
				language: { code: 'de' },
				components: [
					{ type: 'header', parameters: [{ type: 'text', text: 'März' }] },
					{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: 'unsere Angebote' }] },
					{ type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'STOP_PROMOTIONS' }] },
					{ type: 'button', sub_type: 'url', index: '1', parameters: [{ type: 'text', text: 'A-1042' }] },
				],
			},
		});
	});

	test('named parameters carry parameter_name on every parameter', () => {
		const body = buildMessage(TO, { type: 'template', name: 'order_update', language: 'en_US', body: { first_name: 'Anna', order_id: 'A-1042' } });
		expect(body).toMatchObject({
			template: {
				language: { code: 'en_US' },
				components: [
					{
						type: 'body',
						parameters: [
							{ type: 'text', parameter_name: 'first_name', text: 'Anna' },
							{ type: 'text', parameter_name: 'order_id', text: 'A-1042' },
						],
					},
				],
			},
		});
	});

	test('a template without parameters has no components', () => {
		const body = buildMessage(TO, { type: 'template', name: 'hello_world', language: 'en_US' });
		expect(body).toMatchObject({ template: { name: 'hello_world' } });
		expect((body as { template: object }).template).not.toHaveProperty('components');
	});

	test('mistakes Meta would refuse are named locally', () => {
		expect(validationError(() => buildMessage(TO, { type: 'template', name: ' ', language: 'de' })).field).toBe('templateName');
		expect(validationError(() => buildMessage(TO, { type: 'template', name: 'welcome', language: 'German' })).field).toBe('language');
		expect(validationError(() => buildMessage(TO, { type: 'template', name: 'welcome', language: 'de', body: ['Anna\nMüller'] })).message).toContain(
			'body parameter 1 contains a line break',
		);
		expect(validationError(() => buildMessage(TO, { type: 'template', name: 'welcome', language: 'de', body: ['Anna', ''] })).field).toBe('body parameter 2');
		expect(validationError(() => buildMessage(TO, { type: 'template', name: 'order_update', language: 'de', body: { 'First Name': 'Anna' } })).message).toContain(
			'not a template parameter name',
		);
		expect(limitError(() => buildMessage(TO, { type: 'template', name: 'x', language: 'de', buttons: [{ subType: 'url', index: 10, parameter: 'a' }] })).limit).toBe(9);
	});
});

describe('interactive reply buttons', () => {
	const buttons = [
		{ id: 'yes', title: 'Ja, gerne' },
		{ id: 'no', title: 'Nein' },
	];

	test('body, header, footer and up to three buttons', () => {
		expect(buildMessage(TO, { type: 'interactive', header: 'Frage', body: 'Möchten Sie Angebote?', footer: 'Jederzeit abbestellbar', buttons })).toMatchObject({
			type: 'interactive',
			interactive: {
				type: 'button',
				header: { type: 'text', text: 'Frage' },
				body: { text: 'Möchten Sie Angebote?' },
				footer: { text: 'Jederzeit abbestellbar' },
				action: {
					buttons: [
						{ type: 'reply', reply: { id: 'yes', title: 'Ja, gerne' } },
						{ type: 'reply', reply: { id: 'no', title: 'Nein' } },
					],
				},
			},
		});
	});

	test.each([
		['buttons', { buttons: [...buttons, { id: 'c', title: 'C' }, { id: 'd', title: 'D' }] }, 3, 4],
		['buttons[1].title', { buttons: [buttons[0], { id: 'long', title: 'x'.repeat(21) }] }, 20, 21],
		['buttons[0].id', { buttons: [{ id: 'i'.repeat(257), title: 'ok' }] }, 256, 257],
		['body', { body: 'b'.repeat(1025) }, 1024, 1025],
		['footer', { footer: 'f'.repeat(61) }, 60, 61],
	])('%s over its limit is refused with the limit', (field, change, limit, actual) => {
		const error = limitError(() => buildMessage(TO, { type: 'interactive', body: 'Body', buttons, ...change }));
		expect(error).toMatchObject({ field, limit, actual });
		expect(error.message).toContain(String(limit));
	});

	test('a title of 20 characters counts emoji as one character and passes', () => {
		expect(() => buildMessage(TO, { type: 'interactive', body: 'B', buttons: [{ id: 'a', title: '👍'.repeat(20) }] })).not.toThrow();
	});

	test('no buttons, and two buttons with one id, are refused', () => {
		expect(limitError(() => buildMessage(TO, { type: 'interactive', body: 'B', buttons: [] })).actual).toBe(0);
		expect(validationError(() => buildMessage(TO, { type: 'interactive', body: 'B', buttons: [buttons[0], buttons[0]] })).message).toContain("'yes'");
	});
});

describe('media', () => {
	test('by link with caption, by id with file name', () => {
		expect(buildMessage(TO, { type: 'media', mediaType: 'image', link: 'https://example.com/a.jpg', caption: 'Neu' })).toMatchObject({
			type: 'image',
			image: { link: 'https://example.com/a.jpg', caption: 'Neu' },
		});
		expect(buildMessage(TO, { type: 'media', mediaType: 'document', id: '1234', filename: 'menu.pdf' })).toMatchObject({
			type: 'document',
			document: { id: '1234', filename: 'menu.pdf' },
		});
		expect(buildMessage(TO, { type: 'media', mediaType: 'audio', id: '99' })).toEqual(expect.objectContaining({ type: 'audio', audio: { id: '99' } }));
	});

	test('id and link, neither, a bad link, an audio caption, a file name on a video', () => {
		expect(validationError(() => buildMessage(TO, { type: 'media', mediaType: 'image', id: '1', link: 'https://e.com/a.jpg' })).field).toBe('media');
		expect(validationError(() => buildMessage(TO, { type: 'media', mediaType: 'image' })).field).toBe('media');
		expect(validationError(() => buildMessage(TO, { type: 'media', mediaType: 'image', link: 'ftp://e.com/a.jpg' })).field).toBe('link');
		expect(validationError(() => buildMessage(TO, { type: 'media', mediaType: 'audio', id: '1', caption: 'x' })).field).toBe('caption');
		expect(validationError(() => buildMessage(TO, { type: 'media', mediaType: 'video', id: '1', filename: 'a.mp4' })).field).toBe('filename');
		expect(limitError(() => buildMessage(TO, { type: 'media', mediaType: 'video', id: '1', caption: 'c'.repeat(1025) })).limit).toBe(1024);
	});
});

test('mark as read', () => {
	expect(markAsReadRequest('wamid.ABC')).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.ABC' });
	expect(validationError(() => markAsReadRequest('')).field).toBe('messageId');
});
