/**
 * PGlite on a thread of its own. PostgreSQL compiled to WebAssembly runs on whichever thread calls it: on n8n's main
 * thread every ledger statement would hold up everything else n8n does (the editor, webhooks, Meta's callbacks
 * waiting for their answer), and the ledger's own work (encryption, keyed lookups, validation) would wait for the
 * database. On a worker thread the two run side by side, on two cores.
 *
 * The database has one connection and runs requests in the order they were sent. Requests are sent at once, without
 * waiting for the answer to the one before, so the thread never idles while this one reads an answer; only a
 * transaction holds the line, from BEGIN to COMMIT: what comes after it is sent when it has ended.
 */
import { Worker } from 'node:worker_threads';
import { StoreError } from '../errors';
import type { Row } from './store';

export interface Results {
	rows: Row[];
}

/** What the embedded store needs of a database: PGlite's `query`, `exec` and `transaction`, one at a time. */
export interface EmbeddedDatabase {
	query<T = Row>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
	/** Statements in PostgreSQL's simple protocol: several in one message run as one transaction. */
	exec(sql: string): Promise<Results[]>;
}

type Request = { op: 'query'; sql: string; params?: unknown[] } | { op: 'exec'; sql: string } | { op: 'close' };
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: Record<string, unknown> };

/**
 * The worker's side, run from its source text on the new thread: it may use nothing from this module's scope.
 * It opens the database, then answers each request in turn (PGlite queues them itself).
 */
function serveDatabase() {
	/* eslint-disable @typescript-eslint/no-require-imports */
	const { parentPort, workerData } = require('node:worker_threads');
	const { PGlite } = require(workerData.pglite);
	/* eslint-enable @typescript-eslint/no-require-imports */
	const errorFields = (error: Error & Record<string, unknown>) => {
		const fields: Record<string, unknown> = { message: error.message };
		for (const [key, value] of Object.entries(error)) if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
		return fields;
	};
	const opening = PGlite.create({ dataDir: workerData.dataDir });
	opening.then(
		() => parentPort.postMessage({ id: 0, ok: true, result: null }),
		(error: Error & Record<string, unknown>) => parentPort.postMessage({ id: 0, ok: false, error: errorFields(error) }),
	);
	parentPort.on('message', async (request: { id: number; op: string; sql: string; params?: unknown[] }) => {
		try {
			const db = await opening;
			let result: unknown = null;
			if (request.op === 'query') result = { rows: (await db.query(request.sql, request.params)).rows };
			else if (request.op === 'exec') result = (await db.exec(request.sql)).map((each: { rows: unknown[] }) => ({ rows: each.rows }));
			else await db.close();
			parentPort.postMessage({ id: request.id, ok: true, result });
		} catch (error) {
			parentPort.postMessage({ id: request.id, ok: false, error: errorFields(error as Error & Record<string, unknown>) });
		}
	});
}

export class PGliteThread implements EmbeddedDatabase {
	private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
	private nextId = 1;
	/** The end of the last transaction begun: requests made after it began are sent once it has ended. */
	private lastTransaction: Promise<unknown> = Promise.resolve();
	private stopped: Error | undefined;

	private constructor(private readonly worker: Worker) {
		worker.on('message', (reply: Reply) => this.answer(reply));
		worker.on('error', (error) => this.stop(error));
		worker.on('exit', (code) => this.stop(new Error(`the database thread exited with code ${code}`)));
		worker.unref(); // an idle database keeps no process alive; a pending request does (see `send`)
	}

	/** Starts the thread and opens the database in `dataDir`; fails with PGlite's reason if it cannot. */
	static async open(dataDir: string): Promise<PGliteThread> {
		const worker = new Worker(`(${serveDatabase.toString()})()`, {
			eval: true,
			workerData: { pglite: require.resolve('@electric-sql/pglite'), dataDir },
		});
		const thread = new PGliteThread(worker);
		try {
			await thread.request(0);
		} catch (error) {
			await worker.terminate();
			throw error;
		}
		return thread;
	}

	query<T = Row>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
		return this.afterTransactions(() => this.send<{ rows: T[] }>({ op: 'query', sql, params }));
	}

	exec(sql: string): Promise<Results[]> {
		return this.afterTransactions(() => this.send<Results[]>({ op: 'exec', sql }));
	}

	/** Runs `work` between BEGIN and COMMIT (ROLLBACK if it throws); nothing else runs on the database meanwhile. */
	transaction<T>(work: (tx: EmbeddedDatabase) => Promise<T>): Promise<T> {
		return this.session(async () => {
			const tx: EmbeddedDatabase = {
				query: <R,>(sql: string, params?: unknown[]) => this.send<{ rows: R[] }>({ op: 'query', sql, params }),
				exec: (sql: string) => this.send<Results[]>({ op: 'exec', sql }),
			};
			await this.send({ op: 'exec', sql: 'BEGIN' });
			const result = await work(tx);
			await this.send({ op: 'exec', sql: 'COMMIT' });
			return result;
		});
	}

	/**
	 * Holds the line for `work`, which sends its own BEGIN and COMMIT with its statements (`exec`); a ROLLBACK
	 * follows if it throws, so no transaction is left open.
	 */
	session<T>(work: (exec: (sql: string) => Promise<Results[]>) => Promise<T>): Promise<T> {
		const session = this.afterTransactions(async () => {
			try {
				return await work((sql) => this.send<Results[]>({ op: 'exec', sql }));
			} catch (error) {
				await this.send({ op: 'exec', sql: 'ROLLBACK' }).catch(() => undefined);
				throw error;
			}
		});
		this.lastTransaction = session.catch(() => undefined);
		return session;
	}

	async close(): Promise<void> {
		if (this.stopped) return;
		await this.afterTransactions(() => this.send({ op: 'close' }));
		await this.worker.terminate();
	}

	private afterTransactions<T>(operation: () => Promise<T>): Promise<T> {
		return this.lastTransaction.then(operation);
	}

	private send<T>(request: Request): Promise<T> {
		return this.request<T>(this.nextId++, request);
	}

	private request<T>(id: number, request?: Request): Promise<T> {
		if (this.stopped) return Promise.reject(this.stopped);
		return new Promise<T>((resolve, reject) => {
			if (this.pending.size === 0) this.worker.ref();
			this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
			if (request) this.worker.postMessage({ ...request, id });
		});
	}

	private answer(reply: Reply): void {
		const waiting = this.pending.get(reply.id);
		if (!waiting) return;
		this.pending.delete(reply.id);
		if (this.pending.size === 0) this.worker.unref();
		if (reply.ok) waiting.resolve(reply.result);
		else waiting.reject(Object.assign(new Error(String(reply.error.message)), reply.error));
	}

	private stop(cause: Error): void {
		if (this.stopped) return;
		this.stopped = new StoreError(`The embedded consent ledger stopped: ${cause.message}`, 'Restart n8n; if it happens again, switch the Consent Ledger credential to PostgreSQL', cause);
		for (const waiting of this.pending.values()) waiting.reject(this.stopped);
		this.pending.clear();
	}
}
