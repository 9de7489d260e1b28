/**
 * The sample workflows wired to n8n's own HubSpot, Brevo, Zendesk and Send Email nodes, run on n8n's real engine.
 * WhatsApp is the local Cloud API sandbox and the ledger a real one on each store; HubSpot, Brevo and Zendesk are
 * clouds this machine cannot reach, so nock answers them at the HTTP layer, at the hosts n8n's nodes call
 * (api.hubapi.com, api.brevo.com, {subdomain}.zendesk.com), with the response shapes of the providers' documentation:
 *
 * - HubSpot CRM search: https://developers.hubspot.com/docs/api/crm/search (total, results[].id/properties/createdAt/
 *   updatedAt/archived); contact create or update (v1, what n8n's node calls):
 *   https://legacydocs.hubspot.com/docs/methods/contacts/create_or_update (`{ "vid": 3234574, "isNew": false }`).
 * - Brevo: get all contacts https://developers.brevo.com/reference/get-contacts (contacts[] with email, id,
 *   emailBlacklisted, smsBlacklisted, createdAt, modifiedAt, listIds, attributes; count); update a contact
 *   https://developers.brevo.com/reference/update-contact (204 No Content).
 * - Zendesk: create and update ticket https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (the
 *   `ticket` object); webhooks https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/ (list, create,
 *   show signing secret); triggers https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/.
 *
 * E-mail goes over real SMTP to a local receiver (test/helpers/smtp-receiver.ts).
 */
import { join } from 'node:path';
import nock from 'nock';
import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';
import { activateWorkflow, readWorkflowFile, runWorkflow, stopEngine } from '../helpers/n8n-engine';
import { STORE_KINDS } from '../helpers/ledgers';
import { startScenario, type Scenario } from '../helpers/scenario';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/smtp-receiver';

const WORKFLOWS = join(__dirname, '..', '..', 'workflows');
const PURPOSE_TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Nachrichten erhalten. Widerruf mit STOP.' };
const HUBSPOT = 'https://api.hubapi.com';
const BREVO = 'https://api.brevo.com';
const ZENDESK = 'https://beispiel.zendesk.com';
const PROVIDER_CREDENTIALS = {
	hubspotAppToken: { appToken: 'pat-eu1-00000000-test' },
	sendInBlueApi: { apiKey: 'xkeysib-test' },
	zendeskApi: { subdomain: 'beispiel', email: 'agent@beispiel.example', apiToken: 'zendesk-test-token' },
};
const ZENDESK_AUTH = `Basic ${Buffer.from('agent@beispiel.example/token:zendesk-test-token').toString('base64')}`;

/** A contact as HubSpot's CRM search returns it. */
const hubspotContact = (id: string, email: string, phone: string) => ({
	id,
	properties: { createdate: '2026-03-02T09:14:11.011Z', email, firstname: 'Anna', hs_object_id: id, lastmodifieddate: '2026-11-30T16:02:45.220Z', mobilephone: phone },
	createdAt: '2026-03-02T09:14:11.011Z',
	updatedAt: '2026-11-30T16:02:45.220Z',
	archived: false,
});
const searchAnswer = (...results: unknown[]) => ({ total: results.length, results });

/** The filter n8n's HubSpot node sent in a CRM search. */
const searchedPhone = (body: { filterGroups?: { filters: { propertyName: string; operator: string; value: string }[] }[] }) => body.filterGroups?.[0]?.filters[0];

/** HubSpot v1 properties as the upsert sent them, as a plain object. */
const upserted = (body: { properties: { property: string; value: string }[] }) => Object.fromEntries(body.properties.map((entry) => [entry.property, entry.value]));

/** A ticket as Zendesk's Tickets API returns it (trimmed to the documented fields the workflows read). */
const zendeskTicket = (id: number, fields: IDataObject) => ({
	ticket: {
		id,
		url: `${ZENDESK}/api/v2/tickets/${id}.json`,
		created_at: '2026-12-02T07:00:00Z',
		updated_at: '2026-12-02T07:00:00Z',
		status: 'new',
		priority: null,
		type: null,
		requester_id: 20978392,
		submitter_id: 20978392,
		tags: [],
		external_id: null,
		...fields,
	},
});

