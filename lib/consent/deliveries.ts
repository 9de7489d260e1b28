/**
 * Exactly-once effects for at-least-once webhooks (invariant 3). The key of a delivery (a wamid, or a status id with
 * its status) is written in the same transaction as its effects, with the result it produced. A redelivery, even one
 * running concurrently, finds the key taken: its own work is rolled back and the first result is returned. The key is
 * kept as its keyed HMAC (`deliveryKeyHmac`): a wamid and a wa_id both carry the number.
 */
import type { LedgerContext, Queryable } from './context';
import { deliveryKeyHmac } from './keyed';
import { claimOwed, owe, type OwedItem, type Owing } from './outbox';

class AlreadyProcessed extends Error {}

/**
 * With `owing`, what the result owes the workflow is written in the same transaction (the outbox, invariant 7) and
 * returned as `owed`; a redelivery returns what its first delivery still owes, unless another live POST holds it.
 */
export async function once<T extends object>(
	ctx: LedgerContext,
	key: string | undefined,
	work: (tx: Queryable) => Promise<T>,
	owing?: Owing<T>,
): Promise<T & { duplicate: boolean; owed?: OwedItem }> {
	try {
		return await ctx.store.transaction(async (tx) => {
			const result = await work(tx);
			if (key === undefined) return { ...result, duplicate: false };
			// The stored result answers redeliveries; like everything stored, it holds no number in clear: neither the
			// phone nor a send's key (`scope:+E164:campaign:hash`). What the workflow is owed is in the outbox, encrypted.
			const { phone: _phone, key: _key, ...stored } = result as T & { phone?: string; key?: string };
			const taken = await tx.query(
				'INSERT INTO processed_deliveries (key, result, processed_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key',
				[deliveryKeyHmac(ctx.keys, key), JSON.stringify(stored), ctx.now()],
			);
			if (taken.length === 0) throw new AlreadyProcessed();
			const due = owing?.owe(result);
			return { ...result, duplicate: false, owed: owing && due && (await owe(ctx, tx, key, owing.handOver, due)) };
		});
	} catch (error) {
		if (!(error instanceof AlreadyProcessed)) throw error;
		return duplicateOf<T>(ctx, key!, owing);
	}
}

/** A delivery handled before: its first result, and what it still owes if the caller hands over. */
export async function duplicateOf<T>(ctx: LedgerContext, key: string, owing?: Owing<unknown>): Promise<T & { duplicate: true; owed?: OwedItem }> {
	const result = await processedResult<T>(ctx, key);
	return { ...result, duplicate: true, owed: owing && (await claimOwed(ctx, key, owing.handOver)) };
}

/** The result a delivery produced when it was first processed, found by its key's HMAC. */
async function processedResult<T>(ctx: LedgerContext, key: string): Promise<T> {
	const [row] = await ctx.store.query<{ result: string }>('SELECT result FROM processed_deliveries WHERE key = $1', [deliveryKeyHmac(ctx.keys, key)]);
	return JSON.parse(row.result) as T;
}
