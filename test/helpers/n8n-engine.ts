/**
 * Runs workflow JSON (as exported from the n8n editor) on n8n's real execution engine, in the test process: the
 * `Workflow` of n8n-workflow, `WorkflowExecute` of n8n-core, n8n's built-in nodes from n8n-nodes-base and this
 * package's nodes from their TypeScript sources. Only what the n8n server adds around the engine is replaced:
 * credentials come from the test instead of the encrypted database, and there is no task runner (Code node).
 *
 * Call `stopEngine()` in `afterAll`: it cancels executions still running and closes the ledgers the nodes opened.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Container } from '@n8n/di';
import { ExecutionLifecycleHooks, ExternalSecretsProxy, HookContext, WorkflowExecute } from 'n8n-core';
import { SSHClientsManager } from 'n8n-core/dist/execution-engine/ssh-clients-manager';
import {
	ICredentialsHelper,
	NodeHelpers,
	Workflow,
	type ExecutionStatus,
	type ICredentialDataDecryptedObject,
	type ICredentials,
	type ICredentialType,
	type IConnections,
	type IDataObject,
	type IHttpRequestOptions,
	type INode,
	type INodeExecutionData,
	type INodeProperties,
	type INodeType,
	type INodeTypes,
	type IRequestOptionsSimplified,
	type IRun,
	type IRunData,
	type IRunExecutionData,
	type IVersionedNodeType,
	type IWebhookData,
	type IWorkflowBase,
	type IWorkflowExecuteAdditionalData,
	type IWorkflowSettings,
	type Workflow as WorkflowType,
} from 'n8n-workflow';
import { closeLedgers } from '../../nodes/shared/ledger';

const PACKAGE_ROOT = join(__dirname, '..', '..');
const PACKAGE_NAME = 'n8n-nodes-whatsapp-consent';
/** n8n names a package's node types `<package>.<node>`, or `CUSTOM.<node>` when loaded from a custom folder. */
const OUR_PREFIXES = [`${PACKAGE_NAME}.`, 'CUSTOM.'];
const BUILT_IN_PREFIX = 'n8n-nodes-base.';
const DEFAULT_TIMEOUT_MS = 30_000;

/** A workflow file as the n8n editor exports it; fields the engine does not need are allowed and ignored. */
export interface WorkflowJson {
	name?: string;
	nodes: INode[];
	connections: IConnections;
	settings?: IWorkflowSettings;
	[field: string]: unknown;
}

export interface RunWorkflowOptions {
	/** Decrypted credential data by credential type name, e.g. `{ consentLedgerApi: { store: 'embedded', … } }`. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/**
	 * The items a node outputs instead of running, like n8n's pinned data: a test injects what a webhook trigger
	 * would have emitted and the rest of the workflow runs for real. The run starts at this node.
	 */
	triggerData?: { nodeName: string; items: Array<INodeExecutionData | IDataObject> };
	/** The node to start from; defaults to `triggerData.nodeName`, else the trigger n8n itself would choose. */
	startNode?: string;
	/** Cancels the execution when this signal aborts; the result then has status `canceled`. */
	signal?: AbortSignal;
	/** Cancels the execution after this long (default 30 s), so a hanging node fails the test instead of blocking it. */
	timeoutMs?: number;
}

export interface WorkflowRunResult {
	status: ExecutionStatus;
	/** The error that stopped the execution. */
	error?: IRunExecutionData['resultData']['error'];
	/** The node that threw it. */
	failedNode?: string;
	runData: IRunData;
	/** Names of the nodes that ran, in order. */
	executedNodes: string[];
	/** The items the node's last run put on the given output; throws when the node did not run. */
	outputOf(nodeName: string, outputIndex?: number): INodeExecutionData[];
}

/** Thrown for workflows the engine harness cannot run, with what to change. */
export class EngineHarnessError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'EngineHarnessError';
	}
}

interface PackageManifest {
	n8n: { nodes: string[]; credentials: string[] };
}

