/**
 * Issue 10, item 7: operational rows do not grow for ever. purge() deletes handled deliveries, finished sends' rows,
 * early statuses and rejected events after the operational retention (default 30 days; Meta redelivers for up to
 * 7), and a signed event older than the replay window (default 14 days) is a replay: 200, counted, no effect.
 */
import { createHmac } from 'node:crypto';
import type { Ledger } from '../../lib/consent/ledger';
import { receiveMetaDelivery } from '../../lib/meta-delivery';
import { ValidationError } from '../../lib/errors';
import { closeTestLedgers, openTestLedger, PURPOSES, sendRows, STORE_KINDS, TestClock, TEXT_DE } from '../helpers/ledgers';

const PHONE = '+4915112345678';
const WA_ID = '4915112345678';
const DAY = 86_400_000;

function signedStop(id: string, at: Date) {
	const body = {
		object: 'whatsapp_business_account',
		entry: [{ id: '1', changes: [{ field: 'messages', value: { metadata: { phone_number_id: 'P1' }, messages: [{ from: WA_ID, id, timestamp: String(Math.floor(at.getTime() / 1000)), type: 'text', text: { body: 'STOP' } }] } }] }],
	};
	const raw = Buffer.from(JSON.stringify(body));
	return { raw, signature: `sha256=${createHmac('sha256', 'app-secret').update(raw).digest('hex')}` };
}

describe.each(STORE_KINDS)('operational retention and the replay window (%s store)', (kind) => {
	let ledger: Ledger;
	let clock: TestClock;

	beforeEach(async () => {
		clock = new TestClock(new Date('2026-11-02T10:00:00Z'));
		({ ledger } = await openTestLedger(kind, { clock: clock.now }));
		await ledger.definePurposes(PURPOSES);
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers', 'service'], consentText: TEXT_DE, source: {} });
		await ledger.confirm({ messageId: 'wamid.in-code', from: WA_ID, text: code, at: clock.now() });
	});

	afterEach(() => closeTestLedgers());

	/** As the trigger on n8n: a 200's items are handed over (n8n stored the execution before it answered). */
	const deliver = async (id: string, at: Date) => {
		const answer = await receiveMetaDelivery(
			signedStop(id, at),
			{ appSecret: 'app-secret', phoneNumberId: 'P1', replayWindowMs: ledger.replayWindowMs, now: () => ledger.now() },
			async () => ledger,
			() => ({ business: 'Beispiel GmbH', fallbackLanguage: 'de' }),
		);
		if (answer.httpStatus === 200) await answer.handOver.done();
		return answer;
	};
	const count = async (table: string) => Number((await ledger.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

	test('purge deletes handled deliveries and finished sends after 30 days, keeps reserved and unknown ones and the chain', async () => {
		await ledger.reserveSends(['k-done', 'k-reserved', 'k-unknown'].map((key) => ({ key, recipient: PHONE, purpose: 'offers', category: 'marketing' as const })));
		await ledger.completeSend('k-done', { wamid: 'wamid.out-done' });
		await ledger.recordStatus({ messageId: 'wamid.out-done', status: 'delivered', at: clock.now(), recipientId: WA_ID });
		await ledger.failSend('k-unknown', { outcome: 'unknown', message: 'timeout' });
		await ledger.recordStatus({ messageId: 'wamid.nobody-sent', status: 'sent', at: clock.now() }); // an early status no send claims
		await ledger.recordRejected({ raw: { odd: true }, reason: 'test' });
		const deliveries = await count('processed_deliveries');
		expect(deliveries).toBeGreaterThanOrEqual(3);

		clock.advance(29 * DAY);
		await ledger.reserveSend({ key: 'k-recent', recipient: PHONE, purpose: 'service', category: 'utility' });
		await ledger.completeSend('k-recent', { wamid: 'wamid.out-recent' });
		await ledger.recordStatus({ messageId: 'wamid.out-recent', status: 'read', at: clock.now(), recipientId: WA_ID });
		expect((await ledger.purge()).operational).toEqual({ deliveries: 0, sends: 0, earlyStatuses: 0, rejectedEvents: 0, owedItems: 0 });

		clock.advance(2 * DAY);
		const chainBefore = await ledger.verifyChain();
		expect((await ledger.purge()).operational).toEqual({ deliveries, sends: 1, earlyStatuses: 1, rejectedEvents: 1, owedItems: 0 });
		const keys = Object.keys(await sendRows(ledger)).sort();
		expect(keys).toEqual(['k-recent', 'k-reserved', 'k-unknown']);
		expect(await count('processed_deliveries')).toBe(1);
		// operational data only: the chain (with every send.recorded) and the consents are as they were
		expect(await ledger.verifyChain()).toEqual(chainBefore);
		expect((await ledger.getConsent(PHONE))!.history.filter((event) => event.type === 'send.recorded')).toHaveLength(4);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('a signed STOP older than the replay window is a replay: 200, counted, without effect; a late one inside it withdraws', async () => {
		// a STOP sent an hour after the confirmation, whose signed body arrives 20 days later
		const confirmedAt = clock.now().getTime();
		clock.advance(20 * DAY);
		const replay = await deliver('wamid.stop-old', new Date(confirmedAt + 3_600_000));
		expect(replay).toMatchObject({ httpStatus: 200, emitted: [], replays: 1 });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
		expect(await count('processed_deliveries')).toBe(1); // only the confirmation's

		// Meta redelivers for up to 7 days: a STOP 7 days late is taken
		const late = await deliver('wamid.stop-late', new Date(clock.now().getTime() - 7 * DAY));
		expect(late).toMatchObject({ httpStatus: 200, replays: 0 });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });

		// after the retention its delivery record is gone, and a redelivery of it is a replay, not a second withdrawal
		clock.advance(31 * DAY);
		expect((await ledger.purge()).operational.deliveries).toBe(2);
		const chain = await ledger.verifyChain();
		expect(await deliver('wamid.stop-late', new Date(clock.now().getTime() - 38 * DAY))).toMatchObject({ httpStatus: 200, emitted: [], replays: 1 });
		expect(await ledger.verifyChain()).toEqual(chain);
	});

	test('the options: a replay window longer than the retention is refused, saying what to change', async () => {
		await expect(openTestLedger(kind, { operationalRetentionDays: 10, replayWindowDays: 14 })).rejects.toThrow(ValidationError);
		await expect(openTestLedger(kind, { operationalRetentionDays: 10, replayWindowDays: 14 })).rejects.toThrow(/Make Replay Window at most|replay window \(14 days\) is longer/);
		const { ledger: short } = await openTestLedger(kind, { operationalRetentionDays: 3, replayWindowDays: 2 });
		expect(short.replayWindowMs).toBe(2 * DAY);
		expect(ledger.replayWindowMs).toBe(14 * DAY);
	});
});
