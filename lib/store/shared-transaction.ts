/**
 * One transaction on the embedded store for several callers at once (the Opt-In Trigger's groups of status-only
 * deliveries, lib/delivery-groups.ts). PGlite has one connection: a transaction per caller holds it for each of its
 * round trips in turn, and each trip costs more in PGlite's protocol and the thread's messages than the statement
 * costs to run. Here the callers run side by side, and the statements they make in one turn of the event loop travel
 * together, as one message in PostgreSQL's simple protocol: the first with BEGIN, one COMMIT at the end.
 *
 * All or nothing: a statement that fails, or a caller's own transaction (`Store.transaction`) that throws, fails the
 * whole transaction, and every later statement fails at once. The caller then runs each of its works again on its own
 * (lib/delivery-groups.ts), so one refusal never takes the others with it.
 */
import { Coalescer } from '../coalescer';
import type { PGliteThread } from './pglite-thread';
import { callStatement, type Row, type Store } from './store';

/** Enough for a burst of Meta's deliveries in one message, few enough to keep the message small. */
const MAX_STATEMENTS = 256;

/**
 * The statement with its parameters ($1, $2, …) as literals, for the simple protocol, which takes none. A `$` inside a
 * quoted literal or identifier, a dollar-quoted body or a comment is left alone.
 */
export function inlineParameters(sql: string, literals: readonly string[]): string {
	const token = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(\$([A-Za-z_][A-Za-z0-9_]*)?\$)[\s\S]*?\1|\$(\d+)/g;
	return sql.replace(token, (match, _tag, _name, index: string | undefined) => {
		if (index === undefined) return match;
		const literal = literals[Number(index) - 1];
		if (literal === undefined) throw new Error(`The statement uses $${index} but has ${literals.length} parameter(s)`);
		return literal;
	});
}

/**
 * Runs `work` with a store whose every statement goes into one transaction, shared by whatever `work` runs side by
 * side; committed when `work` has settled without a failure, rolled back otherwise (and the failure thrown).
 * `committed` hears how many writes (calls and transactions, as the store counts them alone) the commit made.
 */
export function shareTransaction<T>(
	db: Pick<PGliteThread, 'session'>,
	base: Pick<Store, 'kind' | 'location' | 'schema'>,
	literal: (value: unknown) => string,
	work: (store: Store) => Promise<T>,
	committed: (writes: number) => void,
): Promise<T> {
	return db.session(async (exec) => {
		let begun = false;
		let writes = 0;
		let failed: unknown;
		const statements = new Coalescer<string, Row[]>(
			async (batch) => {
				if (failed !== undefined) throw failed;
				const first = !begun;
				begun = true;
				try {
					const results = await exec(`${first ? 'BEGIN;\n' : ''}${batch.join(';\n')}`);
					return (first ? results.slice(1) : results).map((result) => result.rows);
				} catch (error) {
					failed ??= error;
					throw error;
				}
			},
			{ maxBatch: MAX_STATEMENTS },
		);
		const run = (statement: string) => (failed === undefined ? statements.run(statement) : Promise.reject(failed));
		const shared: Store = {
			...base,
			query: <R,>(sql: string, params: unknown[] = []) => run(params.length === 0 ? sql : inlineParameters(sql, params.map(literal))) as Promise<R[]>,
			call: <R,>(fn: string, args: unknown[]) => {
				writes++;
				return run(callStatement(fn, args.map(literal))) as Promise<R[]>;
			},
			// A caller's transaction is part of this one: if it throws, what it wrote cannot be undone alone.
			async transaction(inner) {
				writes++;
				try {
					return await inner(shared);
				} catch (error) {
					failed ??= error;
					throw error;
				}
			},
			async callThen(fn, args, then) {
				return shared.transaction(async (tx) => {
					const rows = await tx.call(fn, args);
					const next = then(rows as never);
					if (next) await tx.call(next.fn, next.args);
					return rows as never;
				});
			},
			close: () => Promise.reject(new Error('A shared transaction is not closed: close the store it belongs to')),
		};
		try {
			const result = await work(shared);
			if (failed !== undefined) throw failed;
			if (begun) await exec('COMMIT');
			committed(writes);
			return result;
		} finally {
			// A statement made after the end (by a promise `work` did not wait for) must not run outside the transaction.
			failed ??= new Error('The shared transaction has ended: wait for every statement before returning from it');
		}
	});
}