/** Loads a class the way n8n does: the file `X.node.js` / `X.credentials.js` exports a class named `X`. */
function loadClass<T>(file: string): T {
	const className = basename(file).split('.')[0];
	const exported = (require(file) as Record<string, new () => T>)[className];
	if (typeof exported !== 'function') throw new EngineHarnessError(`${file} does not export a class named ${className}`);
	return new exported();
}

/** Our package as n8n would load it from package.json, but from the TypeScript sources (ts-jest compiles them). */
class OwnPackage {
	private nodes?: Map<string, INodeType | IVersionedNodeType>;

	private credentials?: Map<string, ICredentialType>;

	/** Entries of package.json whose source file does not exist (yet): reported when a workflow needs them. */
	private readonly missing: string[] = [];

	node(name: string): INodeType | IVersionedNodeType | undefined {
		this.nodes ??= this.load('nodes', (node: INodeType | IVersionedNodeType) => node.description.name);
		return this.nodes.get(name);
	}

	credential(name: string): ICredentialType | undefined {
		this.credentials ??= this.load('credentials', (credential: ICredentialType) => credential.name);
		return this.credentials.get(name);
	}

	describeMissing(): string {
		return this.missing.length ? ` package.json lists files whose sources do not exist: ${this.missing.join(', ')}.` : '';
	}

	private load<T>(kind: 'nodes' | 'credentials', nameOf: (instance: T) => string): Map<string, T> {
		const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageManifest;
		const loaded = new Map<string, T>();
		for (const built of manifest.n8n[kind]) {
			const source = join(PACKAGE_ROOT, built.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
			if (!existsSync(source)) {
				this.missing.push(built);
				continue;
			}
			const instance = loadClass<T>(source);
			loaded.set(nameOf(instance), instance);
		}
		return loaded;
	}
}

/** n8n-nodes-base, loaded lazily by type name from its own index of node and credential classes. */
class BuiltInPackage {
	private readonly root = dirname(require.resolve('n8n-nodes-base/package.json'));

	private readonly nodeIndex = this.readIndex('nodes');

	private readonly credentialIndex = this.readIndex('credentials');

	private readonly cache = new Map<string, unknown>();

	node(name: string): INodeType | IVersionedNodeType | undefined {
		return this.instance(this.nodeIndex, name);
	}

	credential(name: string): ICredentialType | undefined {
		return this.instance(this.credentialIndex, name);
	}

	private readIndex(kind: 'nodes' | 'credentials'): Record<string, { sourcePath: string }> {
		return JSON.parse(readFileSync(join(this.root, 'dist', 'known', `${kind}.json`), 'utf8'));
	}

	private instance<T>(index: Record<string, { sourcePath: string }>, name: string): T | undefined {
		const entry = index[name];
		if (!entry) return undefined;
		const file = join(this.root, entry.sourcePath);
		if (!this.cache.has(file)) this.cache.set(file, loadClass<T>(file));
		return this.cache.get(file) as T;
	}
}

const ownPackage = new OwnPackage();
let builtIns: BuiltInPackage | undefined;
const builtInPackage = () => (builtIns ??= new BuiltInPackage());

function credentialType(name: string): ICredentialType {
	const type = ownPackage.credential(name) ?? builtInPackage().credential(name);
	if (!type) throw new EngineHarnessError(`Unknown credential type "${name}".${ownPackage.describeMissing()}`);
	return type;
}

/** The node-type registry the engine asks for every node of a workflow. */
class EngineNodeTypes implements INodeTypes {
	getByName(type: string): INodeType | IVersionedNodeType {
		const own = OUR_PREFIXES.find((prefix) => type.startsWith(prefix));
		const found = own
			? ownPackage.node(type.slice(own.length))
			: type.startsWith(BUILT_IN_PREFIX)
				? builtInPackage().node(type.slice(BUILT_IN_PREFIX.length))
				: undefined;
		if (!found) {
			throw new EngineHarnessError(
				`Unknown node type "${type}": the engine knows n8n-nodes-base.* and this package's nodes as ${OUR_PREFIXES.map((p) => `${p}<name>`).join(' or ')}.${ownPackage.describeMissing()}`,
			);
		}
		return found;
	}

