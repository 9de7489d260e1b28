/**
 * Group commit for the embedded store. PGlite has one connection, so calls run one after another anyway: calls that
 * arrive while one runs wait, and then go together, as one message in PostgreSQL's simple protocol (which runs its
 * statements as one transaction): one trip into WebAssembly and one commit for the group instead of one each.
 * If the group's transaction fails, it wrote nothing, and the coalescer runs each call again alone: one refusal
 * never takes the others with it, and every caller gets its own answer or its own error.
 * Two groups may be on their way at once: the database thread runs the second right after the first, while this
 * thread is still reading the first one's answers.
 */
import type { EmbeddedDatabase } from './pglite-thread';
import { Coalescer } from '../coalescer';
import type { Row } from './store';

/** Enough to amortise the round trip, few enough that one failed group costs little to run again one by one. */
const MAX_GROUP = 64;

/** Runs statements that return rows (`SELECT * FROM fn(…)`), alone or with others waiting at the time. */
export function groupCommit(db: Pick<EmbeddedDatabase, 'exec'>): Coalescer<string, Row[]> {
	return new Coalescer(async (statements) => {
		const results = await db.exec(statements.join(';\n'));
		return results.map((result) => result.rows as Row[]);
	}, { maxBatch: MAX_GROUP, lanes: 2 });
}
