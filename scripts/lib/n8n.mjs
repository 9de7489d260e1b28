// The demo's n8n: its environment, its command line (imports) and the few REST calls `npm start` makes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The owner account `npm start` and `npm run queue` create on a fresh n8n (mandatory since n8n 1.0). */
export const DEMO_OWNER = { email: 'owner@example.com', firstName: 'Demo', lastName: 'Owner', password: 'Consent-Demo-2026' };

/** n8n prints every migration on its first start; the terminal shows the rest, the log file keeps everything. */
export const isMigrationNoise = (line) => /^(Starting|Finished) migration /.test(line);

/** An onLine handler that collects n8n's complaints about loading this package. */
export const watchPackageLoad = (loadErrors) => (line) => {
	if (/Error loading package|n8n-nodes-whatsapp-consent.*(error|fail)/i.test(line)) loadErrors.push(line);
};

/** A local, quiet n8n on the embedded SQLite database in the given user folder, on the demo folder's Node.js. */
export function n8nEnvironment({ demo, userFolder, port }) {
	// Modules of current n8n versions that only fetch lists from n8n's servers, and log a stack trace each time
	// they cannot reach them. n8n 2.8 does not know these module names (and refuses unknown ones).
	const offlineModules = ['mcp-registry'].filter((name) => existsSync(join(demo.folder, 'node_modules', 'n8n', 'dist', 'modules', name)));
	// Current n8n reads N8N_WEBHOOK_URL (and calls WEBHOOK_URL deprecated); n8n 2.8 knows only WEBHOOK_URL.
	const config = join(demo.folder, 'node_modules', '@n8n', 'config', 'dist', 'index.js');
	const webhookUrlVariable = existsSync(config) && readFileSync(config, 'utf8').includes("'N8N_WEBHOOK_URL'") ? 'N8N_WEBHOOK_URL' : 'WEBHOOK_URL';
	return {
		...demo.environment(),
		...(offlineModules.length ? { N8N_DISABLED_MODULES: offlineModules.join(',') } : {}),
		// The default of current n8n versions becomes `false` (no unverified community packages, like this one).
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		// Under NODE_ENV=test (set by jest, for instance) n8n silences its logger and refuses to load nodes.
		NODE_ENV: 'production',
		N8N_USER_FOLDER: userFolder,
		// The one signal that lets the ledger accept demo/credentials.json's published secret key (lib/consent/keyring.ts).
		WHATSAPP_CONSENT_DEMO: '1',
		N8N_PORT: String(port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: 'localhost',
		[webhookUrlVariable]: `http://localhost:${port}/`,
		DB_TYPE: 'sqlite',
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_SECURE_COOKIE: 'false',
	};
}

/** Runs an n8n command (e.g. import:workflow) against the same user folder; n8n must not be running. */
export function n8nCommand(demo, env, args) {
	try {
		execFileSync(demo.node, [demo.n8nScript, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
	} catch (error) {
		throw new Error(`\`n8n ${args.join(' ')}\` failed (${error.status ?? error.signal}):\n${`${error.stdout ?? ''}${error.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n')}`);
	}
}

/** The REST API the editor uses, with the session cookie of the owner. */
export class N8nRestClient {
	constructor(baseUrl) {
		this.baseUrl = baseUrl;
		this.cookie = '';
	}

	async request(method, path, body) {
		const response = await fetch(`${this.baseUrl}/rest${path}`, {
			method,
			headers: { 'content-type': 'application/json', cookie: this.cookie, 'browser-id': 'npm-start' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const auth = response.headers.getSetCookie().find((cookie) => cookie.startsWith('n8n-auth='));
		if (auth) this.cookie = auth.split(';')[0];
		const text = await response.text();
		if (!response.ok) throw new Error(`${method} /rest${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
		return text ? JSON.parse(text).data : undefined;
	}

	/** Waits until n8n answers its REST API (after migrations), or the process ends. */
	async waitUntilReady(exited, timeoutMs = 180_000) {
		let ended = false;
		exited.then(() => (ended = true));
		const deadline = Date.now() + timeoutMs;
		while (!ended && Date.now() < deadline) {
			try {
				return await this.request('GET', '/settings');
			} catch {
				await new Promise((resolve) => setTimeout(resolve, 500));
			}
		}
		throw new Error(ended ? 'n8n stopped while starting; see its log above' : `n8n did not answer within ${timeoutMs / 1000} s`);
	}

	/** Creates the owner on a fresh instance, logs in on later starts. Returns false when the login is refused. */
	async signIn(owner, needsSetup) {
		if (needsSetup) {
			await this.request('POST', '/owner/setup', owner);
			return true;
		}
		try {
			await this.request('POST', '/login', { emailOrLdapLoginId: owner.email, password: owner.password });
			return true;
		} catch {
			return false;
		}
	}

	async activateWorkflow(id) {
		const { versionId } = await this.request('GET', `/workflows/${id}`);
		await this.request('POST', `/workflows/${id}/activate`, { versionId });
	}

	async workflow(id) {
		return await this.request('GET', `/workflows/${id}`);
	}

	/**
	 * How an activation ended. Current n8n (2.41; N8N_USE_WORKFLOW_PUBLICATION_SERVICE, on by default) answers the
	 * activation at once and starts the triggers afterwards, from an outbox: a trigger that fails (its webhook
	 * `create` throws) leaves the workflow `active` with a failed publication. Waits while it is in progress;
	 * undefined on an n8n without that service (2.8), where the activation request itself fails.
	 */
	async publicationStatus(id, timeoutMs = 60_000) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			let status;
			try {
				status = await this.request('GET', `/workflows/${id}/publication-status`);
			} catch (error) {
				if (/: HTTP 404 /.test(error.message)) return undefined;
				throw error;
			}
			if (status.status !== 'in_progress' || Date.now() > deadline) return status;
			await new Promise((resolve) => setTimeout(resolve, 500));
		}
	}
}
