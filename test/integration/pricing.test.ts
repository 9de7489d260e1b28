/**
 * Issue 12: the pricing Meta's statuses carry is kept with each send, whatever order the statuses come in (before
 * the send's completion too), and a campaign report counts the sends under one Campaign Key with their cost by the
 * operator's rate card. Real HTTP: the sandbox prices as Meta does (per message; free inside the window for
 * free-form replies and utility templates) and delivers its signed statuses to a receiver that does what the
 * Opt-In Trigger does.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { costOf, expectedPricing } from '../../lib/pricing';
import { idempotencyKey, sendWithConsent } from '../../lib/sending';
import { WhatsAppClient, type OutgoingMessage } from '../../lib/whatsapp';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TEXT_DE } from '../helpers/ledgers';
import { control, sandboxIdle, startReceiver, until, type Receiver } from '../helpers/receiver';

const CARD = { currency: 'EUR', rates: { marketing: 0.1131, utility: 0.0456 } };

test('the price of one message: free types cost nothing, regular ones the card (service at the utility rate), unknown ones nothing known', () => {
	expect(costOf({ category: 'marketing', type: 'regular' }, CARD)).toBe(0.1131);
	expect(costOf({ category: 'utility', type: 'free_customer_service' }, CARD)).toBe(0);
	expect(costOf({ category: 'marketing', type: 'free_entry_point' }, CARD)).toBe(0);
	expect(costOf({ category: 'service', type: 'regular' }, CARD)).toBe(0.0456);
	expect(costOf({ category: 'service' }, CARD)).toBeUndefined();
	expect(costOf({ category: 'utility', billable: false }, CARD)).toBe(0);
	expect(costOf({ category: 'authentication', type: 'regular' }, CARD)).toBeUndefined();
	expect(costOf({ category: 'marketing', type: 'regular' }, undefined)).toBeUndefined();
	expect(costOf(undefined, CARD)).toBeUndefined();
	expect(expectedPricing('marketing', true)).toEqual({ category: 'marketing', type: 'regular' });
	expect(expectedPricing('service', false)).toEqual({ category: 'service' });
	expect(expectedPricing('utility', true)).toEqual({ category: 'utility', type: 'regular' });
});

describe.each(STORE_KINDS)('pricing and the campaign report (%s store)', (kind) => {
	let ledger: Ledger;
	let receiver: Receiver;
	let sandbox: Sandbox;

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
		receiver = await startReceiver(ledger);
		sandbox = await startSandbox({ webhookUrl: receiver.url, duplicateDeliveries: 1, reorderDeliveries: true, pairRateSeconds: 0 });
	});

	afterEach(async () => {
		await sandbox.close();
		await receiver.close();
		await closeTestLedgers();
	});

	const client = () => new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0 });

	async function subscribed(phone: string) {
		const confirmed = receiver.emitted.filter((event) => event.event === 'optin.confirmed').length;
		const { code } = await ledger.requestOptIn({ phone, purposes: ['offers', 'service'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: phone.slice(1), text: code });
		await until('the confirmation', () => receiver.emitted.filter((event) => event.event === 'optin.confirmed').length > confirmed);
	}

	const send = (phone: string, campaign: string, message: OutgoingMessage, category: 'marketing' | 'utility') =>
		sendWithConsent(ledger, client(), {
			key: idempotencyKey({ workflowId: 'wf', node: 'Send', recipient: phone, campaign, message }),
			recipient: phone,
			purpose: category === 'marketing' ? 'offers' : 'service',
			category,
			message,
			campaign,
		});

	test('statuses price each send once; the report counts statuses, failures, pricing and cost per campaign', async () => {
		const people = ['+4915100000011', '+4915100000012', '+4915100000013', '+4915100000001'];
		for (const phone of people) await subscribed(phone);
		await until('all deliveries', () => sandboxIdle(sandbox));

		const newsletter = (name: string): OutgoingMessage => ({ type: 'template', name: 'newsletter', language: 'de', header: ['Dezember'], body: [name, 'Neue Angebote'] });
		const outcomes = await Promise.all(people.map((phone, index) => send(phone, 'winter 2026', newsletter(`Kunde ${index}`), 'marketing')));
		expect(outcomes.map((outcome) => (outcome.status === 'failed' ? outcome.error.message : outcome.status))).toEqual(['sent', 'sent', 'sent', 'sent']);
		expect(outcomes[0]).toMatchObject({ pricing: { category: 'marketing', type: 'regular' } });
		// utility templates: charged inside the window too since October 2026
		const order: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] };
		await send(people[0], 'orders', order, 'utility');
		await send(people[1], 'orders', order, 'utility');
		await until('every status', async () => (await sandboxIdle(sandbox)) && receiver.emitted.filter((event) => event.event === 'status.updated').length >= 3 * 3 + 2 + 2 * 3);

		const winter = await ledger.campaignReport('winter 2026', CARD);
		expect(winter).toMatchObject({
			campaign: 'winter 2026',
			sends: 4,
			byStatus: { read: 3, failed: 1 },
			failures: [{ code: 131026, count: 1 }],
			pricing: [{ category: 'marketing', type: 'regular', count: 4, cost: 0.4524 }],
			cost: { total: 0.4524, currency: 'EUR', unpriced: 0 },
		});
		const orders = await ledger.campaignReport('orders', CARD);
		expect(orders.pricing).toEqual([{ category: 'utility', type: 'regular', count: 2, cost: 0.0912 }]);
		expect(orders.cost).toEqual({ total: 0.0912, currency: 'EUR', unpriced: 0 });
		expect(await ledger.campaignReport('winter 2026')).not.toHaveProperty('cost.total');
		expect((await ledger.campaignReport('nobody sent this')).sends).toBe(0);
		// the trigger's status events carry the pricing too
		expect(receiver.emitted.find((event) => event.event === 'status.updated' && event.status === 'sent')).toMatchObject({ pricing: { category: expect.any(String), type: expect.any(String) } });
	});

	test('a pricing that comes on a status before the send completed, or after a later status, is kept', async () => {
		await subscribed('+4915100000021');
		await ledger.reserveSends([
			{ key: 'early', recipient: '+4915100000021', purpose: 'offers', category: 'marketing', campaign: 'c' },
			{ key: 'late', recipient: '+4915100000021', purpose: 'offers', category: 'marketing', campaign: 'c' },
		]);
		const at = new Date();
		await ledger.recordStatus({ messageId: 'wamid.EARLY', status: 'sent', at, pricing: { category: 'marketing', type: 'regular' } });
		await ledger.completeSends([
			{ key: 'early', wamid: 'wamid.EARLY' },
			{ key: 'late', wamid: 'wamid.LATE' },
		]);
		await ledger.recordStatus({ messageId: 'wamid.LATE', status: 'read', at });
		// `sent` after `read`: the status stays read, the pricing it carries is kept
		expect(await ledger.recordStatus({ messageId: 'wamid.LATE', status: 'sent', at, pricing: { category: 'marketing', type: 'free_entry_point' } })).toMatchObject({ updated: false });
		expect((await ledger.campaignReport('c', CARD)).pricing).toEqual(
			expect.arrayContaining([
				{ category: 'marketing', type: 'regular', count: 1, cost: 0.1131 },
				{ category: 'marketing', type: 'free_entry_point', count: 1, cost: 0 },
			]),
		);
		expect((await ledger.campaignReport('c')).byStatus).toEqual({ sent: 1, read: 1 });
	});
});
