/**
 * Issue 13, the error table on real parts: each code made by the sandbox on demand (a synchronous refusal, and where
 * Meta reports it so, a failed status webhook), read by the client, put out by Send WhatsApp on n8n's real engine or
 * by the Opt-In Trigger, with the fix, Meta's details and the retry advice; and what the ledger makes of it, on both
 * stores. What reached "Meta" is counted in the sandbox's request log.
 */
import type { IDataObject, INode } from 'n8n-workflow';
import type { RetryAdvice } from '../../lib/whatsapp';
import { STORE_KINDS } from '../helpers/ledgers';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { until } from '../helpers/receiver';
import { startHostedScenario, type HostedScenario } from '../helpers/hosted-scenario';
import type { Scenario } from '../helpers/scenario';
import { ALL_EVENTS, type TriggerHost } from '../helpers/trigger-host';

const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const CREDENTIALS = { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };
const PHONE = '+4915100000701';
const WA_ID = PHONE.slice(1);

/**
 * The codes of issue 13 with the HTTP status Meta answers them with (its "integrity errors" 368 and 131031 come as
 * 403), the retry advice and words the fix must have. A template name is in the fix of a synchronous 132015/132016.
 */
const TABLE: [code: number, httpStatus: number, retry: RetryAdvice, fix: RegExp][] = [
	[130472, 400, 'never', /experiment: do not retry it, and do not treat it as an opt-out/],
	[131049, 400, 'much-later', /this is not an opt-out; do not retry today/],
	[131026, 400, 'never', /mark the number as undeliverable in your CRM and do not retry/],
	[131042, 400, 'never', /payment method: an operator has to act in WhatsApp Manager/],
	[132015, 400, 'never', /^Template 'welcome' is paused by Meta for low quality/],
	[132016, 400, 'never', /^Template 'welcome' was paused too often and is disabled for good/],
	[131031, 403, 'never', /is locked .*an operator has to act in WhatsApp Manager/],
	[368, 403, 'never', /temporarily blocked the account for a policy violation/],
];

/** The codes Meta also reports after accepting a message, as a `failed` status (its webhooks reference). */
const AS_STATUS = [131049, 131026, 130472];

/** Start → Send WhatsApp (version 1, no template list: Meta's answer is all the node learns) → the items. */
function sendWorkflow(campaignKey: string): WorkflowJson {
	return {
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'send',
				name: 'Send',
				type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
				typeVersion: 1,
				position: [200, 0],
				onError: 'continueRegularOutput',
				parameters: {
					operation: 'sendTemplate',
					templateName: 'welcome',
					language: 'de',
					parameterFormat: 'positional',
					bodyParameters: { parameter: [{ value: 'Anna' }] },
					recipient: '={{ $json.phone }}',
					category: 'marketing',
					purpose: 'offers',
					options: { pairRateSeconds: 0, campaignKey },
				} as INode['parameters'],
				credentials: CREDENTIALS,
			},
		],
		connections: { Start: { main: [[{ node: 'Send', type: 'main', index: 0 }]] } },
	};
}

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('the error table, sandbox → client → node (%s store)', (kind) => {
	let hosted: HostedScenario;
	let scenario: Scenario;
	let host: TriggerHost;

	beforeEach(async () => {
		hosted = await startHostedScenario(kind, { events: ALL_EVENTS });
		({ scenario, host } = hosted);
		const { code } = await scenario.ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.control('inbound', { from: WA_ID, text: code });
		await until('the confirmation', () => hostItems('optin.confirmed').length > 0);
	});
	afterEach(() => hosted.close());

	const hostItems = (event: string) => host.executions.flat().filter((item) => item.event === event);
	const run = async (campaignKey: string) => {
		const result = await runWorkflow(sendWorkflow(campaignKey), { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items: [{ phone: PHONE }] } });
		return { sent: result.outputOf('Send', 0).map((item) => item.json.whatsapp as IDataObject), notSent: result.outputOf('Send', 1).map((item) => item.json.whatsapp as IDataObject) };
	};
	const sendRequests = async () => (await scenario.control<{ requests: { method: string; outcome: { status: string; httpStatus?: number; code?: number } }[] }>('messages')).requests.filter((r) => r.method === 'POST');
	const sendRow = async () => (await scenario.ledger.store.query<{ status: string; error_code: number | null }>('SELECT status, error_code FROM sends'))[0];
	/** Meta's per-user limit and its experiment are no opt-out: the person may still get marketing. */
	const stillMayGetMarketing = async () => (await scenario.ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).allowed;

	test.each(TABLE)('%i as a synchronous error: HTTP %i, retry %s, the fix and Meta’s details in the output, the send failed in the ledger', async (code, httpStatus, retry, fix) => {
		const details = `Meta's own words on error ${code}`;
		await scenario.control('faults', { kind: 'error', code, details });
		const { sent, notSent } = await run(`sync-${code}`);
		expect(sent).toEqual([]);
		expect(notSent).toEqual([expect.objectContaining({ status: 'failed', reason: `whatsapp_${code}`, code, retry, details, fix: expect.stringMatching(fix) })]);
		expect(String(notSent[0].message)).toContain(details);
		// Not sent again by the client: one request, refused as the fault said.
		expect((await sendRequests()).map((r) => [r.outcome.status, r.outcome.code, r.outcome.httpStatus])).toEqual([['error', code, httpStatus]]);
		expect(await sendRow()).toEqual({ status: 'failed', error_code: code });
		// None of these is an opt-out (131050 is): the person's consent and the in-app switch stay as they were.
		expect(await stillMayGetMarketing()).toBe(true);
	});

	test.each(AS_STATUS)('%i as a failed status webhook: the Opt-In Trigger puts out the fix; the ledger records the failure, not an opt-out', async (code) => {
		const [, , retry, fix] = TABLE.find(([candidate]) => candidate === code)!;
		const details = `Meta's own words on the failed status ${code}`;
		await scenario.control('faults', { kind: 'failed_status', code, details });
		const { sent } = await run(`status-${code}`);
		expect(sent).toEqual([expect.objectContaining({ status: 'sent' })]);
		const failed = await until('the failed status', () => hostItems('status.updated').find((item) => item.messageId === sent[0].wamid && item.status === 'failed'));
		expect(failed).toMatchObject({ sendKey: sent[0].key, marketingStopped: false, errors: [{ code, details, retry, fix: expect.stringMatching(fix) }] });
		expect(await sendRow()).toEqual({ status: 'failed', error_code: code });
		expect(await stillMayGetMarketing()).toBe(true);
		// The sandbox accepted the message once; the failure came afterwards, by webhook only.
		expect((await sendRequests()).map((r) => r.outcome.status)).toEqual(['accepted']);
	});

	test('without Continue On Fail the node stops with Meta’s message and the fix as the error description', async () => {
		await scenario.control('faults', { kind: 'error', code: 131049 });
		const workflow = sendWorkflow('stops');
		delete (workflow.nodes[1] as Partial<INode>).onError;
		const result = await runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items: [{ phone: PHONE }] } });
		expect(result.status).toBe('error');
		expect(String(result.error?.message)).toMatch(/^WhatsApp error 131049: .*healthy ecosystem engagement/);
		expect(String((result.error as { description?: string })?.description)).toMatch(/not an opt-out; do not retry today/);
	});
});
