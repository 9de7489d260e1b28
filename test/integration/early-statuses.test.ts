/**
 * Issue 10, item 6: Meta's status webhook can overtake the answer to the send, so a status can come before
 * completeSend has stored the wamid. It is kept (by a keyed HMAC of the wamid, no number in clear) and applied when
 * the send completes, in order; a 131050 among them still sets the in-app stop.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { closeTestLedgers, ledgerKeys, openTestLedger, PURPOSES, STORE_KINDS, TEXT_DE } from '../helpers/ledgers';
import fc from 'fast-check';
import { sendKeyHmac } from '../../lib/consent/keyed';

const PHONE = '+4915112345678';
const WA_ID = '4915112345678';
const WAMID = 'wamid.HBgNNDkxNTExMjM0NTY3OBUCABEYEjQ1RkQ0NzE2QzA5OEY5';

describe.each(STORE_KINDS)('statuses before the send is completed (%s store)', (kind) => {
	let ledger: Ledger;

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		await ledger.definePurposes(PURPOSES);
		const { code } = await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await ledger.confirm({ messageId: 'wamid.in-1', from: WA_ID, text: code, at: new Date() });
	});

	afterEach(() => closeTestLedgers());

	const sendOf = async (key: string) => (await ledger.exportPerson(PHONE))!.sends.find((send) => send.key === key);

	test('sent, delivered and read before completeSend: the send ends read, the kept statuses are gone', async () => {
		await ledger.reserveSend({ key: 'k-early', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		const at = Date.now();
		for (const [status, offset] of [['read', 3], ['sent', 1], ['delivered', 2]] as const) {
			const result = await ledger.recordStatus({ messageId: WAMID, status, at: new Date(at + offset * 1000), recipientId: WA_ID });
			expect(result).toMatchObject({ updated: false, early: true, duplicate: false });
		}
		// a redelivery of one of them is a duplicate, as before
		expect(await ledger.recordStatus({ messageId: WAMID, status: 'sent', at: new Date(at + 1000), recipientId: WA_ID })).toMatchObject({ duplicate: true });
		const kept = await ledger.store.query<Record<string, unknown>>('SELECT * FROM early_statuses');
		expect(kept).toHaveLength(3);
		expect(JSON.stringify(kept)).not.toContain(WA_ID);
		expect(JSON.stringify(kept)).not.toContain(WAMID);

		await ledger.completeSend('k-early', { wamid: WAMID });
		expect(await sendOf('k-early')).toMatchObject({ status: 'read', wamid: WAMID });
		expect(await ledger.store.query('SELECT * FROM early_statuses')).toEqual([]);
		// a later status for the send is applied as usual
		expect(await ledger.recordStatus({ messageId: WAMID, status: 'failed', at: new Date(at + 4000), recipientId: WA_ID, errors: [{ code: 131026 }] })).toMatchObject({
			updated: true,
			key: 'k-early',
			early: false,
		});
		expect(await sendOf('k-early')).toMatchObject({ status: 'failed' });
	});

	test('a failed 131050 before completeSends: the send is failed with the code and marketing is stopped in the app', async () => {
		await ledger.reserveSends([
			{ key: 'k-1', recipient: PHONE, purpose: 'offers', category: 'marketing' },
			{ key: 'k-2', recipient: PHONE, purpose: 'offers', category: 'utility' },
		]);
		const at = new Date();
		// without a recipient id: the person is found through the send when it completes
		const result = await ledger.recordStatus({
			messageId: `${WAMID}-1`,
			status: 'failed',
			at,
			errors: [{ code: 131000, title: 'Something went wrong' }, { code: 131050, title: 'User stopped marketing messages' }],
		});
		expect(result).toMatchObject({ early: true, marketingStopped: true });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
		await ledger.recordStatus({ messageId: `${WAMID}-2`, status: 'delivered', at, recipientId: WA_ID });

		await ledger.completeSends([
			{ key: 'k-1', wamid: `${WAMID}-1` },
			{ key: 'k-2', wamid: `${WAMID}-2` },
		]);
		const sends = (await ledger.exportPerson(PHONE))!.sends;
		expect(sends.find((send) => send.key === 'k-1')).toMatchObject({ status: 'failed' });
		expect(sends.find((send) => send.key === 'k-2')).toMatchObject({ status: 'delivered' });
		const [row] = await ledger.store.query<{ error_code: number }>('SELECT error_code FROM sends WHERE key_hmac = $1', [sendKeyHmac(ledgerKeys(ledger), 'k-1')]);
		expect(Number(row.error_code)).toBe(131050);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'marketing_stopped_in_app' });
		expect((await ledger.getConsent(PHONE))!.history.map((event) => event.type)).toContain('marketing.stopped');
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	// completeSends records a slice in one call that stands back when a status came first (migration 15): whichever
	// comes first, before, during or after the completion, no status is lost and none is left kept.
	test('statuses before and while a slice is completed: each send ends with its status, nothing stays kept', async () => {
		let run = 0;
		await fc.assert(
			fc.asyncProperty(fc.array(fc.constantFrom('none', 'before', 'during'), { minLength: 1, maxLength: 8 }), async (when) => {
				run++;
				const sends = when.map((_, index) => ({ key: `k-${run}-${index}`, wamid: `${WAMID}-${run}-${index}` }));
				await ledger.reserveSends(sends.map(({ key }) => ({ key, recipient: PHONE, purpose: 'offers', category: 'utility' })));
				const delivered = (index: number) => ledger.recordStatus({ messageId: sends[index].wamid, status: 'delivered', at: new Date(), recipientId: WA_ID });
				for (const [index, moment] of when.entries()) if (moment === 'before') await delivered(index);
				await Promise.all([ledger.completeSends(sends), ...when.flatMap((moment, index) => (moment === 'during' ? [delivered(index)] : []))]);
				const byKey = new Map((await ledger.exportPerson(PHONE))!.sends.map((send) => [send.key, send]));
				for (const [index, moment] of when.entries()) {
					expect(byKey.get(sends[index].key)).toMatchObject({ status: moment === 'none' ? 'accepted' : 'delivered', wamid: sends[index].wamid });
				}
				expect(await ledger.store.query('SELECT * FROM early_statuses')).toEqual([]);
			}),
			{ numRuns: 15 },
		);
	}, 120_000);
});
