// `npm run queue`: the n8n of demo/ in queue mode, as n8n scales out: one main process (editor, REST API, activation,
// schedules), one webhook process (`n8n webhook`: every production webhook, so the sign-up widget and Meta's events),
// two workers by default (`n8n worker`: every execution), Redis between them, PostgreSQL for n8n's own data and for the consent
// ledger (its own schema in the same database), and the local WhatsApp sandbox delivering its webhooks to the webhook
// process. The sample workflows are imported and active. Ctrl-C (or SIGTERM) stops every process it started.
//
// Options: `--workers N` (or QUEUE_WORKERS; 2), `--concurrency N` (or QUEUE_WORKER_CONCURRENCY; 5: executions a
// worker runs at once). Settings (environment): QUEUE_PORTS_FROM (5700: main, webhook, a health port per worker, a
// task-runner broker per process: 2 + 2 × (1 + workers) ports in a row, eight with two workers),
// QUEUE_BROKER_PORTS_FROM (the brokers' 2 + workers ports from there instead of right after the health ports), QUEUE_SANDBOX_PORT (8800), QUEUE_DATABASE_URL (postgres://postgres@127.0.0.1:5432/queue_n8n,
// created when missing), QUEUE_LEDGER_SCHEMA (whatsapp_consent), QUEUE_REDIS_URL (redis://127.0.0.1:6379/0),
// QUEUE_REDIS_PREFIX (queue-consent), QUEUE_USER_FOLDER (demo/.n8n-queue, shared by the four processes as in n8n's
// own docker-compose examples), N8N_ENCRYPTION_KEY (else one made on the first run and kept in the user folder),
// DEMO_SKIP_BUILD=1 to use dist/ as it is.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImportRecord, activateSampleWorkflows, demoCredentials, importDemoData, triggerUrls } from './lib/demo-data.mjs';
import { DemoFolder } from './lib/demo-folder.mjs';
import { DEMO_OWNER, N8nRestClient, isMigrationNoise, n8nEnvironment, watchPackageLoad } from './lib/n8n.mjs';
import { installPackage } from './lib/package-install.mjs';
import { ProcessGroup, waitForHealth } from './lib/processes.mjs';
import {
	encryptionKey,
	ensureDatabase,
	ensureRedis,
	mainProcessEnvironment,
	onPostgresLedger,
	queueEnvironment,
	queuePorts,
	webhookProcessEnvironment,
	workerEnvironment,
} from './lib/queue-mode.mjs';
import { sandboxSettings, startSandbox } from './lib/sandbox.mjs';
import { build, ensureDependencies } from './lib/setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const demo = new DemoFolder(root, 'demo');
const userFolder = resolve(process.env.QUEUE_USER_FOLDER ?? join(demo.folder, '.n8n-queue'));
/** `--name N` or `--name=N` on the command line (after `npm run queue --`), else the environment, else the default. */
function option(name, variable, fallback) {
	const args = process.argv.slice(2);
	const at = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
	const raw = at < 0 ? process.env[variable] : args[at].includes('=') ? args[at].slice(name.length + 3) : args[at + 1];
	if (raw === undefined || raw === '') return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} (${variable}) must be a whole number of at least 1, not ${JSON.stringify(raw)}`);
	return value;
}
const workerCount = option('workers', 'QUEUE_WORKERS', 2);
const concurrency = option('concurrency', 'QUEUE_WORKER_CONCURRENCY', 5);
const portsFrom = Number(process.env.QUEUE_PORTS_FROM ?? 5700);
const ports = queuePorts(portsFrom, workerCount, Number(process.env.QUEUE_BROKER_PORTS_FROM || portsFrom + 2 + workerCount));
const sandboxPort = Number(process.env.QUEUE_SANDBOX_PORT ?? 8800);
const database = process.env.QUEUE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/queue_n8n';
const ledgerSchema = process.env.QUEUE_LEDGER_SCHEMA ?? 'whatsapp_consent';
const redisUrl = new URL(process.env.QUEUE_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
const redis = {
	host: redisUrl.hostname,
	port: Number(redisUrl.port || 6379),
	db: Number(redisUrl.pathname.slice(1) || 0),
	prefix: process.env.QUEUE_REDIS_PREFIX ?? 'queue-consent',
};
const mainUrl = `http://localhost:${ports.main}`;
const webhookUrl = `http://localhost:${ports.webhook}`;
const settings = sandboxSettings(sandboxPort);
const group = new ProcessGroup('npm run queue');
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const logOf = (name) => join(userFolder, `${name}.log`);

/** A webhook process or a worker: n8n's queue recovers from its crash, so a crashed one is started again. */
function startN8n(label, args, env) {
	return group.start({ label, command: demo.node, args: [demo.n8nScript, ...args], cwd: root, env, logFile: logOf(label), show: (line) => !isMigrationNoise(line), restart: true });
}

