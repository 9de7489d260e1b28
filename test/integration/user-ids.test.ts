/**
 * Issue 12, usernames and business-scoped user ids: a user with a WhatsApp username sends webhooks that carry their
 * user id and no number. The double opt-in still confirms (by a user id an earlier message tied to the number, or by
 * the number the person shares on Meta's contact info request), sends reach them by `recipient`, a user id change is
 * followed, and the gate answers alike for a user id and for the number. Real HTTP between the sandbox and a
 * receiver that does what the Opt-In Trigger does, on both stores.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { CATEGORIES, type GateDecision } from '../../lib/consent/types';
import type { TriggerEvent } from '../../lib/events';
import { sendWithConsent } from '../../lib/sending';
import { WhatsAppClient, type OutgoingMessage } from '../../lib/whatsapp';
import { signatureOf } from '../../sandbox/meta-json';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import type { IDataObject, INode } from 'n8n-workflow';
import { runWorkflow, stopEngine } from '../helpers/n8n-engine';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TEXT_DE } from '../helpers/ledgers';
import { startScenario, type Scenario } from '../helpers/scenario';
import { control, sandboxIdle, startReceiver, until, type Receiver } from '../helpers/receiver';

const ANNA = { phone: '+4915112345678', waId: '4915112345678' };
const BEN = { phone: '+4915187654321', waId: '4915187654321' };

describe.each(STORE_KINDS)('business-scoped user ids (%s store)', (kind) => {
	let ledger: Ledger;
	let receiver: Receiver;
	let sandbox: Sandbox;

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
		receiver = await startReceiver(ledger);
		sandbox = await startSandbox({ webhookUrl: receiver.url, duplicateDeliveries: 1, pairRateSeconds: 0 });
	});

	afterEach(async () => {
		await until('the last deliveries', () => sandboxIdle(sandbox));
		await sandbox.close();
		await receiver.close();
		await closeTestLedgers();
	});

	const client = () => new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0 });

	/** A customer writes in the sandbox; resolves with the first item the receiver emitted for that message. */
	async function inbound(body: Record<string, unknown>): Promise<TriggerEvent> {
		const { messageId } = (await control(sandbox, 'inbound', body)) as { messageId: string };
		return until(`the item for ${messageId}`, () => receiver.emitted.find((item) => (item.message as { id?: string } | undefined)?.id === messageId));
	}

	async function signUp(person: { phone: string }): Promise<string> {
		return (await ledger.requestOptIn({ phone: person.phone, purposes: ['offers', 'service'], consentText: TEXT_DE, source: {} })).code;
	}

	/** Every question the gate can be asked, for the user id and for the number: the same answers. */
	async function expectSameAnswers(phone: string, userId: string): Promise<GateDecision[]> {
		const questions = PURPOSES.flatMap((purpose) => CATEGORIES.map((category) => ({ purpose: purpose.id, category })));
		const byNumber = await ledger.mayMessageBatch(questions.map((q) => ({ ...q, recipient: phone })));
		const byUserId = await ledger.mayMessageBatch(questions.map((q) => ({ ...q, recipient: userId })));
		expect(byUserId).toEqual(byNumber);
		return byNumber;
	}

	const offers = (recipient: string) => ledger.mayMessage({ recipient, purpose: 'offers', category: 'marketing' });

	/** A signed POST as Meta documents it, straight to the receiver (shapes the sandbox does not write). */
	async function metaPosts(messages: Record<string, unknown>[], contacts?: Record<string, unknown>[]): Promise<number> {
		const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '200000000000001', changes: [{ field: 'messages', value: {
			messaging_product: 'whatsapp',
			metadata: { display_phone_number: '49301234567', phone_number_id: '100000000000001' },
			...(contacts ? { contacts } : {}),
			messages,
		} }] }] });
		const response = await fetch(receiver.url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signatureOf(body, 'sandbox-secret') } });
		return response.status;
	}

	test('a code without a number confirms when an earlier message tied the user id to the number', async () => {
		const code = await signUp(ANNA);
		const hello = await inbound({ from: ANNA.waId, text: 'Hallo!' });
		expect(hello).toMatchObject({ event: 'message.received', waId: ANNA.waId });
		const userId = hello.userId as string;
		expect(userId).toMatch(/^DE\.\d+$/);

		// Anna sets a username: from now on Meta withholds her number.
		expect(await control(sandbox, 'users', { waId: ANNA.waId, username: 'anna.k' })).toMatchObject({ username: 'anna.k', userId });
		const confirmed = await inbound({ from: ANNA.waId, text: `Anmelden ${code}` });
		expect(confirmed).toMatchObject({ event: 'optin.confirmed', userId, username: 'anna.k', phone: ANNA.phone, purposes: ['offers', 'service'] });
		expect(confirmed.waId).toBeUndefined();
		const { deliveries } = (await control(sandbox, 'webhooks')) as { deliveries: { body: string }[] };
		expect(deliveries.at(-1)!.body).not.toContain(ANNA.waId);

		expect(await offers(userId)).toMatchObject({ allowed: true, reason: 'consented' });
		await expectSameAnswers(ANNA.phone, userId);

		// A STOP that carries only the user id withdraws the number's consent.
		expect(await inbound({ from: ANNA.waId, text: 'STOP' })).toMatchObject({ event: 'consent.withdrawn', withdrawn: ['offers', 'service'] });
		expect(await offers(ANNA.phone)).toMatchObject({ allowed: false, reason: 'withdrawn' });
		await expectSameAnswers(ANNA.phone, userId);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('a code from a user id the ledger cannot tie asks for the number; the shared number completes the sign-up', async () => {
		const { userId } = (await control(sandbox, 'users', { waId: ANNA.waId, username: 'anna.k' })) as { userId: string };
		const code = await signUp(ANNA);
		const asked = await inbound({ from: ANNA.waId, text: code });
		expect(asked).toMatchObject({
			event: 'optin.number_needed',
			userId,
			purposes: ['offers', 'service'],
			reply: { to: userId, type: 'contact_info_request', category: 'service' },
		});
		expect(asked.subjectId).toBeUndefined();
		// Still pending: nothing was confirmed for the number, and the user id is nobody's yet.
		expect(await offers(ANNA.phone)).toMatchObject({ allowed: false, reason: 'pending' });
		expect(await offers(userId)).toMatchObject({ allowed: false, reason: 'never_asked' });

		// The reply goes out through the gate to the user id (all the ledger has), as Meta's contact info request.
		const reply = asked.reply as { to: string; text: string };
		const message: OutgoingMessage = { type: 'contact_info_request', body: reply.text };
		const sent = await sendWithConsent(ledger, client(), { key: `number:${(asked.message as { id: string }).id}`, recipient: reply.to, purpose: 'service', category: 'service', message });
		expect(sent.status === 'failed' ? sent.error.message : sent.status).toBe('sent');
		const { requests } = (await control(sandbox, 'messages')) as { requests: { body: Record<string, unknown> }[] };
		expect(requests.at(-1)!.body).toMatchObject({
			recipient: userId,
			type: 'interactive',
			interactive: { type: 'request_contact_info', body: { text: reply.text }, action: { name: 'request_contact_info' } },
		});
		expect(requests.at(-1)!.body.to).toBeUndefined();

		const shared = await inbound({ from: ANNA.waId, shareContact: true });
		expect(shared).toMatchObject({ event: 'optin.confirmed', userId, phone: ANNA.phone, purposes: ['offers', 'service'] });
		expect(await offers(userId)).toMatchObject({ allowed: true, reason: 'consented' });
		await expectSameAnswers(ANNA.phone, userId);

		// Whoever the ledger knew by the user id alone is Anna: her send moved to her. That row stays for the events that
		// name it (the chain is append-only), and goes with her on erasure.
		await until('the statuses', () => sandboxIdle(sandbox));
		const [anna] = await ledger.store.query<{ id: string }>('SELECT id FROM subjects WHERE user_id_hmac IS NOT NULL');
		expect(await ledger.store.query('SELECT subject_id FROM sends')).toEqual([{ subject_id: anna.id }]);
		expect((await ledger.verifyChain()).ok).toBe(true);
		expect(await ledger.erase(ANNA.phone, { reason: 'request by e-mail' })).toMatchObject({ erased: true });
		expect(await ledger.store.query('SELECT id FROM subjects')).toEqual([]);
		expect(await offers(userId)).toMatchObject({ allowed: false });
	});

	test('a shared number that is not the one entered confirms nothing', async () => {
		const { userId } = (await control(sandbox, 'users', { waId: BEN.waId, username: 'ben' })) as { userId: string };
		const code = await signUp(ANNA);
		expect(await inbound({ from: BEN.waId, text: code })).toMatchObject({ event: 'optin.number_needed', userId });
		expect(await inbound({ from: BEN.waId, shareContact: true })).toMatchObject({ event: 'optin.refused', outcome: 'wrong_number' });
		expect(await offers(ANNA.phone)).toMatchObject({ allowed: false, reason: 'pending' });
		expect(await offers(userId)).toMatchObject({ allowed: false, reason: 'never_asked' });
		// Anna's own confirmation still works.
		expect(await inbound({ from: ANNA.waId, text: code })).toMatchObject({ event: 'optin.confirmed', phone: ANNA.phone });
	});

	test("Meta's documented shapes: `origin` on the contacts message with a formatted phone; user_changed_number with the previous user id", async () => {
		const userId = 'DE.8830022176410095';
		const at = () => String(Math.floor(Date.now() / 1000));
		const code = await signUp(ANNA);
		const contacts = [{ profile: { name: 'Anna', username: 'anna.k' }, user_id: userId }];
		expect(await metaPosts([{ from_user_id: userId, id: 'wamid.code-1', timestamp: at(), type: 'text', text: { body: code } }], contacts)).toBe(200);
		expect(receiver.emitted.at(-1)).toMatchObject({ event: 'optin.number_needed', userId });
		// A contact the person forwards (origin "other") is not their number: nothing is confirmed.
		const card = (origin: string) => ({ origin, contacts: [{ name: { formatted_name: 'Anna' }, phones: [{ phone: '+49 151 12345678', type: 'CELL' }] }] });
		expect(await metaPosts([{ from_user_id: userId, id: 'wamid.card-1', timestamp: at(), type: 'contacts', ...card('other') }], contacts)).toBe(200);
		expect(await offers(ANNA.phone)).toMatchObject({ allowed: false, reason: 'pending' });
		expect(await metaPosts([{ from_user_id: userId, id: 'wamid.card-2', timestamp: at(), type: 'contacts', ...card('contact_request') }], contacts)).toBe(200);
		expect(receiver.emitted.at(-1)).toMatchObject({ event: 'optin.confirmed', phone: ANNA.phone, userId });
		await expectSameAnswers(ANNA.phone, userId);

		// Her number changed (and with it the user id): the consent given for the old number ends.
		const changed = { from_user_id: 'DE.9930022176410096', id: 'wamid.sys-1', timestamp: at(), type: 'system' };
		const system = { body: 'User Anna changed from … to …', type: 'user_changed_number', user_id: 'DE.9930022176410096', previous_user_id: userId };
		expect(await metaPosts([{ ...changed, system }])).toBe(200);
		expect(await offers(ANNA.phone)).toMatchObject({ allowed: false, reason: 'withdrawn' });
		await expectSameAnswers(ANNA.phone, userId);
	});

	test("a user id change (user_changed_user_id) and a parent user id: the person keeps their consent under the new ids", async () => {
		const parentUserId = 'DE.ENT.11815799212886844830';
		const { userId } = (await control(sandbox, 'users', { waId: ANNA.waId, username: 'anna.k', parentUserId })) as { userId: string };
		const code = await signUp(ANNA);
		expect(await inbound({ from: ANNA.waId, text: code })).toMatchObject({ event: 'optin.number_needed', parentUserId });
		expect(await inbound({ from: ANNA.waId, shareContact: true })).toMatchObject({ event: 'optin.confirmed' });
		expect(await offers(parentUserId)).toMatchObject({ allowed: true, reason: 'consented' });
		await expectSameAnswers(ANNA.phone, parentUserId);

		const nextParent = 'DE.ENT.22815799212886844831';
		const changed = (await control(sandbox, 'user-id-change', { waId: ANNA.waId, parentUserId: nextParent })) as { userId: string };
		expect(changed.userId).not.toBe(userId);
		// Delivered twice (the sandbox repeats every webhook): the second changes nothing.
		await until('the system message, twice', async () => (await sandboxIdle(sandbox)) && (await offers(changed.userId)).allowed);
		expect(receiver.answers.every((status) => status === 200)).toBe(true);
		expect(await offers(changed.userId)).toMatchObject({ allowed: true, reason: 'consented' });
		expect(await offers(nextParent)).toMatchObject({ allowed: true, reason: 'consented' });
		await expectSameAnswers(ANNA.phone, changed.userId);
		for (const old of [userId, parentUserId]) expect(await offers(old)).toMatchObject({ allowed: false, reason: 'never_asked' });

		// A message under the new id is hers.
		expect(await inbound({ from: ANNA.waId, text: 'STOP' })).toMatchObject({ event: 'consent.withdrawn', withdrawn: ['offers', 'service'] });
		await expectSameAnswers(ANNA.phone, changed.userId);
	});
});

