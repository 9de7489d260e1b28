/** "Redact Personal Data in Output": what the nodes hand on (and n8n keeps) without numbers, ids or texts. */
import { maskIdentifier, redactPersonalData } from '../../lib/redact';

describe('redactPersonalData', () => {
	test('numbers, wa_ids and user ids keep their last 2 characters', () => {
		expect(maskIdentifier('+4915112345678')).toBe('+***78');
		expect(maskIdentifier('4915112345678')).toBe('***78');
		expect(maskIdentifier('DE.1502576394655843')).toBe('***43');
		expect(maskIdentifier('123')).toBe('***');
	});

	test('a status and a preference event: recipient, wamid and the send key masked, the rest kept', () => {
		const status = {
			event: 'status.updated',
			at: '2026-03-02T10:00:00.000Z',
			messageId: 'wamid.HBgNNDkxNTExMjM0NTY3OBUCABEYFDRBNzlDRkJENUU5RTRDMURCM0I1AA==',
			status: 'failed',
			recipientId: '4915112345678',
			sendKey: '611ed481d714:+4915112345678:newsletter-48:1e2da195ea1e473e',
			errors: [{ code: 131026, title: 'Message undeliverable' }],
		};
		expect(redactPersonalData(status)).toEqual({
			...status,
			messageId: 'wamid.***M0I1AA==',
			recipientId: '***78',
			sendKey: '611ed481d714:+***78:newsletter-48:1e2da195ea1e473e',
		});
		expect(redactPersonalData({ event: 'marketing.preference', waId: '4915112345678', userId: 'DE.1502576394655843', value: 'stop' })).toEqual({
			event: 'marketing.preference',
			waId: '***78',
			userId: '***43',
			value: 'stop',
		});
	});

	test("message texts, captions and profile names are dropped; the business's reply text stays; the input is not changed", () => {
		const event = {
			event: 'message.received',
			phone: '+4915112345678',
			profileName: 'Jürgen Groß',
			message: { id: 'wamid.X1234567890', type: 'text', text: 'Meine Adresse ist …', buttonPayload: 'YES' },
			reply: { to: '+4915112345678', text: 'Hier können Sie sich neu anmelden', language: 'de' },
			nested: [{ body: 'Hallo', caption: 'Foto', from: '4915112345678' }],
		};
		const copy = structuredClone(event);
		expect(redactPersonalData(event)).toEqual({
			event: 'message.received',
			phone: '+***78',
			message: { id: 'wamid.***34567890', type: 'text', buttonPayload: 'YES' },
			reply: { to: '+***78', text: 'Hier können Sie sich neu anmelden', language: 'de' },
			nested: [{ from: '***78' }],
		});
		expect(event).toEqual(copy);
	});
});
