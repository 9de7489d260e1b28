// `npm start`: the pinned n8n of demo/ on its pinned Node.js (both installed on the first start), with this package
// installed as from the n8n UI, the sample workflows and the local WhatsApp Cloud API sandbox, on n8n's embedded SQLite
// and the embedded consent ledger. Ctrl-C stops everything.
//
// Settings (environment): N8N_PORT (5678), SANDBOX_PORT (8787), DEMO_N8N (demo, or demo-legacy for the oldest
// supported n8n), DEMO_USER_FOLDER (<demo folder>/.n8n), DEMO_SKIP_BUILD=1 to use dist/ as it is, and the sandbox's
// own SANDBOX_* variables.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImportRecord, demoCredentials, sampleWorkflows, triggerUrls } from './lib/demo-data.mjs';
import { DemoFolder } from './lib/demo-folder.mjs';
import { N8nRestClient, n8nCommand, n8nEnvironment } from './lib/n8n.mjs';
import { installPackage } from './lib/package-install.mjs';
import { startProcess, stopProcess } from './lib/processes.mjs';
import { build, ensureDependencies } from './lib/setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const demo = new DemoFolder(root, process.env.DEMO_N8N || 'demo');
const userFolder = resolve(process.env.DEMO_USER_FOLDER ?? join(demo.folder, '.n8n'));
const n8nPort = Number(process.env.N8N_PORT ?? 5678);
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 8787);
const n8nUrl = `http://localhost:${n8nPort}`;
const owner = { email: 'owner@example.com', firstName: 'Demo', lastName: 'Owner', password: 'Consent-Demo-2026' };

/** The sandbox's identity; demo/credentials.json refers to these as {{NAME}}, so both sides always agree. */
const settings = {
	SANDBOX_URL: `http://127.0.0.1:${sandboxPort}`,
	SANDBOX_ACCESS_TOKEN: process.env.SANDBOX_ACCESS_TOKEN ?? 'sandbox-token',
	SANDBOX_APP_SECRET: process.env.SANDBOX_APP_SECRET ?? 'sandbox-secret',
	SANDBOX_PHONE_NUMBER_ID: process.env.SANDBOX_PHONE_NUMBER_ID ?? '100000000000001',
	SANDBOX_WABA_ID: process.env.SANDBOX_WABA_ID ?? '200000000000001',
};

// n8n prints every migration on its first start; the terminal shows the rest, the log file keeps everything.
const isMigrationNoise = (line) => /^(Starting|Finished) migration /.test(line);

const running = [];
let stopping;

async function stopAll() {
	stopping ??= (async () => {
		console.log('\nStopping…');
		for (const child of [...running].reverse()) await stopProcess(child);
		console.log('Stopped.');
	})();
	await stopping;
}

function importDemoData(env, record) {
	const credentials = demoCredentials(root, settings);
	if (record.changed('credentials', credentials)) {
		const file = join(userFolder, 'demo-credentials.import.json');
		writeJson(file, credentials);
		n8nCommand(demo, env, ['import:credentials', `--input=${file}`]);
		record.remember('credentials', credentials);
		console.log(`Imported credentials: ${credentials.map((credential) => credential.name).join(', ')}`);
	}
	const workflows = sampleWorkflows(root, { sandboxUrl: settings.SANDBOX_URL });
	const changed = workflows.filter(({ file, workflow }) => record.changed(`workflow:${file}`, workflow));
	if (changed.length > 0) {
		const file = join(userFolder, 'demo-workflows.import.json');
		writeJson(file, changed.map(({ workflow }) => workflow));
		n8nCommand(demo, env, ['import:workflow', `--input=${file}`]);
		console.log(`Imported workflows: ${changed.map(({ file }) => file).join(', ')}`);
	}
	return { workflows, changed };
}

function writeJson(file, value) {
	writeFileSync(file, JSON.stringify(value, null, 2));
}

