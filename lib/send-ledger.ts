/**
 * The ledger calls of sends running side by side, coalesced (see `Coalescer`): a newsletter's 100 or more sends in
 * flight share one reservation transaction, one gate query before their HTTP attempts and one completion
 * statement, instead of about eleven round trips each and one wait per message for the audit chain's lock.
 * Each send still gets its own answer, its own reservation with the consent it relied on, and its own gate check
 * asked after its limiter slot and answered by a query that started after it asked (invariant 1).
 *
 * One set per ledger and process, so concurrent executions sending through the same ledger batch together too.
 */
import { Coalescer } from './coalescer';
import type { Ledger } from './consent/ledger';
import type { ReservationResult, SendReservation } from './consent/sends';
import type { GateDecision, GateQuestion } from './consent/types';

export interface SendLedger {
	reserve(reservation: SendReservation): Promise<ReservationResult>;
	mayMessage(question: GateQuestion): Promise<GateDecision>;
	complete(key: string, accepted: { wamid: string }): Promise<void>;
}

/**
 * A reservation is a transaction of seven round trips, most of it waiting for the database and for the event loop
 * to read its answers; three may run at once (on PostgreSQL they take turns only for the audit chain's lock, from
 * its append to COMMIT; on the embedded store they take turns anyway). Slices stay moderate: the chain's lock is
 * held while a slice's events are appended.
 */
const RESERVATIONS = { maxBatch: 250, lanes: 3 };
const QUESTIONS = { maxBatch: 1000, lanes: 2 };
const COMPLETIONS = { maxBatch: 1000, lanes: 2 };

function coalesce(ledger: Ledger): SendLedger {
	const reservations = new Coalescer<SendReservation, ReservationResult>((list) => ledger.reserveSends(list), RESERVATIONS);
	const questions = new Coalescer<GateQuestion, GateDecision>((list) => ledger.mayMessageBatch(list), QUESTIONS);
	const completions = new Coalescer<{ key: string; wamid: string }, void>(async (list) => {
		await ledger.completeSends(list);
		return list.map(() => undefined);
	}, COMPLETIONS);
	return {
		reserve: (reservation) => reservations.run(reservation),
		mayMessage: (question) => questions.run(question),
		complete: (key, accepted) => completions.run({ key, wamid: accepted.wamid }),
	};
}

const perLedger = new WeakMap<Ledger, SendLedger>();

export function sendLedgerFor(ledger: Ledger): SendLedger {
	let coalesced = perLedger.get(ledger);
	if (!coalesced) perLedger.set(ledger, (coalesced = coalesce(ledger)));
	return coalesced;
}