	getByNameAndVersion(type: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(type), version);
	}

	getKnownTypes(): IDataObject {
		return {};
	}
}

/** Stands in for n8n's encrypted credential store: hands out the test's credentials and signs requests with them. */
class TestCredentialsHelper extends ICredentialsHelper {
	constructor(private readonly credentials: Record<string, ICredentialDataDecryptedObject>) {
		super();
	}

	async getDecrypted(_additionalData: IWorkflowExecuteAdditionalData, _nodeCredentials: unknown, type: string): Promise<ICredentialDataDecryptedObject> {
		const data = this.credentials[type];
		if (!data) throw new EngineHarnessError(`The workflow needs credentials of type "${type}": pass them in runWorkflow(…, { credentials: { ${type}: {…} } })`);
		return data;
	}

	/** Applies the credential type's `authenticate`: a function, or n8n's generic header/query/body/auth template. */
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow: WorkflowType,
		node: INode,
	): Promise<IHttpRequestOptions> {
		const options = requestOptions as IHttpRequestOptions;
		const { authenticate } = credentialType(typeName);
		if (!authenticate) return options;
		if (typeof authenticate === 'function') return await authenticate(credentials, options);
		const resolve = (value: unknown) =>
			typeof value === 'string' && value.startsWith('=')
				? workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials })
				: value;
		const { auth, ...areas } = authenticate.properties;
		const signed = options as unknown as Record<string, IDataObject | undefined>;
		for (const [area, template] of Object.entries(areas) as Array<[string, IDataObject]>) {
			const resolved: IDataObject = {};
			for (const [key, value] of Object.entries(template)) resolved[String(resolve(key))] = resolve(value) as IDataObject[string];
			signed[area] = { ...(signed[area] ?? {}), ...resolved };
		}
		if (auth) options.auth = { username: String(resolve(auth.username)), password: String(resolve(auth.password)) };
		return options;
	}

	async preAuthentication(): Promise<undefined> {
		return undefined;
	}

	getParentTypes(name: string): string[] {
		return credentialType(name).extends ?? [];
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		return credentialType(type).properties;
	}

	// OAuth token refresh is what these serve; no credential of this package or its sample workflows uses OAuth.
	async getCredentials(): Promise<ICredentials> {
		throw new EngineHarnessError('OAuth credentials are not supported by the engine harness');
	}

	async updateCredentials(): Promise<void> {
		throw new EngineHarnessError('OAuth credentials are not supported by the engine harness');
	}

	async updateCredentialsOauthTokenData(): Promise<void> {
		throw new EngineHarnessError('OAuth credentials are not supported by the engine harness');
	}
}

const nodeTypes = new EngineNodeTypes();

/** The node-type registry of the engine: n8n-nodes-base and this package, as n8n loads them. */
export const engineNodeTypes: INodeTypes = nodeTypes;
const running = new Set<{ cancel(): void; settled: Promise<unknown>; activeNode(): string | undefined }>();
let executionCounter = 0;

export function readWorkflowFile(path: string): WorkflowJson {
	return JSON.parse(readFileSync(path, 'utf8')) as WorkflowJson;
}

/** A copy of the workflow with some parameters of one node replaced, e.g. a URL pointed at a test server's port. */
export function setNodeParameters(workflow: WorkflowJson, nodeName: string, parameters: INode['parameters']): WorkflowJson {
	if (!workflow.nodes.some((node) => node.name === nodeName)) throw new EngineHarnessError(`The workflow has no node named "${nodeName}"`);
	return {
		...workflow,
		nodes: workflow.nodes.map((node) => (node.name === nodeName ? { ...node, parameters: { ...node.parameters, ...parameters } } : node)),
	};
}

