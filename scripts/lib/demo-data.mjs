// What `npm start` puts into n8n: the credentials of demo/credentials.json and the sample workflows of workflows/.
// Each is imported again only when its file changed, so edits made in the editor survive a restart.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { n8nCommand } from './n8n.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** demo/credentials.json with its `{{SETTING}}` placeholders filled from the demo settings. */
export function demoCredentials(root, settings) {
	const text = readFileSync(join(root, 'demo', 'credentials.json'), 'utf8').replace(/\{\{(\w+)\}\}/g, (placeholder, name) => {
		if (!(name in settings)) throw new Error(`demo/credentials.json uses ${placeholder}, which is not a demo setting (${Object.keys(settings).join(', ')})`);
		return settings[name];
	});
	return JSON.parse(text);
}

/** Where the sample workflows expect the sandbox: their Settings nodes point the CRM, newsletter and helpdesk here. */
export const WORKFLOW_SANDBOX_URL = 'http://127.0.0.1:8787';

/**
 * The sample workflows, each with an id derived from its file name, so a re-import updates instead of adding, and
 * with the sandbox's stand-in URLs moved to `sandboxUrl` (the sandbox of this start, e.g. on another SANDBOX_PORT).
 */
export function sampleWorkflows(root, { sandboxUrl = WORKFLOW_SANDBOX_URL } = {}) {
	const folder = join(root, 'workflows');
	return readdirSync(folder)
		.filter((file) => file.endsWith('.json'))
		.sort()
		.map((file) => {
			const workflow = moveSandbox(JSON.parse(readFileSync(join(folder, file), 'utf8')), sandboxUrl);
			return { file, workflow: { ...workflow, id: sha256(basename(file, '.json')).slice(0, 16) } };
		});
}

/** Every string in the workflow that starts with the sandbox URL the files use, starting with `sandboxUrl` instead. */
function moveSandbox(value, sandboxUrl) {
	if (typeof value === 'string') {
		// Also inside expressions: "={{ … }}" strings.
		return value.split(`${WORKFLOW_SANDBOX_URL}/`).join(`${sandboxUrl}/`);
	}
	if (Array.isArray(value)) return value.map((entry) => moveSandbox(entry, sandboxUrl));
	if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, moveSandbox(entry, sandboxUrl)]));
	return value;
}

/**
 * Credentials the workflow names that the demo does not have (HubSpot, Brevo, Zendesk, SMTP: their APIs are at fixed
 * cloud addresses, so no local stand-in can answer them). Such a workflow is imported inactive, for reading and for
 * configuring; the generic variants, on the sandbox's stand-ins, are the ones the demo runs.
 */
export function missingCredentials(workflow, credentials) {
	const known = new Set(credentials.map((credential) => credential.id));
	const missing = workflow.nodes.flatMap((node) => Object.values(node.credentials ?? {}).filter((credential) => !known.has(credential.id)).map((credential) => credential.name));
	return [...new Set(missing)];
}

/** Remembers what was imported into a user folder, by content hash. */
export class ImportRecord {
	constructor(userFolder) {
		this.file = join(userFolder, 'demo-imports.json');
		this.hashes = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
	}

	changed(key, content) {
		return this.hashes[key] !== sha256(JSON.stringify(content));
	}

	remember(key, content) {
		this.hashes[key] = sha256(JSON.stringify(content));
		writeFileSync(this.file, JSON.stringify(this.hashes, null, 2));
	}
}

/** Production URLs of the webhook-based triggers in the sample workflows the demo runs, for the summary printed at start. */
export function triggerUrls(workflows, baseUrl, credentials) {
	return workflows.filter(({ workflow }) => missingCredentials(workflow, credentials).length === 0).flatMap(({ workflow }) =>
		workflow.nodes
			.filter((node) => /\.(optInTrigger|webhook)$/.test(node.type) && typeof node.parameters?.path === 'string')
			.map((node) => ({ workflow: workflow.name, node: node.name, type: node.type, url: `${baseUrl}/webhook/${node.parameters.path}` })),
	);
}

/**
 * Imports what changed since the last import into this n8n (its database, through `n8n import:*` with `env`): the
 * given credentials, and the sample workflows with their stand-in URLs on `sandboxUrl`. Returns the workflows and
 * which of them were imported now (those need activating).
 */
export function importDemoData({ root, demo, env, userFolder, record, credentials, sandboxUrl }) {
	if (record.changed('credentials', credentials)) {
		const file = join(userFolder, 'demo-credentials.import.json');
		writeJson(file, credentials);
		n8nCommand(demo, env, ['import:credentials', `--input=${file}`]);
		record.remember('credentials', credentials);
		console.log(`Imported credentials: ${credentials.map((credential) => credential.name).join(', ')}`);
	}
	const workflows = sampleWorkflows(root, { sandboxUrl });
	const changed = workflows.filter(({ file, workflow }) => record.changed(`workflow:${file}`, workflow));
	if (changed.length > 0) {
		const file = join(userFolder, 'demo-workflows.import.json');
		writeJson(file, changed.map(({ workflow }) => workflow));
		n8nCommand(demo, env, ['import:workflow', `--input=${file}`]);
		console.log(`Imported workflows: ${changed.map(({ file }) => file).join(', ')}`);
	}
	return { workflows, changed };
}

/**
 * Activates the workflows imported now whose credentials the demo has (through n8n's REST API, signed in as the
 * owner) and reports the state of each, one line per workflow. An activation n8n refuses is reported with n8n's reason.
 */
export async function activateSampleWorkflows({ api, signedIn, workflows, changed, record, credentials }) {
	const lines = [];
	for (const { file, workflow } of workflows) {
		const justImported = changed.some((entry) => entry.file === file);
		const missing = missingCredentials(workflow, credentials);
		let state = 'unknown (the owner login was refused, so the workflow could not be read)';
		if (signedIn) {
			try {
				if (justImported && missing.length === 0) await api.activateWorkflow(workflow.id);
				const current = await api.workflow(workflow.id);
				const publication = current.active ? await api.publicationStatus(workflow.id) : undefined;
				const failures = (publication?.triggers ?? []).filter((trigger) => trigger.errorMessage).map((trigger) => trigger.errorMessage);
				state = !current.active ? `inactive${missing.length ? ` (add the ${missing.join(', ')} credentials in n8n, then activate it)` : ''}` : !publication || publication.status === 'published' ? 'active' : `${publication.status.replace('_', ' ')}${failures.length ? `: ${failures.join('; ')}` : ''}`;
			} catch (error) {
				state = `not activated: ${error.message}`;
			}
			if (justImported) record.remember(`workflow:${file}`, workflow);
		}
		lines.push(`  ${workflow.name} (${file}): ${state}`);
	}
	return lines;
}

function writeJson(file, value) {
	writeFileSync(file, JSON.stringify(value, null, 2));
}
