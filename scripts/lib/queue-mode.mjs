// What `npm run queue` needs besides the demo's pieces: n8n's queue-mode settings for each process, Redis and the
// PostgreSQL database. The variable names are n8n 2.41's (@n8n/config): EXECUTIONS_MODE, DB_POSTGRESDB_*,
// QUEUE_BULL_REDIS_*, QUEUE_BULL_PREFIX, N8N_REDIS_KEY_PREFIX, QUEUE_HEALTH_CHECK_*, N8N_DISABLE_PRODUCTION_MAIN_PROCESS,
// and OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS (read by `n8n start` itself).
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The ports of one queue-mode n8n with `workers` workers, from `first` on, 2 + 2 × (1 + workers) in a row: main,
 * webhook, a health port per worker, then a task-runner broker for main, webhook and each worker. With the default
 * two workers that is the eight ports 5700–5707 the README documents. `brokersFrom` moves the 2 + workers broker
 * ports elsewhere, for a machine where the block right after the health ports is partly taken.
 */
export function queuePorts(first, workers = 2, brokersFrom = first + 2 + workers) {
	if (!Number.isInteger(workers) || workers < 1) throw new Error(`The number of workers must be a whole number of at least 1, not ${workers}`);
	const range = (from, count) => Array.from({ length: count }, (_, index) => from + index);
	return {
		main: first,
		webhook: first + 1,
		// A worker has no editor or webhook server; this port answers /healthz and /healthz/readiness.
		workers: range(first + 2, workers),
		// Every n8n process that runs executions starts a task-runner broker of its own (default port 5679): on one
		// machine each needs its own port.
		brokers: { main: brokersFrom, webhook: brokersFrom + 1, workers: range(brokersFrom + 2, workers) },
	};
}

/**
 * The environment of every process of this queue-mode n8n, on top of the demo's (n8nEnvironment). `database` is a
 * PostgreSQL URL; `redis` {host, port, db, prefix}; `webhookUrl` the webhook process's base URL, which n8n puts into
 * the production webhook URLs it shows (and the Opt-In Trigger into its sign-up links).
 */
export function queueEnvironment({ base, database, redis, encryptionKey, webhookUrl }) {
	const url = new URL(database);
	return {
		...base,
		EXECUTIONS_MODE: 'queue',
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: url.hostname,
		DB_POSTGRESDB_PORT: url.port || '5432',
		DB_POSTGRESDB_DATABASE: url.pathname.slice(1),
		DB_POSTGRESDB_USER: decodeURIComponent(url.username) || 'postgres',
		DB_POSTGRESDB_PASSWORD: decodeURIComponent(url.password),
		// n8n 2.41 opens 2 connections per process by default; when they are all busy its health ping fails and the
		// process answers every request 503 "Database is not ready!" until one frees up.
		DB_POSTGRESDB_POOL_SIZE: '4',
		QUEUE_BULL_REDIS_HOST: redis.host,
		QUEUE_BULL_REDIS_PORT: String(redis.port),
		QUEUE_BULL_REDIS_DB: String(redis.db),
		// Bull's queue keys and n8n's other Redis keys and pub/sub channels (commands to workers, the cache): both
		// prefixed, so several n8n installations can share one Redis.
		QUEUE_BULL_PREFIX: redis.prefix,
		N8N_REDIS_KEY_PREFIX: redis.prefix,
		// The credentials in the database are encrypted with it: every process must have the same.
		N8N_ENCRYPTION_KEY: encryptionKey,
		N8N_WEBHOOK_URL: webhookUrl,
		WEBHOOK_URL: webhookUrl,
		// Manual runs from the editor go to the workers too, as n8n recommends (and will make the only way).
		OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
	};
}

/** The settings of each kind of process. */
export const mainProcessEnvironment = (env, ports) => ({
	...env,
	N8N_PORT: String(ports.main),
	N8N_RUNNERS_BROKER_PORT: String(ports.brokers.main),
	// Production webhooks are the webhook process's; the main process keeps the editor, the REST API, activation
	// and the schedule triggers.
	N8N_DISABLE_PRODUCTION_MAIN_PROCESS: 'true',
});

