/**
 * What a message costs. Meta charges per delivered message (per-message pricing, since 1 July 2025) by the
 * template's category and the recipient's country; a free-form reply, and a utility template, inside the 24 h
 * customer-service window are free. Meta's statuses say how each message was priced (`pricing.category`,
 * `pricing.type`); the money is the operator's rate card for their market, entered in the WhatsApp credential.
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

/** What Meta will most likely charge for a message the gate let through, before its status says so. */
export function expectedPricing(category: Category, isTemplate: boolean): MessagePricing {
	if (!isTemplate) return { category: 'service', type: 'free_customer_service' };
	// A template of a reply category is the business's own choice of template: priced by the template's category,
	// which Meta approved; the ledger's category is what the gate checked.
	if (category === 'marketing') return { category: 'marketing', type: 'regular' };
	// A utility template inside an open window is free; outside it is charged. Without the window's state: charged.
	return { category: 'utility', type: 'regular' };
}

/** The price of one message by the rate card: 0 when Meta did not charge it, undefined when the card has no price. */
export function costOf(pricing: MessagePricing | undefined, card: RateCard | undefined): number | undefined {
	if (!pricing) return undefined;
	if (pricing.type !== undefined && pricing.type !== 'regular') return 0;
	if (pricing.type === undefined && pricing.billable === false) return 0;
	if (pricing.category === 'service') return 0;
	const rate = card?.rates[pricing.category as keyof RateCard['rates']];
	return typeof rate === 'number' ? rate : undefined;
}
