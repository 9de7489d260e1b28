// `npm start`: the pinned n8n of demo/ on its pinned Node.js (both installed on the first start), with this package
// installed as from the n8n UI, the sample workflows and the local WhatsApp Cloud API sandbox, on n8n's embedded SQLite
// and the embedded consent ledger. Ctrl-C stops everything.
//
// Settings (environment): N8N_PORT (5678), SANDBOX_PORT (8787), DEMO_N8N (demo, or demo-legacy for the oldest
// supported n8n), DEMO_USER_FOLDER (<demo folder>/.n8n), DEMO_SKIP_BUILD=1 to use dist/ as it is, and the sandbox's
// own SANDBOX_* variables.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImportRecord, activateSampleWorkflows, demoCredentials, importDemoData, triggerUrls } from './lib/demo-data.mjs';
import { DemoFolder } from './lib/demo-folder.mjs';
import { DEMO_OWNER, N8nRestClient, isMigrationNoise, n8nEnvironment, watchPackageLoad } from './lib/n8n.mjs';
import { installPackage } from './lib/package-install.mjs';
import { ProcessGroup } from './lib/processes.mjs';
import { sandboxSettings, startSandbox } from './lib/sandbox.mjs';
import { build, ensureDependencies } from './lib/setup.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const demo = new DemoFolder(root, process.env.DEMO_N8N || 'demo');
const userFolder = resolve(process.env.DEMO_USER_FOLDER ?? join(demo.folder, '.n8n'));
const n8nPort = Number(process.env.N8N_PORT ?? 5678);
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 8787);
const n8nUrl = `http://localhost:${n8nPort}`;
const settings = sandboxSettings(sandboxPort);
const group = new ProcessGroup('npm start');

async function main() {
	await ensureDependencies(root, demo);
	if (process.env.DEMO_SKIP_BUILD !== '1') build(root);
	mkdirSync(userFolder, { recursive: true });
	installPackage(root, userFolder);

	const env = n8nEnvironment({ demo, userFolder, port: n8nPort });
	const record = new ImportRecord(userFolder);
	const credentials = demoCredentials(root, settings);
	const { workflows, changed } = importDemoData({ root, demo, env, userFolder, record, credentials, sandboxUrl: settings.SANDBOX_URL });

	// The sandbox first: activating the inbox registers its URL with the sandbox's Graph API ("Meta"), whose handshake
	// n8n answers then.
	const triggers = triggerUrls(workflows, n8nUrl, credentials);
	const optIn = triggers.find((trigger) => trigger.type.endsWith('.optInTrigger'));
	const sandbox = await startSandbox(group, { root, settings, port: sandboxPort, webhookUrl: optIn?.url, logFile: join(userFolder, 'sandbox.log') });

	console.log(`Starting ${demo.label} on ${n8nUrl} (user folder ${userFolder})…`);
	const startedAt = Date.now();
	const loadErrors = [];
	const n8n = group.start({
		label: 'n8n',
		command: demo.node,
		args: [demo.n8nScript, 'start'],
		cwd: root,
		env,
		logFile: join(userFolder, 'n8n.log'),
		show: (line) => !isMigrationNoise(line),
		onLine: watchPackageLoad(loadErrors),
	});

	const api = new N8nRestClient(`http://127.0.0.1:${n8nPort}`);
	const frontendSettings = await api.waitUntilReady(n8n.exited);
	console.log(`n8n is up after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
	const signedIn = await api.signIn(DEMO_OWNER, frontendSettings.userManagement?.showSetupOnFirstLoad === true);
	const activation = await activateSampleWorkflows({ api, signedIn, workflows, changed, record, credentials });

	console.log(
		[
			'',
			`Ready: ${demo.label}.`,
			`  n8n editor:        ${n8nUrl}`,
			`  login:             ${DEMO_OWNER.email} / ${DEMO_OWNER.password}${signedIn ? '' : '  (refused: the password was changed in n8n)'}`,
			...triggers.map((trigger) => `  ${trigger.node} (${trigger.workflow}): ${trigger.url}`),
			...(optIn ? [`  sign-up widget:    ${optIn.url}`] : []),
			sandbox ? `  WhatsApp sandbox:  ${settings.SANDBOX_URL}/ (the phone page)` : '  WhatsApp sandbox:  not built (dist/sandbox/cli.js is missing)',
			'  sample workflows:',
			...activation,
			loadErrors.length ? `  PACKAGE LOAD ERRORS:\n    ${loadErrors.join('\n    ')}` : '  package loaded without errors',
			`  logs:              ${join(userFolder, 'n8n.log')}, ${join(userFolder, 'sandbox.log')}`,
			'Press Ctrl-C to stop.',
			'',
		].join('\n'),
	);
}

main().catch((error) => group.fail(error));
