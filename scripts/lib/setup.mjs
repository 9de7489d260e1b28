// Puts a fresh clone in the state `npm start` needs: the package's dependencies, the demo n8n with its Node.js, and a
// build. Each step prints one line; the tools' own output goes to a log file, shown only when a step fails.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a command, its output kept in `logFile`; a failure names the command and prints the end of its output. */
export function run(command, args, cwd, logFile) {
	const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
	const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
	if (logFile) writeFileSync(logFile, `$ ${command} ${args.join(' ')}\n${output}`);
	if (result.status !== 0) {
		const tail = output.trim().split('\n').slice(-30).join('\n');
		throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd} (exit ${result.status ?? result.signal})${logFile ? `; its output: ${logFile}` : ''}\n${tail}`);
	}
	return output;
}

export async function ensureDependencies(root, demo) {
	if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
		const started = Date.now();
		console.log("Installing the package's dependencies (npm ci, about 1.5 minutes, once; npm's output: npm-install.log)");
		run('npm', ['ci', '--no-audit', '--no-fund'], root, join(root, 'npm-install.log'));
		console.log(`  done in ${Math.round((Date.now() - started) / 1000)} s`);
	}
	await demo.ensureInstalled();
}

export function build(root) {
	const started = Date.now();
	run('npm', ['run', 'build', '--silent'], root, join(root, 'build.log'));
	console.log(`Built the package (npm run build, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
