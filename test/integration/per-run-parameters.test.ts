/**
 * Send WhatsApp resolves a parameter that is the same for every item once per run (nodes/SendWhatsApp/actions/
 * parameters.ts): on n8n's real engine, each message still carries its own item's values wherever an expression
 * reads the item, and the values from another node's first item or the clock are the same in every message of the
 * run. What reached "Meta" is read from the sandbox's log. One store: how parameters are read does not touch it.
 */
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { startScenario, type Scenario } from '../helpers/scenario';

const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const CREDENTIALS = { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };
const PEOPLE = Array.from({ length: 12 }, (_, index) => ({ phone: `+49151000020${String(index).padStart(2, '0')}`, name: `Person ${index}` }));

/** Start → Settings (adds the run's greeting and campaign to each item) → Send WhatsApp, a service text to each. */
const workflow: WorkflowJson = {
	nodes: [
		{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{
			id: 'settings',
			name: 'Settings',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.4,
			position: [200, 0],
			parameters: {
				assignments: {
					assignments: [
						{ id: 'g', name: 'greeting', value: 'Guten Tag', type: 'string' },
						{ id: 'c', name: 'campaign', value: 'spring', type: 'string' },
					],
				},
				includeOtherFields: true,
				options: {},
			},
		},
		{
			id: 'send',
			name: 'Send',
			type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
			typeVersion: 1,
			position: [400, 0],
			credentials: CREDENTIALS,
			parameters: {
				operation: 'sendText',
				recipient: '={{ $json.phone }}',
				category: 'service',
				text: "={{ $('Settings').first().json.greeting }}, {{ $json.name }} ({{ $('Settings').item.json.phone }}), {{ $now.toFormat('yyyy') }} #{{ $itemIndex }}",
				options: { pairRateSeconds: 0, campaignKey: "={{ $('Settings').first().json.campaign }}-{{ $now.toMillis() }}" },
			},
		},
	],
	connections: {
		Start: { main: [[{ node: 'Settings', type: 'main', index: 0 }]] },
		Settings: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
	},
};

afterAll(() => stopEngine());

describe('parameters resolved once per run or per item, on the real engine', () => {
	let scenario: Scenario;

	beforeAll(async () => {
		scenario = await startScenario('embedded');
		await scenario.ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
		for (const { phone } of PEOPLE) {
			const { code } = await scenario.ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: {} });
			// Sending the code from WhatsApp confirms and opens the 24 h window for the service text.
			await scenario.customerSends(phone.slice(1), { text: code });
		}
	});
	afterAll(() => scenario.close());

	test("each message carries its own item's name, phone and index, and the run's greeting, year and campaign", async () => {
		const result = await runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items: PEOPLE } });
		const sent = result.outputOf('Send', 0).map((item) => item.json.whatsapp as IDataObject);
		expect(sent.map((outcome) => outcome.status)).toEqual(PEOPLE.map(() => 'sent'));

		const { requests } = await scenario.control<{ requests: { path: string; body: { to: string; text?: { body: string } } }[] }>('messages');
		const texts = new Map(requests.filter((request) => request.path.endsWith('/messages') && request.body.text).map((request) => [`+${request.body.to}`, request.body.text!.body]));
		const year = new Date().getUTCFullYear();
		PEOPLE.forEach(({ phone, name }, index) => expect(texts.get(phone)).toMatch(new RegExp(`^Guten Tag, ${name} \\(\\${phone}\\), (${year}|${year + 1}) #${index}$`)));

		// The campaign key's clock part was read once: every send of the run is under one campaign.
		const campaigns = new Set(sent.map((outcome) => String(outcome.key).split(':')[2]));
		expect(campaigns.size).toBe(1);
		expect([...campaigns][0]).toMatch(/^spring-\d{13}$/);
	});
});
