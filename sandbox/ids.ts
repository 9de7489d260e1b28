/**
 * Identifiers in Meta's formats: message ids (wamid) and business-scoped user ids.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * A wamid shaped like Meta's: `wamid.` + base64 of a small binary record that holds the recipient's digits and
 * a random message key. Real ids are 50 to 70 characters; clients must treat them as opaque (up to 128).
 */
export function newWamid(waId: string): string {
	const digits = Buffer.from(waId.replace(/\D/g, ''), 'ascii');
	const key = Buffer.from(randomBytes(10).toString('hex').toUpperCase(), 'ascii');
	const record = Buffer.concat([
		Buffer.from([0x1c, 0x18, digits.length]),
		digits,
		Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, key.length]),
		key,
		Buffer.from([0x00]),
	]);
	return `wamid.${record.toString('base64')}`;
}

/**
 * The business-scoped user id Meta assigns to a user when none was given: a region prefix and digits derived
 * from the number, stable for the same number (Meta's id only changes when the user changes number).
 */
export function derivedUserId(waId: string, region = 'ZZ'): string {
	const hash = createHash('sha256').update(`bsuid:${waId}`).digest();
	const digits = (hash.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '0');
	return `${region}.${digits}`;
}
