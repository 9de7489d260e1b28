/** Opens ledgers on both stores, each test on a store of its own: an embedded folder or a PostgreSQL schema. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Ledger, openLedger } from '../../lib/consent/ledger';
import { sendContext } from '../../lib/consent/keyed';
import type { LedgerContext, LedgerOptions } from '../../lib/consent/context';
import type { StoreConfig } from '../../lib/store';

export type StoreKind = 'embedded' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['embedded', 'postgres'];
export const SECRET = 'test-secret-key-0123456789';

export function pgConnection() {
	const url = new URL(process.env.TEST_DATABASE_URL!);
	return { host: url.hostname, port: Number(url.port || 5432), database: url.pathname.slice(1), user: decodeURIComponent(url.username) || 'postgres' };
}

export function newStoreConfig(kind: StoreKind): StoreConfig {
	if (kind === 'embedded') return { kind, folder: mkdtempSync(join(tmpdir(), 'ledger-')) };
	return { kind, ...pgConnection(), schema: `t_${randomBytes(6).toString('hex')}` };
}

/** The ledger's keys, for tests that read its tables: every row is found by keyed HMACs and holds ciphertexts. */
export function ledgerKeys(ledger: Ledger) {
	return (ledger as unknown as { ctx: LedgerContext }).ctx.keys;
}

/** Every send row, decrypted: key → status and wamid. */
export async function sendRows(ledger: Ledger): Promise<Record<string, { status: string; wamid: string | null }>> {
	const keys = ledgerKeys(ledger);
	const rows = await ledger.store.query<{ key_hmac: string; key_enc: string; status: string; wamid_enc: string | null }>('SELECT key_hmac, key_enc, status, wamid_enc FROM sends');
	return Object.fromEntries(
		rows.map((row) => [
			keys.decrypt(row.key_enc, sendContext('key_enc', row.key_hmac)),
			{ status: row.status, wamid: row.wamid_enc === null ? null : keys.decrypt(row.wamid_enc, sendContext('wamid_enc', row.key_hmac)) },
		]),
	);
}

/** A clock the test moves by hand. */
export class TestClock {
	constructor(public current = new Date('2026-03-02T10:00:00Z')) {}
	now = () => new Date(this.current);
	advance(ms: number) {
		this.current = new Date(this.current.getTime() + ms);
	}
}

const opened: { ledger: Ledger; config: StoreConfig }[] = [];

export async function openTestLedger(kind: StoreKind, options: LedgerOptions = {}, config = newStoreConfig(kind)) {
	const ledger = await openLedger({ store: config, secret: SECRET, ...options });
	opened.push({ ledger, config });
	return { ledger, config };
}

export async function closeTestLedgers(): Promise<void> {
	const schemas = new Set<string>();
	for (const { ledger, config } of opened.splice(0)) {
		// A test may have closed it already, to open its store again (an embedded folder has one owner at a time).
		await ledger.close().catch(() => undefined);
		if (config.kind === 'postgres' && config.schema) schemas.add(config.schema);
	}
	if (schemas.size === 0) return;
	const client = new Client(pgConnection());
	await client.connect();
	for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
	await client.end();
}

export const PURPOSES = [
	{ id: 'offers', label: 'Offers and news' },
	{ id: 'service', label: 'Service updates' },
];

export const TEXT_DE = {
	version: '2026-01',
	language: 'de',
	text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf jederzeit mit STOP.',
};
