/**
 * Issue 13, Meta's Marketing Messages API on real parts: Send WhatsApp on n8n's real engine, the sandbox's
 * `/marketing_messages` and `/messages` over HTTP, its status webhooks delivered to the Opt-In Trigger, both stores.
 * What reached "Meta" is counted in the sandbox's request log, never assumed.
 */
import fc from 'fast-check';
import type { IDataObject, INode } from 'n8n-workflow';
import { WhatsAppClient, WhatsAppError, type OutgoingMessage } from '../../lib/whatsapp';
import { startSandbox } from '../../sandbox/server';
import { sendRows, STORE_KINDS } from '../helpers/ledgers';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { until } from '../helpers/receiver';
import { startHostedScenario, type HostedScenario } from '../helpers/hosted-scenario';
import type { Scenario } from '../helpers/scenario';
import { ALL_EVENTS, type TriggerHost } from '../helpers/trigger-host';

const WABA = '200000000000001';
const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const CREDENTIALS = { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };
const NEWSLETTER = { template: 'newsletter|de', variables: { header_1: 'März', body_1: '={{ $json.name }}', body_2: 'Angebote' } };
const WELCOME = { template: 'welcome|de', variables: { body_1: '={{ $json.name }}' } };

/** Start → Send WhatsApp (version 2) with a template from the list and the Marketing Messages API option. */
function sendWorkflow(chosen: { template: string; variables: IDataObject }, category: string, options: IDataObject = {}): WorkflowJson {
	const schema = Object.keys(chosen.variables).map((id) => ({ id, displayName: id, required: false, defaultMatch: false, display: true, type: 'string' }));
	return {
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'send',
				name: 'Send',
				type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
				typeVersion: 2,
				position: [200, 0],
				parameters: {
					operation: 'sendTemplate',
					recipient: '={{ $json.phone }}',
					purpose: 'offers',
					category,
					template: { __rl: true, mode: 'list', value: chosen.template },
					templateVariables: { mappingMode: 'defineBelow', value: chosen.variables, matchingColumns: [], schema },
					options: { pairRateSeconds: 0, marketingMessages: true, ...options },
				} as INode['parameters'],
				credentials: CREDENTIALS,
			},
		],
		connections: { Start: { main: [[{ node: 'Send', type: 'main', index: 0 }]] } },
	};
}

