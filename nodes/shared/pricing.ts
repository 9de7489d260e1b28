/** The rate card of the WhatsApp credential: the operator's prices per message, by Meta's pricing category. */
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { RateCard } from '../../lib/pricing';

/** Undefined when the credential names no price: then costs are not shown. */
export function rateCardOf(credentials: ICredentialDataDecryptedObject | undefined): RateCard | undefined {
	if (!credentials) return undefined;
	const price = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);
	const rates = { marketing: price(credentials.priceMarketing), utility: price(credentials.priceUtility), authentication: price(credentials.priceAuthentication) };
	if (Object.values(rates).every((rate) => rate === undefined)) return undefined;
	return { currency: String(credentials.priceCurrency || 'EUR'), rates };
}
