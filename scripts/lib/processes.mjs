// Long-running child processes of `npm start`: their output goes to a log file and, filtered, to the terminal; they
// run in their own process group so that Ctrl-C reaches only start.mjs, which then stops them in order.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const children = new Set();

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