interface Logged {
	method: string;
	path: string;
	body?: { to?: string; recipient_type?: string; template?: { name: string } };
	outcome: { status: string; code?: number };
}

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('the Marketing Messages API (%s store)', (kind) => {
	let hosted: HostedScenario;
	let scenario: Scenario;
	let host: TriggerHost;

	beforeEach(async () => {
		hosted = await startHostedScenario(kind, { events: [...ALL_EVENTS, 'consent.incident'], businessAccountId: WABA });
		({ scenario, host } = hosted);
	});
	afterEach(() => hosted.close());

	const run = async (workflow: WorkflowJson, items: IDataObject[]) => {
		const result = await runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items } });
		return { sent: result.outputOf('Send', 0).map((item) => item.json.whatsapp as IDataObject), notSent: result.outputOf('Send', 1).map((item) => item.json.whatsapp as IDataObject) };
	};
	/** The sends that reached the sandbox, by edge: `/messages` or `/marketing_messages`. */
	const sends = async () => {
		const { requests } = await scenario.control<{ requests: Logged[] }>('messages');
		const posts = requests.filter((r) => r.method === 'POST');
		return {
			marketing: posts.filter((r) => r.path.endsWith('/marketing_messages')),
			messages: posts.filter((r) => r.path.endsWith('/100000000000001/messages')),
		};
	};
	const hostItems = (event: string) => host.executions.flat().filter((item) => item.event === event);

	async function consented(phone: string) {
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.control('inbound', { from: phone.slice(1), text: code });
		await until('the confirmation', () => hostItems('optin.confirmed').some((item) => item.phone === phone));
	}

	test('onboarded: a MARKETING template goes to /marketing_messages, once, and its statuses come back as for /messages', async () => {
		await scenario.control('config', { marketingMessagesOnboarded: true }, 'PATCH');
		await consented('+4915100000601');
		const { sent } = await run(sendWorkflow(NEWSLETTER, 'marketing'), [{ phone: '+4915100000601', name: 'Anna' }]);
		expect(sent).toEqual([expect.objectContaining({ status: 'sent', endpoint: 'marketing_messages', wamid: expect.stringMatching(/^wamid\./) })]);
		const { marketing, messages } = await sends();
		expect(messages).toHaveLength(0);
		expect(marketing).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ status: 'accepted' }) })]);
		// Meta's body for this edge: the Cloud API's template message, recipient_type included.
		expect(marketing[0].body).toMatchObject({ to: '4915100000601', recipient_type: 'individual', template: { name: 'newsletter' } });

		const delivered = await until('the delivered status', () => hostItems('status.updated').find((item) => item.messageId === sent[0].wamid && item.status === 'delivered'));
		expect(delivered).toMatchObject({ sendKey: sent[0].key, pricing: { category: 'marketing_lite' } });
		// Marketing sent as marketing and priced as marketing_lite: no consent incident.
		expect(hostItems('consent.incident')).toEqual([]);
		expect(await sendRows(scenario.ledger)).toEqual({ [String(sent[0].key)]: { status: expect.stringMatching(/^(delivered|read)$/), wamid: sent[0].wamid } });
	});

	test('not onboarded: the first send falls back to /messages once and is recorded once; the following sends go to /messages straight away', async () => {
		await consented('+4915100000611');
		await consented('+4915100000612');
		const first = await run(sendWorkflow(NEWSLETTER, 'marketing'), [{ phone: '+4915100000611', name: 'Anna' }]);
		expect(first.sent).toEqual([expect.objectContaining({ status: 'sent', endpoint: 'messages' })]);
		let logged = await sends();
		expect(logged.marketing.map((r) => [r.body?.to, r.outcome.status, r.outcome.code])).toEqual([['4915100000611', 'error', 131055]]);
		expect(logged.messages.map((r) => [r.body?.to, r.outcome.status])).toEqual([['4915100000611', 'accepted']]);
		expect(await sendRows(scenario.ledger)).toEqual({ [String(first.sent[0].key)]: { status: expect.any(String), wamid: first.sent[0].wamid } });

		// The answer is remembered for the business number: no refused request before every further message, even
		// after the account is onboarded meanwhile (a restart of n8n asks again).
		await scenario.control('config', { marketingMessagesOnboarded: true }, 'PATCH');
		const second = await run(sendWorkflow(NEWSLETTER, 'marketing'), [{ phone: '+4915100000612', name: 'Ben' }]);
		expect(second.sent).toEqual([expect.objectContaining({ status: 'sent', endpoint: 'messages' })]);
		logged = await sends();
		expect(logged.marketing).toHaveLength(1);
		expect(logged.messages.map((r) => r.body?.to)).toEqual(['4915100000611', '4915100000612']);
		// Each person has the message once in the chat.
		for (const waId of ['4915100000611', '4915100000612']) {
			const chat = await scenario.control<{ messages: { direction: string }[] }>(`chats/${waId}`);
			expect(chat.messages.filter((m) => m.direction === 'out')).toHaveLength(1);
		}
		// A re-run of the first send is the same key: nothing goes out again, by either edge.
		const again = await run(sendWorkflow(NEWSLETTER, 'marketing'), [{ phone: '+4915100000611', name: 'Anna' }]);
		expect(again.notSent).toEqual([expect.objectContaining({ reason: 'already_sent' })]);
		expect((await sends()).messages).toHaveLength(2);
	});

	test('a UTILITY template never goes to /marketing_messages, even labelled marketing by the workflow', async () => {
		await scenario.control('config', { marketingMessagesOnboarded: true }, 'PATCH');
		await consented('+4915100000621');
		const utility = await run(sendWorkflow(WELCOME, 'utility'), [{ phone: '+4915100000621', name: 'Anna' }]);
		expect(utility.sent).toEqual([expect.objectContaining({ status: 'sent', endpoint: 'messages' })]);
		const labelled = await run(sendWorkflow(WELCOME, 'marketing', { campaignKey: 'labelled' }), [{ phone: '+4915100000621', name: 'Anna' }]);
		expect(labelled.sent).toEqual([expect.objectContaining({ status: 'sent', endpoint: 'messages' })]);
		const { marketing, messages } = await sends();
		expect(marketing).toHaveLength(0);
		expect(messages).toHaveLength(2);
		// Without the option a MARKETING template goes to /messages as before.
		const off = await run(sendWorkflow(NEWSLETTER, 'marketing', { marketingMessages: false }), [{ phone: '+4915100000621', name: 'Anna' }]);
		expect(off.sent).toEqual([expect.objectContaining({ endpoint: 'messages' })]);
		expect((await sends()).marketing).toHaveLength(0);
	});

	test('an answer from /marketing_messages that may follow a sent message is never followed by a send to /messages', async () => {
		await scenario.control('config', { marketingMessagesOnboarded: true }, 'PATCH');
		await consented('+4915100000631');
		// The template list is fetched (and kept) by the first run, so the fault below hits the send itself.
		await run(sendWorkflow(WELCOME, 'utility'), [{ phone: '+4915100000631', name: 'Anna' }]);
		await scenario.control('faults', { kind: 'http5xx', status: 502, processed: true });
		const workflow = sendWorkflow(NEWSLETTER, 'marketing');
		(workflow.nodes[1] as INode).onError = 'continueRegularOutput';
		const { notSent } = await run(workflow, [{ phone: '+4915100000631', name: 'Anna' }]);
		expect(notSent).toEqual([expect.objectContaining({ status: 'unknown', reason: 'server_error' })]);
		const { marketing, messages } = await sends();
		expect(marketing.map((r) => r.outcome.status)).toEqual(['http5xx']);
		expect(messages.map((r) => r.body?.template?.name)).toEqual(['welcome']);
	});
});

