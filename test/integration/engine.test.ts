import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerFor } from '../../nodes/shared/ledger';
import { readWorkflowFile, runWorkflow, setNodeParameters, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';

interface SeenRequest {
	method?: string;
	url?: string;
	headers: IncomingMessage['headers'];
	body: unknown;
}

/** A CRM stand-in at the HTTP level: records every request and answers as the test says. */
class RecordingServer {
	readonly requests: SeenRequest[] = [];

	answer: (response: ServerResponse) => void = (response) => response.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"c-1"}');

	private readonly server: Server = createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			const text = Buffer.concat(chunks).toString('utf8');
			this.requests.push({ method: request.method, url: request.url, headers: request.headers, body: text ? JSON.parse(text) : undefined });
			this.answer(response);
		});
	});

	async start(): Promise<string> {
		this.server.listen(0, '127.0.0.1');
		await once(this.server, 'listening');
		return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	async stop(): Promise<void> {
		this.server.closeAllConnections();
		this.server.close();
		await once(this.server, 'close');
	}
}

const TRIGGER = 'When clicking ‘Execute workflow’';
const crmToken = { httpHeaderAuth: { name: 'X-Api-Key', value: 'crm-secret' } };

describe('workflow JSON on the real n8n engine', () => {
	const crm = new RecordingServer();
	let workflow: WorkflowJson;

	beforeAll(async () => {
		const url = await crm.start();
		workflow = setNodeParameters(readWorkflowFile(join(__dirname, '..', 'fixtures', 'engine-smoke.workflow.json')), 'Notify CRM', {
			url: `${url}/contacts`,
		});
	});

	beforeEach(() => {
		crm.requests.length = 0;
		crm.answer = (response) => response.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"c-1"}');
	});

	afterAll(async () => {
		await stopEngine();
		await crm.stop();
	});

	it('runs injected trigger items through Set and IF, and only the opted-in contact reaches the CRM', async () => {
		const result = await runWorkflow(workflow, {
			credentials: crmToken,
			triggerData: {
				nodeName: TRIGGER,
				items: [
					{ name: 'Ada', phone: '+4915112345678', optedIn: true },
					{ name: 'Bob', phone: '+4915187654321', optedIn: false },
				],
			},
		});

		expect(result.error).toBeUndefined();
		expect(result.status).toBe('success');
		expect(crm.requests).toEqual([
			expect.objectContaining({
				method: 'POST',
				url: '/contacts',
				body: { name: 'Ada', phone: '+4915112345678', source: 'engine-test' },
			}),
		]);
		expect(crm.requests[0].headers['x-api-key']).toBe('crm-secret');
		expect(result.outputOf('Notify CRM').map((item) => item.json)).toEqual([{ id: 'c-1' }]);
		expect(result.outputOf('Skip').map((item) => item.json.name)).toEqual(['Bob']);
		expect(result.executedNodes).toEqual([TRIGGER, 'Mark Source', 'Opted In?', 'Notify CRM', 'Skip']);
	});

	it('runs the Manual Trigger itself when no trigger data is given', async () => {
		const result = await runWorkflow(workflow, { credentials: crmToken });

		expect(result.status).toBe('success');
		expect(result.outputOf(TRIGGER)).toHaveLength(1);
		expect(result.outputOf('Opted In?', 0)).toEqual([]);
		expect(result.outputOf('Skip').map((item) => item.json)).toEqual([{ optedIn: false, source: 'engine-test' }]);
		expect(crm.requests).toEqual([]);
		expect(() => result.outputOf('Notify CRM')).toThrow('Node "Notify CRM" did not run');
	});

	it('reports a failing node with its name and the server answer', async () => {
		crm.answer = (response) => response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"CRM down"}');

		const result = await runWorkflow(workflow, {
			credentials: crmToken,
			triggerData: { nodeName: TRIGGER, items: [{ name: 'Ada', phone: '+4915112345678', optedIn: true }] },
		});

		expect(result.status).toBe('error');
		expect(result.failedNode).toBe('Notify CRM');
		expect(`${result.error?.message} ${result.error?.description}`).toMatch(/500|CRM down/);
		expect(crm.requests).toHaveLength(1);
	});

	it('reports credentials the test did not give, naming the type', async () => {
		const result = await runWorkflow(workflow, {
			triggerData: { nodeName: TRIGGER, items: [{ name: 'Ada', phone: '+4915112345678', optedIn: true }] },
		});

		expect(result.status).toBe('error');
		expect(result.error?.message).toContain('credentials of type "httpHeaderAuth"');
		expect(crm.requests).toEqual([]);
	});

	it('cancels an execution whose HTTP call hangs, and reports it at once as cancelled', async () => {
		const held: ServerResponse[] = [];
		crm.answer = (response) => held.push(response);
		const abort = new AbortController();

		const running = runWorkflow(workflow, {
			credentials: crmToken,
			signal: abort.signal,
			triggerData: { nodeName: TRIGGER, items: [{ name: 'Ada', phone: '+4915112345678', optedIn: true }] },
		});
		while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
		abort.abort();
		const result = await running;

		expect(result.status).toBe('canceled');
		expect(result.executedNodes).toEqual([TRIGGER, 'Mark Source', 'Opted In?']);
		// n8n's HTTP Request node does not abort its request; answering it lets the cancelled execution end.
		held[0].writeHead(201).end('{}');
		await stopEngine();
	});

	it('times out an execution and reports it as cancelled', async () => {
		const held: ServerResponse[] = [];
		crm.answer = (response) => held.push(response);

		const running = runWorkflow(workflow, {
			credentials: crmToken,
			timeoutMs: 300,
			triggerData: { nodeName: TRIGGER, items: [{ name: 'Ada', phone: '+4915112345678', optedIn: true }] },
		});
		const result = await running;
		held.forEach((response) => response.writeHead(201).end('{}'));

		expect(result.status).toBe('canceled');
		expect(held).toHaveLength(1);
		await stopEngine();
	});

	it('refuses a node type it does not know, naming it', async () => {
		const unknown: WorkflowJson = {
			...workflow,
			nodes: workflow.nodes.map((node) => (node.name === 'Skip' ? { ...node, type: 'n8n-nodes-whatsapp-consent.noSuchNode' } : node)),
		};

		await expect(runWorkflow(unknown, { credentials: crmToken })).rejects.toThrow('Unknown node type "n8n-nodes-whatsapp-consent.noSuchNode"');
	});
});

