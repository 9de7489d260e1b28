/**
 * "Redact Personal Data in Output": what a node hands to the next node is also what n8n keeps in its execution data
 * (the database, the editor's execution list). With the option on, the nodes mask numbers and ids and drop message
 * texts from their output items; the consent ledger still records everything in full (encrypted).
 */

/** Fields that hold a phone number, a WhatsApp id or a business-scoped user id: masked, the last 2 characters kept. */
const IDENTIFIER_FIELDS = new Set(['phone', 'to', 'from', 'recipient', 'recipientId', 'recipient_id', 'waId', 'wa_id', 'newWaId', 'input', 'userId', 'user_id', 'from_user_id']);
/** Fields that hold what a person wrote, is called or where they are (a shared location): dropped. */
const TEXT_FIELDS = new Set(['text', 'body', 'caption', 'profileName', 'location']);
/** Fields that hold an idempotency key (`scope:recipient:campaign:content`): its recipient part is masked. */
const KEY_FIELDS = new Set(['key', 'sendKey']);
/** Objects whose `text` is the business's own words (the confirmation to send), not the person's: kept. */
const OWN_TEXT_PARENTS = new Set(['reply']);

/** `+4915112345678` → `+***78`, `DE.1502576394655843` → `***43`. */
export function maskIdentifier(value: string): string {
	const plus = value.startsWith('+') ? '+' : '';
	const rest = value.slice(plus.length);
	return `${plus}***${rest.length > 4 ? rest.slice(-2) : ''}`;
}

/** A wamid encodes the recipient's number (invariant 8): only its last characters are kept, to tell messages apart. */
function maskWamid(value: string): string {
	return `wamid.***${value.slice(-8)}`;
}

function maskKey(value: string): string {
	const parts = value.split(':');
	if (parts.length < 4) return value;
	parts[1] = maskIdentifier(parts[1]);
	return parts.join(':');
}

/** `field`: the name `value` has in its object (undefined for an array's entries and the top). */
function redactValue(value: unknown, field: string | undefined): unknown {
	if (typeof value === 'string') {
		if (value.startsWith('wamid.')) return maskWamid(value);
		if (field !== undefined && IDENTIFIER_FIELDS.has(field)) return maskIdentifier(value);
		if (field !== undefined && KEY_FIELDS.has(field)) return maskKey(value);
		return value;
	}
	if (Array.isArray(value)) return value.map((entry) => redactValue(entry, undefined));
	if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
		const out: Record<string, unknown> = {};
		for (const [name, entry] of Object.entries(value)) {
			if (TEXT_FIELDS.has(name) && !(name === 'text' && field !== undefined && OWN_TEXT_PARENTS.has(field))) continue;
			out[name] = redactValue(entry, name);
		}
		return out;
	}
	return value;
}

/**
 * A copy of `json` for a node's output with personal data taken out: numbers, WhatsApp ids and user ids masked
 * (the last 2 characters kept), wamids shortened, the recipient part of idempotency keys masked, message texts,
 * captions, profile names and shared locations dropped. The business's own reply text (`reply.text`) stays.
 */
export function redactPersonalData<T extends object>(json: T): T {
	return redactValue(json, undefined) as T;
}
