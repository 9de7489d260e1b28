/**
 * How operational rows are found without holding what identifies a person (invariant 8): a send's idempotency key
 * holds the recipient's number, a wamid is base64 of a record with the recipient's digits, and webhook delivery keys
 * are made of both. Tables keep their keyed HMACs, one domain each, so the same text never collides across them;
 * what an export or a status event must show again is kept encrypted beside it.
 */
import type { CipherContext, LedgerKeys } from './crypto';
import type { Queryable, Store } from '../store';

/** A send's key and wamid are bound to its row, the keyed HMAC of its key. */
export function sendContext(column: 'key_enc' | 'wamid_enc', keyHmac: string): CipherContext {
	return { table: 'sends', column, row: keyHmac };
}

export function sendKeyHmac(keys: LedgerKeys, key: string): string {
	return keys.lookupHmac(`send:${key}`);
}

export function wamidHmac(keys: LedgerKeys, wamid: string): string {
	return keys.lookupHmac(`wamid:${wamid}`);
}

/** A Campaign Key is the operator's text, which may name anything: kept as its HMAC, found by it. */
export function campaignHmac(keys: LedgerKeys, campaign: string): string {
	return keys.lookupHmac(`campaign:${campaign}`);
}

/** The key a webhook delivery is remembered by (`once`, and the SQL functions of the opt-in groups). */
export function deliveryKeyHmac(keys: LedgerKeys, key: string): string {
	return keys.lookupHmac(`delivery:${key}`);
}

const BATCH = 2000;

/**
 * Moves the rows that schema 8 set aside (`sends_unkeyed`, `processed_deliveries_unkeyed`, written by an earlier
 * version with keys and wamids as they are) into the keyed tables, then drops them. One transaction, under the
 * migrations' lock: a process that dies half-way leaves everything as it was, and a second process opening the
 * ledger at the same time waits and finds the work done. Nothing is lost: a key already sent stays a duplicate.
 */
export async function keyOperationalRows(store: Store, keys: LedgerKeys): Promise<void> {
	if (!(await exists(store, 'sends_unkeyed')) && !(await exists(store, 'processed_deliveries_unkeyed'))) return;
	await store.transaction(async (tx) => {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`whatsapp-consent-ledger:${store.schema}`]);
		await moveSends(tx, keys);
		await moveDeliveries(tx, keys);
	});
}

/**
 * Read from pg_class, not with to_regclass: after waiting for the lock, a second process must see the table the
 * first one dropped, and the catalog cache behind to_regclass may not have heard of the drop yet.
 */
async function exists(db: Queryable, table: string): Promise<boolean> {
	const rows = await db.query('SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace', [table]);
	return rows.length > 0;
}

interface UnkeyedSend {
	idempotency_key: string;
	wamid: string | null;
}

async function moveSends(tx: Queryable, keys: LedgerKeys): Promise<void> {
	if (!(await exists(tx, 'sends_unkeyed'))) return;
	for (;;) {
		const rows = await tx.query<UnkeyedSend>('SELECT idempotency_key, wamid FROM sends_unkeyed ORDER BY idempotency_key LIMIT $1', [BATCH]);
		if (rows.length === 0) break;
		await tx.query(
			`INSERT INTO sends (key_hmac, key_enc, subject_id, purpose, category, consent_event_seq, status, wamid_hmac, wamid_enc,
				error_code, error_message, created_at, updated_at)
			 SELECT k.key_hmac, k.key_enc, o.subject_id, o.purpose, o.category, o.consent_event_seq, o.status, k.wamid_hmac, k.wamid_enc,
				o.error_code, o.error_message, o.created_at, o.updated_at
			 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k (old_key, key_hmac, key_enc, wamid_hmac, wamid_enc)
			 JOIN sends_unkeyed o ON o.idempotency_key = k.old_key
			 ON CONFLICT (key_hmac) DO NOTHING`,
			[
				rows.map((row) => row.idempotency_key),
				rows.map((row) => sendKeyHmac(keys, row.idempotency_key)),
				rows.map((row) => keys.encrypt(row.idempotency_key, sendContext('key_enc', sendKeyHmac(keys, row.idempotency_key)))),
				rows.map((row) => (row.wamid === null ? null : wamidHmac(keys, row.wamid))),
				rows.map((row) => (row.wamid === null ? null : keys.encrypt(row.wamid, sendContext('wamid_enc', sendKeyHmac(keys, row.idempotency_key))))),
			],
		);
		await tx.query('DELETE FROM sends_unkeyed WHERE idempotency_key = ANY($1::text[])', [rows.map((row) => row.idempotency_key)]);
	}
	await tx.query('DROP TABLE sends_unkeyed');
}

/** A status's stored result named the send's key (and so the number); results keep no key now. */
function withoutSendKey(result: string): string {
	const { key: _key, ...rest } = JSON.parse(result) as Record<string, unknown>;
	return JSON.stringify(rest);
}

async function moveDeliveries(tx: Queryable, keys: LedgerKeys): Promise<void> {
	if (!(await exists(tx, 'processed_deliveries_unkeyed'))) return;
	for (;;) {
		const rows = await tx.query<{ key: string; result: string }>('SELECT key, result FROM processed_deliveries_unkeyed ORDER BY key LIMIT $1', [BATCH]);
		if (rows.length === 0) break;
		await tx.query(
			`INSERT INTO processed_deliveries (key, result, processed_at)
			 SELECT k.key_hmac, k.result, o.processed_at
			 FROM unnest($1::text[], $2::text[], $3::text[]) AS k (old_key, key_hmac, result)
			 JOIN processed_deliveries_unkeyed o ON o.key = k.old_key
			 ON CONFLICT (key) DO NOTHING`,
			[rows.map((row) => row.key), rows.map((row) => deliveryKeyHmac(keys, row.key)), rows.map((row) => withoutSendKey(row.result))],
		);
		await tx.query('DELETE FROM processed_deliveries_unkeyed WHERE key = ANY($1::text[])', [rows.map((row) => row.key)]);
	}
	await tx.query('DROP TABLE processed_deliveries_unkeyed');
}