/**
 * What Meta may answer /marketing_messages with, as the sandbox injects it (`processed`: the message went out anyway).
 * Only answers Meta does not document as a refusal may follow a message that went out (1, 131000, a bare 5xx, a reset);
 * the refusals (131055 for the fallback, 80007 retried, the others not) are Meta's word that nothing was taken.
 */
const ANSWERS = fc.oneof(
	fc.record({ kind: fc.constant('error'), code: fc.constantFrom(131055, 80007, 131049, 131026, 100, 132015, 368), processed: fc.constant(false) }),
	fc.record({ kind: fc.constant('error'), code: fc.constantFrom(1, 131000), processed: fc.boolean() }),
	fc.record({ kind: fc.constant('http5xx'), status: fc.constantFrom(500, 502, 503), processed: fc.boolean() }),
	fc.record({ kind: fc.constant('reset'), processed: fc.boolean() }),
);

describe('the fallback never sends a message twice (client against the sandbox)', () => {
	const NEWSLETTER_DE: OutgoingMessage = { type: 'template', name: 'newsletter', language: 'de', header: ['März'], body: ['Anna', 'Angebote'] };

	test('whatever /marketing_messages answers first, at most one message goes out, and /messages is asked only after 131055', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(ANSWERS, { minLength: 1, maxLength: 3 }), async (answers) => {
				// A sandbox of its own per run: the client remembers a not-onboarded number for the process, by its URL.
				const sandbox = await startSandbox({ pairRateSeconds: 0, marketingMessagesOnboarded: true });
				try {
					for (const answer of answers) await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(answer) });
					const client = new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0, backoff: { baseDelayMs: 1, maxDelayMs: 5 } });
					const outcome = await client.send('+4915100000691', NEWSLETTER_DE, { marketingMessages: true }).catch((error: Error) => error);
					const { requests } = (await (await fetch(`${sandbox.url}/_sandbox/messages`)).json()) as { requests: { path: string; outcome: { status: string; code?: number; processed?: { status: string } } }[] };
					const wentOut = requests.filter((r) => r.outcome.status === 'accepted' || r.outcome.processed?.status === 'accepted');
					const chat = (await (await fetch(`${sandbox.url}/_sandbox/chats/4915100000691`)).json()) as { messages: unknown[] };
					expect(wentOut.length).toBeLessThanOrEqual(1);
					expect(chat.messages.length).toBe(wentOut.length);
					const toMessages = requests.findIndex((r) => r.path.endsWith('/100000000000001/messages'));
					if (toMessages >= 0) expect(requests[toMessages - 1].outcome).toMatchObject({ status: 'error', code: 131055 });
					if (outcome instanceof Error) {
						expect(outcome).toBeInstanceOf(WhatsAppError);
						// A failed send either went nowhere or says it may have gone out.
						if (wentOut.length > 0) expect((outcome as WhatsAppError).outcomeUnknown).toBe(true);
					} else {
						expect(wentOut).toHaveLength(1);
						expect(wentOut[0].path.endsWith(`/${outcome.endpoint}`)).toBe(true);
					}
				} finally {
					await sandbox.close();
				}
			}),
			{ numRuns: 40 },
		);
	});
});
