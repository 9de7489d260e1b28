/**
 * The sample workflows in workflows/, run on n8n's real engine with this package's nodes and n8n's own, against
 * the local Cloud API sandbox and a ledger on each store. The CRM, newsletter tool and helpdesk are the sandbox's
 * echo stand-ins, reached over real HTTP.
 */
import { join } from 'node:path';
import type { IDataObject } from 'n8n-workflow';
import { readWorkflowFile, runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { STORE_KINDS } from '../helpers/ledgers';
import { startScenario, withStandIns, type Scenario } from '../helpers/scenario';

const WORKFLOWS = join(__dirname, '..', '..', 'workflows');
const PURPOSE_TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };

const withSettings = (workflow: WorkflowJson, scenario: Scenario) => withStandIns(workflow, scenario.sandbox.url);

async function echoes(scenario: Scenario, name: string) {
	const { received } = await scenario.control<{ received: { name: string; body: IDataObject }[] }>('echo');
	return received.filter((entry) => entry.name === name).map((entry) => entry.body);
}

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('sample workflows on the real engine (%s store)', (kind) => {
	let scenario: Scenario;

	beforeEach(async () => {
		scenario = await startScenario(kind);
		await scenario.ledger.definePurposes([
			{ id: 'offers', label: 'Angebote und Neuigkeiten' },
			{ id: 'order-updates', label: 'Bestell- und Lieferstatus' },
		]);
	});
	afterEach(() => scenario.close());

	async function optIn(phone: string, purposes = ['offers']) {
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes, consentText: PURPOSE_TEXT, source: {} });
		return scenario.customerSends(phone.slice(1), { text: `Anmeldung bestätigen: ${code}` });
	}

	test('inbox: a confirmed opt-in gets the welcome and lands in the CRM (#13)', async () => {
		const inbox = withSettings(readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json')), scenario);
		const items = await optIn('+4915112345678');
		expect(items.map((item) => item.event)).toEqual(['optin.confirmed']);
		const run = await runWorkflow(inbox, { credentials: scenario.credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });
		expect(run.error).toBeUndefined();
		expect(run.outputOf('Send Welcome', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', wamid: expect.stringMatching(/^wamid\./) });
		const sent = (await scenario.graphRequests()).filter((r) => r.outcome.status === 'accepted');
		expect(sent).toHaveLength(1);
		expect(sent[0].body.text!.body).toMatch(/Beispiel GmbH.*STOP/s);
		expect(sent[0].body.text!.body).not.toMatch(/%|Rabatt|gratis|kaufen|€/i); // names what will come, advertises nothing
		expect(await echoes(scenario, 'crm')).toEqual([expect.objectContaining({ phone: '+4915112345678', whatsappOptIn: true })]);
	});

	test('inbox: STOP is confirmed once and passed to CRM and newsletter; START gets a link; a question goes to the helpdesk (#21 #23 #26)', async () => {
		const inbox = withSettings(readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json')), scenario);
		await optIn('+4915112345678');
		const run = async (items: unknown[]) => runWorkflow(inbox, { credentials: scenario.credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });

		const stop = await scenario.customerSends('4915112345678', { text: 'Stopp!' });
		expect((await run(stop)).outputOf('Confirm Withdrawal', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect(await scenario.ledger.mayMessage({ recipient: '+4915112345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		expect(await echoes(scenario, 'crm')).toEqual([expect.objectContaining({ phone: '+4915112345678', whatsappOptIn: false })]);
		expect(await echoes(scenario, 'newsletter')).toEqual([expect.objectContaining({ phone: '+4915112345678', unsubscribed: true })]);

		// A second later: Meta's timestamps are whole seconds, and a message in the STOP's own second counts as before it.
		await new Promise((resolve) => setTimeout(resolve, 1000));
		const start = await scenario.customerSends('4915112345678', { text: 'START' });
		const rejoin = (await run(start)).outputOf('Send Sign-Up Link', 0)[0].json.whatsapp as IDataObject;
		expect(rejoin.status).toBe('sent');
		expect(await scenario.ledger.mayMessage({ recipient: '+4915112345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false });

		const question = await scenario.customerSends('4915112345678', { text: 'Wann kommt meine Bestellung?' });
		await run(question);
		expect(await echoes(scenario, 'helpdesk')).toEqual([expect.objectContaining({ from: '4915112345678', text: 'Wann kommt meine Bestellung?' })]);

		const texts = (await scenario.graphRequests()).map((r) => r.body.text?.body ?? '');
		expect(texts.filter((text) => /abgemeldet/.test(text))).toHaveLength(1);
		expect(texts.some((text) => text.includes('https://example.com/whatsapp'))).toBe(true);
	});

	test('inbox: marketing switched off in WhatsApp reaches the CRM and the newsletter with no message; a STOP whose confirmation Meta refuses reaches both too', async () => {
		const inbox = withSettings(readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json')), scenario);
		const run = async (items: unknown[]) => runWorkflow(inbox, { credentials: scenario.credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });
		await optIn('+4915112345678');
		await optIn('+4915112345679');
		const before = (await scenario.graphRequests()).length;

		const switched = await scenario.customerSwitchesMarketing('4915112345678', 'stop');
		expect(switched.map((item) => item.event)).toEqual(['marketing.preference']);
		const offRun = await run(switched);
		expect(offRun.error).toBeUndefined();
		expect(offRun.executedNodes).not.toContain('Confirm Withdrawal');
		expect((await scenario.graphRequests()).length).toBe(before);
		expect(await scenario.ledger.mayMessage({ recipient: '+4915112345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false });
		expect(await echoes(scenario, 'crm')).toEqual([expect.objectContaining({ phone: '+4915112345678', whatsappOptIn: false })]);
		expect(await echoes(scenario, 'newsletter')).toEqual([expect.objectContaining({ phone: '+4915112345678', unsubscribed: true })]);

		// Meta refuses the confirmation (131026: not deliverable): the CRM and the newsletter tool still learn of the STOP.
		await scenario.control('faults', { count: 1, kind: 'error', code: 131026 });
		const stopRun = await run(await scenario.customerSends('4915112345679', { text: 'STOP' }));
		expect(stopRun.error).toBeUndefined();
		expect(stopRun.outputOf('Confirm Withdrawal', 0)).toEqual([]);
		expect(stopRun.outputOf('Confirm Withdrawal', 1)[0].json.whatsapp).toMatchObject({ status: 'failed' });
		expect((await echoes(scenario, 'crm')).slice(1)).toEqual([expect.objectContaining({ phone: '+4915112345679', whatsappOptIn: false })]);
		expect((await echoes(scenario, 'newsletter')).slice(1)).toEqual([expect.objectContaining({ phone: '+4915112345679', unsubscribed: true })]);
	});

	test('inbox: a code from a username user the ledger cannot tie asks for the number; the shared number confirms and gets the welcome (issue 12)', async () => {
		const inbox = withSettings(readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json')), scenario);
		const run = async (items: unknown[]) => runWorkflow(inbox, { credentials: scenario.credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });
		const { userId } = await scenario.control<{ userId: string }>('users', { waId: '4915112345679', username: 'kim.b' });
		const { code } = await scenario.ledger.requestOptIn({ phone: '+4915112345679', purposes: ['offers'], consentText: PURPOSE_TEXT, source: {} });
		const asked = await scenario.customerSends('4915112345679', { text: code });
		expect(asked.map((item) => item.event)).toEqual(['optin.number_needed']);
		expect((await run(asked)).outputOf('Ask for the Number', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		const [request] = await scenario.graphRequests();
		expect(request).toMatchObject({ outcome: { status: 'accepted' }, body: { recipient: userId, type: 'interactive' } });

		const confirmed = await scenario.customerSends('4915112345679', { shareContact: true });
		expect(confirmed.map((item) => item.event)).toEqual(['optin.confirmed']);
		expect((await run(confirmed)).outputOf('Send Welcome', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect(await scenario.ledger.mayMessage({ recipient: userId, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('inbox: HELP gets the help text once per message; a sentence that wants out becomes an urgent ticket and withdraws nothing (#13)', async () => {
		const inbox = withSettings(readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json')), scenario);
		await optIn('+4915112345679');
		const run = async (items: unknown[]) => runWorkflow(inbox, { credentials: scenario.credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });

		const help = await scenario.customerSends('4915112345679', { text: 'Hilfe' });
		expect(help).toMatchObject([{ event: 'message.received', meaning: 'help' }]);
		expect((await run(help)).outputOf('Send Help', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		// n8n running the same execution again (the outbox hands an item over at least once) answers nothing more.
		expect((await run(help)).outputOf('Send Help', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
		const again = await scenario.customerSends('4915112345679', { text: 'HILFE' });
		expect((await run(again)).outputOf('Send Help', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		const answers = (await scenario.graphRequests()).map((r) => r.body.text?.body ?? '').filter((text) => text.includes('höchstens eine Nachricht pro Woche'));
		expect(answers).toHaveLength(2);
		expect(answers[0]).toMatch(/^Beispiel GmbH auf WhatsApp: .*STOP/);

		const wish = await scenario.customerSends('4915112345679', { text: 'Ich möchte mich bitte abmelden' });
		await run(wish);
		expect(await echoes(scenario, 'helpdesk')).toEqual([expect.objectContaining({ text: 'Ich möchte mich bitte abmelden', priority: 'urgent' })]);
		expect(await scenario.ledger.mayMessage({ recipient: '+4915112345679', purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('newsletter: only consented subscribers, once per campaign, within the limits; the operator gets the summary (#16 #17 #20)', async () => {
		const newsletter = withSettings(readWorkflowFile(join(WORKFLOWS, 'newsletter.json')), scenario);
		for (const phone of ['+4915100000101', '+4915100000102', '+4915100000103']) await optIn(phone);
		await optIn('+4915100000104');
		await scenario.customerSends('4915100000104', { text: 'STOP' });
		await scenario.ledger.requestOptIn({ phone: '+4915100000105', purposes: ['offers'], consentText: PURPOSE_TEXT, source: {} });
		await scenario.control('preferences', { waId: '4915100000103', value: 'stop' });
		await scenario.ledger.setMarketingPreference({ waId: '4915100000103', value: 'stop', at: new Date() });

		const first = await runWorkflow(newsletter, { credentials: scenario.credentials, startNode: 'Every Monday at 10' });
		expect(first.error).toBeUndefined();
		expect(first.outputOf('Send Newsletter', 0).map((item) => item.json.phone).sort()).toEqual(['+4915100000101', '+4915100000102']);
		const second = await runWorkflow(newsletter, { credentials: scenario.credentials, startNode: 'Every Monday at 10' });
		expect(second.outputOf('Send Newsletter', 0)).toHaveLength(0);
		expect(second.outputOf('Send Newsletter', 1).map((item) => (item.json.whatsapp as IDataObject).reason)).toEqual(['already_sent', 'already_sent']);
		const templates = (await scenario.graphRequests()).filter((r) => r.body.template?.name === 'newsletter');
		expect(templates.map((r) => r.body.to).sort()).toEqual(['4915100000101', '4915100000102']);
		expect(templates.every((r) => r.outcome.status === 'accepted')).toBe(true);

		// One summary per run, after its sends, with what was not sent by reason.
		const summaries = await echoes(scenario, 'operator');
		expect(summaries).toEqual([
			expect.objectContaining({ campaign: expect.stringMatching(/^newsletter-\d{4}-\d\d$/), sent: 2, refusedByReason: {}, failedByReason: {} }),
			expect.objectContaining({ sent: 0, refusedByReason: { already_sent: 2 }, failedByReason: {} }),
		]);
		expect(summaries[1].text).toMatch(/Sent: 0\nNot sent \(refused\): already_sent 2\nFailed: none\n/);
	});

	test('CRM order update: sent to the consented, refused with the reason for the rest; nothing reaches Meta for them', async () => {
		const crm = readWorkflowFile(join(WORKFLOWS, 'crm-order-update.json'));
		await optIn('+4915100000201', ['order-updates']);
		const order = (phone: string) => ({ body: { phone, firstName: 'Anna', orderId: 'A-1042', status: 'unterwegs' } });
		const run = await runWorkflow(crm, {
			credentials: scenario.credentials,
			triggerData: { nodeName: 'CRM Webhook', items: [order('+4915100000201'), order('+4915100000202'), order('not a number')] },
		});
		expect(run.error).toBeUndefined();
		expect(run.outputOf('Send Order Update', 0)).toHaveLength(1);
		expect(run.outputOf('Verify Consent', 1).map((item) => (item.json.consent as IDataObject).reason)).toEqual(['never_asked', 'invalid_recipient']);
		const requests = await scenario.graphRequests();
		expect(requests.map((r) => r.body.to)).toEqual(['4915100000201']);
		expect(requests[0].outcome.status).toBe('accepted');
	});

	test('data-subject requests: export with files, erase with the CRM told; nightly purge and verification (#30 #31 #35)', async () => {
		const rights = withSettings(readWorkflowFile(join(WORKFLOWS, 'data-subject-requests.json')), scenario);
		await optIn('+4915100000301');
		const exported = await runWorkflow(rights, {
			credentials: scenario.credentials,
			triggerData: { nodeName: 'Request Webhook', items: [{ body: { phone: '+4915100000301', request: 'export', requestedBy: 'e-mail 28.11.' } }] },
		});
		const person = exported.outputOf('Export Person', 0)[0];
		expect(person.json).toMatchObject({ found: true, phone: '+4915100000301' });
		expect(Object.keys(person.binary ?? {}).sort()).toEqual(['csv', 'json', 'proof']);
		expect(person.binary!.proof.mimeType).toBe('text/html');

		const erased = await runWorkflow(rights, {
			credentials: scenario.credentials,
			triggerData: { nodeName: 'Request Webhook', items: [{ body: { phone: '+4915100000301', request: 'erase', reason: 'request by e-mail' } }] },
		});
		expect(erased.outputOf('Erase Person', 0)[0].json).toMatchObject({ erased: true });
		expect(await echoes(scenario, 'crm')).toEqual([{ phone: '+4915100000301', erase: true }]);
		expect(await scenario.ledger.getConsent('+4915100000301')).toBeUndefined();

		const nightly = await runWorkflow(rights, { credentials: scenario.credentials, startNode: 'Every Night at 3' });
		expect(nightly.outputOf('Verify Audit Chain', 0)[0].json).toMatchObject({ ok: true, tombstones: expect.any(Number) });
	});
});
