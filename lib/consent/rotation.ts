/**
 * Secret rotation: the ledger moves from one secret to another, resumably (see keyring.ts for which keys change).
 *
 * 1. One transaction: the old secret is checked, a new salt and KEK are made, every data key is re-wrapped under
 *    the new KEK with a new `records` key as the current one, and the rotation is recorded as under way. From here
 *    on the new secret opens the ledger and the old one is refused.
 * 2. Batches: every ciphertext of the records key that is not yet under the new key is re-encrypted, each batch in
 *    its own transaction, with progress reported. An interrupted run loses at most its open batch; the next run,
 *    with the new secret, finds the rotation under way and re-encrypts what is left (the rows not yet under the new
 *    key are the state, so nothing else needs remembering).
 * 3. The rotation is marked done. The old records keys stay, wrapped under the new KEK: a process still running
 *    with the old keys may have written a number under them during the rotation, and that number must stay readable.
 */
import { randomBytes } from 'node:crypto';
import { SecretKeyError, ValidationError } from '../errors';
import type { Store } from '../store';
import { LedgerKeys, type CipherContext } from './crypto';
import { assertSecret, kekFor, newSalt, openKeys, readKeyRow, SCRYPT_PARAMS, unlock, writeKeyRow, type KeyRow } from './keyring';

/** Every column encrypted with the records key, with the column that is each row's identity in its cipher context. */
const RECORD_COLUMNS = [
	{ table: 'subjects', column: 'phone_enc', row: 'id', key: ['id'] },
	{ table: 'rejected_events', column: 'raw_enc', row: 'id', key: ['id'] },
	{ table: 'early_statuses', column: 'recipient_enc', row: 'wamid_hmac', key: ['wamid_hmac', 'status'] },
	{ table: 'sends', column: 'key_enc', row: 'key_hmac', key: ['key_hmac'] },
	{ table: 'sends', column: 'wamid_enc', row: 'key_hmac', key: ['key_hmac'] },
	{ table: 'outbox', column: 'item_enc', row: 'id', key: ['id'] },
] as const;

export interface RotationProgress {
	column: string;
	done: number;
	total: number;
}

export interface RotationOptions {
	/** Rows re-encrypted per transaction (default 500). */
	batchSize?: number;
	/** A pause between batches, to spare a database that serves n8n meanwhile (default none). */
	pauseMs?: number;
	onProgress?: (progress: RotationProgress) => void;
}

export interface RotationResult {
	resumed: boolean;
	reencrypted: Record<string, number>;
}

function underWay(row: KeyRow | undefined): boolean {
	return row?.scheme === 'scrypt-v1' && row.rotation !== null;
}

/** Step 1, or the state a resumed run finds: the keys under the new secret and the records key rotated to. */
async function begin(store: Store, oldSecret: string | undefined, newSecret: string) {
	let row = await readKeyRow(store);
	if (underWay(row)) {
		try {
			return { ...(await unlock(row!, newSecret)), target: row!.rotation!.target, resumed: true };
		} catch (error) {
			if (error instanceof SecretKeyError) {
				throw new SecretKeyError(
					'wrong_secret',
					'A rotation of this ledger to another new secret key is under way and was interrupted',
					'Run rotate-secret again with the new secret key of that rotation (LEDGER_NEW_SECRET); the old one no longer opens the ledger',
				);
			}
			throw error;
		}
	}
	if (!oldSecret) throw new ValidationError('LEDGER_OLD_SECRET', 'Rotating the secret key needs the current one', 'Set LEDGER_OLD_SECRET to the secret key in the Consent Ledger credential now');
	if (oldSecret === newSecret) throw new ValidationError('LEDGER_NEW_SECRET', 'The new secret key is the current one', 'Choose a new long random secret key');
	await openKeys(store, oldSecret); // checks the old secret; upgrades a ledger of the first scheme
	row = await readKeyRow(store);
	const { set } = await unlock(row!, oldSecret);
	const target = `records-${randomBytes(4).toString('hex')}`;
	set.keys.set(target, randomBytes(32));
	set.current.records = target;
	const salt = newSalt();
	const kek = await kekFor(newSecret, salt, SCRYPT_PARAMS);
	await store.transaction(async (tx) => {
		const locked = await readKeyRow(tx, true);
		if (locked?.check_value !== row!.check_value || locked?.rotation !== null) {
			throw new ValidationError('LEDGER_OLD_SECRET', 'Another rotation of this ledger started at the same time', 'Let it finish, or run rotate-secret again with its new secret key');
		}
		await writeKeyRow(tx, kek, salt, set, { target, startedAt: new Date().toISOString() });
	});
	return { kek, set, target, resumed: false };
}

export async function rotateSecret(store: Store, oldSecret: string | undefined, newSecret: string, options: RotationOptions = {}): Promise<RotationResult> {
	assertSecret(newSecret);
	const batchSize = options.batchSize ?? 500;
	const { kek, set, target, resumed } = await begin(store, oldSecret, newSecret);
	const keys = new LedgerKeys(set);
	const reencrypted: Record<string, number> = {};
	for (const spec of RECORD_COLUMNS) {
		const name = `${spec.table}.${spec.column}`;
		const pending = `${spec.column} IS NOT NULL AND ${spec.column} NOT LIKE $1`;
		const prefix = `v2.${target}.%`;
		const [{ total }] = await store.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${spec.table} WHERE ${spec.column} IS NOT NULL`);
		let [{ left }] = await store.query<{ left: number }>(`SELECT count(*)::int AS left FROM ${spec.table} WHERE ${pending}`, [prefix]);
		reencrypted[name] = 0;
		options.onProgress?.({ column: name, done: total - left, total });
		while (left > 0) {
			const changed = await store.transaction(async (tx) => {
				const rows = await tx.query<Record<string, string>>(
					`SELECT ${[...spec.key, spec.column].join(', ')} FROM ${spec.table} WHERE ${pending} ORDER BY ${spec.key.join(', ')} LIMIT $2 FOR UPDATE`,
					[prefix, batchSize],
				);
				const sealed = rows.map((row) => {
					const context: CipherContext = { table: spec.table, column: spec.column, row: row[spec.row] };
					return keys.encrypt(keys.decrypt(row[spec.column], context), context);
				});
				const columns = spec.key.map((_, i) => `$${i + 2}::text[]`).join(', ');
				await tx.query(
					`UPDATE ${spec.table} t SET ${spec.column} = v.sealed FROM unnest($1::text[], ${columns}) AS v (sealed, ${spec.key.join(', ')})
					 WHERE ${spec.key.map((column) => `t.${column} = v.${column}`).join(' AND ')}`,
					[sealed, ...spec.key.map((column) => rows.map((row) => row[column]))],
				);
				return rows.length;
			});
			if (changed === 0) break;
			reencrypted[name] += changed;
			left = Math.max(0, left - changed);
			options.onProgress?.({ column: name, done: total - left, total });
			if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
		}
	}
	await store.transaction(async (tx) => {
		const row = await readKeyRow(tx, true);
		await writeKeyRow(tx, kek, row!.salt!, set, null);
	});
	return { resumed, reencrypted };
}
