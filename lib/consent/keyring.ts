/**
 * Where the ledger's keys come from and live (table ledger_keys, migration 9).
 *
 * The secret is stretched with scrypt and the ledger's own random salt into a key-encryption key (KEK). The KEK
 * wraps random data keys, one per purpose (KEY_PURPOSES), and proves the secret: the check value is an HMAC under
 * the KEK, so a different secret is refused before anything is read or written.
 *
 * Rotating the secret (lib/consent/rotation.ts) re-wraps every data key under the new KEK, and generates a new key
 * for one purpose only, `records` (the numbers in subjects, rejected events, early statuses), whose data it
 * re-encrypts. The others are re-wrapped, not regenerated, because their data cannot be redone:
 * - `events`: the chain links cover the hash of each encrypted payload, and events are append-only;
 * - `chain`: the keyed links of the events (chain.ts), which vouch for events already written;
 * - `lookup`, `suppression`, `codes`, `addresses`: HMACs of values the ledger does not keep (erased numbers on the
 *   suppression list, user ids, one-time codes, IP addresses, send keys and wamids), which can never be recomputed;
 * A leaked old secret alone then opens nothing (it unwraps no current key); with a copy of the ledger made before the
 * rotation it yields those data keys, which is no more than that copy already held, except that numbers written
 * after the rotation stay unreadable.
 *
 * Ledgers made before this scheme (their keys derived with HKDF and a fixed salt, scheme 'hkdf-v1' in migration 9)
 * are upgraded on their next open: the derived keys are wrapped under a new KEK as they are, so everything written
 * keeps reading, and the first secret that opens the ledger becomes its check value.
 */
import { createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { SecretKeyError, TamperingError } from '../errors';
import type { Queryable, Store } from '../store';
import { chainKeyId, gcmOpen, gcmSeal, KEY_PURPOSES, LedgerKeys, sha256Hex, type KeyedStart, type KeyPurpose, type KeySet } from './crypto';

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s a derivation on one core, OWASP's recommended minimum for scrypt.
 * Enough to make guessing a typed secret expensive; cheap enough for an n8n process that derives once (cached below).
 */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const MIN_SECRET_LENGTH = 16;

/** The secret of demo/credentials.json: public, so refused wherever the demo of `npm start` is not what runs. */
export const DEMO_SECRET = 'demo-only-secret-do-not-use-in-production';
/** Set by `npm start` (scripts/lib/n8n.mjs) for the demo's n8n, and only there. */
export const DEMO_ENV = 'WHATSAPP_CONSENT_DEMO';

export function assertSecret(secret: string): void {
	if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
		throw new SecretKeyError(
			'weak_secret',
			`The ledger's secret key must have at least ${MIN_SECRET_LENGTH} characters`,
			'Set a long random secret key in the Consent Ledger credential and keep a copy: without it the stored numbers cannot be read',
		);
	}
	if (secret === DEMO_SECRET && process.env[DEMO_ENV] !== '1') {
		throw new SecretKeyError(
			'demo_secret',
			"The Consent Ledger credential uses the demo's secret key, which is published with this package",
			'Put a long random secret key of your own in the Consent Ledger credential (e.g. the output of `openssl rand -base64 32`) and keep a copy',
		);
	}
}

type KdfParams = { N: number; r: number; p: number };

const keks = new Map<string, Promise<Buffer>>();

/** The KEK of a secret and salt, derived once per process: scrypt runs on libuv's pool, not the event loop. */
export function kekFor(secret: string, salt: string, params: KdfParams): Promise<Buffer> {
	const id = sha256Hex(JSON.stringify([secret, salt, params.N, params.r, params.p]));
	let kek = keks.get(id);
	if (!kek) {
		const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
		kek = new Promise<Buffer>((resolve, reject) =>
			scrypt(secret, Buffer.from(salt, 'base64'), 32, options, (error, key) => (error ? reject(error) : resolve(key))),
		);
		keks.set(id, kek);
		kek.catch(() => keks.delete(id));
	}
	return kek;
}

function checkValue(kek: Buffer): string {
	return createHmac('sha256', kek).update('whatsapp-consent ledger secret check').digest('hex');
}

