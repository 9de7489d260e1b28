// Puts a fresh clone in the state `npm start` needs: dependencies of the package and of the demo n8n, and a build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a command in the foreground, showing its output; stops the start with the command's name when it fails. */
export function run(command, args, cwd) {
	const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
	if (result.status !== 0) throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd} (exit ${result.status ?? result.signal})`);
}

export function ensureDependencies(root) {
	if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
		console.log('Installing the package dependencies (npm ci)…');
		run('npm', ['ci', '--no-audit', '--no-fund'], root);
	}
	const demo = join(root, 'demo');
	if (!existsSync(join(demo, 'node_modules', 'n8n', 'package.json'))) {
		console.log('Installing n8n 2.8.4 for the demo (npm ci in demo/: about 2 GB, 4 to 5 minutes, once)…');
		run('npm', ['ci', '--no-audit', '--no-fund'], demo);
	}
	// demo/package.json allows sqlite3's build script; an install made without that permission lacks the binding,
	// and n8n then stops with "SQLite package has not been found".
	if (!existsSync(join(demo, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node'))) {
		console.log('Building the SQLite driver for n8n (npm rebuild sqlite3, about a minute, once)…');
		run('npm', ['rebuild', 'sqlite3'], demo);
	}
}

export function build(root) {
	console.log('Building the package (npm run build)…');
	run('npm', ['run', 'build', '--silent'], root);
}
