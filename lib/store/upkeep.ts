/**
 * What PostgreSQL's autovacuum does on a server, for the embedded store, where it does not run: without it the
 * planner has no statistics (it then reads every sign-up to find one code) and old row versions are never cleaned
 * up. Autovacuum counts changed rows; PGlite does not report them, and one ledger call may change one row or a
 * group's hundreds. So the upkeep watches what changed rows leave behind, the size of the ledger's tables: every 100
 * writes it looks, and when they grew by 256 KiB plus 10 % since the last run, VACUUM ANALYZE runs on them.
 */
import type { EmbeddedDatabase } from './pglite-thread';

const CHECK_EVERY = 100;
const BASE_GROWTH = 256 * 1024;
const SCALE_FACTOR = 0.1;

/** The ledger's own tables: the system catalogs hardly change, and vacuuming them costs more than ours. */
const TABLES = `FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace`;

export class Upkeep {
	private writes = 0;
	/** Bytes of the tables after the last run. */
	private sizeAfterRun = 0;
	private running: Promise<void> | undefined;

	constructor(private readonly db: Pick<EmbeddedDatabase, 'exec' | 'query'>) {}

	/** Counts one write (a call or a transaction); every so often, looks whether the tables need upkeep. */
	noteWrite(): void {
		if (++this.writes < CHECK_EVERY || this.running) return;
		this.writes = 0;
		this.running = this.run().finally(() => {
			this.running = undefined;
		});
	}

	/** Waits for a running upkeep, so the database can close. */
	async settle(): Promise<void> {
		await this.running;
	}

	private async run(): Promise<void> {
		try {
			if ((await this.size()) - this.sizeAfterRun < BASE_GROWTH + SCALE_FACTOR * this.sizeAfterRun) return;
			const { rows } = await this.db.query<{ names: string | null }>(`SELECT string_agg(quote_ident(relname), ', ') AS names ${TABLES}`);
			if (rows[0].names) await this.db.exec(`VACUUM (ANALYZE) ${rows[0].names}`);
			this.sizeAfterRun = await this.size();
		} catch {
			// Upkeep only makes queries faster; the writes go on, and the next look tries again.
		}
	}

	private async size(): Promise<number> {
		const { rows } = await this.db.query<{ bytes: number }>(`SELECT coalesce(sum(pg_relation_size(oid)), 0)::float8 AS bytes ${TABLES}`);
		return Number(rows[0].bytes);
	}
}
