/**
 * Ledger benchmarks (issue 2), on the embedded store and on PostgreSQL:
 * - the batch gate answering 100,000 numbers against 1,000,000 stored consents (floor: under 2 s);
 * - sign-up plus confirmation pairs per second (floor: 1,000/s on the embedded store), one visitor at a time and
 *   50 at once.
 * Run: npm run build && node dist/bench/ledger.bench.js [--consents 1000000] [--questions 100000] [--pairs 3000] [--visitors 50] [--warm-up 500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../lib/consent/crypto';
import { openLedger, type Ledger } from '../lib/consent/ledger';
import type { StoreConfig } from '../lib/store';

const SECRET = 'benchmark-secret-0123456789';
const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte Angebote von Beispiel GmbH per WhatsApp erhalten. Widerruf mit STOP.' };

function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const phoneOf = (n: number) => `+49151${String(n).padStart(8, '0')}`;

/** Writes `count` confirmed consents straight into the tables, with the keys the ledger derives from the secret. */
async function seed(ledger: Ledger, count: number): Promise<void> {
	const keys = ledger.keys;
	const batch = 20_000;
	const at = new Date('2026-01-15T10:00:00Z');
	for (let start = 0; start < count; start += batch) {
		const ids: string[] = [];
		const hmacs: string[] = [];
		const sealed: string[] = [];
		for (let n = start; n < Math.min(count, start + batch); n++) {
			const phone = phoneOf(n);
			const id = newId();
			ids.push(id);
			hmacs.push(keys.lookupHmac(phone));
			sealed.push(keys.encrypt(phone, { table: 'subjects', column: 'phone_enc', row: id }));
		}
		await ledger.store.transaction(async (tx) => {
			await tx.query(
				`INSERT INTO subjects (id, phone_hmac, phone_enc, created_at, last_activity_at)
				 SELECT id, hmac, enc, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, hmac, enc)`,
				[ids, hmacs, sealed, at],
			);
			await tx.query(
				`INSERT INTO consents (subject_id, purpose, state, text_version, requested_at, confirmed_at)
				 SELECT id, 'offers', 'confirmed', '1', $2, $2 FROM unnest($1::text[]) AS id`,
				[ids, at],
			);
		});
	}
}

async function benchGate(ledger: Ledger, stored: number, questions: number) {
	const asked = Array.from({ length: questions }, (_, i) => ({
		// half of them stored, half never asked
		recipient: phoneOf(i % 2 === 0 ? Math.floor((i / questions) * stored) : stored + i),
		purpose: 'offers',
		category: 'marketing' as const,
	}));
	const runs: number[] = [];
	let allowed = 0;
	for (let run = 0; run < 3; run++) {
		const started = performance.now();
		const decisions = await ledger.mayMessageBatch(asked);
		runs.push(performance.now() - started);
		allowed = decisions.filter((d) => d.allowed).length;
	}
	return { bestMs: Math.round(Math.min(...runs)), runsMs: runs.map(Math.round), allowed };
}

/**
 * `visitors` people sign up and confirm at the same time, each one after the other, as on a campaign launch; with one
 * visitor this measures the latency of a pair, with many the throughput.
 */
async function benchPairs(ledger: Ledger, pairs: number, visitors: number, firstNumber: number) {
	let next = 0;
	const visitor = async () => {
		for (let i = next++; i < pairs; i = next++) {
			const phone = phoneOf(firstNumber + i);
			const { code } = await ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: { pageUrl: 'https://example.com/' } });
			const result = await ledger.confirm({ messageId: `wamid.bench${firstNumber + i}`, from: phone.slice(1), text: `Anmeldung: ${code}`, at: new Date() });
			if (result.outcome !== 'confirmed') throw new Error(`pair ${i}: ${result.outcome}`);
		}
	};
	const started = performance.now();
	await Promise.all(Array.from({ length: visitors }, visitor));
	const seconds = (performance.now() - started) / 1000;
	return { pairs, visitors, seconds: Number(seconds.toFixed(2)), pairsPerSecond: Math.round(pairs / seconds) };
}

async function run(kind: 'embedded' | 'postgres') {
	const folder = mkdtempSync(join(tmpdir(), 'ledger-bench-'));
	const store: StoreConfig =
		kind === 'embedded'
			? { kind, folder }
			: { kind, host: '127.0.0.1', port: 5432, database: process.env.BENCH_DATABASE ?? 'consent_test', user: 'postgres', schema: `bench_${Date.now()}` };
	const ledger = await openLedger({ store, secret: SECRET, maxRequestsPerNumberPerHour: 1_000_000 });
	try {
		await ledger.definePurposes([{ id: 'offers', label: 'Offers' }]);
		const consents = argument('consents', 1_000_000);
		const seeding = performance.now();
		await seed(ledger, consents);
		const seedSeconds = ((performance.now() - seeding) / 1000).toFixed(1);
		const gate = await benchGate(ledger, consents, argument('questions', 100_000));
		const count = argument('pairs', 3000);
		// WebAssembly compiles PGlite's hot code in the background: the first few hundred calls run slower.
		const warmUp = await benchPairs(ledger, argument('warm-up', 500), 1, 40_000_000);
		const oneByOne = await benchPairs(ledger, count, 1, 50_000_000);
		const together = await benchPairs(ledger, count, argument('visitors', 50), 60_000_000);
		// The seeded consents have no events (they stand in for a history), so the comparison of the tables with the
		// events names one of them; what must hold is every link of the chain.
		const verification = await ledger.verifyChain();
		const linksHold = verification.ok || (verification.brokenAt === verification.events && verification.problem?.startsWith('the tables the gate reads were changed'));
		const chain = { events: verification.events, links: linksHold ? 'all verified' : verification.problem };
		console.log(JSON.stringify({ store: kind, consents, seedSeconds, gate, warmUp, pairs: [oneByOne, together], chain }));
	} finally {
		if (kind === 'postgres') await ledger.store.query(`DROP SCHEMA ${ledger.store.schema} CASCADE`);
		await ledger.close();
		rmSync(folder, { recursive: true, force: true });
	}
}

async function main() {
	const only = process.argv.find((arg) => arg === 'embedded' || arg === 'postgres');
	for (const kind of only ? [only as 'embedded' | 'postgres'] : (['embedded', 'postgres'] as const)) await run(kind);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
