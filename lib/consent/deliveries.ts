/**
 * Exactly-once effects for at-least-once webhooks (invariant 3). The key of a delivery (a wamid, or a status id with
 * its status) is written in the same transaction as its effects, with the result it produced. A redelivery, even one
 * running concurrently, finds the key taken: its own work is rolled back and the first result is returned. The key is
 * kept as its keyed HMAC (`deliveryKeyHmac`): a wamid and a wa_id both carry the number.
 */
import type { LedgerContext, Queryable } from './context';
import { deliveryKeyHmac } from './keyed';

class AlreadyProcessed extends Error {}

export async function once<T extends object>(
	ctx: LedgerContext,
	key: string | undefined,
	work: (tx: Queryable) => Promise<T>,
): Promise<T & { duplicate: boolean }> {
	const hmac = key === undefined ? undefined : deliveryKeyHmac(ctx.keys, key);
	try {
		return await ctx.store.transaction(async (tx) => {
			const result = await work(tx);
			if (hmac !== undefined) {
				// The stored result answers redeliveries; like everything stored, it holds no number in clear.
				const { phone: _phone, ...stored } = result as T & { phone?: string };
				const taken = await tx.query(
					'INSERT INTO processed_deliveries (key, result, processed_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key',
					[hmac, JSON.stringify(stored), ctx.now()],
				);
				if (taken.length === 0) throw new AlreadyProcessed();
			}
			return { ...result, duplicate: false };
		});
	} catch (error) {
		if (!(error instanceof AlreadyProcessed)) throw error;
		return { ...(await processedResult<T>(ctx.store, hmac!)), duplicate: true };
	}
}

/** The result a delivery produced when it was first processed, by its key's HMAC. */
export async function processedResult<T>(db: Queryable, hmac: string): Promise<T> {
	const [row] = await db.query<{ result: string }>('SELECT result FROM processed_deliveries WHERE key = $1', [hmac]);
	return JSON.parse(row.result) as T;
}