async function main() {
	await ensureDependencies(root, demo);
	if (process.env.DEMO_SKIP_BUILD !== '1') build(root);
	mkdirSync(userFolder, { recursive: true });
	installPackage(root, userFolder);

	const env = n8nEnvironment({ demo, userFolder, port: n8nPort });
	const record = new ImportRecord(userFolder);
	const { workflows, changed } = importDemoData(env, record);

	console.log(`Starting ${demo.label} on ${n8nUrl} (user folder ${userFolder})…`);
	const startedAt = Date.now();
	const loadErrors = [];
	const n8n = startProcess({
		label: 'n8n',
		command: demo.node,
		args: [demo.n8nScript, 'start'],
		cwd: root,
		env,
		logFile: join(userFolder, 'n8n.log'),
		show: (line) => !isMigrationNoise(line),
		onLine: (line) => {
			if (/Error loading package|n8n-nodes-whatsapp-consent.*(error|fail)/i.test(line)) loadErrors.push(line);
		},
	});
	running.push(n8n);
	n8n.exited.then(({ code, signal }) => {
		if (!stopping) {
			console.error(`n8n stopped unexpectedly (${signal ?? `exit ${code}`}); its log: ${join(userFolder, 'n8n.log')}`);
			void stopAll().then(() => process.exit(1));
		}
	});

	const api = new N8nRestClient(`http://127.0.0.1:${n8nPort}`);
	const frontendSettings = await api.waitUntilReady(n8n.exited);
	console.log(`n8n is up after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
	const signedIn = await api.signIn(owner, frontendSettings.userManagement?.showSetupOnFirstLoad === true);

	const activation = [];
	for (const { file, workflow } of workflows) {
		const justImported = changed.some((entry) => entry.file === file);
		let state = 'unknown (the owner login was refused, so the workflow could not be read)';
		if (signedIn) {
			try {
				if (justImported) await api.activateWorkflow(workflow.id);
				const current = await api.workflow(workflow.id);
				state = current.active ? 'active' : 'inactive';
			} catch (error) {
				state = `not activated: ${error.message}`;
			}
			if (justImported) record.remember(`workflow:${file}`, workflow);
		}
		activation.push(`  ${workflow.name} (${file}): ${state}`);
	}

	const triggers = triggerUrls(workflows, n8nUrl);
	const optIn = triggers.find((trigger) => trigger.type.endsWith('.optInTrigger'));
	const sandboxCli = join(root, 'dist', 'sandbox', 'cli.js');
	if (existsSync(sandboxCli)) {
		const sandbox = startProcess({
			label: 'sandbox',
			command: process.execPath,
			args: [sandboxCli],
			cwd: root,
			env: {
				...process.env,
				...settings,
				SANDBOX_PORT: String(sandboxPort),
				SANDBOX_WEBHOOK_URL: optIn?.url ?? '',
			},
			logFile: join(userFolder, 'sandbox.log'),
		});
		running.push(sandbox);
	}

	console.log(
		[
			'',
			`Ready: ${demo.label}.`,
			`  n8n editor:        ${n8nUrl}`,
			`  login:             ${owner.email} / ${owner.password}${signedIn ? '' : '  (refused: the password was changed in n8n)'}`,
			...triggers.map((trigger) => `  ${trigger.node} (${trigger.workflow}): ${trigger.url}`),
			...(optIn ? [`  sign-up widget:    ${optIn.url}`] : []),
			existsSync(sandboxCli) ? `  WhatsApp sandbox:  ${settings.SANDBOX_URL}/ (the phone page)` : '  WhatsApp sandbox:  not built (dist/sandbox/cli.js is missing)',
			'  sample workflows:',
			...activation,
			loadErrors.length ? `  PACKAGE LOAD ERRORS:\n    ${loadErrors.join('\n    ')}` : '  package loaded without errors',
			`  logs:              ${join(userFolder, 'n8n.log')}, ${join(userFolder, 'sandbox.log')}`,
			'Press Ctrl-C to stop.',
			'',
		].join('\n'),
	);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
	process.once(signal, () => void stopAll().then(() => process.exit(0)));
}

main().catch(async (error) => {
	console.error(`npm start failed: ${error.message}`);
	await stopAll();
	process.exit(1);
});
