/**
 * The ledger's keys, all derived (HKDF-SHA256) from the one secret in the Consent Ledger credential, each for one
 * job, so a key that leaks for one job reveals nothing of another (checklist 29, 34).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import { ValidationError } from '../errors';

const SALT = 'n8n-nodes-whatsapp-consent/v1';
const MIN_SECRET_LENGTH = 16;

function derive(secret: string, purpose: string): Buffer {
	return Buffer.from(hkdfSync('sha256', secret, SALT, purpose, 32));
}

export function sha256Hex(text: string): string {
	return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class LedgerKeys {
	private readonly encryption: Buffer;
	private readonly lookup: Buffer;
	private readonly suppression: Buffer;
	private readonly codes: Buffer;
	private readonly addresses: Buffer;

	constructor(secret: string) {
		if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
			throw new ValidationError(
				'secretKey',
				`The ledger's secret key must have at least ${MIN_SECRET_LENGTH} characters`,
				'Set a long random secret key in the Consent Ledger credential and keep a copy: without it the stored numbers cannot be read',
			);
		}
		this.encryption = derive(secret, 'encrypt numbers and evidence');
		this.lookup = derive(secret, 'look up numbers');
		this.suppression = derive(secret, 'suppression list');
		this.codes = derive(secret, 'one-time codes');
		this.addresses = derive(secret, 'ip addresses');
	}

	/** The key a number, wa_id or user id is found by; never the value itself. */
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

	/** AES-256-GCM; the output is `iv.tag.ciphertext` in base64url. */
	encrypt(plaintext: string): string {
		const iv = randomBytes(12);
		const cipher = createCipheriv('aes-256-gcm', this.encryption, iv);
		const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
		return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.');
	}

	decrypt(sealed: string): string {
		const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
		const decipher = createDecipheriv('aes-256-gcm', this.encryption, iv);
		decipher.setAuthTag(tag);
		return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
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