describe('this package\'s nodes on the engine', () => {
	afterAll(() => stopEngine());

	/** Manual Trigger → Verify Consent, with the node type named as the given loader would name it. */
	function verifyConsentWorkflow(type: string): WorkflowJson {
		return {
			nodes: [
				{ id: 'n1', name: TRIGGER, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'n2',
					name: 'Verify Consent',
					type,
					typeVersion: 1,
					position: [220, 0],
					parameters: { recipient: '={{ $json.phone }}', purpose: 'offers', category: 'marketing' },
					credentials: { consentLedgerApi: { id: 'ledger', name: 'Ledger' } },
				},
			],
			connections: { [TRIGGER]: { main: [[{ node: 'Verify Consent', type: 'main', index: 0 }]] } },
		};
	}

	it.each(['n8n-nodes-whatsapp-consent.verifyConsent', 'CUSTOM.verifyConsent'])('runs %s and routes a number nobody asked to "Not Consented"', async (type) => {
		const consentLedgerApi = { store: 'embedded', folder: mkdtempSync(join(tmpdir(), 'engine-ledger-')), secretKey: 'engine-test-secret-0123456789', defaultCountry: 'DE' };
		await (await ledgerFor(consentLedgerApi)).definePurposes([{ id: 'offers', label: 'Offers' }]);

		const result = await runWorkflow(verifyConsentWorkflow(type), {
			credentials: { consentLedgerApi },
			triggerData: { nodeName: TRIGGER, items: [{ phone: '+4915112345678' }] },
		});

		expect(result.error).toBeUndefined();
		expect(result.outputOf('Verify Consent', 0)).toEqual([]);
		const [refused] = result.outputOf('Verify Consent', 1);
		expect(refused.json).toMatchObject({ phone: '+4915112345678', consent: { allowed: false, reason: 'never_asked' } });
	});
});
