/**
 * Group commit for the embedded store. PGlite has one connection, so calls run one after another anyway: calls that
 * arrive while one runs wait, and then go together, as one message in PostgreSQL's simple protocol (which runs its
 * statements as one transaction): one trip into WebAssembly and one commit for the group instead of one each.
 * If the group's transaction fails, it wrote nothing, and each call runs again alone: one refusal never takes the
 * others with it, and every caller gets its own answer or its own error.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Row } from './store';

interface Waiting {
	statement: string;
	resolve(rows: Row[]): void;
	reject(error: unknown): void;
}

/** Enough to amortise the round trip, few enough that one failed group costs little to run again one by one. */
const MAX_GROUP = 64;

export class GroupCommit {
	private readonly waiting: Waiting[] = [];
	private draining = false;

	constructor(private readonly db: Pick<PGlite, 'exec'>) {}

	/** Runs one statement that returns rows (a `SELECT * FROM fn(…)`), alone or with others waiting at the time. */
	run(statement: string): Promise<Row[]> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ statement, resolve, reject });
			if (!this.draining) void this.drain();
		});
	}

	private async drain(): Promise<void> {
		this.draining = true;
		try {
			while (this.waiting.length > 0) {
				const group = this.waiting.splice(0, MAX_GROUP);
				if (group.length > 1 && (await this.runTogether(group))) continue;
				for (const call of group) await this.runAlone(call);
			}
		} finally {
			this.draining = false;
		}
	}

	private async runTogether(group: Waiting[]): Promise<boolean> {
		let results;
		try {
			results = await this.db.exec(group.map((call) => call.statement).join(';\n'));
		} catch {
			return false;
		}
		group.forEach((call, index) => call.resolve(results[index].rows as Row[]));
		return true;
	}

	private async runAlone(call: Waiting): Promise<void> {
		try {
			const results = await this.db.exec(call.statement);
			call.resolve(results[results.length - 1].rows as Row[]);
		} catch (error) {
			call.reject(error);
		}
	}
}