beforeAll(() => {
	// Everything not on this machine must be answered by a nock interceptor: an unexpected call fails the run.
	nock.disableNetConnect();
	nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'));
});
afterEach(() => {
	const pending = nock.pendingMocks();
	nock.cleanAll();
	expect(pending).toEqual([]);
});
afterAll(async () => {
	nock.enableNetConnect();
	nock.restore();
	await stopEngine();
});

describe.each(STORE_KINDS)('provider workflows on the real engine (%s store)', (kind) => {
	let scenario: Scenario;
	let credentials: Record<string, ICredentialDataDecryptedObject>;

	beforeEach(async () => {
		scenario = await startScenario(kind);
		credentials = { ...scenario.credentials, ...PROVIDER_CREDENTIALS };
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

	/** An opt-in confirmed 25 hours ago and no message since: consent for the purposes, but no open service window. */
	async function optInLongAgo(phone: string, purposes: string[]) {
		const at = new Date(Date.now() - 25 * 3_600_000);
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes, consentText: PURPOSE_TEXT, source: {}, at });
		await scenario.ledger.confirm({ messageId: `wamid.long-ago-${phone.slice(1)}`, from: phone.slice(1), text: `Anmeldung bestätigen: ${code}`, at: new Date(at.getTime() + 60_000) });
	}

	describe('inbox with HubSpot, Brevo and Zendesk', () => {
		const inbox = () => readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox-hubspot-brevo-zendesk.json'));
		const run = (items: unknown[]) => runWorkflow(inbox(), { credentials, triggerData: { nodeName: 'Opt-In Trigger', items: items as IDataObject[] } });

		test('a confirmed opt-in is marked in HubSpot on the contact with that mobile number; a number HubSpot does not know changes nothing there', async () => {
			const searches: unknown[] = [];
			const upserts: Record<string, string>[] = [];
			nock(HUBSPOT, { reqheaders: { authorization: 'Bearer pat-eu1-00000000-test' } })
				.post('/crm/v3/objects/contacts/search', (body) => Boolean(searches.push(searchedPhone(body))))
				.reply(200, searchAnswer(hubspotContact('512', 'anna@example.com', '+4915112345678')))
				.post('/contacts/v1/contact/createOrUpdate/email/anna@example.com', (body) => Boolean(upserts.push(upserted(body))))
				.reply(200, { vid: 512, isNew: false })
				.post('/crm/v3/objects/contacts/search')
				.reply(200, searchAnswer());

			const confirmed = await run(await optIn('+4915112345678'));
			expect(confirmed.error).toBeUndefined();
			expect(confirmed.outputOf('Send Welcome', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
			expect(searches).toEqual([{ propertyName: 'mobilephone', operator: 'EQ', value: '+4915112345678' }]);
			expect(upserts).toEqual([{ whatsapp_opt_in: 'true', whatsapp_opt_in_changed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);

			const unknown = await run(await optIn('+4915100000999'));
			expect(unknown.error).toBeUndefined();
			expect(unknown.outputOf('Send Welcome', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
			expect(unknown.executedNodes).not.toContain('Mark Opt-In in HubSpot');
			expect(upserts).toHaveLength(1);
		});

		test('STOP is confirmed once, marked in HubSpot and Brevo; a question opens a Zendesk ticket with the number as External ID', async () => {
			await optIn('+4915112345678');
			const brevoUpdates: unknown[] = [];
			const tickets: unknown[] = [];
			const upserts: Record<string, string>[] = [];
			nock(HUBSPOT)
				.post('/crm/v3/objects/contacts/search')
				.reply(200, searchAnswer(hubspotContact('512', 'anna@example.com', '+4915112345678')))
				.post('/contacts/v1/contact/createOrUpdate/email/anna@example.com', (body) => Boolean(upserts.push(upserted(body))))
				.reply(200, { vid: 512, isNew: false });
			nock(BREVO, { reqheaders: { 'api-key': 'xkeysib-test' } })
				.put('/v3/contacts/anna%40example.com', (body) => Boolean(brevoUpdates.push(body)))
				.reply(204);

			const stop = await run(await scenario.customerSends('4915112345678', { text: 'STOP' }));
			expect(stop.error).toBeUndefined();
			expect(stop.outputOf('Confirm Withdrawal', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
			expect(upserts).toEqual([{ whatsapp_opt_in: 'false', whatsapp_opt_in_changed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
			expect(brevoUpdates).toEqual([{ attributes: { WHATSAPP_OPT_IN: 'false' } }]);
			expect(await scenario.ledger.mayMessage({ recipient: '+4915112345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });

			nock(ZENDESK, { reqheaders: { authorization: ZENDESK_AUTH } })
				.post('/api/v2/tickets.json', (body) => Boolean(tickets.push(body)))
				.reply(201, zendeskTicket(35436, { subject: 'WhatsApp from 4915112345678', external_id: '+4915112345678', tags: ['whatsapp'] }));
			await new Promise((resolve) => setTimeout(resolve, 1000)); // a later second than the STOP (Meta's timestamps are whole seconds)
			const question = await run(await scenario.customerSends('4915112345678', { text: 'Wann kommt meine Bestellung?' }));
			expect(question.error).toBeUndefined();
			expect(tickets).toEqual([{ ticket: { comment: { body: 'Wann kommt meine Bestellung?' }, subject: expect.stringMatching(/^WhatsApp from /), external_id: '+4915112345678', tags: ['whatsapp'] } }]);
			expect(question.outputOf('Open Zendesk Ticket', 0)[0].json).toMatchObject({ id: 35436 });
		});

		test('marketing switched off in WhatsApp is marked in HubSpot and Brevo with no message; a code from a username user asks for the number', async () => {
			await optIn('+4915112345678');
			const brevoUpdates: unknown[] = [];
			const upserts: Record<string, string>[] = [];
			nock(HUBSPOT)
				.post('/crm/v3/objects/contacts/search', (body) => searchedPhone(body)?.value === '+4915112345678')
				.reply(200, searchAnswer(hubspotContact('512', 'anna@example.com', '+4915112345678')))
				.post('/contacts/v1/contact/createOrUpdate/email/anna@example.com', (body) => Boolean(upserts.push(upserted(body))))
				.reply(200, { vid: 512, isNew: false });
			nock(BREVO).put('/v3/contacts/anna%40example.com', (body) => Boolean(brevoUpdates.push(body))).reply(204);

			const switched = await run(await scenario.customerSwitchesMarketing('4915112345678', 'stop'));
			expect(switched.error).toBeUndefined();
			expect(switched.executedNodes).not.toContain('Confirm Withdrawal');
			expect(upserts).toEqual([{ whatsapp_opt_in: 'false', whatsapp_opt_in_changed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
			expect(brevoUpdates).toEqual([{ attributes: { WHATSAPP_OPT_IN: 'false' } }]);
			expect(await scenario.graphRequests()).toEqual([]);

			const { userId } = await scenario.control<{ userId: string }>('users', { waId: '4915112345679', username: 'kim.b' });
			const { code } = await scenario.ledger.requestOptIn({ phone: '+4915112345679', purposes: ['offers'], consentText: PURPOSE_TEXT, source: {} });
			const asked = await run(await scenario.customerSends('4915112345679', { text: code }));
			expect(asked.error).toBeUndefined();
			expect(asked.outputOf('Ask for the Number', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
			expect(await scenario.graphRequests()).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ status: 'accepted' }), body: expect.objectContaining({ recipient: userId, type: 'interactive' }) })]);
		});
	});

	describe('Zendesk agent replies on WhatsApp', () => {
		const reply = () => readWorkflowFile(join(WORKFLOWS, 'helpdesk-reply-zendesk.json'));
		/** What Zendesk's webhook posts for the trigger n8n created: the chosen placeholders, filled in. */
		const agentReplied = (ticketId: string, externalId: string, text: string, phone = '') => ({
			'ticket.id': ticketId,
			'ticket.external_id': externalId,
			'ticket.requester.phone': phone,
			'ticket.requester.first_name': 'Anna',
			'ticket.latest_public_comment': text,
			'ticket.updated_at_with_timestamp': '2026-12-02T07:05Z',
			'current_user.name': 'Lena Berger',
		});
		const run = (items: IDataObject[]) => runWorkflow(reply(), { credentials, triggerData: { nodeName: 'Agent Replied', items } });
		const notes: { ticket: string; body: IDataObject }[] = [];
		const expectNotes = (count: number) =>
			nock(ZENDESK, { reqheaders: { authorization: ZENDESK_AUTH } })
				.put(/^\/api\/v2\/tickets\/\d+\.json$/, (body) => Boolean(notes.push({ ticket: '', body })))
				.times(count)
				.reply(200, (uri) => {
					notes[notes.length - 1].ticket = uri.match(/tickets\/(\d+)/)![1];
					return zendeskTicket(Number(notes[notes.length - 1].ticket), { status: 'pending' });
				});
		beforeEach(() => void notes.splice(0));

		test('activating it creates the webhook and the trigger in Zendesk, for replies submitted as Pending', async () => {
			const created: IDataObject[] = [];
			nock(ZENDESK, { reqheaders: { authorization: ZENDESK_AUTH } })
				.get('/api/v2/webhooks')
				.reply(200, { webhooks: [], meta: { has_more: false, after_cursor: null, before_cursor: null }, links: { next: null, prev: null } })
				.post('/api/v2/webhooks', (body) => Boolean(created.push(body)))
				.reply(201, {
					webhook: {
						id: '01GAFCHFX7V8P5BSR7GXG0RNGZ',
						name: 'n8n webhook',
						status: 'active',
						endpoint: 'http://localhost:5678/webhook/x',
						http_method: 'POST',
						request_format: 'json',
						subscriptions: ['conditional_ticket_events'],
						created_at: '2026-12-02T07:00:00Z',
						created_by: '1234567',
					},
				})
				.get('/api/v2/webhooks/01GAFCHFX7V8P5BSR7GXG0RNGZ/signing_secret')
				.reply(200, { signing_secret: { algorithm: 'SHA256', secret: 'dGhpcyBpcyBhIHNlY3JldA==' } })
				.post('/api/v2/triggers.json', (body) => Boolean(created.push(body)))
				.reply(201, { trigger: { id: 25, title: 'n8n-webhook', active: true, position: 8, conditions: {}, actions: [], created_at: '2026-12-02T07:00:00Z' } });

			await activateWorkflow(reply(), { credentials });
			const [webhook, trigger] = created as [{ webhook: IDataObject }, { trigger: { conditions: IDataObject; actions: { field: string; value: string[] }[] } }];
			expect(webhook.webhook).toMatchObject({ endpoint: expect.stringMatching(/\/webhook\/.+/), http_method: 'POST', request_format: 'json', subscriptions: ['conditional_ticket_events'] });
			expect(trigger.trigger.conditions).toEqual({ all: [{ field: 'status', operator: 'value', value: 'pending' }], any: [] });
			const [target, payload] = trigger.trigger.actions[0].value;
			expect(target).toBe('01GAFCHFX7V8P5BSR7GXG0RNGZ');
			expect(Object.keys(JSON.parse(payload))).toEqual(expect.arrayContaining(['ticket.id', 'ticket.external_id', 'ticket.latest_public_comment']));
		});

		test('inside the 24 h window the reply goes out as a service message, once however often Zendesk delivers it; nothing is written back', async () => {
			await optIn('+4915100000401', ['order-updates']);
			const replied = agentReplied('35436', '+4915100000401', 'Ihre Bestellung geht morgen raus.');
			const run1 = await run([replied]);
			expect(run1.error).toBeUndefined();
			expect(run1.outputOf('Send Reply', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
			expect(run1.executedNodes).not.toContain('Note on Ticket');

			const again = await run([replied]); // Zendesk retries a webhook whose answer it did not get
			expect(again.error).toBeUndefined();
			expect(again.outputOf('Send Reply', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
			expect(again.executedNodes).not.toContain('Note on Ticket');
			const later = await run([{ ...replied, 'ticket.updated_at_with_timestamp': '2026-12-02T07:09Z' }]); // the agent sends it once more
			expect(later.outputOf('Send Reply', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });

			const sent = (await scenario.graphRequests()).filter((request) => request.outcome.status === 'accepted');
			expect(sent.map((request) => [request.body.to, request.body.text?.body])).toEqual([
				['4915100000401', 'Ihre Bestellung geht morgen raus.'],
				['4915100000401', 'Ihre Bestellung geht morgen raus.'],
			]);
		});

		test('outside the window the approved template carries the reply to a consented customer; without consent the refusal is an internal note', async () => {
			await optInLongAgo('+4915100000402', ['order-updates']);
			await optInLongAgo('+4915100000403', ['offers']); // consented, but not to service news
			expectNotes(2);
			const result = await run([
				agentReplied('35437', '+4915100000402', 'Ihre Bestellung\n\ngeht morgen raus.'),
				agentReplied('35438', '+4915100000403', 'Danke für Ihre Geduld.'),
				agentReplied('35439', '', 'Wir melden uns.', 'keine Nummer'),
			]);
			expect(result.error).toBeUndefined();
			expect(result.outputOf('Send Reply', 1).map((item) => (item.json.whatsapp as IDataObject).reason)).toEqual(['outside_service_window', 'outside_service_window', 'invalid_recipient']);

			const templates = (await scenario.graphRequests()).filter((request) => request.outcome.status === 'accepted');
			expect(templates).toHaveLength(1);
			expect(templates[0].body).toMatchObject({
				to: '4915100000402',
				template: {
					name: 'ticket_reply',
					components: [{ type: 'body', parameters: [expect.objectContaining({ parameter_name: 'ticket_id', text: '35437' }), expect.objectContaining({ parameter_name: 'reply', text: 'Ihre Bestellung geht morgen raus.' })] }],
				},
			});

			expect(notes.map((note) => note.ticket).sort()).toEqual(['35438', '35439']);
			for (const note of notes) expect(note.body).toEqual({ ticket: { comment: { html_body: expect.stringMatching(/^Not sent on WhatsApp \(\w+\): /), public: false } } });
			const byTicket = Object.fromEntries(notes.map((note) => [note.ticket, (note.body.ticket as { comment: { html_body: string } }).comment.html_body]));
			expect(byTicket['35438']).toMatch(/\(never_asked\)/);
			expect(byTicket['35439']).toMatch(/\(invalid_recipient\)/);

			// Delivered again: no second template, and no second note (an unexpected call to Zendesk would fail the run).
			const again = await run([agentReplied('35437', '+4915100000402', 'Ihre Bestellung\n\ngeht morgen raus.')]);
			expect(again.error).toBeUndefined();
			expect(again.outputOf('Send Reply Template', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
			expect(again.executedNodes).not.toContain('Note on Ticket');
			expect((await scenario.graphRequests()).filter((request) => request.outcome.status === 'accepted')).toHaveLength(1);
		});
	});

	describe('newsletter to a Brevo list, summary by e-mail', () => {
		let smtp: SmtpReceiver;
		beforeEach(async () => (smtp = await startSmtpReceiver()));
		afterEach(() => smtp.close());

		/** A contact as Brevo's "Get all the contacts" returns it. */
		const brevoContact = (id: number, email: string, listIds: number[], whatsapp?: string) => ({
			email,
			id,
			emailBlacklisted: false,
			smsBlacklisted: false,
			createdAt: '2026-02-11T10:22:31.000+01:00',
			modifiedAt: '2026-11-20T08:01:12.000+01:00',
			listIds,
			attributes: { FIRSTNAME: `Kunde ${id}`, ...(whatsapp ? { WHATSAPP: whatsapp } : {}) },
		});

		test('sends to the consented contacts of the list and mails what was sent, refused by reason, failed and cost', async () => {
			await optIn('+4915100000501');
			await optIn('+4915100000502');
			await optIn('+4915100000503');
			await scenario.customerSends('4915100000503', { text: 'STOP' });
			const contacts = [
				brevoContact(1, 'a@example.com', [2], '+4915100000501'),
				brevoContact(2, 'b@example.com', [2, 7], '4915100000502'),
				brevoContact(3, 'c@example.com', [2], '+4915100000503'), // withdrew
				brevoContact(4, 'd@example.com', [2], '+4915100000504'), // never asked
				brevoContact(5, 'e@example.com', [7], '+4915100000505'), // another list
				brevoContact(6, 'f@example.com', [2]), // no WhatsApp number
			];
			nock(BREVO, { reqheaders: { 'api-key': 'xkeysib-test' } })
				.get('/v3/contacts')
				.query(true)
				.reply(200, { contacts, count: contacts.length });
			const workflow = readWorkflowFile(join(WORKFLOWS, 'newsletter-brevo.json'));
			const run = await runWorkflow(workflow, {
				credentials: { ...credentials, whatsAppCloudApi: { ...credentials.whatsAppCloudApi, priceMarketing: 0.1131, priceCurrency: 'EUR' }, smtp: { host: '127.0.0.1', port: smtp.port, secure: false, disableStartTls: true, user: '', password: '' } },
				startNode: 'Every Monday at 10',
			});
			expect(run.error).toBeUndefined();
			// The summary branch runs after the sends: n8n's v1 order takes the upper branch first.
			expect(run.executedNodes.indexOf('Compose Summary')).toBeGreaterThan(run.executedNodes.indexOf('Send Newsletter'));
			const templates = (await scenario.graphRequests()).filter((request) => request.body.template?.name === 'newsletter');
			expect(templates.map((request) => request.body.to).sort()).toEqual(['4915100000501', '4915100000502']);

			expect(run.outputOf('Compose Summary', 0)[0].json).toMatchObject({
				sent: 2,
				refusedByReason: { withdrawn: 1, never_asked: 1 },
				failedByReason: {},
				estimatedCost: 0.2262,
				currency: 'EUR',
			});
			expect(smtp.mails).toHaveLength(1);
			const [mail] = smtp.mails;
			expect(mail.to).toEqual(['newsletter@example.com']);
			expect(mail.headers.subject).toMatch(/^WhatsApp newsletter newsletter-\d{4}-\d\d: 2 sent, 2 refused, 0 failed$/);
			expect(mail.text).toContain('Sent: 2');
			expect(mail.text).toMatch(/Not sent \(refused\): (withdrawn 1, never_asked 1|never_asked 1, withdrawn 1)/);
			expect(mail.text).toContain('Failed: none');
			expect(mail.text).toContain('Estimated cost: 0.23 EUR');
		});

		test('a send Meta rejects is counted as failed, by its error code, and the run goes on', async () => {
			await optIn('+4915100000601');
			await optIn('+4915100000602');
			await scenario.control('faults', { kind: 'error', code: 131026, count: 1 }); // the next send Meta gets: Message undeliverable
			nock(BREVO)
				.get('/v3/contacts')
				.query(true)
				.reply(200, { contacts: [brevoContact(1, 'a@example.com', [2], '+4915100000601'), brevoContact(2, 'b@example.com', [2], '+4915100000602')], count: 2 });
			const run = await runWorkflow(readWorkflowFile(join(WORKFLOWS, 'newsletter-brevo.json')), {
				credentials: { ...credentials, smtp: { host: '127.0.0.1', port: smtp.port, secure: false, disableStartTls: true, user: '', password: '' } },
				startNode: 'Every Monday at 10',
			});
			expect(run.error).toBeUndefined();
			expect(run.outputOf('Compose Summary', 0)[0].json).toMatchObject({ sent: 1, refusedByReason: {}, failedByReason: { 'failed: 131026': 1 } });
			expect(smtp.mails[0].text).toContain('Failed: failed: 131026 1');
			expect(smtp.mails[0].text).toContain('Estimated cost: no prices in the WhatsApp credential');
		});
	});
});
