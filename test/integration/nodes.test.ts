/**
 * Send WhatsApp, Verify Consent and Handle STOP on n8n's real engine, against the sandbox and both stores.
 * What reached "Meta" is counted by the sandbox, never assumed.
 */
import type { IDataObject, INode } from 'n8n-workflow';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { sendRows, STORE_KINDS } from '../helpers/ledgers';
import { startScenario, type Scenario } from '../helpers/scenario';

const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const LEDGER = { consentLedgerApi: { id: 'ledger', name: 'Ledger' } };
const WHATSAPP = { whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };

/** Start → one node of ours, fed with the given items. */
function single(type: string, parameters: INode['parameters'], extra: Partial<INode> = {}): WorkflowJson {
	return {
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'node', name: 'Node', type: `n8n-nodes-whatsapp-consent.${type}`, typeVersion: 1, position: [200, 0], parameters, credentials: { ...LEDGER, ...WHATSAPP }, ...extra },
		],
		connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } },
	};
}

const template = (parameters: IDataObject = {}) => ({
	operation: 'sendTemplate',
	templateName: 'welcome',
	language: 'de',
	parameterFormat: 'positional',
	bodyParameters: { parameter: [{ value: '={{ $json.name }}' }] },
	recipient: '={{ $json.phone }}',
	category: 'marketing',
	purpose: 'offers',
	options: { messagesPerSecond: 50 },
	...parameters,
});

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('nodes on the real engine (%s store)', (kind) => {
	let scenario: Scenario;
	const run = (workflow: WorkflowJson, items: IDataObject[], signal?: AbortSignal) =>
		runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items }, signal });
	const accepted = async () => (await scenario.graphRequests()).filter((r) => r.outcome.status === 'accepted').map((r) => r.body.to);

	beforeEach(async () => {
		scenario = await startScenario(kind);
		await scenario.ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
	});
	afterEach(() => scenario.close());

	async function consented(phone: string) {
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.customerSends(phone.slice(1), { text: code });
	}

	test('#9 #16 without consent nothing reaches Meta: the item leaves on Not Sent with the reason', async () => {
		await scenario.ledger.requestOptIn({ phone: '+4915100000401', purposes: ['offers'], consentText: TEXT, source: {} });
		const result = await run(single('sendWhatsApp', template()), [{ phone: '+4915100000401', name: 'A' }, { phone: '+4915100000402', name: 'B' }]);
		expect(result.outputOf('Node', 0)).toHaveLength(0);
		expect(result.outputOf('Node', 1).map((item) => (item.json.whatsapp as IDataObject).reason)).toEqual(['pending', 'never_asked']);
		expect(await scenario.graphRequests()).toHaveLength(0);
	});

	test('a duplicate run sends nothing twice; a new campaign key sends again', async () => {
		await consented('+4915100000411');
		const workflow = single('sendWhatsApp', template());
		const first = await run(workflow, [{ phone: '+4915100000411', name: 'Anna' }]);
		expect(first.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', wamid: expect.stringMatching(/^wamid\./), waId: '4915100000411' });
		const again = await run(workflow, [{ phone: '+4915100000411', name: 'Anna' }]);
		expect(again.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
		expect(await accepted()).toEqual(['4915100000411']);
		await run(single('sendWhatsApp', template({ options: { campaignKey: 'second' } })), [{ phone: '+4915100000411', name: 'Anna' }]);
		expect(await accepted()).toHaveLength(2);
	});

	test('a key left reserved or of unknown outcome (a run stopped before recording the answer) is not sent again, and the item says it may not have been sent', async () => {
		await consented('+4915100000412');
		const workflow = single('sendWhatsApp', template());
		await run(workflow, [{ phone: '+4915100000412', name: 'Anna' }]);
		for (const status of ['reserved', 'unknown']) {
			// The state a send is left in when the ledger's database goes away mid-send (issue 11, invariant 4).
			await scenario.ledger.store.query(`UPDATE sends SET status = $1, wamid_hmac = NULL, wamid_enc = NULL`, [status]);
			const again = await run(workflow, [{ phone: '+4915100000412', name: 'Anna' }]);
			expect(again.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'not_sent', reason: 'already_sent', message: expect.stringMatching(/may or may not have been sent, so it is not sent again\. Check the chat/) });
		}
		expect(await accepted()).toEqual(['4915100000412']);
	});

	test('a campaign key of any text (spaces, umlauts, emoji) sends once per campaign', async () => {
		await consented('+4915100000481');
		const item = [{ phone: '+4915100000481', name: 'Anna' }];
		const campaign = (campaignKey: string) => single('sendWhatsApp', template({ options: { messagesPerSecond: 50, pairRateSeconds: 0, campaignKey } }));
		const first = await run(campaign('Newsletter Woche 48 – Grüße 👋'), item);
		expect(first.status).toBe('success');
		expect(first.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', key: expect.stringMatching(/^[\x21-\x7e]{1,512}$/) });
		const again = await run(campaign('Newsletter Woche 48 – Grüße 👋'), item);
		expect(again.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
		const next = await run(campaign('Newsletter Woche 49 – Grüße 👋'), item);
		expect(next.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect(await accepted()).toEqual(['4915100000481', '4915100000481']);
	});

	test("prices in the WhatsApp credential: Send WhatsApp shows the expected cost; Consent Ledger's campaign report counts the campaign", async () => {
		await consented('+4915100000471');
		scenario.credentials.whatsAppCloudApi = { ...scenario.credentials.whatsAppCloudApi, priceCurrency: 'EUR', priceMarketing: 0.1131, priceUtility: 0.0456 };
		const item = [{ phone: '+4915100000471', name: 'Anna' }];
		const sent = await run(single('sendWhatsApp', template({ options: { pairRateSeconds: 0, campaignKey: 'Advent 2026' } })), item);
		expect(sent.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', pricing: { category: 'marketing', type: 'regular', cost: 0.1131, currency: 'EUR', estimate: true } });
		const report = await run(single('consentLedger', { resource: 'campaign', operation: 'report', campaignKey: 'Advent 2026' }), item);
		// no status has come yet: counted, not priced
		expect(report.outputOf('Node', 0)[0].json).toMatchObject({ campaign: 'Advent 2026', sends: 1, byStatus: { accepted: 1 }, cost: { total: 0, currency: 'EUR', unpriced: 1 } });
		const other = await run(single('consentLedger', { resource: 'campaign', operation: 'report', campaignKey: 'Advent 2025' }), item);
		expect(other.outputOf('Node', 0)[0].json).toMatchObject({ sends: 0 });
	});

	test('Dry Run: validated and asked at the gate, nothing sent or reserved; the output says what Meta would get or why not', async () => {
		await consented('+4915100000451');
		const dry = single('sendWhatsApp', template({ options: { pairRateSeconds: 0, dryRun: true, campaignKey: 'check' } }));
		const items = [{ phone: '+4915100000451', name: 'Anna' }, { phone: '+4915100000452', name: 'Ben' }];
		const checked = await run(dry, items);
		expect(checked.outputOf('Node', 0).map((item) => item.json.whatsapp)).toEqual([
			expect.objectContaining({ status: 'would_send', dryRun: true, request: expect.objectContaining({ to: '4915100000451', type: 'template', template: expect.objectContaining({ name: 'welcome' }) }) }),
		]);
		expect(checked.outputOf('Node', 1).map((item) => item.json.whatsapp)).toEqual([expect.objectContaining({ status: 'not_sent', dryRun: true, reason: 'never_asked' })]);
		expect(await accepted()).toEqual([]);
		expect(await sendRows(scenario.ledger)).toEqual({});
		// the real run sends it; a dry run after it says it went out already
		await run(single('sendWhatsApp', template({ options: { pairRateSeconds: 0, campaignKey: 'check' } })), items.slice(0, 1));
		const after = await run(dry, items.slice(0, 1));
		expect(after.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ dryRun: true, reason: 'already_sent' });
		expect(await accepted()).toEqual(['4915100000451']);
		// a message over Meta's limits is refused by validation, as a real send would be
		const buttons = { operation: 'sendButtons', body: 'Passt der Termin?', buttons: { button: [{ title: 'Ja, das passt mir gut so' }, { title: 'Nein' }] }, recipient: '={{ $json.phone }}', category: 'service', options: { dryRun: true } };
		const invalid = await run(single('sendWhatsApp', buttons), items.slice(0, 1));
		expect(invalid.error?.message).toMatch(/buttons\[0\]\.title.*20/);
	});

	test('Send From takes another business number per item; empty, the credential\'s', async () => {
		await consented('+4915100000461');
		const from = single('sendWhatsApp', template({ options: { pairRateSeconds: 0, phoneNumberId: '={{ $json.from }}' } }), { onError: 'continueRegularOutput' });
		const result = await run(from, [{ phone: '+4915100000461', name: 'Anna', from: '999' }, { phone: '+4915100000461', name: 'Anna B.', from: '' }]);
		// the sandbox knows one business number: Meta's answer for another one (100, subcode 33) shows where it went
		expect(result.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'failed', code: 100 });
		expect(result.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		const paths = (await scenario.control<{ requests: { path: string }[] }>('messages')).requests.map((request) => request.path);
		expect(paths).toEqual(expect.arrayContaining(['/v23.0/999/messages', '/v23.0/100000000000001/messages']));
	});

	test('Redact Personal Data in Output: no number, wa_id or wamid in what n8n keeps; the ledger has it all', async () => {
		await consented('+4915100000491');
		const redacted = single('sendWhatsApp', template({ options: { messagesPerSecond: 50, pairRateSeconds: 0, redactOutput: true } }));
		const result = await run(redacted, [{ phone: '+4915100000491', name: 'Anna' }, { phone: '+4915100000492', name: 'Ben' }]);
		const [sent] = result.outputOf('Node', 0);
		const [refused] = result.outputOf('Node', 1);
		expect(sent.json).toMatchObject({ phone: '+***91', whatsapp: { status: 'sent', recipient: '+***91', waId: '***91', wamid: expect.stringMatching(/^wamid\.\*\*\*/), key: expect.stringMatching(/^[0-9a-f]{12}:\+\*\*\*91::/) } });
		expect(refused.json).toMatchObject({ phone: '+***92', whatsapp: { status: 'not_sent', reason: 'never_asked', recipient: '+***92' } });
		// What n8n keeps of this node's run (the Start node's items are the input, not this node's to change).
		const kept = JSON.stringify(result.runData.Node);
		expect(kept).not.toMatch(/4915100000491|4915100000492/);
		const [accepted] = (await scenario.graphRequests()).filter((request) => request.outcome.status === 'accepted') as unknown as { outcome: { wamid: string } }[];
		expect(kept).not.toContain(accepted.outcome.wamid);
		// The ledger keeps the send in full: its key with the number and Meta's wamid.
		const person = await scenario.ledger.exportPerson('+4915100000491');
		expect(person!.sends).toEqual([expect.objectContaining({ key: expect.stringContaining(':+4915100000491::'), wamid: accepted.outcome.wamid, status: 'accepted' })]);
	});

	test('parameters: fixed ones are the same for every item, expressions are read per item, a missing field is refused', async () => {
		await consented('+4915100000451');
		await consented('+4915100000452');
		const workflow = single('sendWhatsApp', template({ recipient: '={{ $json["phone"] }}' }));
		const result = await run(workflow, [{ phone: '+4915100000451', name: 'Anna' }, { phone: '0151 00000452', name: 'Ben' }, { name: 'Nobody' }]);
		expect(result.outputOf('Node', 0).map((item) => (item.json.whatsapp as IDataObject).recipient)).toEqual(['+4915100000451', '+4915100000452']);
		expect(result.outputOf('Node', 1).map((item) => (item.json.whatsapp as IDataObject).reason)).toEqual(['invalid_recipient']);
		const sent = (await scenario.graphRequests()).map((request) => request.body as { to: string; template: { name: string; components: { type: string; parameters: { text: string }[] }[] } });
		expect(sent.map((body) => [body.to, body.template.name, body.template.components.find((c) => c.type === 'body')!.parameters[0].text]).sort()).toEqual([
			['4915100000451', 'welcome', 'Anna'],
			['4915100000452', 'welcome', 'Ben'],
		]);
	});

	test('#19 free text outside the 24 h window is refused before the call, with the hint to use a template', async () => {
		await consented('+4915100000421');
		await scenario.control('clock', { advanceSeconds: 25 * 3600 });
		const text = single('sendWhatsApp', { operation: 'sendText', text: 'Hallo!', recipient: '={{ $json.phone }}', category: 'marketing', purpose: 'offers', options: {} });
		const later = new Date(Date.now() + 25 * 3600 * 1000);
		jest.useFakeTimers({ now: later, doNotFake: ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'nextTick', 'queueMicrotask', 'performance', 'hrtime'] });
		try {
			const result = await run(text, [{ phone: '+4915100000421' }]);
			expect(result.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ reason: 'outside_service_window', message: expect.stringMatching(/Send Template/) });
		} finally {
			jest.useRealTimers();
		}
		expect(await scenario.graphRequests()).toHaveLength(0);
	});

	test('template parameter errors say what to fix; with Continue On Fail the item carries code and fix', async () => {
		await consented('+4915100000431');
		const wrong = template({ bodyParameters: { parameter: [{ value: 'Anna' }, { value: 'extra' }] } });
		const failed = await run(single('sendWhatsApp', wrong), [{ phone: '+4915100000431' }]);
		expect(failed.status).toBe('error');
		expect(failed.error).toMatchObject({ description: expect.stringMatching(/Template 'welcome' expects 1 body parameter, got 2/) });
		const continued = await run(single('sendWhatsApp', { ...wrong, options: { campaignKey: 'retry' } }, { onError: 'continueRegularOutput' }), [{ phone: '+4915100000431' }]);
		expect(continued.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'failed', code: 132000, fix: expect.stringMatching(/expects 1/) });
	});

	test.each([
		['Meta error 131000 (HTTP 500)', { kind: 'error', code: 131000, httpStatus: 500 }, 131000],
		['Meta error 2 (HTTP 503)', { kind: 'error', code: 2, httpStatus: 503 }, 2],
		['a bare HTTP 502', { kind: 'http5xx', status: 502 }, null],
	])('%s after Meta took the message: the outcome is unknown with its reason, and it is never sent again', async (_name, fault, code) => {
		await consented('+4915100000461');
		await scenario.control('faults', { count: 1, processed: true, ...fault });
		const workflow = single('sendWhatsApp', template(), { onError: 'continueRegularOutput' });
		const first = await run(workflow, [{ phone: '+4915100000461', name: 'Anna' }]);
		expect(first.outputOf('Node', 0)).toHaveLength(0);
		expect(first.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'unknown', reason: 'server_error', code, message: expect.stringMatching(/may or may not have been sent/), fix: expect.stringMatching(/not sent again/) });
		const again = await run(workflow, [{ phone: '+4915100000461', name: 'Anna' }]);
		expect(again.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'not_sent', reason: 'already_sent' });
		// Meta handled the one request: a retry would have been the customer's second copy.
		expect((await scenario.graphRequests()).filter((request) => request.body.to === '4915100000461')).toHaveLength(1);
	});

	test('throttling before acceptance (130429, 4, 80007) is retried and the message goes out once', async () => {
		await consented('+4915100000471');
		for (const code of [130429, 4, 80007]) await scenario.control('faults', { count: 1, kind: 'error', code });
		const result = await run(single('sendWhatsApp', template({ options: { messagesPerSecond: 50, pairRateSeconds: 0 } })), [{ phone: '+4915100000471', name: 'Anna' }]);
		expect(result.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', attempts: 4 });
		expect((await scenario.graphRequests()).map((request) => request.outcome.code ?? request.outcome.status)).toEqual([130429, 4, 80007, 'accepted']);
	});

	test('reply buttons over the limit are refused before the call, naming the field', async () => {
		await consented('+4915100000441');
		const buttons = single('sendWhatsApp', {
			operation: 'sendButtons',
			body: 'Passt der Termin?',
			buttons: { button: [{ title: 'Ja, das passt mir gut so' }, { title: 'Nein' }] },
			recipient: '={{ $json.phone }}',
			category: 'service',
			options: {},
		});
		const result = await run(buttons, [{ phone: '+4915100000441' }]);
		expect(result.status).toBe('error');
		expect(result.error!.message).toMatch(/buttons\[0\]\.title.*20/);
		expect(await scenario.graphRequests()).toHaveLength(0);
	});

	test('invariant 1, #22: a STOP committed while a send batch runs stops the remaining message to that person', async () => {
		const phones = Array.from({ length: 12 }, (_, i) => `+49151000005${String(i).padStart(2, '0')}`);
		for (const phone of phones) await consented(phone);
		// Two a second: the last of the 12 leaves about 5.5 s after the first, far behind the STOP on a busy machine too.
		const slow = single('sendWhatsApp', template({ options: { messagesPerSecond: 2 } }));
		const running = run(slow, phones.map((phone) => ({ phone, name: 'Kim' })));
		const last = phones[11];
		while ((await accepted()).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
		await scenario.customerSends(last.slice(1), { text: 'STOP' });
		expect(await accepted()).not.toContain(last.slice(1));
		const result = await running;
		expect(result.outputOf('Node', 1).map((item) => [item.json.phone, (item.json.whatsapp as IDataObject).reason])).toEqual([[last, 'withdrawn']]);
		expect(await accepted()).toHaveLength(11);
		expect(await accepted()).not.toContain(last.slice(1));
	});

	test('cancelling the execution stops the sends promptly', async () => {
		const phones = Array.from({ length: 20 }, (_, i) => `+49151000006${String(i).padStart(2, '0')}`);
		for (const phone of phones) await consented(phone);
		const controller = new AbortController();
		const started = Date.now();
		const running = run(single('sendWhatsApp', template({ options: { messagesPerSecond: 5 } })), phones.map((phone) => ({ phone, name: 'Kim' })), controller.signal);
		setTimeout(() => controller.abort(), 600);
		const result = await running;
		expect(result.status).toBe('canceled');
		expect(Date.now() - started).toBeLessThan(3000);
		const before = (await accepted()).length;
		await new Promise((resolve) => setTimeout(resolve, 1000));
		expect((await accepted()).length).toBe(before);
		expect(before).toBeLessThan(10);
	});

	test('Handle STOP reads items of n8n\'s own WhatsApp Trigger: variants withdraw, near-misses go to a person (#21)', async () => {
		await consented('+4915100000701');
		const cases: [string, string][] = [
			['STOPP!!', 'Withdrawn'],
			['stop it please', 'Other Message'],
			['Abmelden.', 'Withdrawn'],
			['START', 'Wants to Rejoin'],
			['Bus stop', 'Other Message'],
			['unsubscribe me', 'Withdrawn'],
		];
		const items = cases.map(([text], index) => ({
			messaging_product: 'whatsapp',
			metadata: { display_phone_number: '49301234567', phone_number_id: '100000000000001' },
			contacts: [{ profile: { name: 'Kim' }, wa_id: '4915100000701' }],
			messages: [{ from: '4915100000701', id: `wamid.n8n-${index}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
			field: 'messages',
		}));
		const handle = single('handleStop', { businessName: 'Beispiel GmbH', signupUrl: 'https://example.com/whatsapp', options: {} });
		const result = await run(handle, items);
		const outputs = ['Withdrawn', 'Wants to Rejoin', 'Other Message'];
		const routed = outputs.flatMap((name, output) => result.outputOf('Node', output).map((item) => [(item.json.messages as IDataObject[])[0].text, name]));
		expect(new Map(routed.map(([text, name]) => [(text as IDataObject).body, name]))).toEqual(new Map(cases));
		const withdrawn = result.outputOf('Node', 0);
		expect(withdrawn[0].json).toMatchObject({ withdrawal: { withdrawn: ['offers'] }, reply: { to: '+4915100000701', language: 'de', text: expect.stringMatching(/abgemeldet/) } });
		expect(withdrawn[1].json).toMatchObject({ withdrawal: { withdrawn: [] }, reply: { text: expect.stringMatching(/bereits abgemeldet/) } });
		expect(result.outputOf('Node', 1)[0].json.reply).toMatchObject({ text: expect.stringContaining('https://example.com/whatsapp') });
		expect(await scenario.ledger.mayMessage({ recipient: '+4915100000701', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
	});

	/** An item of n8n's own WhatsApp Trigger: one text message from the number. */
	const inbound = (from: string, id: string, text: string) => ({
		messaging_product: 'whatsapp',
		metadata: { display_phone_number: '49301234567', phone_number_id: '100000000000001' },
		contacts: [{ profile: { name: 'Kim' }, wa_id: from }],
		messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
		field: 'messages',
	});
	const handleStopV2 = (options: INode['parameters'] = {}) => {
		const workflow = single('handleStop', { businessName: 'Beispiel GmbH', signupUrl: 'https://example.com/whatsapp', options });
		workflow.nodes[1].typeVersion = 2;
		return workflow;
	};

	test('#13 Handle STOP v2: HELP in each language goes to Help with the help text, a sentence that wants out to Probably a Withdrawal, nothing of it is withdrawn', async () => {
		await consented('+4915100000721');
		const cases: [string, string][] = [
			['HILFE', 'Help'],
			['info?', 'Help'],
			['Aide', 'Help'],
			['AJUDA!', 'Help'],
			['Ich möchte mich bitte abmelden', 'Probably a Withdrawal'],
			['please stop sending me messages', 'Probably a Withdrawal'],
			["Don't stop sending me offers", 'Other Message'],
			['Baja', 'Withdrawn'],
		];
		const items = cases.map(([text], index) => inbound('4915100000721', `wamid.help-${index}`, text));
		const result = await run(handleStopV2({ receives: 'Angebote, höchstens eine pro Woche' }), items);
		const outputs = ['Withdrawn', 'Wants to Rejoin', 'Other Message', 'Help', 'Probably a Withdrawal'];
		const routed = outputs.flatMap((name, output) => result.outputOf('Node', output).map((item) => [(item.json.messages as IDataObject[])[0].text, name]));
		expect(new Map(routed.map(([text, name]) => [(text as IDataObject).body, name]))).toEqual(new Map(cases));
		const help = result.outputOf('Node', 3).map((item) => item.json.reply as IDataObject);
		expect(help.map((reply) => reply.language)).toEqual(['de', 'de', 'fr', 'pt']);
		expect(help[0]).toMatchObject({ to: '+4915100000721', category: 'service', text: expect.stringContaining('Angebote, höchstens eine pro Woche') });
		expect(help[2].text).toMatch(/^Beispiel GmbH sur WhatsApp .*STOP/);
		expect(new Set(help.map((reply) => reply.campaignKey)).size).toBe(4);
		expect(result.outputOf('Node', 4).map((item) => item.json.withdrawal)).toMatchObject([
			{ probable: true, language: 'de', from: '+4915100000721', text: 'Ich möchte mich bitte abmelden' },
			{ probable: true, language: 'en' },
		]);
		// Only the keyword withdrew (Baja, last); until then the sentences changed nothing.
		expect(result.outputOf('Node', 0)[0].json).toMatchObject({ withdrawal: { withdrawn: ['offers'] }, reply: { language: 'es' } });
	});

	test('#13 a sentence that wants out leaves consent as it is until a person records it', async () => {
		await consented('+4915100000722');
		const result = await run(handleStopV2(), [inbound('4915100000722', 'wamid.wish-1', 'Bitte keine Werbung mehr')]);
		expect(result.outputOf('Node', 4)).toHaveLength(1);
		expect(await scenario.ledger.mayMessage({ recipient: '+4915100000722', purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('#13 each HELP is answered once: a redelivered message (the same item twice) sends one answer, a second HELP gets its own', async () => {
		await consented('+4915100000723');
		const first = inbound('4915100000723', 'wamid.help-once-1', 'HELP');
		const second = inbound('4915100000723', 'wamid.help-once-2', 'help');
		const handled = await run(handleStopV2({ helpText: 'Beispiel GmbH: offers once a week. Write STOP to unsubscribe.' }), [first, first, second]);
		const answers = handled.outputOf('Node', 3).map((item) => item.json);
		expect(answers.map((json) => (json.reply as IDataObject).text)).toEqual(Array(3).fill('Beispiel GmbH: offers once a week. Write STOP to unsubscribe.'));
		const send = single('sendWhatsApp', {
			operation: 'sendText',
			text: '={{ $json.reply.text }}',
			recipient: '={{ $json.reply.to }}',
			category: 'service',
			options: { campaignKey: '={{ $json.reply.campaignKey }}' },
		});
		const sent = await run(send, answers);
		expect(sent.outputOf('Node', 0)).toHaveLength(2);
		expect(sent.outputOf('Node', 1).map((item) => (item.json.whatsapp as IDataObject).reason)).toEqual(['already_sent']);
		// A re-run of the same items (n8n retrying the execution) sends nothing more.
		await run(send, answers);
		expect(await accepted()).toEqual(['4915100000723', '4915100000723']);
	});

	test('#13 Handle STOP v1 keeps its three outputs: HELP and a sentence that wants out still go to Other Message', async () => {
		const items = [inbound('4915100000724', 'wamid.v1-1', 'HILFE'), inbound('4915100000724', 'wamid.v1-2', 'please stop sending me messages')];
		const result = await run(single('handleStop', { businessName: 'Beispiel GmbH', signupUrl: '', options: {} }), items);
		expect(result.outputOf('Node', 2).map((item) => item.json.meaning)).toEqual(['other', 'other']);
		expect(result.outputOf('Node', 3)).toHaveLength(0);
	});

	test('#13 Art. 21(4) GDPR: the first marketing text carries the objection notice, once; a first marketing template is refused with the fix and hands the notice on', async () => {
		await consented('+4915100000731');
		const text = (campaignKey: string, options: IDataObject = { objectionNotice: 'append', objectionNoticeLanguage: 'de' }) =>
			single('sendWhatsApp', {
				operation: 'sendText',
				text: 'Diese Woche: neue Angebote.',
				recipient: '={{ $json.phone }}',
				category: 'marketing',
				purpose: 'offers',
				options: { campaignKey, pairRateSeconds: 0, ...options },
			});
		const first = await run(text('w1'), [{ phone: '+4915100000731' }]);
		expect(first.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', objectionNotice: true });
		await run(text('w1'), [{ phone: '+4915100000731' }]); // a re-run: already sent, nothing twice
		const second = await run(text('w2'), [{ phone: '+4915100000731' }]);
		expect(second.outputOf('Node', 0)[0].json.whatsapp).not.toHaveProperty('objectionNotice');
		const bodies = (await scenario.graphRequests()).filter((r) => r.outcome.status === 'accepted').map((r) => r.body.text!.body);
		expect(bodies).toEqual([
			'Diese Woche: neue Angebote.\n\nIhr Widerspruchsrecht: Sie können der Nutzung Ihrer Daten für Werbung jederzeit kostenlos widersprechen. Schreiben Sie dazu STOP.',
			'Diese Woche: neue Angebote.',
		]);

		await consented('+4915100000732');
		const refused = await run(single('sendWhatsApp', template({ options: { messagesPerSecond: 50, objectionNotice: 'append' } })), [{ phone: '+4915100000732', name: 'Ben' }]);
		expect(refused.error?.message).toMatch(/objection notice \(Art\. 21\(4\) GDPR\)/);
		expect((await scenario.graphRequests()).filter((r) => r.body.to === '4915100000732' && r.body.type === 'template')).toHaveLength(0);
		// A template whose footer says it: recorded as given, and the text after it carries nothing more.
		const included = await run(single('sendWhatsApp', template({ options: { messagesPerSecond: 50, objectionNotice: 'included' } })), [{ phone: '+4915100000732', name: 'Ben' }]);
		expect(included.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', objectionNotice: true });
		await run(text('w3', { objectionNotice: 'append', objectionNoticeText: 'Widerspruch jederzeit mit STOP.' }), [{ phone: '+4915100000732' }]);
		const toBen = (await scenario.graphRequests()).filter((r) => r.body.to === '4915100000732' && r.outcome.status === 'accepted');
		expect(toBen.map((r) => r.body.text?.body ?? r.body.template?.name)).toEqual(['welcome', 'Diese Woche: neue Angebote.']);
	});

	test('#13 a dry run of the first marketing message shows the objection notice it would carry and records nothing; the real send then carries it', async () => {
		await consented('+4915100000741');
		const text = (options: IDataObject) =>
			single('sendWhatsApp', {
				operation: 'sendText',
				text: 'Diese Woche: neue Angebote.',
				recipient: '={{ $json.phone }}',
				category: 'marketing',
				purpose: 'offers',
				options: { pairRateSeconds: 0, objectionNotice: 'append', objectionNoticeText: 'Widerspruch jederzeit mit STOP.', ...options },
			});
		const withNotice = 'Diese Woche: neue Angebote.\n\nWiderspruch jederzeit mit STOP.';
		for (let i = 0; i < 2; i++) {
			// Twice: a dry run uses nothing up, so the second is still the first marketing message.
			const dry = await run(text({ dryRun: true }), [{ phone: '+4915100000741' }]);
			expect(dry.outputOf('Node', 0).map((item) => item.json.whatsapp)).toEqual([
				expect.objectContaining({ status: 'would_send', dryRun: true, objectionNotice: true, request: expect.objectContaining({ text: { body: withNotice, preview_url: false } }) }),
			]);
		}
		expect(await scenario.graphRequests()).toHaveLength(0);
		expect(await sendRows(scenario.ledger)).toEqual({});

		const sent = await run(text({}), [{ phone: '+4915100000741' }]);
		expect(sent.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', objectionNotice: true });
		expect((await scenario.graphRequests()).map((r) => r.body.text?.body)).toEqual([withNotice]);
		const after = await run(text({ dryRun: true, campaignKey: 'next' }), [{ phone: '+4915100000741' }]);
		expect(after.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'would_send', request: { text: { body: 'Diese Woche: neue Angebote.' } } });
		expect(after.outputOf('Node', 0)[0].json.whatsapp).not.toHaveProperty('objectionNotice');

		// A first marketing template cannot take the notice: the dry run says so with the fix, as the send would fail.
		await consented('+4915100000742');
		const tpl = await run(single('sendWhatsApp', template({ options: { objectionNotice: 'append', dryRun: true } })), [{ phone: '+4915100000742', name: 'Ben' }]);
		expect(tpl.outputOf('Node', 1).map((item) => item.json.whatsapp)).toEqual([
			expect.objectContaining({ status: 'not_sent', dryRun: true, reason: 'objection_notice', message: expect.stringMatching(/objection notice \(Art\. 21\(4\) GDPR\)/), fix: expect.stringMatching(/The Message Includes It/) }),
		]);
		const included = await run(single('sendWhatsApp', template({ options: { objectionNotice: 'included', dryRun: true } })), [{ phone: '+4915100000742', name: 'Ben' }]);
		expect(included.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'would_send', objectionNotice: true });
		expect(Object.keys(await sendRows(scenario.ledger))).toHaveLength(1);
	});

	test('case 5, #21: one withdrawal setting for the trigger and Handle STOP: the credential\'s words and scope act before the answer to Meta, Handle STOP reports what was recorded', async () => {
		await scenario.close();
		scenario = await startScenario(kind, {}, { stopWords: 'KÜNDIGEN', stopScope: 'marketing' });
		await scenario.ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
		await consented('+4915100000711');
		const items = await scenario.customerSends('4915100000711', { text: 'Kündigen' });
		// Recorded by the trigger's path, before any workflow node ran.
		expect(items).toMatchObject([{ event: 'consent.withdrawn', scope: ['marketing'], withdrawn: ['marketing'], keyword: 'KÜNDIGEN', reply: { category: 'withdrawal_confirmation' } }]);
		expect(await scenario.ledger.mayMessage({ recipient: '+4915100000711', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		expect(await scenario.ledger.mayMessage({ recipient: '+4915100000711', purpose: 'offers', category: 'utility' })).toMatchObject({ allowed: true });
		const result = await run(single('handleStop', { businessName: 'Beispiel GmbH', signupUrl: '', options: {} }), items as unknown as IDataObject[]);
		expect(result.outputOf('Node', 0)[0].json).toMatchObject({
			withdrawal: { scope: ['marketing'], withdrawn: ['marketing'], keyword: 'KÜNDIGEN' },
			reply: { to: '+4915100000711', category: 'withdrawal_confirmation' },
		});
		expect(await scenario.ledger.mayMessage({ recipient: '+4915100000711', purpose: 'offers', category: 'utility' })).toMatchObject({ allowed: true });
		const confirmation = await run(
			single('sendWhatsApp', { operation: 'sendText', text: '={{ $json.reply.text }}', recipient: '={{ $json.reply.to }}', category: '={{ $json.reply.category }}', purpose: 'offers', options: {} }),
			[result.outputOf('Node', 0)[0].json, result.outputOf('Node', 0)[0].json],
		);
		expect(confirmation.outputOf('Node', 0)).toHaveLength(1); // the one confirmation; the second is refused
		// a free-form reply is a service message: whether it is within Meta's free allowance only Meta's status says
		expect(confirmation.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ pricing: { category: 'service', estimate: true } });
		expect(confirmation.outputOf('Node', 0)[0].json.whatsapp).not.toHaveProperty('pricing.type');
		expect(confirmation.outputOf('Node', 0)[0].json.whatsapp).not.toHaveProperty('pricing.cost');
		expect(await accepted()).toEqual(['4915100000711']);
	});
});