export const webhookProcessEnvironment = (env, ports) => ({
	...env,
	N8N_PORT: String(ports.webhook),
	N8N_RUNNERS_BROKER_PORT: String(ports.brokers.webhook),
	// Every webhook reads n8n's database (which workflow, its credentials) before it reaches the node: a burst of
	// Meta's status webhooks during a newsletter exhausted 2 (and 4) connections, with 503s and 10 s timeouts.
	DB_POSTGRESDB_POOL_SIZE: '10',
	// n8n 2.41 evaluates expressions in a fresh isolated-vm isolate per webhook request for every trigger but its own
	// Webhook node, which caps the webhook process near 6 requests/s on this 2-core machine (47/s with the legacy
	// engine, 12–14/s with lazy acquisition; BENCHMARKS.md). Here it only evaluates the triggers' own parameters and
	// credentials, written by the operator; the workflows run on the workers, which keep the isolated engine.
	N8N_EXPRESSION_ENGINE: 'legacy',
});

export const workerEnvironment = (env, ports, index) => ({
	...env,
	N8N_RUNNERS_BROKER_PORT: String(ports.brokers.workers[index]),
	QUEUE_HEALTH_CHECK_ACTIVE: 'true',
	QUEUE_HEALTH_CHECK_PORT: String(ports.workers[index]),
	N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
});

/** N8N_ENCRYPTION_KEY from the environment, else one kept in `file` (made on the first run, readable only by you). */
export function encryptionKey(file, env = process.env) {
	if (env.N8N_ENCRYPTION_KEY) return env.N8N_ENCRYPTION_KEY;
	if (!existsSync(file)) {
		writeFileSync(file, randomBytes(24).toString('base64url'));
		chmodSync(file, 0o600);
	}
	return readFileSync(file, 'utf8').trim();
}

/** Whether a Redis answers PING at host:port. */
export function redisAnswers({ host, port }, timeoutMs = 2_000) {
	return new Promise((resolve) => {
		const socket = createConnection({ host, port });
		const done = (answer) => {
			socket.destroy();
			resolve(answer);
		};
		socket.setTimeout(timeoutMs, () => done(false));
		socket.once('error', () => done(false));
		socket.once('connect', () => socket.write('PING\r\n'));
		socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
	});
}

/**
 * Makes sure Redis answers. When nothing answers on a local address, starts `redis-server` there as a child of
 * `group` (without persistence), so it stops with the rest; a remote Redis that does not answer is an error.
 */
export async function ensureRedis(group, redis, logFile) {
	if (await redisAnswers(redis)) return 'running';
	if (!['127.0.0.1', 'localhost', '::1'].includes(redis.host)) {
		throw new Error(`Redis does not answer at ${redis.host}:${redis.port}: start it, or point QUEUE_REDIS_URL at one that runs`);
	}
	const started = group.start({
		label: 'redis',
		command: 'redis-server',
		args: ['--port', String(redis.port), '--bind', redis.host === 'localhost' ? '127.0.0.1' : redis.host, '--save', '', '--appendonly', 'no'],
		cwd: process.cwd(),
		env: process.env,
		logFile,
		show: () => false,
	});
	const deadline = Date.now() + 10_000;
	while (!(await redisAnswers(redis))) {
		if (started.child.exitCode !== null || Date.now() > deadline) {
			throw new Error(`redis-server did not come up on ${redis.host}:${redis.port} (is it installed? apt-get install redis-server); its log: ${logFile}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	return 'started';
}

/** Creates the PostgreSQL database of `url` when it is missing; says whether it did. */
export async function ensureDatabase(url) {
	const target = new URL(url);
	const database = target.pathname.slice(1);
	const admin = new URL(url);
	admin.pathname = '/postgres';
	const client = new pg.Client({ connectionString: admin.toString() });
	try {
		await client.connect();
	} catch (error) {
		throw new Error(`PostgreSQL does not answer at ${target.host} (${error.message}): start it, or point QUEUE_DATABASE_URL at one that runs`);
	}
	try {
		const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
		if (exists.rowCount > 0) return false;
		await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
		return true;
	} finally {
		await client.end();
	}
}

/**
 * The demo credentials with the Consent Ledger moved to PostgreSQL (`database`, schema `schema`): queue mode refuses
 * the embedded store, which one process alone may open.
 */
export function onPostgresLedger(credentials, database, schema) {
	const url = new URL(database);
	return credentials.map((credential) => {
		if (credential.type !== 'consentLedgerApi') return credential;
		const { folder, ...data } = credential.data;
		return {
			...credential,
			data: {
				...data,
				store: 'postgres',
				host: url.hostname,
				port: Number(url.port || 5432),
				database: url.pathname.slice(1),
				user: decodeURIComponent(url.username) || 'postgres',
				password: decodeURIComponent(url.password),
				ssl: 'off',
				schema,
			},
		};
	});
}
