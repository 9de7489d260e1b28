/**
 * `npm start` imports the sample workflows with their CRM, newsletter and helpdesk stand-ins (the sandbox's echo
 * endpoints) moved to the sandbox it started, so SANDBOX_PORT moves them too (scripts/lib/demo-data.mjs).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function importedWorkflows(sandboxUrl: string): { file: string; workflow: unknown }[] {
	const script = `import { sampleWorkflows } from './scripts/lib/demo-data.mjs';
		process.stdout.write(JSON.stringify(sampleWorkflows(process.cwd(), { sandboxUrl: ${JSON.stringify(sandboxUrl)} })));`;
	return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

it('moves every stand-in URL of the sample workflows to the sandbox of this start, and nothing else', () => {
	const files = readdirSync(join(ROOT, 'workflows')).filter((file) => file.endsWith('.json'));
	const onFile = files.map((file) => readFileSync(join(ROOT, 'workflows', file), 'utf8')).join('\n');
	const standIns = onFile.match(/http:\/\/127\.0\.0\.1:8787\//g) ?? [];
	expect(standIns.length).toBeGreaterThan(0);

	const moved = JSON.stringify(importedWorkflows('http://127.0.0.1:8800'));
	expect(moved).not.toContain(':8787');
	expect(moved.match(/http:\/\/127\.0\.0\.1:8800\//g)).toHaveLength(standIns.length);

	// On the default port the workflows are imported as they are in the files (apart from the id npm start gives them).
	const unchanged = importedWorkflows('http://127.0.0.1:8787');
	expect(unchanged.map(({ file, workflow }) => ({ ...(workflow as object), id: undefined, file }))).toEqual(
		files.sort().map((file) => ({ ...JSON.parse(readFileSync(join(ROOT, 'workflows', file), 'utf8')), id: undefined, file })),
	);
});

it('runs the workflows whose credentials the demo has, and imports those for HubSpot, Brevo, Zendesk and SMTP inactive', () => {
	const script = `import { readFileSync } from 'node:fs';
		import { missingCredentials, sampleWorkflows, triggerUrls } from './scripts/lib/demo-data.mjs';
		const credentials = JSON.parse(readFileSync('demo/credentials.json', 'utf8'));
		const workflows = sampleWorkflows(process.cwd());
		process.stdout.write(JSON.stringify({
			missing: Object.fromEntries(workflows.map(({ file, workflow }) => [file, missingCredentials(workflow, credentials)])),
			triggers: triggerUrls(workflows, 'http://n8n', credentials).map((trigger) => trigger.type + ' ' + trigger.url),
		}));`;
	const { missing, triggers } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
	expect(missing).toEqual({
		'crm-order-update.json': [],
		'data-subject-requests.json': [],
		'helpdesk-reply-zendesk.json': ['Zendesk'],
		'newsletter-brevo.json': ['Brevo', 'SMTP'],
		'newsletter.json': [],
		'whatsapp-consent-inbox-hubspot-brevo-zendesk.json': ['HubSpot', 'Brevo', 'Zendesk'],
		'whatsapp-consent-inbox.json': [],
	});
	// The sandbox's webhooks go to the first Opt-In Trigger: the one of the inbox the demo runs.
	expect(triggers.filter((line: string) => line.includes('.optInTrigger '))).toEqual(['n8n-nodes-whatsapp-consent.optInTrigger http://n8n/webhook/whatsapp-consent']);
});
