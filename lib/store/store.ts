/**
 * What the ledger needs from a database: parameterised queries and transactions, the same on PGlite and PostgreSQL.
 * SQL is written once, in PostgreSQL's dialect; each driver sets the search path to the ledger's schema, so queries
 * name tables without a schema.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
	query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
	/**
	 * Calls one of the ledger's SQL functions (`SELECT * FROM fn(args)`) in a single round trip to the database.
	 * The hot paths use it: on PGlite a parameterised query costs six calls into WebAssembly, this costs two.
	 */
	call<T = Row>(fn: string, args: unknown[]): Promise<T[]>;
}

const FUNCTION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `SELECT * FROM fn($1, …)`; the function name is checked because it ends up in SQL text. */
export function callStatement(fn: string, args: readonly string[]): string {
	if (!FUNCTION_NAME.test(fn)) throw new Error(`Not a ledger function name: '${fn}'`);
	return `SELECT * FROM ${fn}(${args.join(', ')})`;
}

export interface Store extends Queryable {
	readonly kind: 'embedded' | 'postgres';
	/** Where the data lives, for messages: a folder or host/database/schema. */
	readonly location: string;
	/** The schema holding the ledger's tables (the search path of every connection). */
	readonly schema: string;
	transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
	/**
	 * Calls a function, then the function `then` makes from its answer (none: undefined), in one transaction. On the
	 * embedded store that is two trips to the database where a transaction of two calls takes four: the opt-in groups
	 * use it for their events' keyed links (lib/consent/chain.ts), which are made here, from the sequence numbers the
	 * first call's events got.
	 */
	callThen<T = Row>(fn: string, args: unknown[], then: (rows: T[]) => FollowUp | undefined): Promise<T[]>;
	/**
	 * The embedded store only: runs `work` with a store whose statements, from whatever `work` runs side by side, go
	 * into one transaction, those of one turn of the event loop in one trip (lib/store/shared-transaction.ts).
	 * Committed when `work` settles without a failure; any failure in it rolls all of it back and is thrown.
	 */
	shareTransaction?<T>(work: (store: Store) => Promise<T>): Promise<T>;
	close(): Promise<void>;
}

/** A function call that follows another in its transaction (Store.callThen). */
export interface FollowUp {
	fn: string;
	args: unknown[];
}

export interface EmbeddedStoreConfig {
	kind: 'embedded';
	/** Folder holding the database files; created on first use. */
	folder: string;
}

export interface PostgresStoreConfig {
	kind: 'postgres';
	host: string;
	port?: number;
	database: string;
	user: string;
	password?: string;
	ssl?: boolean | { rejectUnauthorized: boolean };
	/** The schema the ledger's tables live in, so they can share the database n8n already uses. */
	schema?: string;
	maxConnections?: number;
}

export type StoreConfig = EmbeddedStoreConfig | PostgresStoreConfig;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names end up in SQL text (search_path), so only plain identifiers are accepted. */
export function assertSchemaName(schema: string): string {
	if (!IDENTIFIER.test(schema)) {
		throw new Error(
			`The schema name '${schema}' is not allowed: use lower-case letters, digits and underscores, starting with a letter`,
		);
	}
	return schema;
}
