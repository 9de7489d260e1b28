/**
 * Group commit for Meta's status-only deliveries on the embedded store (issue 11). Its one connection takes each
 * POST's round trips in turn (a status, its processed-delivery key, its outbox row, the hand-over's claim: about
 * seven), and each trip costs more than its statement. Deliveries that arrive while a group is at the ledger wait,
 * and then go together in one transaction (`Store.shareTransaction`), side by side: the statements they make at the
 * same moment travel in one trip, and one COMMIT serves them all. Each POST is answered only after that COMMIT.
 *
 * All or nothing, then one by one: when anything in the group fails (a duplicate delivery, an event the database
 * refuses, a store failure), nothing of it was written, and every delivery of the group runs again on its own, each
 * in its own transactions as without a group. Only the delivery that fails then gets its error (its 500); a
 * redelivery or a refused event gets the answer it would get alone.
 *
 * A group takes one place at the ledger's admission (lib/delivery-admission.ts), as one delivery of statuses would:
 * a delivery that carries a message still goes before it, and a group waits for those already at the ledger (a STOP
 * behind a burst waits for one group at most, not for each group that forms while it takes its turns). A store that
 * cannot share a transaction (PostgreSQL, whose pool runs deliveries side by side anyway) takes each delivery alone,
 * as before.
 */
import { Coalescer } from './coalescer';
import type { Ledger } from './consent/ledger';
import { admissionFor } from './delivery-admission';

/**
 * Enough to amortise a trip over what Meta keeps in flight (a few dozen POSTs), few enough that a STOP arriving behind
 * a burst waits for little more than one group, and that a failed group runs again one by one quickly.
 */
export const MAX_GROUP = 32;

type Work = (ledger: Ledger) => Promise<unknown>;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const perLedger = new WeakMap<Ledger, Coalescer<Work, Outcome>>();

/**
 * Runs `work`, a status-only delivery's ledger work, with whichever others wait at the time: `work` is given the
 * ledger to use (the group's). It must be safe to run again: it runs once more, alone, when its group fails.
 */
export async function inDeliveryGroup<T>(ledger: Ledger, work: (ledger: Ledger) => Promise<T>): Promise<T> {
	if (!ledger.store.shareTransaction) return admissionFor(ledger).run(false, () => work(ledger));
	let groups = perLedger.get(ledger);
	if (!groups) {
		const admission = admissionFor(ledger);
		const group = async (works: Work[]) => {
			await admission.messagesBeforeNow();
			return runGroup(ledger, works);
		};
		perLedger.set(ledger, (groups = new Coalescer((works) => admission.run(false, () => group(works)), { maxBatch: MAX_GROUP })));
	}
	const outcome = await groups.run(work);
	if (!outcome.ok) throw outcome.error;
	return outcome.value as T;
}

async function runGroup(ledger: Ledger, works: Work[]): Promise<Outcome[]> {
	if (ledger.store.shareTransaction && works.length > 1) {
		try {
			return await ledger.store.shareTransaction(async (store) => {
				const shared = ledger.on(store);
				const settled = await Promise.allSettled(works.map((work) => work(shared)));
				const failure = settled.find((each) => each.status === 'rejected');
				if (failure) throw failure.reason;
				return settled.map((each) => ({ ok: true, value: (each as PromiseFulfilledResult<unknown>).value }));
			});
		} catch {
			// Nothing of the group was written: each delivery runs again alone, and only its own failure is its answer.
		}
	}
	return Promise.all(works.map((work) => work(ledger).then((value): Outcome => ({ ok: true, value }), (error: unknown): Outcome => ({ ok: false, error }))));
}
