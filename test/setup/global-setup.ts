// Creates the PostgreSQL test database when it is missing, and installs the demo folders' n8n (demo/, demo-legacy/)
// when the real-n8n test is part of the run, so `npm test` works on a fresh machine.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '@jest/types';
import { Client } from 'pg';

const REAL_N8N_TEST = join(__dirname, '..', 'e2e', 'n8n-load.test.ts');
const QUEUE_MODE_TEST = join(__dirname, '..', 'e2e', 'queue-mode.test.ts');

/** Whether the run includes the test file: not for `npx jest test/unit`, nor for the benchmarks (roots bench/). */
function runIncludes(file: string, globalConfig: Config.GlobalConfig, projectConfig?: Config.ProjectConfig): boolean {
	if (projectConfig && !projectConfig.roots.some((root) => file.startsWith(root))) return false;
	const pattern = globalConfig.testPathPattern;
	return !pattern || new RegExp(pattern, 'i').test(file);
}

function installDemos(globalConfig: Config.GlobalConfig, projectConfig?: Config.ProjectConfig): void {
	const names = new Set<string>();
	if (runIncludes(REAL_N8N_TEST, globalConfig, projectConfig)) for (const name of (process.env.N8N_E2E_DEMOS ?? 'demo,demo-legacy').split(',').filter(Boolean)) names.add(name);
	// npm run queue runs the newest n8n only.
	if (runIncludes(QUEUE_MODE_TEST, globalConfig, projectConfig)) names.add('demo');
	if (names.size === 0) return;
	const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'setup-demo.mjs'), ...names], { stdio: 'inherit' });
	if (result.status !== 0) throw new Error(`Installing the n8n of ${[...names].join(', ')} for the real-n8n tests failed (see above)`);
}

export default async function globalSetup(globalConfig: Config.GlobalConfig, projectConfig?: Config.ProjectConfig): Promise<void> {
	installDemos(globalConfig, projectConfig);
	const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/consent_test');
	const database = url.pathname.slice(1);
	const admin = new URL(url.toString());
	admin.pathname = '/postgres';
	const client = new Client({ connectionString: admin.toString() });
	try {
		await client.connect();
	} catch (error) {
		throw new Error(`PostgreSQL does not answer at ${url.host} (${(error as Error).message}). Start it, or run bash .ci/run, which starts it.`);
	}
	const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
	if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
	await client.end();
}