/** The keys of the first scheme: HKDF-SHA256 of the secret, a fixed salt, one info string per purpose. */
function hkdfKeys(secret: string): KeySet {
	const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'n8n-nodes-whatsapp-consent/v1', info, 32));
	const encryption = derive('encrypt numbers and evidence');
	const keys = new Map<string, Buffer>([
		['h-enc', encryption],
		['h-lookup', derive('look up numbers')],
		['h-suppression', derive('suppression list')],
		['h-codes', derive('one-time codes')],
		['h-addresses', derive('ip addresses')],
	]);
	const current = {
		records: 'h-enc',
		events: 'h-enc',
		lookup: 'h-lookup',
		suppression: 'h-suppression',
		codes: 'h-codes',
		addresses: 'h-addresses',
	} as Record<KeyPurpose, string>;
	return { keys, current, legacy: 'h-enc' };
}

export interface KeyRow {
	scheme: 'hkdf-v1' | 'scrypt-v1';
	salt: string | null;
	kdf: KdfParams | null;
	check_value: string | null;
	keyring: StoredKeyring | null;
	rotation: RotationState | null;
}

interface StoredKeyring {
	current: Record<string, string>;
	wrapped: Record<string, string>;
	legacy?: string;
}

/** A rotation under way (rotation.ts): the records key it re-encrypts into; the KEK is already the new one. */
export interface RotationState {
	target: string;
	startedAt: string;
}

const wrapContext = (keyId: string) => ({ table: 'ledger_keys', column: 'keyring', row: keyId });

export function wrapKeys(kek: Buffer, set: KeySet): StoredKeyring {
	const wrapped: Record<string, string> = {};
	for (const [id, key] of set.keys) wrapped[id] = gcmSeal(kek, 'kek', key, wrapContext(id));
	return { current: set.current, wrapped, ...(set.legacy ? { legacy: set.legacy } : {}) };
}

function unwrapKeys(kek: Buffer, stored: StoredKeyring): KeySet {
	const keys = new Map(Object.entries(stored.wrapped).map(([id, sealed]) => [id, gcmOpen(kek, sealed, wrapContext(id))] as const));
	return { keys, current: stored.current as Record<KeyPurpose, string>, legacy: stored.legacy };
}

/**
 * Gives every purpose without a key (a new ledger; a purpose added by a later version) a random one. A new chain key
 * links from `chainFrom` on (see chainStart).
 */
function completeKeys(set: KeySet, chainFrom: KeyedStart | undefined): void {
	for (const purpose of KEY_PURPOSES) {
		if (set.current[purpose] !== undefined) continue;
		const id = purpose === 'chain' ? chainKeyId(chainFrom!) : `${purpose}-${randomBytes(4).toString('hex')}`;
		set.keys.set(id, randomBytes(32));
		set.current[purpose] = id;
	}
}

const incomplete = (set: KeySet) => KEY_PURPOSES.some((purpose) => set.current[purpose] === undefined);

/**
 * Where a new chain key starts: the event after the head, locked until the key is written, so that no event is
 * appended in between. Events written before (by a version of this package that did not key the chain) are fixed by
 * the head's hash, which the key's id keeps. A ledger whose events already carry keyed links has lost its chain key,
 * which no upgrade does: it is refused rather than keyed anew, since a new key would vouch for whatever is there.
 */
async function chainStart(tx: Queryable): Promise<KeyedStart> {
	const [head] = await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE');
	const [keyed] = await tx.query('SELECT 1 FROM event_links LIMIT 1');
	if (keyed) {
		throw new TamperingError(
			"The ledger's events are linked with a chain key that its keys no longer hold: the stored keys were changed",
			'Restore the ledger (events and ledger_keys) from a backup taken before the change',
		);
	}
	return { from: Number(head.seq) + 1, anchor: head.hash };
}

export function newSalt(): string {
	return randomBytes(16).toString('base64');
}

export async function readKeyRow(db: Queryable, lock = false): Promise<KeyRow | undefined> {
	const [row] = await db.query<KeyRow>(
		`SELECT scheme, salt, kdf, check_value, keyring, rotation FROM ledger_keys WHERE id = 1${lock ? ' FOR UPDATE' : ''}`,
	);
	return row;
}

/**
 * Writes the ledger's keys as wrapped under `kek`, with the check value of its secret: over the row the caller has
 * locked, or, for a new ledger (no row to lock), only if no other process wrote one first.
 */
