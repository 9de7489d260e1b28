// The embedded store's database thread: ordering, transactions, errors and a thread that dies.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { PGliteThread } from '../../lib/store/pglite-thread';

describe('PGlite on its own thread', () => {
	let db: PGliteThread;

	beforeEach(async () => {
		db = await PGliteThread.open(join(mkdtempSync(join(tmpdir(), 'pglite-thread-')), 'pgdata'));
		await db.exec('CREATE TABLE t (id int PRIMARY KEY, at timestamptz, tags text[])');
	});

	afterEach(() => db.close());

	test('parameters and answers cross the thread with their types', async () => {
		const at = new Date('2026-11-28T10:00:00.123Z');
		await db.query('INSERT INTO t VALUES ($1, $2, $3)', [1, at, ['a', 'b']]);
		const { rows } = await db.query<{ id: number; at: Date; tags: string[] }>('SELECT * FROM t');
		expect(rows).toEqual([{ id: 1, at, tags: ['a', 'b'] }]);
		const results = await db.exec('SELECT 1 AS one; SELECT 2 AS two');
		expect(results.map((result) => result.rows)).toEqual([[{ one: 1 }], [{ two: 2 }]]);
	});

	test('a transaction holds the line: a statement asked for meanwhile runs after its COMMIT', async () => {
		let release!: () => void;
		const held = new Promise<void>((resolve) => (release = resolve));
		const transaction = db.transaction(async (tx) => {
			await tx.query('INSERT INTO t (id) VALUES (1)');
			await held;
			await tx.query('INSERT INTO t (id) VALUES (2)');
		});
		await new Promise((resolve) => setTimeout(resolve, 50)); // the transaction has begun
		const meanwhile = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
		release();
		await transaction;
		expect((await meanwhile).rows[0].n).toBe(2);
	});

	test('a failing transaction is rolled back, keeps the database error and its code, and the thread goes on', async () => {
		const failed = db.transaction(async (tx) => {
			await tx.query('INSERT INTO t (id) VALUES (1)');
			await tx.query('INSERT INTO t (id) VALUES (1)');
		});
		await expect(failed).rejects.toMatchObject({ code: '23505', message: expect.stringContaining('duplicate key') });
		expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
	});

	test('a thread that dies fails what is waiting and what comes after with an error that says what to do', async () => {
		await (db as unknown as { worker: Worker }).worker.terminate();
		await expect(db.query('SELECT 1')).rejects.toMatchObject({
			message: expect.stringContaining('The embedded consent ledger stopped'),
			hint: expect.stringContaining('PostgreSQL'),
		});
	});
});
