/**
 * The keys as the package derived them before scheme scrypt-v1 (lib/consent/crypto.ts at ae6ee17, verbatim but for
 * the ignored cipher context): HKDF-SHA256 of the secret with a fixed salt, ciphertexts `iv.tag.ciphertext` without
 * associated data. Tests write a ledger with them to prove such ledgers keep opening and reading.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { LedgerKeys } from '../../lib/consent/crypto';
import type { Queryable } from '../../lib/store';

const SALT = 'n8n-nodes-whatsapp-consent/v1';

function derive(secret: string, purpose: string): Buffer {
	return Buffer.from(hkdfSync('sha256', secret, SALT, purpose, 32));
}

class OldKeys {
	private readonly encryption: Buffer;
	private readonly lookup: Buffer;
	private readonly suppression: Buffer;
	private readonly codes: Buffer;
	private readonly addresses: Buffer;

	constructor(secret: string) {
		this.encryption = derive(secret, 'encrypt numbers and evidence');
		this.lookup = derive(secret, 'look up numbers');
		this.suppression = derive(secret, 'suppression list');
		this.codes = derive(secret, 'one-time codes');
		this.addresses = derive(secret, 'ip addresses');
	}

	lookupHmac(value: string): string {
		return createHmac('sha256', this.lookup).update(value).digest('hex');
	}

	suppressionHmac(e164: string): string {
		return createHmac('sha256', this.suppression).update(e164).digest('hex');
	}

	codeHmac(code: string): string {
		return createHmac('sha256', this.codes).update(code).digest('hex');
	}

	ipHmac(ip: string): string {
		return createHmac('sha256', this.addresses).update(ip).digest('hex').slice(0, 32);
	}

	encrypt(plaintext: string): string {
		const iv = randomBytes(12);
		const cipher = createCipheriv('aes-256-gcm', this.encryption, iv);
		const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
		return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.');
	}

	/** The old scheme had no keyed links; asBeforeKeyedChain removes what the current code writes in their place. */
	linkMac(): string {
		return 'none';
	}

	decrypt(sealed: string): string {
		const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
		const decipher = createDecipheriv('aes-256-gcm', this.encryption, iv);
		decipher.setAuthTag(tag);
		return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
	}
}

/**
 * Turns a ledger back into one of schema 10, as the package wrote it before the keyed chain (migration 11): no
 * event_links, no link_events, no chain key. The next open migrates it again.
 */
export async function asBeforeKeyedChain(store: Queryable): Promise<void> {
	await store.query('DROP FUNCTION link_events');
	await store.query('DROP TABLE event_links');
	await store.query('DROP FUNCTION event_links_append_only');
	await store.query('DELETE FROM schema_migrations WHERE version = 11');
	await store.query(
		`UPDATE ledger_keys SET keyring = jsonb_set(keyring #- '{current,chain}', '{wrapped}', (keyring->'wrapped') - (keyring->'current'->>'chain'))
		 WHERE keyring ? 'current'`,
	);
}

export function oldKeys(secret: string): LedgerKeys {
	return new OldKeys(secret) as unknown as LedgerKeys;
}
