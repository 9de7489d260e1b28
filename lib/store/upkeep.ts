/**
 * What PostgreSQL's autovacuum does on a server, for the embedded store, where it does not run: without it the
 * planner has no statistics (it then reads every sign-up to find one code) and old row versions are never cleaned
 * up. Autovacuum counts each table's changed rows; PGlite does not report them, and one ledger call may change one
 * row or a group's hundreds. So the upkeep watches what changed rows leave behind, the size of each table: every 100
 * writes it looks, and VACUUM ANALYZE runs on the tables that grew by 256 KiB plus 10 % since their last upkeep.
 * Per table, as autovacuum does it: the sign-ups of a campaign would hardly move the sum of a ledger that holds a
 * million consents, yet a planner that still takes them for a handful of rows reads all of them for every code.
 */
import type { EmbeddedDatabase } from './pglite-thread';

const CHECK_EVERY = 100;
const BASE_GROWTH = 256 * 1024;
const SCALE_FACTOR = 0.1;

/** The ledger's own tables: the system catalogs hardly change, and vacuuming them costs more than ours. */
const TABLES = `FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace`;

export class Upkeep {
	private writes = 0;
	/** Each table's bytes at its last upkeep, measured just before the VACUUM (which hardly shrinks a table). */
	private readonly sizeAtLastUpkeep = new Map<string, number>();
	private running: Promise<void> | undefined;

	constructor(private readonly db: Pick<EmbeddedDatabase, 'exec' | 'query'>) {}

	/** Counts writes (calls or transactions; one unless told); every so often, looks whether the tables need upkeep. */
	noteWrite(count = 1): void {
		this.writes += count;
		if (this.writes < CHECK_EVERY || this.running) return;
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
			const { rows } = await this.db.query<{ name: string; bytes: number }>(
				`SELECT quote_ident(relname) AS name, pg_relation_size(oid)::float8 AS bytes ${TABLES}`,
			);
			const grown = rows.filter(({ name, bytes }) => {
				const before = this.sizeAtLastUpkeep.get(name) ?? 0;
				return bytes - before >= BASE_GROWTH + SCALE_FACTOR * before;
			});
			if (grown.length === 0) return;
			await this.db.exec(`VACUUM (ANALYZE) ${grown.map((table) => table.name).join(', ')}`);
			for (const { name, bytes } of grown) this.sizeAtLastUpkeep.set(name, Number(bytes));
		} catch {
			// Upkeep only makes queries faster; the writes go on, and the next look tries again.
		}
	}
}
