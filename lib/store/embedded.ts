/**
 * The embedded driver: PostgreSQL compiled to WebAssembly (PGlite), in a folder under the n8n user folder.
 * No server to run, no native build (n8n installs community packages without install scripts). The database runs on
 * a worker thread of its own (`pglite-thread.ts`).
 *
 * PGlite is single-process: two processes writing one folder would corrupt it. A lock file with the owner's pid
 * turns that into a clear error that points to the PostgreSQL store, which queue mode needs anyway.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { escapeLiteral } from 'pg';
import { prepareValue } from 'pg/lib/utils';
import { StoreError } from '../errors';
import type { Coalescer } from '../coalescer';
import { groupCommit } from './group-commit';
import { PGliteThread, type EmbeddedDatabase } from './pglite-thread';
import { shareTransaction } from './shared-transaction';
import { callStatement, type EmbeddedStoreConfig, type FollowUp, type Row, type Store } from './store';
import { Upkeep } from './upkeep';

const LOCK_FILE = 'consent-ledger.lock';

interface OpenDatabase {
	db: PGliteThread;
	users: number;
	lockPath: string;
	calls: Coalescer<string, Row[]>;
	upkeep: Upkeep;
}

/** One PGlite per folder and process, shared by every ledger that opens it. */
const openDatabases = new Map<string, Promise<OpenDatabase>>();
/** Lock files this process holds, released even when it exits without closing. */
const heldLocks = new Set<string>();

function processIsAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

function takeLock(folder: string): string {
	const lockPath = join(folder, LOCK_FILE);
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			const fd = openSync(lockPath, 'wx');
			writeSync(fd, String(process.pid));
			closeSync(fd);
			heldLocks.add(lockPath);
			return lockPath;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const owner = Number(readFileSync(lockPath, 'utf8').trim());
			if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processIsAlive(owner)) {
				throw new StoreError(
					`The embedded consent ledger in ${folder} is already open in another process (pid ${owner})`,
					'The embedded store serves one n8n process. When n8n runs in queue mode or on several machines, ' +
						'switch the Consent Ledger credential to PostgreSQL',
				);
			}
			rmSync(lockPath, { force: true }); // left behind by a process that is gone
		}
	}
	throw new StoreError(`Could not lock the embedded consent ledger in ${folder}`, 'Check the folder permissions');
}

async function openDatabase(folder: string): Promise<OpenDatabase> {
	try {
		mkdirSync(folder, { recursive: true });
	} catch (error) {
		throw new StoreError(
			`Cannot create the consent ledger folder ${folder}: ${(error as Error).message}`,
			'Choose a folder n8n may write to in the Consent Ledger credential',
			error,
		);
	}
	const lockPath = takeLock(folder);
	try {
		const db = await PGliteThread.open(join(folder, 'pgdata'));
		// PostgreSQL's default of 4 MB per sort or hash suits a server shared by many sessions; this database has one.
		// With it, the batch gate's join of 50,000 people spilled to temporary files (about 15 % of its time).
		await db.exec(`SET work_mem = '32MB'`);
		return { db, users: 0, lockPath, calls: groupCommit(db), upkeep: new Upkeep(db) };
	} catch (error) {
		releaseLock(lockPath);
		throw new StoreError(`Cannot open the embedded consent ledger in ${folder}: ${(error as Error).message}`, undefined, error);
	}
}

export async function openEmbeddedStore(config: EmbeddedStoreConfig): Promise<Store> {
	const folder = resolve(config.folder);
	let opening = openDatabases.get(folder);
	if (!opening) {
		opening = openDatabase(folder);
		openDatabases.set(folder, opening);
		opening.catch(() => openDatabases.delete(folder));
	}
	const open = await opening;
	open.users++;
	const { db, calls, upkeep } = open;
	let closed = false;

	const run = async <T,>(target: Pick<EmbeddedDatabase, 'query'>, sql: string, params?: unknown[]): Promise<T[]> => {
		const result = await target.query<T>(sql, params);
		return result.rows;
	};
	// PGlite's simple protocol takes no parameters, so the arguments travel as literals, converted and quoted by pg's
	// own functions.
	const statementOf = (fn: string, args: unknown[]) => callStatement(fn, args.map(literal));

	const named = { kind: 'embedded' as const, location: folder, schema: 'public' };

	return {
		...named,
		query: (sql, params) => run(db, sql, params),
		async call<T = Row>(fn: string, args: unknown[]) {
			const rows = await calls.run(statementOf(fn, args));
			upkeep.noteWrite();
			return rows as T[];
		},
		async transaction(work) {
			const result = await db.transaction((tx) =>
				work({
					query: (sql, params) => run(tx, sql, params),
					async call<T = Row>(fn: string, args: unknown[]) {
						const results = await tx.exec(statementOf(fn, args));
						return results[results.length - 1].rows as T[];
					},
				}),
			);
			upkeep.noteWrite();
			return result;
		},
		async callThen<T = Row>(fn: string, args: unknown[], then: (rows: T[]) => FollowUp | undefined) {
			// BEGIN travels with the first call and COMMIT with the second: two messages, one transaction.
			const rows = await db.session(async (exec) => {
				const results = await exec(`BEGIN; ${statementOf(fn, args)}`);
				const answer = results[results.length - 1].rows as T[];
				const next = then(answer);
				await exec(next ? `${statementOf(next.fn, next.args)}; COMMIT` : 'COMMIT');
				return answer;
			});
			upkeep.noteWrite();
			return rows;
		},
		shareTransaction: (work) => shareTransaction(db, named, literal, work, (writes) => upkeep.noteWrite(writes)),
		async close() {
			if (closed) return;
			closed = true;
			if (--open.users > 0) return;
			openDatabases.delete(folder);
			await upkeep.settle();
			await db.close();
			releaseLock(open.lockPath);
		},
	};
}

function literal(value: unknown): string {
	const text = prepareValue(value);
	if (text === null) return 'NULL';
	// pg sends a Buffer as bytes; as text, bytea takes its hex form.
	return escapeLiteral(Buffer.isBuffer(text) ? `\\x${text.toString('hex')}` : String(text));
}

function releaseLock(lockPath: string): void {
	heldLocks.delete(lockPath);
	rmSync(lockPath, { force: true });
}

process.once('exit', () => {
	for (const lockPath of heldLocks) rmSync(lockPath, { force: true });
});
