/**
 * What PostgreSQL's autovacuum does on a server, for the embedded store, where it does not run: without it the
 * planner has no statistics (it then reads every sign-up to find one code) and old row versions are never cleaned
 * up. After 1,000 ledger writes plus 10 % of the rows (autovacuum waits for 50 rows plus 10 %; a ledger write
 * changes several rows, and small tables need no statistics), VACUUM ANALYZE runs on the ledger's tables.
 */
import type { PGlite } from '@electric-sql/pglite';

const BASE_THRESHOLD = 1000;
const SCALE_FACTOR = 0.1;

export class Upkeep {
	private writes = 0;
	private threshold = BASE_THRESHOLD;
	private running: Promise<void> | undefined;

	constructor(private readonly db: Pick<PGlite, 'exec' | 'query'>) {}

	/** Counts one write (a call or a transaction); starts the upkeep when enough have accumulated. */
	noteWrite(): void {
		if (++this.writes < this.threshold || this.running) return;
		this.running = this.run().finally(() => {
			this.running = undefined;
		});
	}

	/** Waits for a running upkeep, so the database can close. */
	async settle(): Promise<void> {
		await this.running;
	}

	private async run(): Promise<void> {
		this.writes = 0;
		try {
			// The ledger's own tables only: the system catalogs hardly change, and vacuuming them costs more than ours.
			const tables = `SELECT oid, relname, reltuples FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace`;
			const { rows: before } = await this.db.query<{ names: string | null }>(`SELECT string_agg(quote_ident(relname), ', ') AS names FROM (${tables}) t`);
			if (before[0].names) await this.db.exec(`VACUUM (ANALYZE) ${before[0].names}`);
			const { rows: after } = await this.db.query<{ tuples: number }>(`SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 AS tuples FROM (${tables}) t`);
			this.threshold = BASE_THRESHOLD + SCALE_FACTOR * Number(after[0].tuples);
		} catch {
			// Upkeep only makes queries faster; the writes go on, and the next threshold tries again.
			this.threshold *= 2;
		}
	}
}
