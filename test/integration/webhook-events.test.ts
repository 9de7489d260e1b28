/**
 * Meta's webhooks, end to end below the n8n node: the local sandbox sends signed, Meta-shaped webhooks (non-ASCII
 * escaped as Meta does, each delivered three times and out of order) to a receiver that does what the Opt-In
 * Trigger does: check the signature over the raw bytes, commit in the ledger, then answer 200.
 */
import { processEvents } from '../../lib/events';
import type { Ledger } from '../../lib/consent/ledger';
import { workflowItems } from '../../lib/meta-delivery';
import { parseWebhook, WhatsAppClient } from '../../lib/whatsapp';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TEXT_DE } from '../helpers/ledgers';
import { control, sandboxIdle, startReceiver, until, type Receiver } from '../helpers/receiver';

const PHONE = '+4915112345678';
const WA_ID = '4915112345678';

describe.each(STORE_KINDS)('webhooks from the sandbox into the ledger (%s store)', (kind) => {
	let ledger: Ledger;
	let receiver: Receiver;
	let sandbox: Sandbox;

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		await ledger.definePurposes(PURPOSES);
		receiver = await startReceiver(ledger);
		sandbox = await startSandbox({ webhookUrl: receiver.url, duplicateDeliveries: 2, reorderDeliveries: true, pairRateSeconds: 0 });
	});

	afterEach(async () => {
		await sandbox.close();
		await receiver.close();
		await closeTestLedgers();
	});

	const ofType = (name: string) => receiver.emitted.filter((event) => event.event === name);

	test('#10 #11 the code confirms only from the number entered; three deliveries confirm once', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: '4915199999999', text: `Anmeldung bestätigen: ${code}` });
		const refused = await until('the refusal', () => ofType('optin.refused')[0]);
		expect(refused).toMatchObject({ outcome: 'wrong_number', hint: expect.stringMatching(/different WhatsApp number/) });

		await control(sandbox, 'inbound', { from: WA_ID, name: 'Jürgen Groß', text: `Grüße! Anmeldung bestätigen: ${code} 👋` });
		const confirmed = await until('the confirmation', () => ofType('optin.confirmed')[0]);
		expect(confirmed).toMatchObject({
			phone: PHONE,
			purposes: ['offers'],
			profileName: 'Jürgen Groß',
			reply: { to: PHONE, language: 'de', text: expect.stringContaining('Beispiel GmbH') },
		});
		expect((confirmed.reply as { text: string }).text).toMatch(/STOP/);
		await until('all deliveries', () => receiver.answers.length >= 6);
		expect(ofType('optin.confirmed')).toHaveLength(1);
		expect(receiver.answers.every((status) => status === 200)).toBe(true);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('#21 STOP variants withdraw, near-misses go to a person, "Stop promotions" and the in-app switch count', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers', 'service'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);

		await control(sandbox, 'inbound', { from: WA_ID, text: 'stop it please' });
		const question = await until('the near-miss', () => ofType('message.received').find((event) => (event.message as { text: string }).text === 'stop it please'));
		expect(question).toMatchObject({ meaning: 'other' });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });

		await control(sandbox, 'inbound', { from: WA_ID, text: 'STOPP!!' });
		const withdrawn = await until('the withdrawal', () => ofType('consent.withdrawn')[0]);
		expect(withdrawn).toMatchObject({ withdrawn: ['offers', 'service'], via: 'keyword', reply: { language: 'de' } });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });

		// a second subscriber taps Meta's "Stop promotions" button, a third flips the in-app switch
		const other = await ledger.requestOptIn({ phone: '+4915100000077', purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: '4915100000077', text: other.code });
		await until('the second confirmation', () => ofType('optin.confirmed').length === 2);
		await control(sandbox, 'inbound', { from: '4915100000077', button: { payload: 'Stop promotions', text: 'Stop promotions' } });
		await until('the button withdrawal', () => ofType('consent.withdrawn').find((event) => event.via === 'stop_promotions_button'));

		const third = await ledger.requestOptIn({ phone: '+4915100000078', purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: '4915100000078', text: third.code });
		await until('the third confirmation', () => ofType('optin.confirmed').length === 3);
		await control(sandbox, 'preferences', { waId: '4915100000078', value: 'stop' });
		await until('the preference', () => ofType('marketing.preference')[0]);
		expect(await ledger.mayMessage({ recipient: '+4915100000078', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'marketing_stopped_in_app' });

		await until('all deliveries', () => sandboxIdle(sandbox));
		expect(ofType('consent.withdrawn')).toHaveLength(2);
		expect(ofType('marketing.preference')).toHaveLength(1);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('delivery statuses move the send record forward once each, whatever the order', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);
		await ledger.reserveSend({ key: 'k-status', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		const client = new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0 });
		const sent = await client.send(PHONE, { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] });
		await ledger.completeSend('k-status', { wamid: sent.wamid });
		await until('three statuses', async () => ofType('status.updated').length === 3 && (await sandboxIdle(sandbox)));
		expect(ofType('status.updated').map((event) => event.status).sort()).toEqual(['delivered', 'read', 'sent']);
		const exported = await ledger.exportPerson(PHONE);
		expect(exported!.sends[0]).toMatchObject({ key: 'k-status', status: 'read', wamid: sent.wamid });
	});

	test('statuses that overtake the answer to the send are kept and applied when the send completes', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);
		await ledger.reserveSend({ key: 'k-overtaken', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		const client = new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0 });
		const sent = await client.send(PHONE, { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] });
		// the process that sent it is slow to record Meta's answer: every status arrives first
		await until('three statuses', async () => ofType('status.updated').length === 3 && (await sandboxIdle(sandbox)));
		expect(ofType('status.updated').every((event) => event.sendKey === undefined)).toBe(true);
		await ledger.completeSend('k-overtaken', { wamid: sent.wamid });
		expect((await ledger.exportPerson(PHONE))!.sends[0]).toMatchObject({ key: 'k-overtaken', status: 'read', wamid: sent.wamid });
	});

	test('#32 a changed number needs a new confirmation: the system event without contacts ends the old consent', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);
		const changed = {
			object: 'whatsapp_business_account',
			entry: [{ id: '200000000000001', changes: [{ field: 'messages', value: {
				messaging_product: 'whatsapp',
				metadata: { display_phone_number: '49301234567', phone_number_id: '100000000000001' },
				messages: [{ from: WA_ID, id: 'wamid.system-1', timestamp: String(Math.floor(Date.now() / 1000)), type: 'system',
					system: { body: 'User A changed from 4915112345678 to 4915199990000', wa_id: '4915199990000', type: 'user_changed_number' } }],
			} }] }],
		};
		const options = { replies: () => ({ business: 'Beispiel GmbH', fallbackLanguage: 'de' as const }), handOver: ledger.handOver('100000000000001') };
		await processEvents(ledger, parseWebhook(changed), options);
		await processEvents(ledger, parseWebhook(changed), options);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		const history = (await ledger.getConsent(PHONE))!.history.map((event) => event.type);
		expect(history.filter((type) => type === 'consent.withdrawn')).toHaveLength(1);
	});

	test('Redact Personal Data in Output: the workflow gets no number, wamid or message text; the ledger keeps them', async () => {
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, name: 'Jürgen Groß', text: `Anmeldung bestätigen: ${code}` });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);
		await control(sandbox, 'inbound', { from: WA_ID, text: 'Wann öffnet der Laden?' });
		await control(sandbox, 'inbound', { from: WA_ID, text: 'STOPP' });
		await until('the withdrawal', () => ofType('consent.withdrawn')[0]);
		await until('all deliveries', () => sandboxIdle(sandbox));
		const kinds = ['optin.confirmed', 'message.received', 'consent.withdrawn'];
		const plain = workflowItems(receiver.emitted, kinds, false);
		expect(JSON.stringify(plain)).toContain(WA_ID);

		const items = workflowItems(receiver.emitted, kinds, true);
		expect(items.map((item) => item.event)).toEqual(plain.map((item) => item.event));
		const confirmed = items.find((item) => item.event === 'optin.confirmed')!;
		expect(confirmed).toMatchObject({ phone: '+***78', waId: '***78', message: { id: expect.stringMatching(/^wamid\.\*\*\*/), type: 'text' }, reply: { to: '+***78', text: expect.stringContaining('Beispiel GmbH') } });
		expect(confirmed).not.toHaveProperty('profileName');
		expect(confirmed.message).not.toHaveProperty('text');
		const kept = JSON.stringify(items);
		for (const secret of [WA_ID, code, 'Wann öffnet', 'Jürgen', 'wamid.HBg']) expect(kept).not.toContain(secret);
		// What a STOP matched stays (it is one of the business's keywords, not what the person wrote).
		expect(items.find((item) => item.event === 'consent.withdrawn')).toMatchObject({ keyword: 'STOPP', message: { type: 'text' } });

		// The ledger still holds the evidence in full: the message that confirmed, with the code, and the number.
		const person = await ledger.getConsent(PHONE);
		expect(person!.phone).toBe(PHONE);
		expect(JSON.stringify(person!.history)).toContain(code);
	});

	test('events for another business number of the same Meta app are answered 200 and change nothing', async () => {
		const pending = await ledger.requestOptIn({ phone: '+4915100000088', purposes: ['offers'], consentText: TEXT_DE, source: {} });
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => ofType('optin.confirmed')[0]);
		await until('all deliveries', () => sandboxIdle(sandbox));
		const emittedBefore = receiver.emitted.length;
		const answersBefore = receiver.answers.length;
		const chainBefore = await ledger.verifyChain();
		const personBefore = await ledger.getConsent(PHONE);

		// The same app secret, another phone number id: Meta sends both numbers' webhooks to this callback URL.
		const other = await startSandbox({ webhookUrl: receiver.url, phoneNumberId: '100000000000999', pairRateSeconds: 0 });
		try {
			await control(other, 'inbound', { from: WA_ID, text: 'STOP' });
			await control(other, 'inbound', { from: '4915100000088', text: pending.code });
			await control(other, 'preferences', { waId: WA_ID, value: 'stop' });
			await until('the three deliveries', async () => receiver.answers.length >= answersBefore + 3 && (await sandboxIdle(other)));
		} finally {
			await other.close();
		}
		expect(receiver.answers.every((status) => status === 200)).toBe(true);
		expect(receiver.emitted).toHaveLength(emittedBefore);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
		expect(await ledger.mayMessage({ recipient: '+4915100000088', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'pending' });
		expect(await ledger.verifyChain()).toEqual(chainBefore);
		expect(await ledger.getConsent(PHONE)).toEqual(personBefore);
		expect(receiver.otherNumbers).toEqual(Array(3).fill({ phoneNumberId: '100000000000999', events: 1 }));
	});

	test('a missing or wrong signature is refused with 401 and changes nothing', async () => {
		const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [] });
		for (const signature of [undefined, 'sha256=00', `sha256=${'ab'.repeat(32)}`]) {
			const response = await fetch(receiver.url, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', ...(signature ? { 'X-Hub-Signature-256': signature } : {}) },
				body,
			});
			expect(response.status).toBe(401);
		}
		expect(receiver.emitted).toEqual([]);
	});
});

/** The sandbox has no webhook left to deliver. */
