/** The server driver: a pg pool, for n8n in queue mode on several machines. */
import { Pool, types, type PoolClient } from 'pg';
import { StoreError } from '../errors';
import { assertSchemaName, callStatement, type FollowUp, type PostgresStoreConfig, type Queryable, type Store } from './store';

// bigint counters (event sequence numbers, counts) stay far below 2^53: read them as numbers, as PGlite does.
const typeParsers = {
	getTypeParser(oid: number, format?: 'text' | 'binary') {
		if (oid === types.builtins.INT8) return (value: string) => Number(value);
		return types.getTypeParser(oid, format);
	},
};

/** SQLSTATE classes and socket errors that mean the server went away, not that the statement was wrong. */
const LOST_STATES = /^(08|57P0[1-3])/;
const LOST_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

function connectionLost(error: unknown): boolean {
	const code = (error as { code?: unknown })?.code;
	if (typeof code === 'string' && (LOST_STATES.test(code) || LOST_SOCKET.has(code))) return true;
	// pg's own errors for a dead or unreachable connection carry no code.
	return /Connection terminated|not queryable|timeout exceeded when trying to connect/i.test((error as Error)?.message ?? '');
}

export async function openPostgresStore(config: PostgresStoreConfig): Promise<Store> {
	const schema = assertSchemaName(config.schema ?? 'whatsapp_consent');
	const location = `${config.host}:${config.port ?? 5432}/${config.database} (schema ${schema})`;
	const pool = new Pool({
		host: config.host,
		port: config.port ?? 5432,
		database: config.database,
		user: config.user,
		password: config.password || undefined,
		ssl: config.ssl,
		max: config.maxConnections ?? 10,
		types: typeParsers,
		// The schema may not exist before the first migration; search_path tolerates that.
		options: `-c search_path=${schema}`,
		connectionTimeoutMillis: 10_000,
	});
	pool.on('error', () => {
		// An idle client lost its connection; the pool replaces it on the next query.
	});
	try {
		const client = await pool.connect();
		client.release();
	} catch (error) {
		await pool.end().catch(() => undefined);
		throw new StoreError(
			`Cannot connect to PostgreSQL at ${location}: ${(error as Error).message}`,
			'Check host, port, database, user and password in the Consent Ledger credential',
			error,
		);
	}

	const unreachable = (error: unknown) =>
		new StoreError(
			`The Consent Ledger's PostgreSQL at ${location} is unreachable (${(error as Error).message}): nothing was recorded`,
			'Check that the PostgreSQL server is running and reachable; the ledger reconnects by itself once it is back. Webhooks answered 500 meanwhile are delivered again by Meta; run the send again for the items that failed',
			error,
		);
	const run = async <T,>(client: Pool | PoolClient, sql: string, params?: unknown[], lost?: () => Error | undefined): Promise<T[]> => {
		const gone = lost?.();
		if (gone) throw unreachable(gone);
		try {
			const result = await client.query(sql, params as unknown[]);
			return result.rows as T[];
		} catch (error) {
			throw connectionLost(error) ? unreachable(lost?.() ?? error) : error;
		}
	};
	const queryable = (client: Pool | PoolClient, lost?: () => Error | undefined): Queryable => ({
		query: (sql, params) => run(client, sql, params, lost),
		call: (fn, args) => run(client, callStatement(fn, args.map((_, index) => `$${index + 1}`)), args, lost),
	});

	const store: Store = {
		kind: 'postgres',
		location,
		schema,
		...queryable(pool),
		async transaction(work) {
			const client = await pool.connect().catch((error: unknown) => {
				throw connectionLost(error) ? unreachable(error) : error;
			});
			// A checked-out client has no listener of the pool's: should the server go away (a restart, a crash), its
			// 'error' event would be an uncaught exception that ends the process. The query in flight fails on its own.
			let lost: Error | undefined;
			const onLost = (error: Error) => {
				// The first says why (the server's FATAL); "Connection terminated" follows it.
				lost ??= error;
			};
			client.on('error', onLost);
			const tx = queryable(client, () => lost);
			try {
				await client.query('BEGIN');
				const result = await work(tx);
				await client.query('COMMIT');
				return result;
			} catch (error) {
				await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
					lost ??= rollbackFailed;
				});
				// BEGIN and COMMIT fail like any statement when the server is gone.
				if (error instanceof StoreError || !(lost || connectionLost(error))) throw error;
				throw unreachable(lost ?? error);
			} finally {
				client.off('error', onLost);
				// With an error the pool discards the client instead of handing its dead connection to the next caller.
				client.release(lost);
			}
		},
		callThen<T>(fn: string, args: unknown[], then: (rows: T[]) => FollowUp | undefined) {
			return store.transaction(async (tx) => {
				const rows = await tx.call<T>(fn, args);
				const next = then(rows);
				if (next) await tx.call(next.fn, next.args);
				return rows;
			});
		},
		close: () => pool.end(),
	};
	return store;
}
