// The demo's n8n: its environment, its command line (imports) and the few REST calls `npm start` makes.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function n8nBinary(root) {
	return join(root, 'demo', 'node_modules', '.bin', 'n8n');
}

/** A local, quiet n8n on the embedded SQLite database in the given user folder. */
export function n8nEnvironment({ userFolder, port }) {
	return {
		...process.env,
		// Under NODE_ENV=test (set by jest, for instance) n8n silences its logger and refuses to load nodes.
		NODE_ENV: 'production',
		N8N_USER_FOLDER: userFolder,
		N8N_PORT: String(port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: 'localhost',
		WEBHOOK_URL: `http://localhost:${port}/`,
		DB_TYPE: 'sqlite',
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_SECURE_COOKIE: 'false',
	};
}

/** Runs an n8n command (e.g. import:workflow) against the same user folder; n8n must not be running. */
export function n8nCommand(root, env, args) {
	execFileSync(n8nBinary(root), args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
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
}
