/**
 * The newsletter audience of the send benchmark: numbers that confirmed their opt-in through the ledger's real API,
 * numbers that confirmed and then withdrew, and numbers never asked. Only the first group may receive anything.
 */
import type { Ledger } from '../lib/consent/ledger';
import { mapWithConcurrency } from '../lib/whatsapp';

export const PURPOSE = 'offers';
const CONSENT_TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
/** Opt-ins seeded at once: enough to keep the store busy, few enough for the embedded store's single connection. */
const SEEDING_CONCURRENCY = 16;

export interface Audience {
	consented: string[];
	withdrawn: string[];
	neverAsked: string[];
}

/**
 * German mobile numbers of one group. The trailing 77 keeps them clear of the sandbox's undeliverable (…0000) and
 * failing (…0001) suffixes, so every refusal the sandbox logs is a limit, never a dead number.
 */
function numbers(group: 1 | 2 | 3, count: number): string[] {
	return Array.from({ length: count }, (_, n) => `+49151${group}${String(n).padStart(5, '0')}77`);
}

export function audience(consented: number, withdrawn: number, neverAsked: number): Audience {
	return { consented: numbers(1, consented), withdrawn: numbers(2, withdrawn), neverAsked: numbers(3, neverAsked) };
}

/** Everyone in the list a newsletter tool would export, interleaved so refusals are spread over the run. */
export function mailingList(people: Audience): string[] {
	const others = [...people.withdrawn, ...people.neverAsked];
	const every = Math.max(1, Math.floor(people.consented.length / Math.max(1, others.length)));
	const list: string[] = [];
	people.consented.forEach((phone, index) => {
		list.push(phone);
		if ((index + 1) % every === 0 && others.length > 0) list.push(others.shift()!);
	});
	return [...list, ...others];
}

/** The double opt-in as a customer does it: sign-up, then the code sent back from WhatsApp. */
async function optIn(ledger: Ledger, phone: string, index: number): Promise<void> {
	const { code } = await ledger.requestOptIn({ phone, purposes: [PURPOSE], consentText: CONSENT_TEXT, source: { pageUrl: 'https://example.com/whatsapp' } });
	const result = await ledger.confirm({ messageId: `wamid.seed-${index}-${phone.slice(1)}`, from: phone.slice(1), text: `Anmeldung: ${code}`, at: new Date() });
	if (result.outcome !== 'confirmed') throw new Error(`Seeding ${phone}: the confirmation came back as ${result.outcome}`);
}

/** Writes the consents through the ledger's API (not SQL), so the gate sees exactly what production would store. */
export async function seedAudience(ledger: Ledger, people: Audience): Promise<{ seconds: number }> {
	const started = performance.now();
	await ledger.definePurposes([{ id: PURPOSE, label: 'Angebote und Neuigkeiten' }]);
	const signedUp = [...people.consented, ...people.withdrawn];
	await mapWithConcurrency(signedUp, SEEDING_CONCURRENCY, (phone, index) => optIn(ledger, phone, index));
	await mapWithConcurrency(people.withdrawn, SEEDING_CONCURRENCY, (phone, index) =>
		ledger.revoke({ waId: phone.slice(1), purposes: 'all', channel: 'whatsapp', messageId: `wamid.stop-${index}`, evidence: { text: 'STOP' } }),
	);
	return { seconds: (performance.now() - started) / 1000 };
}
