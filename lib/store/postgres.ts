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

	const run = async <T,>(client: Pool | PoolClient, sql: string, params?: unknown[]): Promise<T[]> => {
		const result = await client.query(sql, params as unknown[]);
		return result.rows as T[];
	};
	const queryable = (client: Pool | PoolClient): Queryable => ({
		query: (sql, params) => run(client, sql, params),
		call: (fn, args) => run(client, callStatement(fn, args.map((_, index) => `$${index + 1}`)), args),
	});

	const store: Store = {
		kind: 'postgres',
		location,
		schema,
		...queryable(pool),
		async transaction(work) {
			const client = await pool.connect();
			const tx = queryable(client);
			try {
				await client.query('BEGIN');
				const result = await work(tx);
				await client.query('COMMIT');
				return result;
			} catch (error) {
				await client.query('ROLLBACK').catch(() => undefined);
				throw error;
			} finally {
				client.release();
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
