/**
 * Meta's deliveries to one ledger, taken a few at a time in arrival order, those that carry a message first.
 *
 * Why: a newsletter's delivery statuses arrive at once (Meta, like the sandbox, sends them side by side). If every
 * POST in flight starts its ledger work at once, their round trips take turns at the same connection pool (or the
 * embedded store's one thread), and each POST is answered only when nearly all of them are: a STOP behind 600
 * statuses waits for all 600, beyond Meta's timeout, and then everything is delivered again on top of the rest.
 * Taken a few at a time, each POST holds the store for its own few round trips, the first ones are answered first,
 * and a message (a STOP, a confirmation code) overtakes the statuses that wait. Nothing is refused or dropped here:
 * a delivery only waits for its turn.
 */

/** Deliveries with their ledger work running at once: enough to keep a pool of 10 busy, few enough to stay fair. */
export const DELIVERIES_AT_ONCE = 6;

export class DeliveryAdmission {
	private running = 0;
	private readonly messages: (() => void)[] = [];
	private readonly statuses: (() => void)[] = [];
	/** The deliveries with a message at the ledger now, each settled when its work ends. */
	private readonly messagesAtLedger = new Set<Promise<unknown>>();

	constructor(private readonly atOnce = DELIVERIES_AT_ONCE) {}

	/**
	 * Settles when the deliveries with a message at the ledger now have ended (at once if there are none); those that
	 * arrive later are not waited for. A group of statuses (lib/delivery-groups.ts) holds the embedded store's one
	 * connection for all its members: it waits for a STOP already admitted, so the STOP waits for one group at most.
	 */
	messagesBeforeNow(): Promise<void> {
		return Promise.all([...this.messagesAtLedger]).then(() => undefined);
	}

	/** Runs `work` when its turn comes: `carriesMessage` deliveries before those of statuses only. */
	async run<T>(carriesMessage: boolean, work: () => Promise<T>): Promise<T> {
		if (this.running >= this.atOnce) {
			await new Promise<void>((resolve) => (carriesMessage ? this.messages : this.statuses).push(resolve));
		} else {
			this.running++;
		}
		try {
			if (!carriesMessage) return await work();
			const running = work();
			const atLedger = running.then(
				() => undefined,
				() => undefined,
			);
			this.messagesAtLedger.add(atLedger);
			try {
				return await running;
			} finally {
				this.messagesAtLedger.delete(atLedger);
			}
		} finally {
			// The place passes straight to the next waiting delivery, so a new arrival cannot jump the queue.
			const next = this.messages.shift() ?? this.statuses.shift();
			if (next) next();
			else this.running--;
		}
	}
}

const perLedger = new WeakMap<object, DeliveryAdmission>();

/** The admission of one ledger, shared by every trigger of this process that writes to it. */
export function admissionFor(ledger: object): DeliveryAdmission {
	let admission = perLedger.get(ledger);
	if (!admission) perLedger.set(ledger, (admission = new DeliveryAdmission()));
	return admission;
}
