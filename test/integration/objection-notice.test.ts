/**
 * Art. 21(4) GDPR (issue 13): the first marketing message to a person carries the objection notice, on both stores.
 * The ledger decides which send is first, in the transaction that reserves it: once per person, also when sends
 * race each other in one slice or in separate transactions, and again after the send that carried it failed.
 */
import type { Ledger } from '../../lib/consent/ledger';
import type { ReservationResult } from '../../lib/consent/sends';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TEXT_DE, type StoreKind } from '../helpers/ledgers';

let messageCounter = 0;

describe.each(STORE_KINDS)('the objection notice on the %s store', (kind: StoreKind) => {
	let ledger: Ledger;

	async function consented(phone: string) {
		const { code } = await ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await ledger.confirm({ messageId: `wamid.NOTICE${++messageCounter}`, from: phone.slice(1), text: code, at: new Date() });
	}
	const marketing = (key: string, recipient: string, objectionNotice = true) => ({ key, recipient, purpose: 'offers', category: 'marketing' as const, objectionNotice });
	const carrying = (results: ReservationResult[]) => results.filter((result) => result.status === 'reserved' && result.givesObjectionNotice).length;
	const noticeEvents = async () =>
		(await ledger.exportPerson('+4915100000801'))!.history.filter((event) => event.type === 'send.recorded' && event.details?.objectionNotice === true);

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
	});
	afterEach(() => closeTestLedgers());

	test('one slice with three marketing sends to one person: one carries it; a later send does not; another person gets their own', async () => {
		await consented('+4915100000801');
		await consented('+4915100000802');
		const slice = await ledger.reserveSends([marketing('a', '+4915100000801'), marketing('b', '+4915100000801'), marketing('c', '+4915100000801'), marketing('d', '+4915100000802')]);
		expect(carrying(slice.slice(0, 3))).toBe(1);
		expect(slice[3]).toMatchObject({ status: 'reserved', givesObjectionNotice: true });
		expect(await ledger.reserveSend(marketing('e', '+4915100000801'))).toMatchObject({ status: 'reserved', givesObjectionNotice: false });
		// The chain records it with the send that carried it, once.
		expect(await noticeEvents()).toHaveLength(1);
	});

	test('sends racing in separate transactions: exactly one per person carries it, and none fails', async () => {
		// Several rounds of eight at once per person: on PostgreSQL two of them taking the person's row in the same
		// instant once ended in "deadlock detected" (CI of stop 19), which a single round rarely shows.
		const people = Array.from({ length: 6 }, (_, i) => `+49151000008${String(i + 1).padStart(2, '0')}`);
		for (const phone of people) await consented(phone);
		const results = await Promise.all(people.flatMap((phone, p) => Array.from({ length: 8 }, (_, i) => ledger.reserveSend(marketing(`race-${p}-${i}`, phone)))));
		expect(results.filter((result) => result.status !== 'reserved')).toEqual([]);
		for (const p of people.keys()) expect({ person: p, carrying: carrying(results.slice(p * 8, p * 8 + 8)) }).toEqual({ person: p, carrying: 1 });
		expect(await noticeEvents()).toHaveLength(1);
	});

	test('a redelivered or re-run send (the same key) is a duplicate and gives nothing twice', async () => {
		await consented('+4915100000801');
		expect(await ledger.reserveSend(marketing('same', '+4915100000801'))).toMatchObject({ givesObjectionNotice: true });
		expect(await ledger.reserveSend(marketing('same', '+4915100000801'))).toMatchObject({ status: 'duplicate' });
		expect(await ledger.reserveSend(marketing('other', '+4915100000801'))).toMatchObject({ givesObjectionNotice: false });
	});

	test.each(['failed', 'unknown'] as const)('the send that carried it %s: the next marketing send carries it', async (outcome) => {
		await consented('+4915100000801');
		expect(await ledger.reserveSend(marketing('first', '+4915100000801'))).toMatchObject({ givesObjectionNotice: true });
		await ledger.reserveSend(marketing('second', '+4915100000801'));
		// A failure of a send that did not carry it changes nothing.
		await ledger.failSend('second', { outcome: 'failed', code: 131026 });
		expect(await ledger.reserveSend(marketing('third', '+4915100000801'))).toMatchObject({ givesObjectionNotice: false });
		await ledger.failSend('first', { outcome, code: 131026 });
		expect(await ledger.reserveSend(marketing('fourth', '+4915100000801'))).toMatchObject({ givesObjectionNotice: true });
	});

	test('only marketing sends that ask for it: utility and sends without the option neither carry nor use it up', async () => {
		await consented('+4915100000801');
		expect(await ledger.reserveSend({ ...marketing('utility', '+4915100000801'), category: 'utility' })).not.toHaveProperty('givesObjectionNotice', true);
		expect(await ledger.reserveSend(marketing('plain', '+4915100000801', false))).not.toHaveProperty('givesObjectionNotice');
		expect(await ledger.reserveSend(marketing('asked', '+4915100000801'))).toMatchObject({ givesObjectionNotice: true });
	});
});
