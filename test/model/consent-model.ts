/**
 * The consent rules as a small, pure reference model: no SQL, no I/O, no clock of its own. Every rule of
 * ../shared/reference/gdpr-consent.md that the ledger enforces is stated here once, with its number, and the
 * model-based tests hold the ledger (TypeScript and the PL/pgSQL group functions, on both stores) to it.
 *
 * Two clocks, kept apart:
 * - `server`: the ledger's own clock (sign-ups, sends, erasure, purge, withdrawals by e-mail or support);
 * - `meta`: the time Meta stamps on a webhook (whole seconds), which is when the person acted. A delivery can arrive
 *   late (a redelivery after a 5xx or an n8n restart), so a Meta time can be earlier than things already recorded.
 *
 * One predicate orders a withdrawal against a consent whatever order they arrive in: the withdrawal wins when the
 * consent was given before it or within the same second (Meta's timestamps are whole seconds).
 */

import type { ConfirmOutcome } from '../../lib/consent/types';

export type Ms = number;
export type Category = 'marketing' | 'utility' | 'service' | 'withdrawal_confirmation';
export type Scope = 'all' | 'marketing' | string[];

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const WINDOW = DAY;

/** #22, #25: a withdrawal at `withdrawnAt` ends what was given at `givenAt` if that was before it, or in its second. */
export function withdrawalWins(withdrawnAt: Ms, givenAt: Ms): boolean {
	return givenAt < withdrawnAt + 1000;
}

export interface Settings {
	purposes: string[];
	codeTtl: Ms;
	maxAttempts: number;
	maxRequestsPerHour: number;
	pendingRetention: Ms;
	proofRetentionYears: number;
	maxConsentAge?: Ms;
	/** Operational records (handled deliveries, finished sends) are forgotten by purge after this. */
	operationalRetention: Ms;
	/** A webhook event older than this (by its Meta time) is a replay and not delivered at all (the trigger's check). */
	replayWindow: Ms;
}

export interface Request {
	id: string;
	code: string;
	purposes: string[];
	createdAt: Ms; // server
	expiresAt: Ms; // server
	status: 'pending' | 'confirmed' | 'expired' | 'failed' | 'cancelled';
	attempts: number;
}

export interface Consent {
	state: 'pending' | 'confirmed' | 'withdrawn';
	requestedAt: Ms | null; // server
	confirmedAt: Ms | null; // meta
	withdrawnAt: Ms | null;
	/** A STOP with the scope "marketing": this purpose's marketing ends, its utility messages go on (#21). */
	marketingWithdrawnAt: Ms | null;
}

/** A person the ledger knows. */
export interface Person {
	createdAt: Ms;
	lastActivityAt: Ms;
	userIdBound: boolean;
	consents: Map<string, Consent>;
	requests: Request[];
	/** The last message the person wrote that was not a withdrawal: it opens the 24 h window (#19). */
	lastMessageAt: Ms | null;
	/** Any withdrawal closes the window that was open before it. */
	lastWithdrawalAt: Ms | null;
	/** A STOP written on WhatsApp owes one confirmation (#23), inside 24 h. */
	stopOwedAt: Ms | null;
	stopConfirmedFor: Ms | null;
	/** Meta's in-app switch (#17): the later of the two wins; a stop wins over a resume of its own second. */
	inAppStopAt: Ms | null;
	inAppResumeAt: Ms | null;
	hasSends: boolean;
}

export type Answer = { allowed: true; reason: string } | { allowed: false; reason: string };

export interface Send {
	person: number | null;
	/** Sent to the person's user id while the ledger knew them by it alone (their alias, see ConsentModel.aliases). */
	alias?: true;
	status: 'reserved' | 'accepted' | 'sent' | 'delivered' | 'read' | 'failed' | 'unknown';
	wamid?: string;
	/** The last change: the server's time of a reservation, completion or failure, Meta's time of a status. */
	updatedAt: Ms;
}