async function main() {
	const started = Date.now();
	await ensureDependencies(root, demo);
	if (process.env.DEMO_SKIP_BUILD !== '1') build(root);
	mkdirSync(userFolder, { recursive: true });
	installPackage(root, userFolder);

	const redisState = await ensureRedis(group, redis, logOf('redis'));
	console.log(`Redis on ${redis.host}:${redis.port} (database ${redis.db}, key prefix ${redis.prefix}): ${redisState === 'started' ? 'was not running, started for this run' : 'running'}`);
	const created = await ensureDatabase(database);
	console.log(`PostgreSQL database ${new URL(database).pathname.slice(1)} on ${new URL(database).host}: ${created ? 'created' : 'exists'}; the consent ledger in its schema ${ledgerSchema}`);

	const env = queueEnvironment({
		base: n8nEnvironment({ demo, userFolder, port: ports.main }),
		database,
		redis,
		encryptionKey: encryptionKey(join(userFolder, 'queue-encryption-key')),
		webhookUrl: `${webhookUrl}/`,
	});
	const record = new ImportRecord(userFolder);
	const credentials = onPostgresLedger(demoCredentials(root, settings), database, ledgerSchema);
	console.log('Importing into n8n\'s PostgreSQL database (the first time n8n creates its tables, about a minute)…');
	const { workflows, changed } = importDemoData({ root, demo, env: mainProcessEnvironment(env, ports), userFolder, record, credentials, sandboxUrl: settings.SANDBOX_URL });

	// The sandbox first, then every n8n process: activating the inbox registers the webhook process's URL with the
	// sandbox's Graph API ("Meta"), whose handshake the webhook process answers.
	const triggers = triggerUrls(workflows, webhookUrl, credentials);
	const optIn = triggers.find((trigger) => trigger.type.endsWith('.optInTrigger'));
	const sandbox = await startSandbox(group, { root, settings, port: sandboxPort, webhookUrl: optIn?.url, logFile: logOf('sandbox') });

	console.log(`Starting ${demo.label} in queue mode: the main process on ${mainUrl}…`);
	const loadErrors = [];
	const mainStarted = Date.now();
	const n8n = group.start({
		label: 'main',
		command: demo.node,
		args: [demo.n8nScript, 'start'],
		cwd: root,
		env: mainProcessEnvironment(env, ports),
		logFile: logOf('main'),
		show: (line) => !isMigrationNoise(line),
		onLine: watchPackageLoad(loadErrors),
	});
	const api = new N8nRestClient(`http://127.0.0.1:${ports.main}`);
	const frontendSettings = await api.waitUntilReady(n8n.exited);
	console.log(`Main process up after ${seconds(mainStarted)}`);
	const signedIn = await api.signIn(DEMO_OWNER, frontendSettings.userManagement?.showSetupOnFirstLoad === true);

	console.log(`Starting the webhook process on ${webhookUrl} and ${workerCount === 1 ? 'one worker' : `${workerCount} workers`} (concurrency ${concurrency})…`);
	const othersStarted = Date.now();
	const webhook = startN8n('webhook', ['webhook'], webhookProcessEnvironment(env, ports));
	const workers = ports.workers.map((_, index) => startN8n(`worker-${index + 1}`, ['worker', `--concurrency=${concurrency}`], workerEnvironment(env, ports, index)));
	await Promise.all([
		waitForHealth(`http://127.0.0.1:${ports.webhook}/healthz/readiness`, webhook.exited, 'the webhook process').then(() => console.log(`  webhook process ready after ${seconds(othersStarted)}`)),
		...workers.map((worker, index) =>
			waitForHealth(`http://127.0.0.1:${ports.workers[index]}/healthz/readiness`, worker.exited, `worker ${index + 1}`).then(() =>
				console.log(`  worker ${index + 1} ready after ${seconds(othersStarted)}`),
			),
		),
	]);

	const activation = await activateSampleWorkflows({ api, signedIn, workflows, changed, record, credentials });

	console.log(
		[
			'',
			`Ready: ${demo.label} in queue mode, after ${seconds(started)}.`,
			`  n8n editor (main): ${mainUrl}`,
			`  login:             ${DEMO_OWNER.email} / ${DEMO_OWNER.password}${signedIn ? '' : '  (refused: the password was changed in n8n)'}`,
			`  webhook process:   ${webhookUrl} (every production webhook; the main process serves none)`,
			`  workers:           ${workers.length} (concurrency ${concurrency}), health on ${ports.workers.map((port) => `http://127.0.0.1:${port}/healthz`).join(', ')}`,
			...triggers.map((trigger) => `  ${trigger.node} (${trigger.workflow}): ${trigger.url}`),
			...(optIn ? [`  sign-up widget:    ${optIn.url}`] : []),
			sandbox ? `  WhatsApp sandbox:  ${settings.SANDBOX_URL}/ (the phone page), webhooks to ${optIn?.url}` : '  WhatsApp sandbox:  not built (dist/sandbox/cli.js is missing)',
			`  n8n's database:    ${database.replace(/\/\/[^@]*@/, '//')}; consent ledger: schema ${ledgerSchema} there`,
			'  sample workflows:',
			...activation,
			loadErrors.length ? `  PACKAGE LOAD ERRORS:\n    ${loadErrors.join('\n    ')}` : '  package loaded without errors',
			`  logs:              ${userFolder}/{main,webhook,${workers.map((_, index) => `worker-${index + 1}`).join(',')},sandbox}.log`,
			'Press Ctrl-C to stop.',
			'',
		].join('\n'),
	);
}

main().catch((error) => group.fail(error));
