/**
 * Orderings of real events that once let a message through, each a regression test on both stores. The case numbers
 * are those of the consent-rules issue; the checklist items (#n) those of ../shared/reference/gdpr-consent.md.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TestClock, TEXT_DE, type StoreKind } from '../helpers/ledgers';

const PHONE = '+4915112345678';
const WA_ID = '4915112345678';
let counter = 0;
const messageId = () => `wamid.RULES${++counter}`;

describe.each(STORE_KINDS)('consent rules on the %s store', (kind: StoreKind) => {
	let ledger: Ledger;
	let clock: TestClock;

	beforeEach(async () => {
		clock = new TestClock();
		({ ledger } = await openTestLedger(kind, { clock: clock.now, defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
	});
	afterEach(() => closeTestLedgers());

	const signUp = (purposes: string[], phone = PHONE) =>
		ledger.requestOptIn({ phone, purposes, consentText: TEXT_DE, source: { pageUrl: 'https://shop.example/whatsapp' } });
	const seconds = (n: number) => new Date(clock.current.getTime() + n * 1000);
	const sendCode = (code: string, at: Date, from = WA_ID) => ledger.confirm({ messageId: messageId(), from, text: code, at });
	const stop = (scope: 'all' | 'marketing' | string[], at: Date, waId = WA_ID) =>
		ledger.revoke({ waId, purposes: scope, channel: 'whatsapp', messageId: messageId(), evidence: { text: 'STOP' }, at });
	const gate = (purpose: string, category: 'marketing' | 'utility' | 'service' | 'withdrawal_confirmation', recipient = PHONE) =>
		ledger.mayMessage({ recipient, purpose, category });

	test('case 1, #22: a late STOP withdraws a consent even when the number was entered in the widget again meanwhile', async () => {
		const { code } = await signUp(['offers']);
		const confirmedAt = seconds(0);
		expect((await sendCode(code, confirmedAt)).outcome).toBe('confirmed');
		clock.advance(10_000);
		await signUp(['offers']); // anyone can type any number
		const result = await stop('all', new Date(confirmedAt.getTime() + 5_000)); // sent at T+5 s, delivered after T+10 s
		expect(result.withdrawn).toEqual(['offers']);
		expect(await gate('offers', 'marketing')).toMatchObject({ allowed: false, reason: 'withdrawn' });
	});

	test('case 2, #21: a marketing STOP stands for its purposes when the person later confirms another purpose', async () => {
		const { code } = await signUp(['offers']);
		await sendCode(code, seconds(0));
		clock.advance(60_000);
		await stop('marketing', seconds(0));
		clock.advance(60_000);
		const second = await signUp(['service']);
		expect((await sendCode(second.code, seconds(0))).outcome).toBe('confirmed');
		expect(await gate('offers', 'marketing')).toMatchObject({ allowed: false, reason: 'withdrawn' });
		expect(await gate('offers', 'utility')).toMatchObject({ allowed: true });
		expect(await gate('service', 'marketing')).toMatchObject({ allowed: true });
	});

	describe.each([
		['Brazil', '+5511987654321', '551187654321'],
		['Mexico', '+525512345678', '5215512345678'],
		['Argentina', '+5491123456789', '541123456789'],
	])('case 3, #34: %s, known by the short wa_id before signing up with the long number', (_country, phone, waId) => {
		async function knownTwice() {
			await ledger.recordInbound({ messageId: messageId(), from: waId, text: 'Hallo 1', at: seconds(0) });
			const { code } = await signUp(['offers'], phone);
			expect((await sendCode(code, seconds(1), waId)).outcome).toBe('confirmed');
		}
		const subjects = async () => Number((await ledger.store.query<{ n: number }>('SELECT count(*)::int AS n FROM subjects'))[0].n);

		test('is one person, and a STOP from the short wa_id withdraws the consent', async () => {
			await knownTwice();
			expect(await subjects()).toBe(1);
			clock.advance(5_000);
			expect((await stop('all', seconds(0), waId)).withdrawn).toEqual(['offers']);
			expect(await gate('offers', 'marketing', phone)).toMatchObject({ allowed: false, reason: 'withdrawn' });
			expect(await gate('offers', 'marketing', `+${waId}`)).toMatchObject({ allowed: false, reason: 'withdrawn' });
		});

		test('the in-app stop and 131050 reach the consented person', async () => {
			await knownTwice();
			await ledger.setMarketingPreference({ waId, value: 'stop', at: seconds(2) }, `preference:${waId}:stop`);
			expect(await gate('offers', 'marketing', phone)).toMatchObject({ allowed: false, reason: 'marketing_stopped_in_app' });
			await ledger.setMarketingPreference({ waId, value: 'resume', at: seconds(3) }, `preference:${waId}:resume`);
			expect(await gate('offers', 'marketing', phone)).toMatchObject({ allowed: true });
			expect((await ledger.reserveSend({ key: 'news-br', recipient: phone, purpose: 'offers', category: 'marketing' })).status).toBe('reserved');
			await ledger.completeSend('news-br', { wamid: 'wamid.NEWSBR' });
			await ledger.recordStatus({ messageId: 'wamid.NEWSBR', status: 'failed', at: seconds(4), recipientId: waId, errors: [{ code: 131050, title: 'marketing stopped' }] });
			expect(await gate('offers', 'marketing', phone)).toMatchObject({ allowed: false, reason: 'marketing_stopped_in_app' });
		});

		test('erasure by the number erases the person wherever they were known', async () => {
			await knownTwice();
			expect((await ledger.erase(phone)).erased).toBe(true);
			expect(await subjects()).toBe(0);
		});
	});

	test('case 4, #22: a code sent before a marketing STOP but delivered after it confirms, and the STOP stands', async () => {
		const { code } = await signUp(['offers']);
		const codeSentAt = seconds(0);
		clock.advance(5_000);
		await stop('marketing', seconds(0)); // arrives first
		expect((await sendCode(code, codeSentAt)).outcome).toBe('confirmed');
		expect(await gate('offers', 'marketing')).toMatchObject({ allowed: false, reason: 'withdrawn' });
		expect(await gate('offers', 'utility')).toMatchObject({ allowed: true });
	});

	test('case 6, #19, #23: after a STOP the window admits its one confirmation and replies to what the person writes afterwards', async () => {
		const { code } = await signUp(['offers']);
		await sendCode(code, seconds(0));
		await ledger.recordInbound({ messageId: messageId(), from: WA_ID, text: 'Wann kommt meine Bestellung?', at: seconds(1) });
		expect(await gate('offers', 'service')).toMatchObject({ allowed: true });
		clock.advance(10_000);
		await stop('all', seconds(0));
		expect(await gate('offers', 'service')).toMatchObject({ allowed: false, reason: 'withdrawn_since_last_message' });
		const first = await ledger.reserveSend({ key: 'stop-confirmation-1', recipient: PHONE, purpose: 'offers', category: 'withdrawal_confirmation' });
		expect(first.status).toBe('reserved');
		// Asked again right before its HTTP call, the reserved confirmation is still allowed: it used up the STOP itself.
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'withdrawal_confirmation', reserved: true })).toMatchObject({ allowed: true });
		const second = await ledger.reserveSend({ key: 'stop-confirmation-2', recipient: PHONE, purpose: 'offers', category: 'withdrawal_confirmation' });
		expect(second).toMatchObject({ status: 'refused', decision: { reason: 'no_withdrawal_to_confirm' } });
		clock.advance(60_000);
		await ledger.recordInbound({ messageId: messageId(), from: WA_ID, text: 'Noch eine Frage', at: seconds(0) });
		expect(await gate('offers', 'service')).toMatchObject({ allowed: true });
		expect(await gate('offers', 'marketing')).toMatchObject({ allowed: false });
	});

	test('case 7, #17: the in-app stop of error 131050 survives a failure while it is written: the redelivery applies it', async () => {
		const { code } = await signUp(['offers']);
		await sendCode(code, seconds(0));
		expect((await ledger.reserveSend({ key: 'news-1', recipient: PHONE, purpose: 'offers', category: 'marketing' })).status).toBe('reserved');
		await ledger.completeSend('news-1', { wamid: 'wamid.NEWS1' });
		// A real fault in the database, at the moment the in-app stop is written.
		await ledger.store.query(`CREATE FUNCTION refuse_stop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`);
		await ledger.store.query(
			`CREATE TRIGGER refuse_stop BEFORE UPDATE ON subjects FOR EACH ROW WHEN (NEW.marketing_stopped_at IS DISTINCT FROM OLD.marketing_stopped_at) EXECUTE FUNCTION refuse_stop()`,
		);
		const status = { messageId: 'wamid.NEWS1', status: 'failed' as const, at: seconds(5), recipientId: WA_ID, errors: [{ code: 131050, title: 'marketing stopped' }] };
		await expect(ledger.recordStatus(status)).rejects.toThrow(/injected fault/);
		await ledger.store.query('DROP TRIGGER refuse_stop ON subjects');
		const redelivered = await ledger.recordStatus(status);
		expect(redelivered).toMatchObject({ duplicate: false, marketingStopped: true });
		expect(await gate('offers', 'marketing')).toMatchObject({ allowed: false, reason: 'marketing_stopped_in_app' });
	});
});
