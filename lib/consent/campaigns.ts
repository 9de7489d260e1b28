/**
 * A campaign as the ledger kept it (issue 12): the sends under one Campaign Key, where each got to, why the failed
 * ones failed, and how Meta priced them (from their statuses), with the cost by the operator's rate card. The
 * sends' rows are operational: the report covers what the operational retention and erasures have left.
 */
import { costOf, type RateCard } from '../pricing';
import type { LedgerContext } from './context';
import { campaignHmac } from './keyed';

export interface CampaignReport {
	campaign: string;
	sends: number;
	/** reserved, accepted, sent, delivered, read, failed, unknown: where each send got to. */
	byStatus: Record<string, number>;
	failures: { code: number | null; count: number }[];
	/** Meta's pricing per category and type; `pricing: null` for sends whose status has not said yet. */
	pricing: { category: string | null; type: string | null; count: number; cost: number | null }[];
	/** With a rate card: the total of what could be priced, and how many sends could not be (yet). */
	cost?: { total: number; currency: string; unpriced: number };
}

export async function campaignReport(ctx: LedgerContext, campaign: string, card?: RateCard): Promise<CampaignReport> {
	const rows = await ctx.store.query<{ status: string; error_code: number | null; pricing_category: string | null; pricing_type: string | null; count: number }>(
		`SELECT status, error_code, pricing_category, pricing_type, count(*)::int AS count FROM sends WHERE campaign_hmac = $1
		 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
		[campaignHmac(ctx.keys, campaign)],
	);
	const byStatus: Record<string, number> = {};
	const failures = new Map<number | null, number>();
	const pricing = new Map<string, CampaignReport['pricing'][number]>();
	let total = 0;
	let unpriced = 0;
	for (const row of rows) {
		const count = Number(row.count);
		byStatus[row.status] = (byStatus[row.status] ?? 0) + count;
		const code = row.error_code === null ? null : Number(row.error_code);
		if (row.status === 'failed' || row.status === 'unknown') failures.set(code, (failures.get(code) ?? 0) + count);
		const priced = row.pricing_category === null ? undefined : { category: row.pricing_category, type: row.pricing_type ?? undefined };
		const each = costOf(priced, card);
		const key = `${row.pricing_category}|${row.pricing_type}`;
		const entry = pricing.get(key) ?? { category: row.pricing_category, type: row.pricing_type, count: 0, cost: each === undefined ? null : 0 };
		entry.count += count;
		if (entry.cost !== null && each !== undefined) entry.cost += each * count;
		pricing.set(key, entry);
		if (each === undefined) unpriced += count;
		else total += each * count;
	}
	return {
		campaign,
		sends: rows.reduce((sum, row) => sum + Number(row.count), 0),
		byStatus,
		failures: [...failures].map(([code, count]) => ({ code, count })),
		pricing: [...pricing.values()],
		cost: card ? { total: Math.round(total * 1e6) / 1e6, currency: card.currency, unpriced } : undefined,
	};
}
