/**
 * The PostgreSQL store's pool when the server ends a connection (a restart, a crash, an administrator's
 * pg_terminate_backend): the work on that connection fails with the error, the process goes on, and the next
 * queries get a live connection. Only this test's own backend is terminated on the shared server.
 */
import { randomBytes } from 'node:crypto';
import { openPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/store';
import { pgConnection } from '../helpers/ledgers';

describe('the PostgreSQL pool when the server ends a connection', () => {
	let store: Store;
	beforeEach(async () => {
		store = await openPostgresStore({ kind: 'postgres', ...pgConnection(), schema: `p_${randomBytes(6).toString('hex')}`, maxConnections: 2 });
	});
	afterEach(() => store.close());

	test('a transaction whose connection is terminated between two statements fails; the pool goes on with live connections', async () => {
		const uncaught: Error[] = [];
		const onUncaught = (error: Error) => uncaught.push(error);
		process.on('uncaughtException', onUncaught);
		try {
			const failing = store.transaction(async (tx) => {
				const [{ pid }] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
				// The server ends this connection while the transaction holds it, between its statements.
				await store.query('SELECT pg_terminate_backend($1)', [pid]);
				await new Promise((resolve) => setTimeout(resolve, 200));
				return tx.query('SELECT 1');
			});
			await expect(failing).rejects.toThrow(/PostgreSQL at .* is unreachable \(terminating connection due to administrator command\)/);
			expect(uncaught).toEqual([]);
			// Both connections of the pool are usable: the dead one was discarded, not handed out again.
			const pids = await Promise.all([1, 2, 3, 4].map(() => store.transaction(async (tx) => (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0].pid)));
			expect(pids.every((pid) => pid > 0)).toBe(true);
			expect(await store.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
		} finally {
			process.off('uncaughtException', onUncaught);
		}
	});
});
