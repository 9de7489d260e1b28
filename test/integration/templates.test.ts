/**
 * Issue 13, templates from the business account, on real parts: the sandbox's template list over HTTP (paged as
 * Meta pages it), the editor's list and fields of Send WhatsApp, sends on n8n's real engine, Meta's template webhooks
 * signed and delivered by the sandbox to the Opt-In Trigger, and the consent incident a status's pricing reveals, on
 * both stores. What reached "Meta" is counted by the sandbox.
 */
import type { IDataObject, ILoadOptionsFunctions, INode } from 'n8n-workflow';
import { TemplateDirectory } from '../../lib/templates';
import { WhatsAppClient } from '../../lib/whatsapp';
import { getTemplateVariables, searchTemplates } from '../../nodes/SendWhatsApp/methods/templates';
import { STORE_KINDS } from '../helpers/ledgers';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { until } from '../helpers/receiver';
import { startHostedScenario, type HostedScenario } from '../helpers/hosted-scenario';
import type { Scenario } from '../helpers/scenario';
import { ALL_EVENTS, type TriggerHost } from '../helpers/trigger-host';

const WABA = '200000000000001';
const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const CREDENTIALS = { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };

/** Start → Send WhatsApp of the given version. */
function sendWorkflow(parameters: IDataObject, typeVersion = 2): WorkflowJson {
	return {
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'send',
				name: 'Send',
				type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
				typeVersion,
				position: [200, 0],
				parameters: { operation: 'sendTemplate', recipient: '={{ $json.phone }}', purpose: 'offers', options: { pairRateSeconds: 0 }, ...parameters } as INode['parameters'],
				credentials: CREDENTIALS,
			},
		],
		connections: { Start: { main: [[{ node: 'Send', type: 'main', index: 0 }]] } },
	};
}

/** Version 2's parameters: the template from the list and its variables. */
function v2(template: string, variables: IDataObject, extra: IDataObject = {}): IDataObject {
	return {
		template: { __rl: true, mode: 'list', value: template },
		templateVariables: {
			mappingMode: 'defineBelow',
			value: variables,
			matchingColumns: [],
			schema: Object.keys(variables).map((id) => ({ id, displayName: id, required: false, defaultMatch: false, display: true, type: 'string' })),
		},
		category: 'utility',
		...extra,
	};
}

