// Long-running child processes of `npm start`: their output goes to a log file and, filtered, to the terminal; they
// run in their own process group so that Ctrl-C reaches only start.mjs, which then stops them in order.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const children = new Set();
const RESTART_AFTER_MS = 10_000;

/**
 * Starts a child. `show(line)` decides which lines reach the terminal (all go to the log file); `onLine` sees every
 * line, e.g. to find errors.
 */
export function startProcess({ label, command, args, cwd, env, logFile, show = () => true, onLine = () => {} }) {
	const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	const log = createWriteStream(logFile, { flags: 'a' });
	for (const stream of [child.stdout, child.stderr]) {
		createInterface({ input: stream }).on('line', (line) => {
			log.write(`${line}\n`);
			onLine(line);
			if (show(line)) console.log(`[${label}] ${line}`);
		});
	}
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	exited.then(() => {
		children.delete(child);
		log.end();
	});
	children.add(child);
	return { child, exited, label };
}

/**
 * The children of one command (`npm start`, `npm run queue`): started in order, stopped in reverse order on Ctrl-C,
 * SIGTERM, a failed start or when one of them ends on its own.
 */
export class ProcessGroup {
	constructor(name) {
		this.name = name;
		this.running = [];
		this.stopping = undefined;
		for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void this.stopAll().then(() => process.exit(0)));
	}

	/**
	 * Starts a child (options as for startProcess). Its unexpected end stops everything, naming its log; with
	 * `restart`, a child that had been running for a while is started again instead, as a supervisor (docker's
	 * `restart: always`) would. One that ends within RESTART_AFTER_MS of its start failed to start: that stops all.
	 */
	start(options) {
		const started = startProcess(options);
		const startedAt = Date.now();
		this.running.push(started);
		started.exited.then(({ code, signal }) => {
			if (this.stopping) return;
			const how = signal ?? `exit ${code}`;
			if (options.restart && Date.now() - startedAt >= RESTART_AFTER_MS) {
				console.log(`${options.label} ended (${how}); starting it again (its log: ${options.logFile})`);
				this.running.splice(this.running.indexOf(started), 1);
				this.start(options);
				return;
			}
			console.error(`${options.label} stopped unexpectedly (${how}); its log: ${options.logFile}`);
			void this.stopAll().then(() => process.exit(1));
		});
		return started;
	}

	async stopAll() {
		this.stopping ??= (async () => {
			console.log('\nStopping…');
			for (const child of [...this.running].reverse()) {
				await stopProcess(child);
				console.log(`  stopped ${child.label}`);
			}
			console.log('Stopped.');
		})();
		await this.stopping;
	}

	/** For the command's main(): a failure is printed, everything stopped, and the command exits with 1. */
	async fail(error) {
		console.error(`${this.name} failed: ${error.message}`);
		await this.stopAll();
		process.exit(1);
	}
}

/** Sends SIGTERM to a child's process group and waits, then SIGKILL after `graceMs`. */
export async function stopProcess({ child, exited }, graceMs = 20_000) {
	if (child.exitCode !== null || child.signalCode !== null) return;
	signalGroup(child, 'SIGTERM');
	const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
	await exited;
	clearTimeout(timer);
}

function signalGroup(child, signal) {
	try {
		process.kill(-child.pid, signal);
	} catch {
		// Already gone.
	}
}

// If start.mjs itself ends abruptly, its detached children must not outlive it.
process.on('exit', () => {
	for (const child of children) signalGroup(child, 'SIGKILL');
});

/** Waits until `url` answers 200 (a health endpoint), or the process ends. */
export async function waitForHealth(url, exited, label, timeoutMs = 180_000) {
	let ended = false;
	exited.then(() => (ended = true));
	const deadline = Date.now() + timeoutMs;
	while (!ended && Date.now() < deadline) {
		try {
			if ((await fetch(url)).ok) return;
		} catch {
			// not listening yet
		}
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	throw new Error(ended ? `${label} stopped while starting; see its log` : `${label} was not ready within ${timeoutMs / 1000} s (${url})`);
}
