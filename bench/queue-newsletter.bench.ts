/**
 * Issue 11's newsletter benchmark: the sample newsletter to 5,000 consented subscribers in queue mode on one, two and
 * four workers, each once against the sandbox at Meta's 1,000/s and once against an unthrottled sandbox (the ceiling).
 * Real parts only: `npm run queue` (scripts/queue.mjs: n8n of demo/, Redis, PostgreSQL, the sandbox over HTTP) with
 * `QUEUE_WORKERS` workers; the newsletter copied once per part of the list as the README says, one part per worker,
 * Messages per Second split between the parts; the sandbox's request log counts what arrived.
 *
 * "One process" is queue mode with one worker, not `npm start`: the same PostgreSQL ledger, n8n database, Redis and
 * sandbox as the other rows, so only the number of workers changes (`npm start` would also change the ledger's store
 * and drop the queue, and the comparison would no longer say what the workers add).
 *
 * Statuses: the webhook process takes 40 to 150 deliveries a second here (BENCHMARKS.md), a newsletter at 1,000/s
 * brings 2,000. So that its backlog does not slow the sends (the workers and the webhook process share the 2 cores), the
 * sandbox delivers no webhooks during the runs: its app callback is unset and the WABA's alternate callback, set when
 * the inbox was activated, goes with the sandbox's reset. It still makes the statuses (sent, delivered; no read) and
 * keeps them in its delivery log, which the report counts.
 *
 * Run: npm run bench:newsletter. Settings: NEWSLETTER_BENCH_WORKERS (1,2,4), NEWSLETTER_BENCH_LIMITS (1000,0; 0 is
 * unthrottled), NEWSLETTER_BENCH_RECIPIENTS (5000), NEWSLETTER_BENCH_PORTS_FROM (5780; 2 + 2 × (1 + workers) ports), NEWSLETTER_BENCH_BROKER_PORTS_FROM (the brokers' 2 + workers of them elsewhere),
 * NEWSLETTER_BENCH_SANDBOX_PORT (8830), NEWSLETTER_BENCH_DATABASE (postgres://postgres@127.0.0.1:5432/queue_nlbench,
 * dropped and created anew), NEWSLETTER_BENCH_REDIS_PREFIX (nlbench), NEWSLETTER_BENCH_OUT (the results as JSON).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Ledger } from '../lib/consent/ledger';
import { mapWithConcurrency } from '../lib/whatsapp';
import { RestSession, SandboxCustomer, StartedScript } from '../test/helpers/n8n-process';
import { CONSENT_TEXT, createNewsletterParts, openDemoLedger, runNewsletter, seedSubscribers } from '../test/helpers/queue-newsletter';
import { countSandbox, type SandboxCount } from './send-outcomes';

const WORKERS = (process.env.NEWSLETTER_BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
/** Meta's limit of the business number in each run; 0: the sandbox refuses nothing. */
const LIMITS = (process.env.NEWSLETTER_BENCH_LIMITS ?? '1000,0').split(',').map(Number);
const RECIPIENTS = Number(process.env.NEWSLETTER_BENCH_RECIPIENTS ?? 5000);
/** Confirmed and then withdrawn (STOP), and signed up but never confirmed: neither may get anything. */
const WITHDRAWN = 100;
const PENDING = 50;
const PORTS_FROM = Number(process.env.NEWSLETTER_BENCH_PORTS_FROM ?? 5780);
/** The task-runner brokers' ports (2 + workers), when the block after the health ports is taken on this machine. */
const BROKER_PORTS_FROM = process.env.NEWSLETTER_BENCH_BROKER_PORTS_FROM ?? '';
const SANDBOX_PORT = Number(process.env.NEWSLETTER_BENCH_SANDBOX_PORT ?? 8830);
const SANDBOX_URL = `http://127.0.0.1:${SANDBOX_PORT}`;
const DATABASE = process.env.NEWSLETTER_BENCH_DATABASE ?? 'postgres://postgres@127.0.0.1:5432/queue_nlbench';
const REDIS_PREFIX = process.env.NEWSLETTER_BENCH_REDIS_PREFIX ?? 'nlbench';
/** The Send benchmark's sandbox: Meta's answer after 100 ms. */
const LATENCY_MS = 100;
/** Send WhatsApp's Parallel Requests per part, as in the Send benchmark: at 100 ms, 1,000/s needs 100 in flight. */
const PARALLEL_REQUESTS = 200;
/** Messages per Second is at most 1,000 in Send WhatsApp: an unthrottled run gives each part that. */
const NODE_MAXIMUM = 1000;
const RUN_TIMEOUT_MS = 10 * 60_000;

