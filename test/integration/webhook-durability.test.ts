/**
 * Issue 10: one event that cannot be understood never blocks the events beside it (invariant 6). Signed deliveries go
 * through `receiveMetaDelivery`, the Opt-In Trigger's own path, into a real ledger on both stores.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { Ledger } from '../../lib/consent/ledger';
import type { TriggerEvent } from '../../lib/events';
import { receiveMetaDelivery, type MetaAnswer } from '../../lib/meta-delivery';
import { closeTestLedgers, openTestLedger, PURPOSES, sendRows, STORE_KINDS, TEXT_DE } from '../helpers/ledgers';

const APP_SECRET = 'app-secret';
const PHONE_NUMBER_ID = '100000000000001';
const METADATA = { display_phone_number: '49301234567', phone_number_id: PHONE_NUMBER_ID };

/** Meta's byte form: every non-ASCII code point as \uXXXX and `/` as `\/`. */
function metaBytes(payload: unknown): Buffer {
	const text = JSON.stringify(payload)
		.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
		.replace(/\//g, '\\/');
	return Buffer.from(text, 'utf8');
}

const sign = (raw: Buffer) => `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}`;

function webhook(...values: Record<string, unknown>[]) {
	return {
		object: 'whatsapp_business_account',
		entry: [{ id: '200000000000001', changes: values.map((value) => ({ field: 'messages', value: { messaging_product: 'whatsapp', metadata: METADATA, ...value } })) }],
	};
}

const now = () => String(Math.floor(Date.now() / 1000));

/** As the trigger on n8n: a 200's items are handed over (n8n stored the execution before it answered). */
async function deliver(ledger: Ledger, body: unknown | Buffer): Promise<MetaAnswer> {
	const raw = Buffer.isBuffer(body) ? body : metaBytes(body);
	const answer = await receiveMetaDelivery({ raw, signature: sign(raw) }, { appSecret: APP_SECRET, phoneNumberId: PHONE_NUMBER_ID }, async () => ledger, () => ({
		business: 'Beispiel GmbH',
		fallbackLanguage: 'de',
	}));
	if (answer.httpStatus === 200) await answer.handOver.done();
	return answer;
}

const emittedOf = (answer: MetaAnswer): TriggerEvent[] => (answer.httpStatus === 200 ? answer.emitted : []);

let people = 0;
/** A new confirmed subscriber: their number and wa_id. */
async function subscriber(ledger: Ledger): Promise<{ phone: string; waId: string }> {
	const waId = `4915${String(11_000_000 + people++).padStart(8, '0')}`;
	const { code } = await ledger.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: TEXT_DE, source: {} });
	const confirmed = await ledger.confirm({ messageId: `wamid.code-${waId}`, from: waId, text: code, at: new Date() });
	expect(confirmed.outcome).toBe('confirmed');
	return { phone: `+${waId}`, waId };
}

const stopMessage = (waId: string, id = `wamid.stop-${waId}`) => ({ from: waId, id, timestamp: now(), type: 'text', text: { body: 'STOP' } });
const contactOf = (waId: string) => [{ profile: { name: 'Anna' }, wa_id: waId }];