describe.each(STORE_KINDS)('Send WhatsApp, Request Contact Info, on the real engine (%s store)', (kind) => {
	let scenario: Scenario;
	beforeEach(async () => {
		scenario = await startScenario(kind);
		await scenario.ledger.definePurposes(PURPOSES);
	});
	afterEach(() => scenario.close());
	afterAll(() => stopEngine());

	const node = (parameters: INode['parameters']) => ({
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0] as [number, number], parameters: {} },
			{
				id: 'node',
				name: 'Node',
				type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
				typeVersion: 1,
				position: [200, 0] as [number, number],
				parameters,
				credentials: { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } },
			},
		],
		connections: { Start: { main: [[{ node: 'Node', type: 'main' as const, index: 0 }]] } },
	});

	test("the Number Needed item's reply, sent as is, is Meta's contact info request to the user id; the answer confirms", async () => {
		const { userId } = await scenario.control<{ userId: string }>('users', { waId: ANNA.waId, username: 'anna.k' });
		const { code } = await scenario.ledger.requestOptIn({ phone: ANNA.phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		const [asked] = await scenario.customerSends(ANNA.waId, { text: code });
		expect(asked).toMatchObject({ event: 'optin.number_needed', reply: { to: userId, category: 'service', type: 'contact_info_request' } });
		const send = node({ operation: 'requestContactInfo', body: '={{ $json.reply.text }}', recipient: '={{ $json.reply.to }}', category: '={{ $json.reply.category }}', purpose: 'offers', options: {} });
		const result = await runWorkflow(send, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items: [asked as unknown as IDataObject] } });
		expect(result.outputOf('Node', 0)).toHaveLength(1);
		const [request] = (await scenario.graphRequests()) as unknown as { body: Record<string, unknown>; outcome: { status: string } }[];
		expect(request).toMatchObject({
			outcome: { status: 'accepted' },
			body: { recipient: userId, type: 'interactive', interactive: { type: 'request_contact_info', body: { text: (asked.reply as { text: string }).text } } },
		});
		const [confirmed] = await scenario.customerSends(ANNA.waId, { shareContact: true });
		expect(confirmed).toMatchObject({ event: 'optin.confirmed', phone: ANNA.phone, userId });
	});
});
