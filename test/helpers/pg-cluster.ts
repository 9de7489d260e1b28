/**
 * A throwaway PostgreSQL cluster of the test's own, on a free port, to stop, start and crash mid-run: the machine's
 * shared server on 5432 serves other tests and must never go down. Needs PostgreSQL's server binaries
 * (PG_BIN, default /usr/lib/postgresql/15/bin). PostgreSQL refuses to run as root: as root, the cluster belongs to
 * the `postgres` system user (PG_OS_USER).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const OS_USER = process.env.PG_OS_USER ?? 'postgres';

export interface PgCluster {
	port: number;
	/** `pg_ctl stop -m fast`: open connections are ended, as in a planned restart. */
	stop(): void;
	start(): void;
	/** SIGKILL to the postmaster, a real crash: the next start runs crash recovery. */
	crash(): void;
	destroy(): void;
}

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

export async function startPgCluster(): Promise<PgCluster> {
	const dir = mkdtempSync(join(tmpdir(), 'pg-cluster-'));
	const data = join(dir, 'data');
	const port = await freePort();
	const asRoot = process.getuid?.() === 0;
	if (asRoot) {
		const ids = spawnSync('id', ['-u', OS_USER], { encoding: 'utf8' }).stdout.trim();
		const gid = spawnSync('id', ['-g', OS_USER], { encoding: 'utf8' }).stdout.trim();
		chownSync(dir, Number(ids), Number(gid));
	}
	const binary = (name: string, args: string[]) => {
		const [command, all] = asRoot ? ['runuser', ['-u', OS_USER, '--', join(PG_BIN, name), ...args]] : [join(PG_BIN, name), args];
		const result = spawnSync(command, all, { encoding: 'utf8' });
		if (result.status !== 0) throw new Error(`${name} ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
	};
	binary('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
	const pgCtl = (...args: string[]) => binary('pg_ctl', ['-D', data, ...args]);
	const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
	const start = () => {
		// After a crash the old backends may hold the shared memory a moment longer: the postmaster refuses until they exit.
		for (let attempt = 1; ; attempt++) {
			try {
				return pgCtl('start', '-w', '-l', join(dir, 'log'), '-o', options);
			} catch (error) {
				if (attempt >= 20) throw error;
				spawnSync('sleep', ['0.25']);
			}
		}
	};
	start();
	return {
		port,
		start,
		stop: () => pgCtl('stop', '-w', '-m', 'fast'),
		crash() {
			const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
			process.kill(pid, 'SIGKILL');
		},
		destroy() {
			try {
				pgCtl('stop', '-m', 'immediate');
			} catch {
				// already stopped, or crashed
			}
			rmSync(dir, { recursive: true, force: true });
		},
	};
}