function toItems(items: Array<INodeExecutionData | IDataObject>): INodeExecutionData[] {
	return items.map((item) => (item.json !== undefined && typeof item.json === 'object' ? (item as INodeExecutionData) : { json: item as IDataObject }));
}

function additionalDataFor(hooks: ExecutionLifecycleHooks, executionId: string, credentials: RunWorkflowOptions['credentials'], timeoutMs: number): IWorkflowExecuteAdditionalData {
	const base = 'http://localhost:5678';
	return {
		executionId,
		hooks,
		credentialsHelper: new TestCredentialsHelper(credentials ?? {}),
		externalSecretsProxy: new ExternalSecretsProxy(),
		currentNodeExecutionIndex: 0,
		executionTimeoutTimestamp: Date.now() + timeoutMs,
		restApiUrl: `${base}/rest`,
		instanceBaseUrl: `${base}/`,
		formWaitingBaseUrl: `${base}/form-waiting`,
		webhookBaseUrl: `${base}/webhook`,
		webhookWaitingBaseUrl: `${base}/webhook-waiting`,
		webhookTestBaseUrl: `${base}/webhook-test`,
		variables: {},
		logAiEvent: () => undefined,
		getRunExecutionData: async () => undefined,
		executeWorkflow: async () => {
			throw new EngineHarnessError('Sub-workflows (Execute Workflow node) are not supported by the engine harness');
		},
		startRunnerTask: async () => {
			throw new EngineHarnessError(
				"The Code node runs in n8n's task runner, which the engine harness does not start: use Set, IF, Switch or Filter nodes instead",
			);
		},
	};
}

/** n8n's Workflow of a workflow file, on the engine's node types. */
export function engineWorkflow(workflowJson: WorkflowJson, active = false): Workflow {
	return new Workflow({
		id: 'engine-harness',
		name: workflowJson.name,
		nodes: workflowJson.nodes,
		connections: workflowJson.connections,
		settings: workflowJson.settings ?? { executionOrder: 'v1' },
		active,
		nodeTypes,
	});
}

/**
 * Activates the workflow's webhook triggers as n8n's WebhookService does (n8n 2.8 and 2.41,
 * `createWebhookIfNotExists`): for every webhook a trigger declares, its `checkExists`, then `create` when that says
 * no, each called on n8n-core's own HookContext. Rejects with what a method threw, as n8n's activation fails with it.
 */
export async function activateWorkflow(workflowJson: WorkflowJson, options: Pick<RunWorkflowOptions, 'credentials'> = {}): Promise<void> {
	const workflow = engineWorkflow(workflowJson, true);
	const executionId = String(++executionCounter);
	const hooks = new ExecutionLifecycleHooks('trigger', executionId, { ...workflowJson, id: workflow.id } as unknown as IWorkflowBase);
	const additionalData = additionalDataFor(hooks, executionId, options.credentials, DEFAULT_TIMEOUT_MS);
	for (const node of Object.values(workflow.nodes)) {
		const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
		for (const webhookDescription of node.disabled ? [] : (nodeType.description.webhooks ?? [])) {
			const methods = nodeType.webhookMethods?.[webhookDescription.name];
			if (!methods) continue;
			const webhookData = {
				node: node.name,
				workflowId: workflow.id,
				webhookDescription,
				workflowExecuteAdditionalData: additionalData,
				httpMethod: webhookDescription.httpMethod,
				path: String(workflow.expression.getSimpleParameterValue(node, webhookDescription.path, 'trigger', {})),
			} as IWebhookData;
			const context = new HookContext(workflow, node, additionalData, 'trigger', 'activate', webhookData);
			if (!(await methods.checkExists.call(context))) await methods.create.call(context);
		}
	}
}

