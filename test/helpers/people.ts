/** A ledger with people in every state the gate distinguishes, and the gate's answers for all of them. */
import type { Ledger } from '../../lib/consent/ledger';
import { CATEGORIES } from '../../lib/consent/types';
import { PURPOSES, TEXT_DE } from './ledgers';

export const phoneOf = (n: number) => `+49151${String(20_000_000 + n)}`;

/**
 * `count` people: pending, confirmed, confirmed then STOPped for marketing, withdrawn for everything, in turn; every
 * fifth with an in-app stop and every seventh erased afterwards (the suppression list keeps their HMAC).
 */
export async function seedPeople(ledger: Ledger, count: number, at = new Date('2026-03-02T10:00:00Z')): Promise<string[]> {
	await ledger.definePurposes(PURPOSES);
	const phones = Array.from({ length: count }, (_, n) => phoneOf(n));
	await Promise.all(
		phones.map(async (phone, n) => {
			const { code } = await ledger.requestOptIn({ phone, purposes: ['offers', 'service'], consentText: TEXT_DE, source: { ip: '203.0.113.7' }, at });
			if (n % 4 === 0) return;
			await ledger.confirm({ messageId: `wamid.confirm-${n}`, from: phone.slice(1), text: code, at });
			if (n % 4 === 2) await ledger.revoke({ recipient: phone, purposes: 'marketing', channel: 'web_form' });
			if (n % 4 === 3) await ledger.revoke({ recipient: phone, purposes: 'all', channel: 'web_form' });
			if (n % 5 === 0) await ledger.setMarketingPreference({ waId: phone.slice(1), value: 'stop', at });
			if (n % 7 === 6) await ledger.erase(phone);
		}),
	);
	return phones;
}

/** The gate's answer for every person, purpose and category. */
export function gateAnswers(ledger: Ledger, phones: string[]) {
	return ledger.mayMessageBatch(
		phones.flatMap((recipient) => PURPOSES.flatMap(({ id: purpose }) => CATEGORIES.map((category) => ({ recipient, purpose, category })))),
	);
}

/** What the ledger can still read of every person: their number and consents (undefined for the erased). */
export async function readable(ledger: Ledger, phones: string[]) {
	return Promise.all(phones.map(async (phone) => (await ledger.getConsent(phone))?.phone));
}