interface Row extends SandboxCount {
	workers: number;
	limit: number | 'unthrottled';
	perPart: number;
	messagesPerSecond: number;
	/** From the first part's run request to the last part's execution ending (n8n stores 5,000 items per node). */
	wallSeconds: number;
	/** Which worker ran each part, from the workers' logs. */
	partsOn: string[][];
	statusWebhooksKept: number;
	webhookAttempts: number;
	executions: string[];
	loadBefore: string;
	loadAfter: string;
	startedAt: string;
}

const rows: Row[] = [];
// Ending in 2: numbers ending in 0000 and 0001 are the sandbox's undeliverable and failing ones.
const numbers = (group: number, count: number) => Array.from({ length: count }, (_, index) => `4915${group}${String(index).padStart(6, '0')}2`);
const consented = numbers(16, RECIPIENTS);
const withdrawn = numbers(17, WITHDRAWN);
const pending = numbers(18, PENDING);
const load = () => loadavg().map((value) => value.toFixed(2)).join(', ');

async function sandbox(path: string, init: RequestInit = {}): Promise<void> {
	const response = await fetch(`${SANDBOX_URL}/_sandbox/${path}`, { ...init, headers: { 'content-type': 'application/json' } });
	if (!response.ok) throw new Error(`The sandbox refused ${path}: HTTP ${response.status} ${await response.text()}`);
}

async function executionStatus(api: RestSession, workflowId: string, executionId: string): Promise<string | undefined> {
	const { data } = await api.get<{ data: { results: { id: string; status: string }[] } }>(`/rest/executions?limit=10&filter=${encodeURIComponent(JSON.stringify({ workflowId }))}`);
	return data.results.find((execution) => execution.id === executionId)?.status;
}

/** Execution ids a worker's log says it ran ("Worker started execution 7 (job 7)", n8n's job processor). */
function ranOn(userFolder: string, workers: number, executionId: string): string[] {
	return Array.from({ length: workers }, (_, index) => `worker-${index + 1}`).filter((name) =>
		[...readFileSync(join(userFolder, `${name}.log`), 'utf8').matchAll(/Worker started execution (\d+) /g)].some((match) => match[1] === executionId),
	);
}