/** Runs a workflow to its end (or until cancelled) and reports what every node did. */
export async function runWorkflow(workflowJson: WorkflowJson, options: RunWorkflowOptions = {}): Promise<WorkflowRunResult> {
	const workflow = engineWorkflow(workflowJson);
	const startName = options.startNode ?? options.triggerData?.nodeName;
	const startNode = startName ? workflow.getNode(startName) : workflow.getStartNode();
	if (!startNode) {
		throw new EngineHarnessError(startName ? `The workflow has no node named "${startName}"` : 'The workflow has no trigger node to start from: pass startNode');
	}

	const executionId = String(++executionCounter);
	const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const hooks = new ExecutionLifecycleHooks('manual', executionId, { ...workflowJson, id: workflow.id } as unknown as IWorkflowBase);
	const executedNodes: string[] = [];
	let activeNode: string | undefined;
	hooks.addHandler('nodeExecuteBefore', (nodeName) => void (activeNode = nodeName));
	hooks.addHandler('nodeExecuteAfter', (nodeName) => {
		activeNode = undefined;
		executedNodes.push(nodeName);
	});
	// The engine reports here both at the end and at once on cancellation, when a node may still be busy.
	let finished!: (run: IRun) => void;
	const reported = new Promise<IRun>((resolve) => (finished = resolve));
	hooks.addHandler('workflowExecuteAfter', (run) => finished(run));

	const pinData = options.triggerData ? { [options.triggerData.nodeName]: toItems(options.triggerData.items) } : undefined;
	const execution = new WorkflowExecute(additionalDataFor(hooks, executionId, options.credentials, timeoutMs), 'manual').run({
		workflow,
		startNode,
		pinData,
	});
	const settled = execution.then(finished, (error: Error) => finished(failedRun(error)));
	const handle = { cancel: () => execution.cancel(), settled, activeNode: () => activeNode };
	running.add(handle);
	const timer = setTimeout(handle.cancel, timeoutMs);
	options.signal?.addEventListener('abort', handle.cancel, { once: true });
	try {
		const run = await reported;
		return resultOf(run, executedNodes);
	} finally {
		clearTimeout(timer);
		options.signal?.removeEventListener('abort', handle.cancel);
		void settled.finally(() => running.delete(handle));
	}
}

function failedRun(error: Error): IRun {
	return {
		data: { resultData: { runData: {}, error: { ...error, message: error.message, stack: error.stack } } } as IRunExecutionData,
		mode: 'manual',
		startedAt: new Date(),
		storedAt: 'db',
		status: 'error',
	};
}

function resultOf(run: IRun, executedNodes: string[]): WorkflowRunResult {
	const { runData, error, lastNodeExecuted } = run.data.resultData;
	return {
		status: run.status,
		error,
		failedNode: error ? lastNodeExecuted : undefined,
		runData,
		executedNodes,
		outputOf(nodeName: string, outputIndex = 0): INodeExecutionData[] {
			const runs = runData[nodeName];
			if (!runs?.length) {
				throw new EngineHarnessError(`Node "${nodeName}" did not run; these did: ${Object.keys(runData).join(', ') || 'none'}`);
			}
			return runs[runs.length - 1].data?.main[outputIndex] ?? [];
		},
	};
}

/**
 * Cancels executions still running, waits for them and closes the ledgers the nodes opened in this process. A node
 * that ignores cancellation (n8n's HTTP Request node waits for its server) fails the clean-up after a grace period.
 */
export async function stopEngine(graceMs = 5_000): Promise<void> {
	const stopping = [...running];
	for (const execution of stopping) execution.cancel();
	let timer: NodeJS.Timeout | undefined;
	const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
	const outcome = await Promise.race([Promise.all(stopping.map((execution) => execution.settled)), gaveUp]);
	clearTimeout(timer);
	await closeLedgers();
	// n8n-core's SSH tunnel pool starts a clean-up interval with the first node run; n8n stops it on shutdown.
	Container.get(SSHClientsManager).onShutdown();
	if (outcome === 'timeout') {
		const busy = stopping.filter((execution) => running.has(execution)).map((execution) => execution.activeNode() ?? 'unknown');
		throw new EngineHarnessError(`Cancelled executions did not stop within ${graceMs} ms; still running: ${busy.join(', ')}`);
	}
}