const STATUS_RANK: Record<string, number> = { reserved: 0, accepted: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

/** What a code message carries, resolved against the model: the code's request, or none. */
export interface CodeMessage {
	messageId: string;
	sender: number;
	/** How Meta names the sender: by number (wa_id), or only by user id (a username user who hides the number). */
	senderBy: 'number' | 'userId';
	/** The request whose code the message carries (any person's), or undefined for a code nobody has. */
	requestOf?: { person: number; id: string };
	/** The text has a word of code shape (a try), not just chatter. */
	looksLikeCode: boolean;
	withUserId: boolean;
	at: Ms; // meta
}

export class ConsentModel {
	readonly people = new Map<number, Person>();
	/**
	 * People known only by their user id: a username user who wrote before any message tied the user id to a number
	 * (keyed by the persona whose user id it is). The window they opened is where replies to the user id go; once a
	 * message ties the user id to the number, they are that person (their window and sends go over).
	 */
	readonly aliases = new Map<number, Person>();
	/** #29: keyed by the person's number, outlives erasure. */
	readonly suppressions = new Map<number, Set<string>>();
	/** #3 of the architecture: a delivery changes the ledger once. */
	readonly deliveries = new Map<string, unknown>();
	/** When each delivery was handled (server time): purge forgets it after the operational retention. */
	readonly deliveredAt = new Map<string, Ms>();
	readonly sends = new Map<string, Send>();
	now: Ms;

	constructor(readonly settings: Settings, start: Ms) {
		this.now = start;
	}

	private person(index: number, at: Ms, people = this.people): Person {
		let person = people.get(index);
		if (!person) {
			person = {
				createdAt: at,
				lastActivityAt: at,
				userIdBound: false,
				consents: new Map(),
				requests: [],
				lastMessageAt: null,
				lastWithdrawalAt: null,
				stopOwedAt: null,
				stopConfirmedFor: null,
				inAppStopAt: null,
				inAppResumeAt: null,
				hasSends: false,
			};
			people.set(index, person);
		}
		return person;
	}

	/** A message tied the user id to the number: whoever was known by the user id alone is this person. */
	private bind(index: number, person: Person) {
		person.userIdBound = true;
		const alias = this.aliases.get(index);
		if (!alias) return;
		this.aliases.delete(index);
		if (alias.lastMessageAt !== null) person.lastMessageAt = Math.max(person.lastMessageAt ?? -Infinity, alias.lastMessageAt);
		for (const send of this.sends.values()) if (send.person === index && send.alias) delete send.alias;
		person.hasSends ||= alias.hasSends;
	}

	/** Who a message to the persona's user id (or by number) reaches: the person, or their alias while unbound. */
	private addressed(index: number, byUserId: boolean): Person | undefined {
		const found = this.people.get(index);
		return byUserId && !found?.userIdBound ? this.aliases.get(index) : found;
	}

	private touch(person: Person, at: Ms) {
		person.lastActivityAt = Math.max(person.lastActivityAt, at);
	}

	/** Redeliveries: the first result stands (`once`). */
	private once<T>(key: string | undefined, work: () => T): T & { duplicate: boolean } {
		if (key !== undefined && this.deliveries.has(key)) return { ...(this.deliveries.get(key) as T), duplicate: true };
		const result = work();
		if (key !== undefined) {
			this.deliveries.set(key, result);
			this.deliveredAt.set(key, this.now);
		}
		return { ...result, duplicate: false };
	}

	/** #7, #9: a sign-up is pending; limited per number and hour. Returns false when refused as too many. */
	signUp(index: number, purposes: string[], request: Omit<Request, 'status' | 'attempts' | 'createdAt' | 'expiresAt' | 'purposes'>): boolean {
		const at = this.now;
		const known = this.people.get(index);
		if (known && known.requests.filter((r) => r.createdAt > at - HOUR).length >= this.settings.maxRequestsPerHour) return false;
		const person = this.person(index, at);
		this.touch(person, at);
		const wanted = [...new Set(purposes)];
		person.requests.push({ ...request, purposes: wanted, createdAt: at, expiresAt: at + this.settings.codeTtl, status: 'pending', attempts: 0 });
		for (const purpose of wanted) {
			const consent = person.consents.get(purpose);
			// A confirmed consent stays what it is: a new sign-up (anyone can type any number) changes nothing of it.
			if (consent?.state === 'confirmed') continue;
			person.consents.set(purpose, {
				state: 'pending',
				requestedAt: at,
				confirmedAt: consent?.confirmedAt ?? null,
				withdrawnAt: consent?.withdrawnAt ?? null,
				marketingWithdrawnAt: consent?.marketingWithdrawnAt ?? null,
			});
		}
		return true;
	}

	/**
	 * Any message opens the sender's window (#19). An unknown sender becomes known for that alone (no consent implied);
	 * one known only by a user id nobody bound becomes known by the user id alone (an alias). A message with the
	 * number and the user id ties the two.
	 */
	private openWindow(message: CodeMessage): Person | undefined {
		const found = this.people.get(message.sender);
		const unbound = message.senderBy === 'userId' && !found?.userIdBound;
		const person = unbound ? this.person(message.sender, message.at, this.aliases) : (found ?? this.person(message.sender, message.at));
		if (!unbound && message.withUserId && message.senderBy === 'number') this.bind(message.sender, person);
		person.lastMessageAt = Math.max(person.lastMessageAt ?? -Infinity, message.at);
		this.touch(person, message.at);
		return person;
	}

	private attempt(request: Request) {
		request.attempts += 1;
		if (request.attempts >= this.settings.maxAttempts && request.status === 'pending') request.status = 'failed';
	}

	/** #10, #11, #12: only the right code, unexpired, from the very number entered confirms. */
	confirm(message: CodeMessage): { outcome: ConfirmOutcome; duplicate: boolean } {
		return this.once(`message:${message.messageId}`, () => ({ outcome: this.confirmOnce(message) }));
	}

	private confirmOnce(message: CodeMessage): ConfirmOutcome {
		const owner = message.requestOf && this.people.get(message.requestOf.person);
		const request = owner?.requests.find((r) => r.id === message.requestOf!.id);
		if (!owner || !request) {
			const sender = this.openWindow(message);
			if (!message.looksLikeCode) return 'no_code';
			// The newest pending request takes the failed try; of two made in the same millisecond, the greater id.
			const pending = sender?.requests.filter((r) => r.status === 'pending').sort((a, b) => b.createdAt - a.createdAt || (b.id > a.id ? 1 : -1))[0];
			if (pending) this.attempt(pending);
			return 'unknown_code';
		}
		// #11: only the number that was entered confirms. A sender without a number is the person a message tied their
		// user id to; one nobody tied is asked for the number, and the request waits for it.
		if (message.senderBy === 'userId' && !this.people.get(message.sender)?.userIdBound) {
			this.openWindow(message);
			return this.refusal(owner, request, message.at) ?? 'number_needed';
		}
		if (message.requestOf!.person !== message.sender) {
			this.attempt(request);
			this.openWindow(message);
			return 'wrong_number';
		}
		const person = owner;
		const refused = this.refusal(person, request, message.at);
		if (refused) {
			person.lastMessageAt = Math.max(person.lastMessageAt ?? -Infinity, message.at);
			this.touch(person, message.at);
			return refused;
		}
		const confirmed = request.purposes.filter((purpose) => !this.superseded(person, purpose, message.at));
		for (const purpose of confirmed) {
			const consent = person.consents.get(purpose)!;
			consent.state = 'confirmed';
			consent.confirmedAt = message.at;
			consent.withdrawnAt = null;
			// #22: a marketing STOP sent after this code was sent stands.
			if (consent.marketingWithdrawnAt !== null && !withdrawalWins(consent.marketingWithdrawnAt, message.at)) consent.marketingWithdrawnAt = null;
		}
		request.status = 'confirmed';
		if (message.withUserId) this.bind(message.sender, person);
		person.lastMessageAt = Math.max(person.lastMessageAt ?? -Infinity, message.at);
		this.touch(person, message.at);
		// #26: a new double opt-in lifts the suppression for what it confirms; 'all' narrows to the other purposes.
		const suppressed = this.suppressions.get(message.sender);
		if (suppressed) {
			if (suppressed.has('all')) for (const other of this.settings.purposes) if (!confirmed.includes(other)) suppressed.add(other);
			for (const scope of ['all', 'marketing', ...confirmed]) suppressed.delete(scope);
		}
		return 'confirmed';
	}

	/** Meta delivers out of order: a withdrawal the person sent after this code takes precedence. */
	private superseded(person: Person, purpose: string, at: Ms): boolean {
		const consent = person.consents.get(purpose);
		return consent?.withdrawnAt != null && withdrawalWins(consent.withdrawnAt, at);
	}

	private refusal(person: Person, request: Request, at: Ms): ConfirmOutcome | undefined {
		if (request.status === 'confirmed') return 'already_confirmed';
		if (request.status === 'failed' || request.attempts >= this.settings.maxAttempts) return 'too_many_attempts';
		if (request.purposes.every((purpose) => this.superseded(person, purpose, at))) {
			request.status = 'cancelled';
			return 'superseded_by_withdrawal';
		}
		if (request.status !== 'pending' || at > request.expiresAt) {
			if (request.status === 'pending') request.status = 'expired';
			return 'expired';
		}
		return undefined;
	}

	/** #21–#26: a withdrawal, from WhatsApp (a STOP owes one confirmation) or any other channel. */
	revoke(index: number, scope: Scope, at: Ms, deliveryKey: string | undefined, owesConfirmation: boolean) {
		return this.once(deliveryKey, () => {
			const scopes = scope === 'all' || scope === 'marketing' ? [scope] : scope;
			const suppressed = this.suppressions.get(index) ?? new Set<string>();
			scopes.forEach((s) => suppressed.add(s));
			this.suppressions.set(index, suppressed);
			const person = this.people.get(index);
			if (!person) return {};
			const given = (consent: Consent) => (consent.state === 'confirmed' ? consent.confirmedAt! : consent.requestedAt!);
			for (const [purpose, consent] of person.consents) {
				if (consent.state === 'withdrawn' || !withdrawalWins(at, given(consent))) continue;
				if (scope === 'marketing') {
					consent.marketingWithdrawnAt = Math.max(consent.marketingWithdrawnAt ?? -Infinity, at);
				} else if (scope === 'all' || scope.includes(purpose)) {
					consent.state = 'withdrawn';
					consent.withdrawnAt = at;
				}
			}
			if (scope !== 'marketing') {
				for (const request of person.requests) {
					const inScope = scope === 'all' || request.purposes.some((p) => scope.includes(p));
					if (request.status === 'pending' && inScope && withdrawalWins(at, request.createdAt)) request.status = 'cancelled';
				}
			}
			this.touch(person, at);
			person.lastWithdrawalAt = Math.max(person.lastWithdrawalAt ?? -Infinity, at);
			if (owesConfirmation) person.stopOwedAt = Math.max(person.stopOwedAt ?? -Infinity, at);
			return {};
		});
	}

	/** #17: Meta's in-app "stop marketing" switch, and error 131050. */
	setInAppPreference(index: number, value: 'stop' | 'resume', at: Ms, deliveryKey: string) {
		return this.once(deliveryKey, () => {
			const person = this.people.get(index);
			if (!person) return {};
			if (value === 'stop') person.inAppStopAt = Math.max(person.inAppStopAt ?? -Infinity, at);
			else person.inAppResumeAt = Math.max(person.inAppResumeAt ?? -Infinity, at);
			return {};
		});
	}

	private inAppStopped(person: Person): boolean {
		return person.inAppStopAt !== null && (person.inAppResumeAt === null || withdrawalWins(person.inAppStopAt, person.inAppResumeAt));
	}

	/** #15–#19, #23: the gate. `byUserId`: asked by Meta's business-scoped user id instead of the number. */
	gate(index: number, byUserId: boolean, purpose: string, category: Category): Answer {
		const person = this.addressed(index, byUserId);
		const no = (reason: string): Answer => ({ allowed: false, reason });
		if (category === 'service') {
			// #19: a reply inside 24 h of the person's last message; a withdrawal closes the window open before it.
			if (!person || person.lastMessageAt === null || this.now - person.lastMessageAt >= WINDOW) return no('outside_service_window');
			if (person.lastWithdrawalAt !== null && withdrawalWins(person.lastWithdrawalAt, person.lastMessageAt)) return no('withdrawn_since_last_message');
			return { allowed: true, reason: 'service_window_open' };
		}
		if (category === 'withdrawal_confirmation') {
			// #23: one confirmation of a STOP, inside the 24 h its message opened.
			const owed = person?.stopOwedAt ?? null;
			if (!person || owed === null || this.now - owed >= WINDOW || (person.stopConfirmedFor !== null && person.stopConfirmedFor >= owed)) {
				return no('no_withdrawal_to_confirm');
			}
			return { allowed: true, reason: 'withdrawal_to_confirm' };
		}
		const consent = person?.consents.get(purpose);
		if (!person || !consent) {
			// #29: the suppression list names the reason for a number the ledger has no consent of.
			const suppressed = byUserId ? undefined : this.suppressions.get(index);
			if (suppressed && (suppressed.has('all') || suppressed.has(purpose) || (category === 'marketing' && suppressed.has('marketing')))) {
				return no('suppressed');
			}
			return no('never_asked');
		}
		if (consent.state === 'pending') return no('pending'); // #9
		if (consent.state === 'withdrawn') return no('withdrawn'); // #16, #22
		if (category === 'marketing' && consent.marketingWithdrawnAt !== null) return no('withdrawn');
		if (category === 'marketing' && this.inAppStopped(person)) return no('marketing_stopped_in_app'); // #17
		if (this.settings.maxConsentAge !== undefined && this.now - consent.confirmedAt! > this.settings.maxConsentAge) return no('consent_too_old'); // #18
		return { allowed: true, reason: 'consented' };
	}

	/** #15, #20: a send is reserved under its key after the gate said yes; a key is never sent twice. */
	reserve(key: string, index: number, byUserId: boolean, purpose: string, category: Category): 'reserved' | 'refused' | 'duplicate' {
		const previous = this.sends.get(key);
		if (previous && previous.status !== 'failed') return 'duplicate';
		if (!this.gate(index, byUserId, purpose, category).allowed) return 'refused';
		const person = this.addressed(index, byUserId)!;
		person.hasSends = true;
		if (category === 'withdrawal_confirmation') person.stopConfirmedFor = person.stopOwedAt;
		const alias = person !== this.people.get(index);
		this.sends.set(key, { person: index, ...(alias ? { alias: true as const } : {}), status: 'reserved', updatedAt: this.now });
		return 'reserved';
	}

	complete(key: string, wamid: string) {
		const send = this.sends.get(key)!;
		send.status = 'accepted';
		send.wamid = wamid;
		send.updatedAt = this.now;
		const person = send.person === null ? undefined : (send.alias ? this.aliases : this.people).get(send.person);
		if (person) this.touch(person, this.now);
	}

	fail(key: string, outcome: 'failed' | 'unknown') {
		const send = this.sends.get(key)!;
		send.status = outcome;
		send.updatedAt = this.now;
	}

	/** Statuses move a send forward only; 131050 on a failed one is the in-app stop, in the same transaction. */
	status(key: string, status: 'sent' | 'delivered' | 'read' | 'failed', marketingStopped: boolean, at: Ms, recipient: number) {
		return this.once(`status:${this.sends.get(key)!.wamid}:${status}`, () => {
			const send = this.sends.get(key)!;
			if ((STATUS_RANK[send.status] ?? 0) < STATUS_RANK[status] && send.status !== 'unknown') {
				send.status = status;
				send.updatedAt = at;
			}
			if (status === 'failed' && marketingStopped) {
				const person = this.people.get(recipient);
				if (person) person.inAppStopAt = Math.max(person.inAppStopAt ?? -Infinity, at);
			}
			return {};
		});
	}

	/** #31: erasure leaves a suppression entry; with the legal-claims exception the proof stays, every consent ends. */
	erase(index: number, retainProof: boolean) {
		const at = this.now;
		const suppressed = this.suppressions.get(index) ?? new Set<string>();
		suppressed.add('all');
		this.suppressions.set(index, suppressed);
		const person = this.people.get(index);
		if (!person) return;
		if (!retainProof) {
			this.forget(index);
			return;
		}
		for (const request of person.requests) if (request.status === 'pending') request.status = 'cancelled';
		for (const consent of person.consents.values()) {
			if (consent.state !== 'withdrawn') {
				consent.state = 'withdrawn';
				consent.withdrawnAt = at;
			}
		}
		person.lastWithdrawalAt = Math.max(person.lastWithdrawalAt ?? -Infinity, at);
	}

	private forget(index: number, alias = false) {
		(alias ? this.aliases : this.people).delete(index);
		// erasure and purge delete the person's sends with them (their proof is the chain's send.recorded)
		for (const [key, send] of this.sends) if (send.person === index && (send.alias ?? false) === alias) this.sends.delete(key);
	}

	/** #14, #28: unconfirmed sign-ups after the pending retention; proof after the end of the year + N years. */
	purge() {
		const cutoff = this.now - this.settings.pendingRetention;
		const unconfirmed = [...this.people].filter(
			([, p]) =>
				p.createdAt < cutoff &&
				p.consents.size > 0 &&
				[...p.consents.values()].every((c) => c.state === 'pending' && c.withdrawnAt === null && c.requestedAt! < cutoff) &&
				!p.hasSends,
		);
		for (const [, person] of this.people) {
			person.requests = person.requests.filter((r) => r.status === 'confirmed' || r.createdAt >= cutoff);
			for (const [purpose, consent] of person.consents) {
				if (consent.state !== 'pending' || consent.requestedAt! >= cutoff) continue;
				if (consent.withdrawnAt === null) person.consents.delete(purpose);
				else consent.state = 'withdrawn'; // a new sign-up after a withdrawal that was never confirmed
			}
		}
		const nowYear = new Date(this.now).getUTCFullYear();
		const lapsed = (p: Person) =>
			new Date(p.lastActivityAt).getUTCFullYear() + this.settings.proofRetentionYears + 1 <= nowYear &&
			![...p.consents.values()].some((c) => c.state === 'confirmed' || c.state === 'pending');
		const expired = [...this.people].filter(([, p]) => lapsed(p));
		for (const [index] of [...unconfirmed, ...expired]) this.forget(index);
		for (const [index, alias] of [...this.aliases]) if (lapsed(alias)) this.forget(index, true);
		// Operational records: handled deliveries and finished sends (one reserved or of unknown outcome stays: it may
		// have gone out). A forgotten key can be sent again; a forgotten delivery is older than the replay window.
		const operational = this.now - this.settings.operationalRetention;
		for (const [key, at] of this.deliveredAt) {
			if (at < operational) {
				this.deliveredAt.delete(key);
				this.deliveries.delete(key);
			}
		}
		for (const [key, send] of this.sends) {
			if (send.status !== 'reserved' && send.status !== 'unknown' && send.updatedAt < operational) this.sends.delete(key);
		}
	}
}