async function measure(api: RestSession, userFolder: string, workers: number, limit: number): Promise<Row> {
	// Back to how the sandbox started (its logs empty, the inbox's alternate callback gone), then this run's Meta.
	await sandbox('reset', { method: 'POST' });
	await sandbox('config', {
		method: 'PATCH',
		body: JSON.stringify({
			webhookUrl: null,
			latencyMs: LATENCY_MS,
			// The sandbox's limiter wants a whole number of at least 1: a billion a second refuses nothing here.
			throughputPerSecond: limit || 1_000_000_000,
			statusDelaysMs: { sent: 20, delivered: 120, read: null },
		}),
	});
	const perPart = limit ? Math.floor(limit / workers) : NODE_MAXIMUM;
	const label = `${workers} workers, ${limit || 'unthrottled'}, ${new Date().toISOString()}`;
	const parts = await createNewsletterParts(api, {
		parts: workers,
		messagesPerSecond: perPart,
		parallelRequests: PARALLEL_REQUESTS,
		// A campaign key of its own: a run sends to the same subscribers as the runs before, which the key would stop.
		campaignKey: `nlbench-${workers}-${limit || 'unthrottled'}-${Date.now()}`,
		label,
	});
	const loadBefore = load();
	const startedAt = new Date().toISOString();
	const started = Date.now();
	const executions = await Promise.all(parts.map((id) => runNewsletter(api, id)));
	for (;;) {
		const statuses = await Promise.all(parts.map((id, index) => executionStatus(api, id, executions[index])));
		if (statuses.every((status) => status === 'success')) break;
		if (statuses.some((status) => status && !['new', 'running', 'waiting', 'success'].includes(status)) || Date.now() - started > RUN_TIMEOUT_MS) {
			throw new Error(`The newsletter's parts ended ${JSON.stringify(statuses)} (${label})`);
		}
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	const wallSeconds = (Date.now() - started) / 1000;
	const loadAfter = load();
	const count = await countSandbox(SANDBOX_URL, [...withdrawn, ...pending]);
	const { deliveries } = await new SandboxCustomer(SANDBOX_URL).control<{ deliveries: { attempts: unknown[] }[] }>('webhooks');
	const row: Row = {
		workers,
		limit: limit || 'unthrottled',
		perPart,
		...count,
		messagesPerSecond: Math.round(count.accepted / count.acceptedSpanSeconds),
		wallSeconds,
		partsOn: executions.map((id) => ranOn(userFolder, workers, id)),
		statusWebhooksKept: deliveries.length,
		webhookAttempts: deliveries.reduce((sum, delivery) => sum + delivery.attempts.length, 0),
		executions,
		loadBefore,
		loadAfter,
		startedAt,
	};
	process.stdout.write(`${JSON.stringify(row)}\n`);
	return row;
}

describe(`The newsletter to ${RECIPIENTS} in queue mode on ${WORKERS.join(', ')} workers`, () => {
	const userFolder = mkdtempSync(join(tmpdir(), 'consent-nlbench-'));
	const database = new URL(DATABASE).pathname.slice(1);
	const admin = () => new Client({ connectionString: Object.assign(new URL(DATABASE), { pathname: '/postgres' }).toString() });
	let ledger: Ledger | undefined;

	beforeAll(async () => {
		const client = admin();
		await client.connect();
		await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
		await client.end();
	});

	afterAll(async () => {
		await ledger?.close();
		rmSync(userFolder, { recursive: true, force: true });
		// Bull's and n8n's keys of these runs (all prefixed). The community-node rule is for nodes; this is a benchmark.
		// eslint-disable-next-line @n8n/community-nodes/no-dangerous-functions
		const keys = spawnSync('redis-cli', ['--scan', '--pattern', `${REDIS_PREFIX}*`], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
		// eslint-disable-next-line @n8n/community-nodes/no-dangerous-functions
		if (keys.length) spawnSync('redis-cli', ['del', ...keys]);
		const client = admin();
		await client.connect();
		await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
		await client.end();
		const out = process.env.NEWSLETTER_BENCH_OUT ?? join(tmpdir(), `queue-newsletter-bench-${Date.now()}.json`);
		writeFileSync(out, JSON.stringify(rows, null, 2));
		process.stdout.write(
			[
				`Results (also in ${out}):`,
				'| workers | limit (per part) | messages/s | accepted | duplicates | to non-consented | 130429 | parts on | load before → after |',
				'| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
				...rows.map(
					(row) =>
						`| ${row.workers} | ${row.limit} (${row.perPart}) | ${row.messagesPerSecond} | ${row.accepted} | ${row.duplicates} | ${row.nonConsentedRequests} | ${row.refusedByCode['130429'] ?? 0} | ${JSON.stringify(row.partsOn)} | ${row.loadBefore} → ${row.loadAfter} |`,
				),
				'',
			].join('\n'),
		);
	}, 120_000);

	for (const workers of WORKERS) {
		test(`${workers} worker(s), at ${LIMITS.map((limit) => limit || 'unthrottled').join(' and ')}`, async () => {
			const queue = new StartedScript('queue.mjs', {
				QUEUE_WORKERS: String(workers),
				// One execution at a time per worker: the parts then go to as many workers (with five, one worker may
				// take them all, and the table would measure one worker).
				QUEUE_WORKER_CONCURRENCY: '1',
				QUEUE_USER_FOLDER: userFolder,
				QUEUE_PORTS_FROM: String(PORTS_FROM),
				QUEUE_BROKER_PORTS_FROM: BROKER_PORTS_FROM,
				QUEUE_SANDBOX_PORT: String(SANDBOX_PORT),
				QUEUE_DATABASE_URL: DATABASE,
				QUEUE_REDIS_PREFIX: REDIS_PREFIX,
				// Built once, by the first start.
				DEMO_SKIP_BUILD: rows.length || ledger ? '1' : (process.env.DEMO_SKIP_BUILD ?? ''),
			});
			try {
				await queue.waitFor('Press Ctrl-C to stop.', 360_000);
				const api = new RestSession(`http://127.0.0.1:${PORTS_FROM}`);
				await api.login(queue.output);
				if (!ledger) {
					ledger = await openDemoLedger(DATABASE);
					// Seeded once: the database, and with it the ledger, stays for the later starts.
					const seeding = Date.now();
					await seedSubscribers(ledger, [...consented, ...withdrawn], 'nlbench');
					const seeded = ledger;
					await mapWithConcurrency(withdrawn, 16, (waId, index) =>
						seeded.revoke({ waId, purposes: 'all', channel: 'whatsapp', messageId: `wamid.nlbench-stop-${index}`, evidence: { text: 'STOP' } }),
					);
					await mapWithConcurrency(pending, 16, (waId) => seeded.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: CONSENT_TEXT, source: {} }));
					process.stdout.write(`Seeded ${consented.length} consented, ${withdrawn.length} withdrawn, ${pending.length} pending in ${((Date.now() - seeding) / 1000).toFixed(1)} s\n`);
				}
				const ours: Row[] = [];
				for (const limit of LIMITS) ours.push(await measure(api, userFolder, workers, limit));
				rows.push(...ours);
				// After every run of this start, so one that fails does not keep the next from being measured.
				for (const row of ours) {
					expect(row.accepted).toBe(RECIPIENTS);
					expect(row.duplicates).toBe(0);
					expect(row.nonConsentedRequests).toBe(0);
					expect(row.webhookAttempts).toBe(0);
				}
			} finally {
				await queue.interrupt();
			}
		}, 30 * 60_000);
	}
});
