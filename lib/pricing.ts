/**
 * What a message costs. Meta charges per delivered message (per-message pricing since 1 July 2025) by category and
 * the recipient's country. Since 1 October 2026 (Meta's update as providers' changelogs report it; checked
 * 2026-12-02) a utility template is charged inside the 24 h customer-service window too, and free-form service
 * messages are free only for the first 1,000 per business number and month, then charged at the utility rate.
 * Meta's statuses say how each message was priced (`pricing.category`, `pricing.type`); the money is the operator's
 * rate card for their market, entered in the WhatsApp credential.
 */
import type { Category } from './consent/types';

/** As Meta's statuses carry it. `type`: `regular` (charged), `free_customer_service`, `free_entry_point`. */
export interface MessagePricing {
	category: string;
	type?: string;
	/** Deprecated by Meta with per-message pricing, still sent by some versions. */
	billable?: boolean;
}

/** The operator's prices per charged message, by Meta's pricing category, in one currency. */
export interface RateCard {
	currency: string;
	rates: Partial<Record<'marketing' | 'utility' | 'authentication', number>>;
}

/**
 * What Meta will most likely charge for a message the gate let through, before its status says so. A free-form
 * message is a service message whose type depends on the number's monthly allowance, which only Meta counts.
 */
export function expectedPricing(category: Category, isTemplate: boolean): MessagePricing {
	if (!isTemplate) return { category: 'service' };
	return category === 'marketing' ? { category: 'marketing', type: 'regular' } : { category: 'utility', type: 'regular' };
}

/**
 * The price of one message by the rate card: 0 when Meta did not charge it, undefined when it cannot be told (no
 * price on the card, or a service message before Meta said whether it was within the free allowance).
 */
export function costOf(pricing: MessagePricing | undefined, card: RateCard | undefined): number | undefined {
	if (!pricing) return undefined;
	if (pricing.type !== undefined && pricing.type !== 'regular') return 0;
	if (pricing.type === undefined && pricing.billable === false) return 0;
	if (pricing.type === undefined && pricing.billable === undefined) return undefined;
	// Charged service messages cost the utility rate.
	const category = pricing.category === 'service' ? 'utility' : pricing.category;
	const rate = card?.rates[category as keyof RateCard['rates']];
	return typeof rate === 'number' ? rate : undefined;
}