export async function writeKeyRow(db: Queryable, kek: Buffer, salt: string, set: KeySet, rotation: RotationState | null, existing = true): Promise<void> {
	await db.query(
		`INSERT INTO ledger_keys (id, scheme, salt, kdf, check_value, keyring, rotation, updated_at)
		 VALUES (1, 'scrypt-v1', $1, $2, $3, $4, $5, now())
		 ON CONFLICT (id) DO ${existing ? `UPDATE SET scheme = EXCLUDED.scheme, salt = EXCLUDED.salt, kdf = EXCLUDED.kdf,
			check_value = EXCLUDED.check_value, keyring = EXCLUDED.keyring, rotation = EXCLUDED.rotation, updated_at = now()` : 'NOTHING'}`,
		[salt, JSON.stringify(SCRYPT_PARAMS), checkValue(kek), JSON.stringify(wrapKeys(kek, set)), rotation && JSON.stringify(rotation)],
	);
}

export function wrongSecret(): SecretKeyError {
	return new SecretKeyError(
		'wrong_secret',
		'This ledger was created with a different secret key, so it cannot be read or written with this one',
		'Put the original secret key back in the Consent Ledger credential, or, if you changed it on purpose, rotate the ledger to the new one with `npx whatsapp-consent-ledger rotate-secret` (see the README, "The ledger\'s secret")',
	);
}

/** Unwraps the keys of a scrypt-v1 row with `secret`; refuses a secret whose check value differs. */
export async function unlock(row: KeyRow, secret: string): Promise<{ kek: Buffer; set: KeySet }> {
	const kek = await kekFor(secret, row.salt!, row.kdf!);
	const expected = Buffer.from(row.check_value!, 'hex');
	const actual = Buffer.from(checkValue(kek), 'hex');
	if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw wrongSecret();
	return { kek, set: unwrapKeys(kek, row.keyring!) };
}

/** A ledger of the first scheme has no check value: its secret must read what it wrote before it becomes the check. */
async function assertLegacySecret(store: Store, set: KeySet): Promise<void> {
	const [sample] = await store.query<{ sealed: string }>(
		`(SELECT payload AS sealed FROM events WHERE payload IS NOT NULL LIMIT 1)
		 UNION ALL (SELECT phone_enc FROM subjects LIMIT 1) LIMIT 1`,
	);
	if (!sample) return;
	try {
		new LedgerKeys(set).decrypt(sample.sealed, { table: 'events', column: 'payload' });
	} catch {
		throw wrongSecret();
	}
}

/**
 * The keys of the ledger in `store`, opened with `secret`: made on first use, upgraded from the first scheme, and
 * completed with keys for purposes added since. Two processes opening a new ledger at once agree (row lock).
 */
export async function openKeys(store: Store, secret: string): Promise<LedgerKeys> {
	for (;;) {
		const row = await readKeyRow(store);
		if (row?.scheme === 'scrypt-v1') {
			const { kek, set } = await unlock(row, secret);
			if (incomplete(set)) {
				await store.transaction(async (tx) => {
					const locked = await readKeyRow(tx, true);
					if (JSON.stringify(locked?.keyring) !== JSON.stringify(row.keyring)) return;
					completeKeys(set, set.current.chain === undefined ? await chainStart(tx) : undefined);
					await writeKeyRow(tx, kek, row.salt!, set, row.rotation);
				});
				continue;
			}
			return new LedgerKeys(set);
		}
		// A new ledger, or one of the first scheme: derive a KEK outside the transaction (scrypt takes a while), then
		// write, unless another process got there first.
		const salt = newSalt();
		const kek = await kekFor(secret, salt, SCRYPT_PARAMS);
		const set: KeySet = row?.scheme === 'hkdf-v1' ? hkdfKeys(secret) : { keys: new Map(), current: {} as Record<KeyPurpose, string> };
		if (row?.scheme === 'hkdf-v1') await assertLegacySecret(store, set);
		await store.transaction(async (tx) => {
			const locked = await readKeyRow(tx, true);
			if (locked?.scheme !== row?.scheme) return;
			completeKeys(set, await chainStart(tx));
			await writeKeyRow(tx, kek, salt, set, null, row !== undefined);
		});
	}
}