/** What n8n gives the list and field methods in the editor: the credential and the node's current parameters. */
function editor(scenario: Scenario, parameters: IDataObject = {}): ILoadOptionsFunctions {
	const node = { id: 'send', name: 'Send', type: 'n8n-nodes-whatsapp-consent.sendWhatsApp', typeVersion: 2, position: [0, 0], parameters };
	return {
		getCredentials: async (name: string) => scenario.credentials[name],
		getNode: () => node,
		getNodeParameter: (name: string, fallback?: unknown, options?: { extractValue?: boolean }) => {
			const value = parameters[name] as { value?: unknown } | undefined;
			return options?.extractValue && value && typeof value === 'object' ? value.value : (value ?? fallback);
		},
	} as unknown as ILoadOptionsFunctions;
}

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('templates from the business account (%s store)', (kind) => {
	let hosted: HostedScenario;
	let scenario: Scenario;
	let host: TriggerHost;

	beforeEach(async () => {
		hosted = await startHostedScenario(kind, { events: [...ALL_EVENTS, 'template.updated', 'consent.incident'], businessAccountId: WABA });
		({ scenario, host } = hosted);
	});
	afterEach(() => hosted.close());

	const run = (workflow: WorkflowJson, items: IDataObject[]) => runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items } });
	const result = (run: Awaited<ReturnType<typeof runWorkflow>>, output: number) => run.outputOf('Send', output).map((item) => item.json.whatsapp as IDataObject);
	const sentTemplates = async () => (await scenario.graphRequests()).filter((r) => r.outcome.status === 'accepted').map((r) => r.body.template?.name);
	const hostItems = (event: string) => host.executions.flat().filter((item) => item.event === event);

	/** The person confirms from WhatsApp; the sandbox's signed webhook reaches the trigger, which commits it. */
	async function consented(phone: string) {
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.control('inbound', { from: phone.slice(1), text: code });
		await until('the confirmation', () => hostItems('optin.confirmed').some((item) => item.phone === phone));
	}

	/** Meta changes a template; resolves once the trigger has the notice of `kind` (if one is to come). */
	async function metaChanges(change: IDataObject, expect?: (item: IDataObject) => boolean) {
		const before = hostItems('template.updated').length;
		await scenario.control('templates', change);
		if (expect) await until('the template notice', () => hostItems('template.updated').slice(before).find(expect));
		else await until('the webhooks', async () => !(await scenario.control<{ busy: boolean }>('webhooks')).busy);
	}

	test('the client pages through the list with Meta\'s cursors; the directory and the editor\'s list follow them', async () => {
		const client = new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: scenario.sandbox.url });
		const first = await client.listTemplates(WABA, { limit: 3 });
		expect(first.templates.map((t) => `${t.name}|${t.language}`)).toEqual(['welcome|de', 'welcome|en', 'newsletter|de']);
		expect(first.after).toEqual(expect.any(String));
		const directory = new TemplateDirectory({ listTemplates: (waba, page) => client.listTemplates(waba, { ...page, limit: 3 }) }, WABA);
		const { templates } = await directory.all();
		expect(templates).toHaveLength(10);
		const paths = (await scenario.control<{ requests: { path: string }[] }>('messages')).requests.filter((r) => r.path.endsWith('/message_templates'));
		expect(paths).toHaveLength(5); // the first page above, then four pages of three, three, three and one

		// The editor: approved templates with language, category and parameter format; n8n passes Meta's cursor on.
		const all = await searchTemplates.call(editor(scenario));
		expect(all.results).toContainEqual({ name: 'delivery_slot · en · UTILITY · named', value: 'delivery_slot|en' });
		expect(all.results).toContainEqual({ name: 'spring_sale · de · MARKETING · positional', value: 'spring_sale|de' });
		expect(all.results).toHaveLength(10);
		expect(all.paginationToken).toBeUndefined();
		const rest = await searchTemplates.call(editor(scenario), undefined, first.after);
		expect(rest.results.map((item) => item.value)).toEqual(templates.slice(3).map((t) => `${t.name}|${t.language}`));
		expect((await searchTemplates.call(editor(scenario), 'marketing')).results.map((item) => item.value)).toEqual(['newsletter|de', 'newsletter|en', 'spring_sale|de']);
	});

	test('the fields of a named and of a positional template, with header and buttons', async () => {
		const fields = async (value: string) => (await getTemplateVariables.call(editor(scenario, { template: { __rl: true, mode: 'list', value } }))).fields;
		expect((await fields('delivery_slot|en')).map((field) => [field.id, field.displayName, field.required])).toEqual([
			['header_order_id', 'Header {{order_id}}', true],
			['body_first_name', 'Body {{first_name}}', true],
			['body_day', 'Body {{day}}', true],
			['button_0_url', 'Button 1 "Change slot": URL Suffix', true],
			['button_1_payload', 'Button 2 "Call me": Payload', false],
		]);
		expect((await fields('spring_sale|de')).map((field) => field.id)).toEqual(['header_image', 'body_1', 'body_2', 'button_0_copy_code', 'button_1_url', 'button_2_payload']);
		// "By Name" without the language: the one language the template has.
		expect((await fields('spring_sale')).map((field) => field.id)).toContain('button_0_copy_code');
		await expect(fields('welcome')).rejects.toThrow("Template 'welcome' exists in de, en");
		// Before a template is chosen: no fields and a notice, not an error the editor would show instead of them.
		expect(await getTemplateVariables.call(editor(scenario, { template: { __rl: true, mode: 'list', value: '' } }))).toEqual({ fields: [], emptyFieldsNotice: 'Choose a template to see its variables' });
	});

	test('version 2 sends from the fields; a missing variable is named before anything is sent; version 1 still works', async () => {
		await consented('+4915100000501');
		const spring = v2(
			'spring_sale|de',
			{ header_image: 'https://shop.example/spring.jpg', body_1: '={{ $json.name }}', body_2: 'Sonntag', button_0_copy_code: 'SPRING20', button_1_url: 'anna', button_2_payload: 'STOP_PROMOTIONS' },
			{ category: 'marketing' },
		);
		const sent = await run(sendWorkflow(spring), [{ phone: '+4915100000501', name: 'Anna' }]);
		expect(result(sent, 0)).toEqual([expect.objectContaining({ status: 'sent', pricing: expect.objectContaining({ category: 'marketing' }) })]);
		const chat = await scenario.control<{ messages: { template?: IDataObject }[] }>('chats/4915100000501');
		expect(chat.messages.at(-1)?.template).toMatchObject({
			body: 'Hallo Anna, nur bis Sonntag: 20 % auf alles.',
			headerMedia: '[image]',
			buttons: [
				{ type: 'copy_code', code: 'SPRING20' },
				{ type: 'url', url: 'https://shop.example/sale/anna' },
				{ type: 'quick_reply', payload: 'STOP_PROMOTIONS' },
			],
		});

		const missing = await run(sendWorkflow(v2('delivery_slot|en', { header_order_id: 'A-1', body_first_name: 'Anna', button_0_url: 'A-1' })), [{ phone: '+4915100000501' }]);
		expect(missing.status).toBe('error');
		expect(String(missing.error?.message)).toBe("Template 'delivery_slot' (en) needs Body {{day}}, left empty");

		// Version 1's lists, checked against the template now that the credential names the account.
		const old = { templateName: 'welcome', language: 'de', parameterFormat: 'positional', category: 'utility', bodyParameters: { parameter: [{ value: 'Anna' }, { value: 'extra' }] } };
		const tooMany = await run(sendWorkflow(old, 1), [{ phone: '+4915100000501' }]);
		expect(String(tooMany.error?.message)).toBe("Template 'welcome' expects 1 body parameter, got 2");
		const fine = await run(sendWorkflow({ ...old, bodyParameters: { parameter: [{ value: 'Anna' }] } }, 1), [{ phone: '+4915100000501' }]);
		expect(result(fine, 0)).toEqual([expect.objectContaining({ status: 'sent' })]);
		expect(await sentTemplates()).toEqual(['spring_sale', 'welcome']);
	});

	test('a MARKETING template labelled utility is asked about as marketing, and never goes out as a service reply', async () => {
		await consented('+4915100000511');
		await scenario.ledger.setMarketingPreference({ waId: '4915100000511', value: 'stop', at: new Date() }, 'test:in-app-stop');
		const newsletter = { header_1: 'März', body_1: 'Anna', body_2: 'Angebote' };
		const asUtility = await run(sendWorkflow(v2('newsletter|de', newsletter, { category: 'utility' })), [{ phone: '+4915100000511' }]);
		expect(result(asUtility, 1)).toEqual([expect.objectContaining({ status: 'not_sent', reason: 'marketing_stopped_in_app' })]);
		const asReply = await run(sendWorkflow(v2('newsletter|de', newsletter, { category: 'service' })), [{ phone: '+4915100000511' }]);
		expect(result(asReply, 1)).toEqual([expect.objectContaining({ reason: 'marketing_template_as_reply', message: expect.stringContaining('approved this template as MARKETING') })]);
		// Version 1 workflows get the same rule once the credential names the account.
		const old = { templateName: 'newsletter', language: 'de', parameterFormat: 'positional', category: 'utility', headerParameters: { parameter: [{ value: 'März' }] }, bodyParameters: { parameter: [{ value: 'A' }, { value: 'B' }] } };
		expect(result(await run(sendWorkflow(old, 1), [{ phone: '+4915100000511' }]), 1)).toEqual([expect.objectContaining({ reason: 'marketing_stopped_in_app' })]);
		// A utility template still goes out as utility.
		const welcome = await run(sendWorkflow(v2('welcome|de', { body_1: 'Anna' })), [{ phone: '+4915100000511' }]);
		expect(result(welcome, 0)).toEqual([expect.objectContaining({ status: 'sent' })]);
		expect(await sentTemplates()).toEqual(['welcome']);
	});

	test('Meta\'s completed category change (not the impending notice) changes the next send\'s decision', async () => {
		await consented('+4915100000521');
		await scenario.ledger.setMarketingPreference({ waId: '4915100000521', value: 'stop', at: new Date() }, 'test:in-app-stop');
		const send = (campaignKey: string) => run(sendWorkflow(v2('welcome|de', { body_1: 'Anna' }, { options: { pairRateSeconds: 0, campaignKey } })), [{ phone: '+4915100000521' }]);
		expect(result(await send('a'), 0)).toEqual([expect.objectContaining({ status: 'sent' })]);

		await metaChanges({ name: 'welcome', language: 'de', category: 'MARKETING', notify: 'impending' });
		expect(result(await send('b'), 0)).toEqual([expect.objectContaining({ status: 'sent' })]);

		await metaChanges({ name: 'welcome', language: 'de', category: 'MARKETING' }, (item) => item.category === 'MARKETING');
		expect(hostItems('template.updated')).toEqual([expect.objectContaining({ change: 'category', name: 'welcome', language: 'de', category: 'MARKETING', previousCategory: 'UTILITY', applied: true })]);
		expect(await scenario.ledger.templateUpdates(WABA)).toEqual([expect.objectContaining({ name: 'welcome', language: 'de', category: 'MARKETING' })]);
		expect(result(await send('c'), 1)).toEqual([expect.objectContaining({ reason: 'marketing_stopped_in_app' })]);
		expect(await sentTemplates()).toEqual(['welcome', 'welcome']);
	});

	test('a paused template is refused before the call, with Meta\'s reason, and leaves the editor\'s list', async () => {
		await consented('+4915100000531');
		const order = v2('order_update|de', { body_first_name: 'Anna', body_order_id: 'A-1', body_status: 'unterwegs' });
		expect(result(await run(sendWorkflow(order), [{ phone: '+4915100000531' }]), 0)).toEqual([expect.objectContaining({ status: 'sent' })]);
		await metaChanges({ name: 'order_update', language: 'de', status: 'PAUSED', reason: 'LOW_QUALITY' }, (item) => item.status === 'PAUSED');
		const paused = await run(sendWorkflow({ ...order, options: { pairRateSeconds: 0, campaignKey: 'again' } }), [{ phone: '+4915100000531' }]);
		expect(result(paused, 1)).toEqual([
			expect.objectContaining({ status: 'not_sent', reason: 'template_not_approved', message: expect.stringMatching(/^Template 'order_update' \(de\) is paused \(LOW_QUALITY\)/) }),
		]);
		expect(await sentTemplates()).toEqual(['order_update']);
		expect((await searchTemplates.call(editor(scenario))).results.map((item) => item.value)).not.toContain('order_update|de');
	});

	test('a status priced as marketing for a send let through as utility is a consent incident: in the ledger and as a trigger event', async () => {
		await consented('+4915100000541');
		const welcome = (campaignKey: string, dryRun = false) => sendWorkflow(v2('welcome|de', { body_1: 'Anna' }, { options: { pairRateSeconds: 0, campaignKey, dryRun } }));
		// The node knows the list (as UTILITY); then Meta recategorises the template and its webhook never arrives.
		expect(result(await run(welcome('warm', true), [{ phone: '+4915100000541' }]), 0)).toEqual([expect.objectContaining({ status: 'would_send' })]);
		await metaChanges({ name: 'welcome', language: 'de', category: 'MARKETING', notify: 'none' });
		expect(result(await run(welcome('real'), [{ phone: '+4915100000541' }]), 0)).toEqual([expect.objectContaining({ status: 'sent' })]);

		const [incident] = await until('the incident', () => hostItems('consent.incident').length > 0 && hostItems('consent.incident'));
		expect(incident).toMatchObject({ sentAs: 'utility', billedAs: 'marketing', purpose: 'offers', recipientId: '4915100000541', reason: expect.stringContaining('priced the message as marketing') });
		const recorded = await scenario.ledger.consentIncidents();
		expect(recorded).toEqual([expect.objectContaining({ sentAs: 'utility', billedAs: 'marketing', purpose: 'offers', subjectId: expect.any(String), reason: incident.reason })]);
		// Later statuses of the same message (delivered, read) add none.
		await until('the read status', () => hostItems('status.updated').some((item) => item.status === 'read'));
		expect(await scenario.ledger.consentIncidents()).toHaveLength(1);
		expect(hostItems('consent.incident')).toHaveLength(1);
	});
});
