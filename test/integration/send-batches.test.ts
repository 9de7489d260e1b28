/**
 * Sends reserved, checked and completed in slices (issue 3), on both stores: `reserveSends` and `completeSends` of
 * the ledger, and `sendWithConsent` running many sends side by side against the sandbox, whose ledger calls are
 * coalesced. Each send must keep its own answer: its own duplicate check, gate decision, audit event and outcome.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { ValidationError } from '../../lib/errors';
import { sendWithConsent, type ConsentedSend } from '../../lib/sending';
import { WhatsAppClient, type OutgoingMessage } from '../../lib/whatsapp';
import { nodeHttpFetch, type HttpFetch } from '../../lib/whatsapp/http';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { closeTestLedgers, openTestLedger, PURPOSES, sendRows as sendRowsOf, STORE_KINDS, TEXT_DE, type StoreKind } from '../helpers/ledgers';

const WELCOME: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] };
let messageCounter = 0;

describe.each(STORE_KINDS)('sends in slices on the %s store', (kind: StoreKind) => {
	let ledger: Ledger;

	async function consented(phone: string): Promise<number> {
		const { code } = await ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await ledger.confirm({ messageId: `wamid.SLICE${++messageCounter}`, from: phone.slice(1), text: code, at: new Date() });
		const person = await ledger.exportPerson(phone);
		return person!.history.find((event) => event.type === 'optin.confirmed')!.seq;
	}

	const reservation = (key: string, recipient: string) => ({ key, recipient, purpose: 'offers', category: 'marketing' as const });

	const sendRows = () => sendRowsOf(ledger);

	const recordedSends = async () =>
		Number((await ledger.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'send.recorded'`))[0].n);

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
	});
	afterEach(() => closeTestLedgers());

	describe('reserveSends', () => {
		test('one slice: each send its own answer, a key twice goes out once, refused ones next to consented ones', async () => {
			const annaSeq = await consented('+4915100000701');
			const benSeq = await consented('+4915100000702');
			await consented('+4915100000704');
			await ledger.revoke({ recipient: '+4915100000704', purposes: 'all', channel: 'email' });
			const results = await ledger.reserveSends([
				reservation('a', '+4915100000701'),
				reservation('never', '+4915100000703'),
				reservation('b', '0151 00000702'),
				reservation('a', '+4915100000701'),
				reservation('withdrawn', '+4915100000704'),
			]);
			expect(results).toMatchObject([
				{ status: 'reserved', decision: { allowed: true, consentEventSeq: annaSeq } },
				{ status: 'refused', decision: { reason: 'never_asked' } },
				{ status: 'reserved', decision: { allowed: true, consentEventSeq: benSeq } },
				{ status: 'duplicate', previous: { status: 'reserved', wamid: null } },
				{ status: 'refused', decision: { reason: 'withdrawn' } },
			]);
			expect(await sendRows()).toEqual({ a: { status: 'reserved', wamid: null }, b: { status: 'reserved', wamid: null } });
			// Each reserved send has its own event with the consent it relied on: the export per person shows it.
			const anna = await ledger.exportPerson('+4915100000701');
			expect(anna!.sends).toEqual([expect.objectContaining({ key: 'a', status: 'reserved', consentEventSeq: annaSeq })]);
			expect(anna!.history.filter((event) => event.type === 'send.recorded')).toHaveLength(1);
			expect((await ledger.exportPerson('+4915100000702'))!.sends).toEqual([expect.objectContaining({ key: 'b', consentEventSeq: benSeq })]);
			expect(await recordedSends()).toBe(2);
			expect(await ledger.verifyChain()).toMatchObject({ ok: true });
		});

		test('across runs: a key sent, reserved or of unknown outcome is a duplicate; only a key Meta refused is reserved again', async () => {
			await consented('+4915100000711');
			await consented('+4915100000712');
			await consented('+4915100000713');
			const slice = [reservation('sent', '+4915100000711'), reservation('refused-by-meta', '+4915100000712'), reservation('timed-out', '+4915100000713'), reservation('pending', '+4915100000711')];
			expect((await ledger.reserveSends(slice)).map((result) => result.status)).toEqual(['reserved', 'reserved', 'reserved', 'reserved']);
			await ledger.completeSends([{ key: 'sent', wamid: 'wamid.SENT' }]);
			await ledger.failSend('refused-by-meta', { outcome: 'failed', code: 132000, message: 'template parameters' });
			await ledger.failSend('timed-out', { outcome: 'unknown', message: 'no answer' });

			const again = await ledger.reserveSends(slice);
			expect(again).toMatchObject([
				{ status: 'duplicate', previous: { status: 'accepted', wamid: 'wamid.SENT' } },
				{ status: 'reserved' },
				{ status: 'duplicate', previous: { status: 'unknown' } },
				{ status: 'duplicate', previous: { status: 'reserved' } },
			]);
			expect((await sendRows())['refused-by-meta']).toEqual({ status: 'reserved', wamid: null });
			expect(await recordedSends()).toBe(5);
			expect(await ledger.verifyChain()).toMatchObject({ ok: true });
		});

		test('two slices with the same keys at the same moment: every key is reserved exactly once', async () => {
			const phones = ['+4915100000721', '+4915100000722', '+4915100000723', '+4915100000724'];
			for (const phone of phones) await consented(phone);
			const slice = phones.map((phone, index) => reservation(`k${index}`, phone));
			const [first, second] = await Promise.all([ledger.reserveSends(slice), ledger.reserveSends([...slice].reverse())]);
			const reservedKeys = [...first.map((result, index) => [slice[index].key, result.status]), ...second.map((result, index) => [slice[slice.length - 1 - index].key, result.status])]
				.filter(([, status]) => status === 'reserved')
				.map(([key]) => key)
				.sort();
			expect(reservedKeys).toEqual(['k0', 'k1', 'k2', 'k3']);
			expect(await recordedSends()).toBe(4);
			expect(await ledger.verifyChain()).toMatchObject({ ok: true });
		});

		test('a key that is not a visible string fails the slice before anything is written', async () => {
			await consented('+4915100000731');
			await expect(ledger.reserveSends([reservation('fine', '+4915100000731'), reservation('has space', '+4915100000731')])).rejects.toThrow(ValidationError);
			expect(await sendRows()).toEqual({});
		});

		test('completeSends records each wamid for its own key, and the last activity of each person', async () => {
			await consented('+4915100000741');
			await consented('+4915100000742');
			await ledger.reserveSends([reservation('x', '+4915100000741'), reservation('y', '+4915100000742'), reservation('z', '+4915100000742')]);
			await ledger.completeSends([
				{ key: 'y', wamid: 'wamid.Y' },
				{ key: 'x', wamid: 'wamid.X' },
			]);
			expect(await sendRows()).toEqual({ x: { status: 'accepted', wamid: 'wamid.X' }, y: { status: 'accepted', wamid: 'wamid.Y' }, z: { status: 'reserved', wamid: null } });
			expect((await ledger.recordStatus({ messageId: 'wamid.Y', status: 'delivered', at: new Date() })).key).toBe('y');
		});
	});

	describe('sendWithConsent, many side by side', () => {
		let sandbox: Sandbox;
		beforeEach(async () => {
			sandbox = await startSandbox({ pairRateSeconds: 0, throughputPerSecond: 1000 });
		});
		afterEach(() => sandbox.close());

		const client = (messagesPerSecond: number, fetch?: HttpFetch) =>
			new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, messagesPerSecond, pairRateSeconds: 0, fetch });
		const send = (key: string, recipient: string, message = WELCOME): ConsentedSend => ({ key, recipient, purpose: 'offers', category: 'marketing', message });
		async function accepted(): Promise<string[]> {
			const response = await fetch(`${sandbox.url}/_sandbox/messages`);
			const { requests } = (await response.json()) as { requests: { path: string; body: { to: string }; outcome: { status: string } }[] };
			return requests.filter((request) => request.path.endsWith('/messages') && request.outcome.status === 'accepted').map((request) => request.body.to).sort();
		}

		test('invariant 1: a withdrawal committed after the reservation and before the attempt stops that message only', async () => {
			const phones = ['+4915100000751', '+4915100000752', '+4915100000753'];
			for (const phone of phones) await consented(phone);
			let withdrawn = false;
			// The withdrawal commits while the first request is on its way; the third message's turn comes
			// 400 ms after the first (five a second), and its gate check is asked only then.
			const withdrawDuringFirstRequest: HttpFetch = async (url, init) => {
				if (!withdrawn) {
					withdrawn = true;
					const reserved = await sendRows();
					expect(Object.keys(reserved).sort()).toEqual(['k1', 'k2', 'k3']);
					await ledger.revoke({ recipient: phones[2], purposes: 'all', channel: 'email' });
				}
				return nodeHttpFetch(url, init);
			};
			const outcomes = await Promise.all(phones.map((phone, index) => sendWithConsent(ledger, client(5, withdrawDuringFirstRequest), send(`k${index + 1}`, phone))));
			expect(outcomes.map((outcome) => outcome.status)).toEqual(['sent', 'sent', 'refused']);
			expect(outcomes[2]).toMatchObject({ reason: 'withdrawn' });
			expect(await accepted()).toEqual(['4915100000751', '4915100000752']);
			const rows = await sendRows();
			expect(rows.k3).toEqual({ status: 'failed', wamid: null });
			expect(rows.k1.status).toBe('accepted');
		});

		test('one send refused by Meta or with a bad key fails alone; the others in the same slices go out once', async () => {
			const phones = ['+4915100000761', '+4915100000762', '+4915100000763', '+4915100000764'];
			for (const phone of phones) await consented(phone);
			const broken: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna', 'too many'] };
			const fast = client(1000);
			const runs = [
				sendWithConsent(ledger, fast, send('ok-1', phones[0])),
				sendWithConsent(ledger, fast, send('meta-refuses', phones[1], broken)),
				sendWithConsent(ledger, fast, send('bad key', phones[2])),
				sendWithConsent(ledger, fast, send('ok-2', phones[3])),
			];
			const settled = await Promise.allSettled(runs);
			expect(settled.map((result) => (result.status === 'fulfilled' ? result.value.status : 'rejected'))).toEqual(['sent', 'failed', 'rejected', 'sent']);
			expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
			expect(settled[1]).toMatchObject({ value: { error: { metaCode: 132000 } } });
			expect(await accepted()).toEqual(['4915100000761', '4915100000764']);
			const rows = await sendRows();
			expect(rows).toMatchObject({ 'ok-1': { status: 'accepted' }, 'ok-2': { status: 'accepted' }, 'meta-refuses': { status: 'failed' } });
			expect(rows['bad key']).toBeUndefined();

			// The same sends again: nothing goes out twice, and only the one Meta refused is tried again.
			const again = await Promise.all([send('ok-1', phones[0]), send('meta-refuses', phones[1], broken), send('ok-2', phones[3])].map((item) => sendWithConsent(ledger, fast, item)));
			expect(again.map((outcome) => outcome.status)).toEqual(['already_sent', 'failed', 'already_sent']);
			expect(await accepted()).toEqual(['4915100000761', '4915100000764']);
		});
	});
});
