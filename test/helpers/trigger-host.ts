/**
 * The Opt-In Trigger's POST webhook served over real HTTP the way n8n 2.41.1 serves an `onReceived` webhook
 * (packages/cli/src/webhooks/webhook-helpers.ts): `webhook()` runs and may answer itself; workflow data starts an
 * execution either way, and when the node sent nothing, n8n creates the execution (WorkflowRunner.run, line 1123) and
 * only then answers (line 1162). `executions` stands for n8n's execution table: the items of every execution stored.
 *
 * `beforeStore` runs between `webhook()` returning and the execution being stored: a test makes the host fail there
 * (it throws: n8n cannot store the execution and answers 500), or die there (it answers 'die': the connection is cut
 * and nothing after that point runs, as when the process is killed; the test keeps what it counts as stored).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ICredentialDataDecryptedObject, IDataObject, IHookFunctions, IWebhookFunctions, WorkflowActivateMode } from 'n8n-workflow';
import { OptInTrigger } from '../../nodes/OptInTrigger/OptInTrigger.node';

export interface TriggerHost {
	/** The production URL (`/webhook/whatsapp`). */
	url: string;
	/** The test URL (`/webhook-test/whatsapp`) the same trigger answers while n8n listens for a test event. */
	testUrl: string;
	/**
	 * The context n8n gives `webhookMethods` (IHookFunctions): `activate` and `update` (n8n's delete) for the
	 * production URL, `manual` and `manual-delete` for a test listen. Each URL keeps its own node static data, as n8n
	 * keeps it with the workflow and with the test registration; `url` stands in for another webhook URL.
	 */
	hooks(mode: 'activate' | 'init' | 'update' | 'manual' | 'manual-delete', options?: { url?: string }): IHookFunctions;
	/** The items of each execution n8n stored, in order. */
	executions: IDataObject[][];
	/** The status of every answer sent. */
	answers: number[];
	warnings: string[];
	close(): Promise<void>;
}

export interface TriggerHostOptions {
	credentials: Record<string, ICredentialDataDecryptedObject>;
	/** The trigger's parameters; `events` defaults to every kind. */
	parameters?: IDataObject;
	beforeStore?: (items: IDataObject[]) => Promise<'die' | void> | 'die' | void;
}

export const ALL_EVENTS = ['optin.requested', 'optin.confirmed', 'optin.refused', 'consent.withdrawn', 'message.received', 'status.updated', 'marketing.preference', 'event.rejected'];

/** The part of express's response the trigger uses. */
function expressLike(res: ServerResponse) {
	const wrapped = {
		status(code: number) {
			res.statusCode = code;
			return wrapped;
		},
		type(contentType: string) {
			res.setHeader('content-type', contentType);
			return wrapped;
		},
		send(body: string) {
			res.end(body);
			return wrapped;
		},
		once(event: string, listener: () => void) {
			res.once(event, listener);
			return wrapped;
		},
		get statusCode() {
			return res.statusCode;
		},
		get headersSent() {
			return res.headersSent;
		},
	};
	return wrapped;
}

function parametersOf(options: TriggerHostOptions): IDataObject {
	return {
		path: 'whatsapp',
		businessName: 'Beispiel GmbH',
		businessNumber: '+49 30 1234567',
		privacyUrl: 'https://example.com/datenschutz',
		purposes: { purpose: [{ id: 'offers', label: 'Angebote' }] },
		events: ALL_EVENTS,
		options: {},
		...options.parameters,
	};
}

const NODE = { name: 'Opt-In Trigger', type: 'n8n-nodes-whatsapp-consent.optInTrigger', typeVersion: 1 };

function context(request: IncomingMessage, raw: Buffer, res: ServerResponse, url: string, options: TriggerHostOptions, warnings: string[]): IWebhookFunctions {
	let body: unknown = {};
	try {
		body = JSON.parse(raw.toString('utf8'));
	} catch {
		// the trigger reads the raw bytes; a body that is not JSON is its to judge
	}
	const parameters = parametersOf(options);
	const log = (line: string) => warnings.push(line);
	// n8n serves the GET (`setup`: widget and Meta's handshake) and the POST (`default`) on the same URL.
	const query = Object.fromEntries(new URL(request.url ?? '/', 'http://host').searchParams);
	return {
		getRequestObject: () => ({ headers: request.headers, rawBody: raw, body, query, readRawBody: async () => undefined }),
		getResponseObject: () => expressLike(res),
		getCredentials: async (name: string) => options.credentials[name],
		getNodeParameter: (name: string, fallback?: unknown) => parameters[name] ?? fallback,
		getWebhookName: () => (request.method === 'GET' ? 'setup' : 'default'),
		getNodeWebhookUrl: () => url,
		getNode: () => ({ ...NODE, parameters }),
		logger: { warn: log, error: log, info: () => undefined, debug: () => undefined },
	} as unknown as IWebhookFunctions;
}

export async function startTriggerHost(options: TriggerHostOptions): Promise<TriggerHost> {
	const trigger = new OptInTrigger();
	const executions: IDataObject[][] = [];
	const answers: number[] = [];
	const warnings: string[] = [];
	let url = '';
	let testUrl = '';
	const staticData = { production: {} as IDataObject, test: {} as IDataObject };
	const server: Server = createServer((request, res) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', async () => {
			res.once('finish', () => answers.push(res.statusCode));
			try {
				const result = await trigger.webhook.call(context(request, Buffer.concat(chunks), res, url, options, warnings));
				if (!result.workflowData) {
					if (!res.writableEnded) throw new Error('The trigger neither answered nor returned workflow data');
					return;
				}
				// Workflow data starts an execution even when the node answered itself (noWebhookResponse).
				const items = result.workflowData[0].map((item) => item.json);
				if ((await options.beforeStore?.(items)) === 'die') {
					res.socket?.destroy();
					return;
				}
				executions.push(items);
				if (!res.writableEnded) {
					res.statusCode = 200;
					res.end();
				}
			} catch (error) {
				if (!res.writableEnded) {
					res.statusCode = 500;
					res.end(`There was a problem executing the workflow: ${(error as Error).message}`);
				}
			}
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	url = `${base}/webhook/whatsapp`;
	testUrl = `${base}/webhook-test/whatsapp`;
	const hooks = (mode: 'activate' | 'init' | 'update' | 'manual' | 'manual-delete', hookOptions: { url?: string } = {}): IHookFunctions => {
		const test = mode === 'manual' || mode === 'manual-delete';
		const parameters = parametersOf(options);
		const log = (line: string) => warnings.push(line);
		// n8n runs test webhooks' create with activation 'manual', its start-up's with 'init', every delete with 'update'.
		const activation: WorkflowActivateMode = mode === 'manual' || mode === 'activate' || mode === 'init' ? mode : 'update';
		return {
			getCredentials: async (name: string) => options.credentials[name],
			getNodeParameter: (name: string, fallback?: unknown) => parameters[name] ?? fallback,
			getNodeWebhookUrl: () => hookOptions.url ?? (test ? testUrl : url),
			getActivationMode: () => activation,
			getWorkflowStaticData: () => (test ? staticData.test : staticData.production),
			getNode: () => ({ ...NODE, parameters }),
			logger: { warn: log, error: log, info: log, debug: () => undefined },
		} as unknown as IHookFunctions;
	};
	return {
		url,
		testUrl,
		hooks,
		executions,
		answers,
		warnings,
		close: () =>
			new Promise((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
