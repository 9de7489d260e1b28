/**
 * The ledger's keys. The secret in the Consent Ledger credential is stretched with scrypt and a random salt kept in
 * the ledger into a key-encryption key (KEK); the KEK wraps random data keys, one for each job, so a key that leaks
 * for one job reveals nothing of another (checklist 29, 34), and a new secret re-wraps the data keys instead of
 * invalidating what they keyed. See lib/consent/keyring.ts for where the keys live and how they rotate.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { TamperingError } from '../errors';

export function sha256Hex(text: string): string {
	return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * What each data key is for. A new purpose is a new name here: keyring.ts generates its key for new ledgers and
 * for older ones on their next open.
 */
export const KEY_PURPOSES = ['records', 'events', 'lookup', 'suppression', 'codes', 'addresses', 'chain'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

/**
 * Where a ciphertext belongs: its table and column, and the row where the row's identity is known before the value
 * is encrypted. GCM authenticates it as associated data, so a ciphertext copied to another column or row does not
 * decrypt there.
 */
export interface CipherContext {
	table: string;
	column: string;
	row?: string;
}

function describe(context: CipherContext): string {
	return `${context.table}.${context.column}${context.row === undefined ? '' : ` of ${context.row}`}`;
}

function associatedData(keyId: string, context: CipherContext): Buffer {
	return Buffer.from(JSON.stringify([keyId, context.table, context.column, context.row ?? null]), 'utf8');
}

/** The scheme prefix of ciphertexts with associated data: `v2.<key id>.<iv>.<tag>.<body>`, base64url parts. */
const SEALED_V2 = 'v2';

export function keyIdOf(sealed: string): string | undefined {
	const parts = sealed.split('.');
	return parts.length === 5 && parts[0] === SEALED_V2 ? parts[1] : undefined;
}

export function gcmSeal(key: Buffer, keyId: string, plaintext: string | Buffer, context: CipherContext): string {
	const iv = randomBytes(12);
	const cipher = createCipheriv('aes-256-gcm', key, iv);
	cipher.setAAD(associatedData(keyId, context));
	const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
	return [SEALED_V2, keyId, ...[iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url'))].join('.');
}

/** Reads a `v2` ciphertext; throws when it was changed or does not belong to this context. */
export function gcmOpen(key: Buffer, sealed: string, context: CipherContext): Buffer {
	const [, keyId, iv, tag, body] = sealed.split('.');
	const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
	decipher.setAAD(associatedData(keyId, context));
	decipher.setAuthTag(Buffer.from(tag, 'base64url'));
	return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
}

/** Ciphertexts of the first scheme: `iv.tag.ciphertext`, no associated data (ledgers of scheme hkdf-v1). */
function legacyOpen(key: Buffer, sealed: string): string {
	const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
	const decipher = createDecipheriv('aes-256-gcm', key, iv);
	decipher.setAuthTag(tag);
	return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
}

/** A stored value that does not decrypt where it was found: changed, or moved from another row or column. */
function tampered(context: CipherContext): TamperingError {
	return new TamperingError(
		`The stored value in ${describe(context)} cannot be read with this ledger's keys: it was changed, or copied from another row or column`,
		'Restore the ledger from a backup taken before the change; run Verify on the Consent Ledger node to see what else was changed',
	);
}

/** What an event's keyed link covers: the columns its SHA-256 link covers, except the previous hash. */
export interface ChainLink {
	seq: number;
	type: string;
	subjectId: string | null;
	atMs: number;
	payloadHash: string;
}

/** Where a ledger's keyed chain starts: the first event its chain key links, and the hash of the event before it. */
export interface KeyedStart {
	from: number;
	/** The SHA-256 link of event `from - 1` (64 zeros for a new ledger): it fixes the events written before. */
	anchor: string;
}

/**
 * The chain key's id says where it starts (`chain-from-<seq>-<anchor>-<random>`). The id is the associated data of
 * the key's wrapping (keyring.ts), so a database edit can neither move the start to skip events nor rewrite the
 * events from before it.
 */
export function chainKeyId(start: KeyedStart): string {
	return `chain-from-${start.from}-${start.anchor}-${randomBytes(4).toString('hex')}`;
}

function keyedStartOf(keyId: string): KeyedStart {
	const match = /^chain-from-(\d+)-([0-9a-f]{64})-[0-9a-f]{8}$/.exec(keyId);
	if (!match) throw new TamperingError(`The ledger's chain key has an id this package never gives (${keyId})`, 'Restore the ledger from a backup');
	return { from: Number(match[1]), anchor: match[2] };
}

/** The data keys of one ledger, unwrapped: the key ids each purpose uses now and every key still readable. */
export interface KeySet {
	/** Every key by id; retired ones stay readable for what was written with them. */
	keys: Map<string, Buffer>;
	current: Record<KeyPurpose, string>;
	/** The key id of unprefixed ciphertexts, written before associated data (ledgers made before scrypt). */
	legacy?: string;
}

/** The encryption key of each table: event payloads have their own (the chain covers their hash; see keyring.ts). */
function encryptionPurpose(context: CipherContext): 'records' | 'events' {
	return context.table === 'events' ? 'events' : 'records';
}

export class LedgerKeys {
	constructor(private readonly set: KeySet) {}

	private key(purpose: KeyPurpose): Buffer {
		return this.set.keys.get(this.set.current[purpose])!;
	}

	private hmac(purpose: KeyPurpose, value: string): string {
		return createHmac('sha256', this.key(purpose)).update(value).digest('hex');
	}

	/** The key a number, wa_id or user id is found by; never the value itself. */
	lookupHmac(value: string): string {
		return this.hmac('lookup', value);
	}

	suppressionHmac(e164: string): string {
		return this.hmac('suppression', e164);
	}

	codeHmac(code: string): string {
		return this.hmac('codes', code);
	}

	ipHmac(ip: string): string {
		return this.hmac('addresses', ip).slice(0, 32);
	}

	/**
	 * The keyed link of one event (chain.ts): an HMAC over its position and content, which only a holder of the secret
	 * can make, so an edit of the history made in the database alone (however well it relinks the SHA-256 chain) does
	 * not verify.
	 */
	linkMac(link: ChainLink): string {
		return this.hmac('chain', `${link.seq}|${link.type}|${link.subjectId ?? ''}|${link.atMs}|${link.payloadHash}`);
	}

	/** Where the keyed chain starts: the events before were written by a version that did not key it. */
	get keyedStart(): KeyedStart {
		return keyedStartOf(this.set.current.chain);
	}

	/** AES-256-GCM bound to where the value is stored; see CipherContext. */
	encrypt(plaintext: string, context: CipherContext): string {
		const keyId = this.set.current[encryptionPurpose(context)];
		return gcmSeal(this.set.keys.get(keyId)!, keyId, plaintext, context);
	}

	decrypt(sealed: string, context: CipherContext): string {
		try {
			const keyId = keyIdOf(sealed);
			if (keyId === undefined) {
				const legacy = this.set.legacy === undefined ? undefined : this.set.keys.get(this.set.legacy);
				if (!legacy) throw new Error('not a ciphertext of this ledger');
				return legacyOpen(legacy, sealed);
			}
			const key = this.set.keys.get(keyId);
			if (!key) throw new Error(`unknown key ${keyId}`);
			return gcmOpen(key, sealed, context).toString('utf8');
		} catch {
			throw tampered(context);
		}
	}

	/** Whether a ciphertext is already under the current key of its table (secret rotation skips it). */
	isCurrent(sealed: string, context: CipherContext): boolean {
		return keyIdOf(sealed) === this.set.current[encryptionPurpose(context)];
	}
}

/** Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L). */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 6;

export function newCode(): string {
	let code = '';
	for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
	return code;
}

/**
 * Every code-length run of code characters in a message, so a code is found whatever surrounds it: people edit the
 * prefilled text, add words, change case or put spaces in the code.
 */
export function codeCandidates(text: string, limit = 400): string[] {
	const letters = text
		.toUpperCase()
		.replace(/[^A-Z0-9]/g, '')
		.slice(0, limit);
	const candidates = new Set<string>();
	for (let start = 0; start + CODE_LENGTH <= letters.length; start++) {
		const candidate = letters.slice(start, start + CODE_LENGTH);
		if ([...candidate].every((char) => CODE_ALPHABET.includes(char))) candidates.add(candidate);
	}
	return [...candidates];
}

export function newId(): string {
	return randomBytes(16).toString('hex');
}