describe.each(STORE_KINDS)('webhook events are taken one by one (%s store)', (kind) => {
	let ledger: Ledger;

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		await ledger.definePurposes(PURPOSES);
	});

	afterEach(() => closeTestLedgers());

	test('a STOP beside a 4,400-unit text, a string error code and an unknown preference value: 200, withdrawn, the unknown kept', async () => {
		const anna = await subscriber(ledger);
		const long = await subscriber(ledger);
		const family = '👨‍👩‍👧‍👦'.repeat(400);
		expect(family.length).toBe(4400);
		const body = webhook(
			{ contacts: contactOf(long.waId), messages: [{ from: long.waId, id: 'wamid.long', timestamp: now(), type: 'text', text: { body: family } }] },
			{ statuses: [{ id: 'wamid.out-1', status: 'failed', timestamp: now(), recipient_id: anna.waId, errors: [{ code: '131026', title: 'Message undeliverable' }] }] },
			{ contacts: contactOf(anna.waId), user_preferences: [{ wa_id: anna.waId, category: 'marketing_messages', value: 'pause_for_a_month', detail: 'new', timestamp: now() }] },
			{ contacts: contactOf(anna.waId), messages: [stopMessage(anna.waId)] },
		);
		const answer = await deliver(ledger, body);
		expect(answer.httpStatus).toBe(200);
		const emitted = emittedOf(answer);
		expect(emitted.map((event) => event.event)).toEqual(['message.received', 'status.updated', 'event.rejected', 'consent.withdrawn']);
		expect(emitted[1]).toMatchObject({ status: 'failed', errors: [{ code: 131026 }] });
		expect(emitted[2]).toMatchObject({ reason: expect.stringContaining('user_preferences[0].value') });
		expect(await ledger.mayMessage({ recipient: anna.phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		// the long text is evidence like any other: the message opened the window
		expect(await ledger.mayMessage({ recipient: long.phone, purpose: 'offers', category: 'service' })).toMatchObject({ allowed: true });

		const [kept] = await ledger.rejectedEvents();
		expect(kept).toMatchObject({ reason: emitted[2].reason, raw: { wa_id: anna.waId, value: 'pause_for_a_month' }, eventAt: expect.any(String), receivedAt: expect.any(String) });
		expect(kept.reason).not.toContain(anna.waId);
		// no number in clear in the table: the event is encrypted
		const rows = await ledger.store.query<Record<string, unknown>>('SELECT * FROM rejected_events');
		expect(rows).toHaveLength(1);
		expect(JSON.stringify(rows)).not.toContain(anna.waId.slice(2));

		// Meta delivers it again: still 200, nothing twice
		const again = await deliver(ledger, body);
		expect(again.httpStatus).toBe(200);
		expect(emittedOf(again)).toEqual([]);
		expect(await ledger.rejectedEvents()).toHaveLength(1);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('a signed body that is not a webhook, or not JSON, is kept and answered 200; a store that fails is a 500', async () => {
		for (const body of [{ object: 'page', entry: [] }, Buffer.from('{"object":"whatsapp_business_account","entry":[{'), webhook({ messages: 'not a list' })]) {
			const answer = await deliver(ledger, body);
			expect(answer.httpStatus).toBe(200);
			expect(emittedOf(answer).map((event) => event.event)).toEqual(['event.rejected']);
		}
		expect((await ledger.rejectedEvents()).map((event) => event.reason).sort()).toEqual([
			expect.stringMatching(/^The body is not JSON/),
			expect.stringMatching(/^This is not a WhatsApp Cloud API webhook \(object/),
			expect.stringMatching(/^value\.messages: Expected array/),
		]);
		// a message without a sender: the ledger refuses it as input, it is kept, the STOP beside it withdraws
		const anna = await subscriber(ledger);
		const answer = await deliver(ledger, webhook({ messages: [{ id: 'wamid.nobody', timestamp: now(), type: 'text', text: { body: 'hallo' } }, stopMessage(anna.waId)] }));
		expect(emittedOf(answer).map((event) => event.event)).toEqual(['event.rejected', 'consent.withdrawn']);

		// the store fails (a table is missing): not understood is not the event's fault, Meta must deliver again
		await ledger.store.query('ALTER TABLE processed_deliveries RENAME TO processed_deliveries_gone');
		const failed = await deliver(ledger, webhook({ messages: [stopMessage(anna.waId, 'wamid.after-close')] }));
		expect(failed.httpStatus).toBe(500);
	});

	test('an event the database cannot store (a NUL in an error text) is kept as rejected, the STOP beside it withdraws', async () => {
		const anna = await subscriber(ledger);
		const status = { id: 'wamid.not-yet-completed', status: 'failed', timestamp: now(), recipient_id: anna.waId, errors: [{ code: 131026, title: 'Undeliverable', message: 'bad\u0000text' }] };
		const answer = await deliver(ledger, webhook({ statuses: [status] }, { contacts: contactOf(anna.waId), messages: [stopMessage(anna.waId)] }));
		expect(answer.httpStatus).toBe(200);
		expect(emittedOf(answer).map((event) => event.event)).toEqual(['event.rejected', 'consent.withdrawn']);
		expect(await ledger.mayMessage({ recipient: anna.phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		// a NUL in a message id is no such event any more: the id is kept only as its keyed HMAC
		const hello = await deliver(ledger, webhook({ contacts: contactOf(anna.waId), messages: [{ from: anna.waId, id: 'wamid.\u0000nul', timestamp: now(), type: 'text', text: { body: 'hallo' } }] }));
		expect(emittedOf(hello).map((event) => event.event)).toEqual(['message.received']);
	});

	/** A sibling event that is wrong in one way or another, as a future or broken Meta could send it. */
	const malformed = (waId: string) =>
		fc.oneof(
			fc.anything(),
			fc.record({ from: fc.constant(waId), id: fc.anything().filter((id) => typeof id !== 'string'), timestamp: fc.constant(now()), type: fc.constant('text') }),
			fc.record({ from: fc.constant(waId), id: fc.string({ minLength: 1 }), timestamp: fc.string().filter((t) => Number.isNaN(Number(t))), type: fc.constant('text') }),
			fc.record({ from: fc.constant(waId), id: fc.string({ minLength: 1 }), timestamp: fc.constant(now()), type: fc.constant('text'), text: fc.record({ body: fc.anything().filter((b) => typeof b !== 'string') }) }),
			fc.record({ from: fc.constant(waId), id: fc.string({ minLength: 1 }), timestamp: fc.constant(now()), type: fc.string(), [fc.sample(fc.string({ minLength: 1 }), 1)[0] || 'x']: fc.jsonValue() }),
			fc.record({ from: fc.string(), id: fc.string({ minLength: 1 }), timestamp: fc.constant(now()), type: fc.constant('text'), text: fc.record({ body: fc.string({ maxLength: 5000, unit: 'grapheme' }) }) }),
		);
	const malformedStatus = fc.record({
		id: fc.string({ minLength: 1 }),
		status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed'), fc.string()),
		timestamp: fc.oneof(fc.constant(now()), fc.anything()),
		errors: fc.array(fc.record({ code: fc.oneof(fc.string(), fc.integer(), fc.anything()), title: fc.anything() }), { maxLength: 2 }),
	});
	const malformedPreference = fc.record({ wa_id: fc.anything(), category: fc.oneof(fc.constant('marketing_messages'), fc.anything()), value: fc.oneof(fc.string(), fc.anything()), timestamp: fc.anything() });

	test('property: a valid STOP and a random malformed sibling event always withdraw and answer 200', async () => {
		const sibling = fc.record({
			place: fc.constantFrom('messages', 'statuses', 'user_preferences', 'value'),
			message: malformed('4915100000000'),
			status: malformedStatus,
			preference: malformedPreference,
			first: fc.boolean(),
			sameChange: fc.boolean(),
		});
		await fc.assert(
			fc.asyncProperty(sibling, async (s) => {
				const person = await subscriber(ledger);
				const stop = { contacts: contactOf(person.waId), messages: [stopMessage(person.waId)] };
				let other: Record<string, unknown>;
				if (s.place === 'messages') other = { messages: [s.message] };
				else if (s.place === 'statuses') other = { statuses: [s.status] };
				else if (s.place === 'user_preferences') other = { user_preferences: [s.preference] };
				else other = { messages: s.message };
				let body: unknown;
				if (s.sameChange && s.place !== 'value') {
					const list = s.place as 'messages' | 'statuses' | 'user_preferences';
					const merged: Record<string, unknown[]> = { contacts: stop.contacts, messages: stop.messages };
					const extra = other[list] as unknown[];
					merged[list] = list === 'messages' ? (s.first ? [...extra, ...stop.messages] : [...stop.messages, ...extra]) : extra;
					body = webhook(merged);
				} else {
					body = s.first ? webhook(other, stop) : webhook(stop, other);
				}
				const answer = await deliver(ledger, body);
				expect(answer.httpStatus).toBe(200);
				expect(emittedOf(answer).filter((event) => event.event === 'consent.withdrawn')).toHaveLength(1);
				expect(await ledger.mayMessage({ recipient: person.phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
				// and again, as Meta redelivers: 200, no second withdrawal
				const again = await deliver(ledger, body);
				expect(again.httpStatus).toBe(200);
				expect(emittedOf(again).filter((event) => event.event === 'consent.withdrawn')).toHaveLength(0);
			}),
			{ numRuns: 40, seed: 10_4 },
		);
		for (const rejected of await ledger.rejectedEvents(10_000)) expect(rejected.reason).not.toMatch(/\d{6,}/);
	});

	test('a STOP behind a burst of 240 delivery statuses is answered before most of them; every status is applied once', async () => {
		const people = await Promise.all(Array.from({ length: 8 }, () => subscriber(ledger)));
		const wamids = Array.from({ length: 240 }, (_, index) => `wamid.burst-${index}`);
		const sends = wamids.map((_, index) => ({ key: `burst-${index}`, recipient: people[index % people.length].phone, purpose: 'offers', category: 'marketing' as const }));
		await ledger.reserveSends(sends);
		await ledger.completeSends(sends.map((send, index) => ({ key: send.key, wamid: wamids[index] })));
		const stopper = await subscriber(ledger);

		// As Meta (and the sandbox) sends them: all at once, the STOP last.
		const order: string[] = [];
		const answers = wamids.map((wamid, index) =>
			deliver(ledger, webhook({ statuses: [{ id: wamid, status: 'delivered', timestamp: now(), recipient_id: people[index % people.length].waId }] })).then((answer) => {
				order.push('status');
				return answer;
			}),
		);
		const stop = deliver(ledger, webhook({ contacts: contactOf(stopper.waId), messages: [stopMessage(stopper.waId)] })).then((answer) => {
			order.push('STOP');
			return answer;
		});
		const all = await Promise.all([...answers, stop]);
		expect(all.map((answer) => answer.httpStatus)).toEqual(all.map(() => 200));
		const statusesBefore = order.indexOf('STOP');
		console.log(`STOP answered after ${statusesBefore} of ${wamids.length} statuses sent before it (${kind} store)`);
		// It waits for the deliveries already at the ledger, not for the queue of statuses behind them.
		expect(statusesBefore).toBeLessThan(wamids.length / 4);
		expect(await ledger.mayMessage({ recipient: stopper.phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		const rows = await sendRows(ledger);
		expect(sends.filter((send) => rows[send.key]?.status !== 'delivered')).toEqual([]);
	});
});
