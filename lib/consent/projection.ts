/**
 * The tables the gate reads, rebuilt from the events (invariant 5: they are a projection of the chain). verifyChain
 * compares the rebuilt state with the tables, so an edit of `consents` or of a person's in-app switch that no event
 * explains is found, and named by the person's id.
 *
 * What each event does here is what lib/consent/optin.ts, withdrawal.ts and the SQL of optin-functions.ts do to the
 * tables, stated once more on purpose: the generated histories of test/model run verifyChain after every history, so
 * the two are held together. Rows the events know but the tables lack are not a finding: retention deletes
 * unconfirmed sign-ups and people whose proof expired with a count only (retention.purged).
 */
/** withdrawal_wins (migration 6): a withdrawal wins over what was given before it or in its second. */
const withdrawalWins = (withdrawnAt: number | null, givenAt: number) => withdrawnAt !== null && givenAt < withdrawnAt + 1000;

interface ConsentFacts {
	state: 'pending' | 'confirmed' | 'withdrawn';
	requestedAt: number;
	confirmedAt: number | null;
	withdrawnAt: number | null;
	marketingWithdrawn: number | null;
}

interface PersonFacts {
	consents: Map<string, ConsentFacts>;
	stoppedAt: number | null;
	resumedAt: number | null;
}

export interface ProjectedEvent {
	type: string;
	subjectId: string | null;
	atMs: number;
	payload: Record<string, unknown> | null;
}

export class Projection {
	private readonly people = new Map<string, PersonFacts>();

	private person(id: string): PersonFacts {
		let person = this.people.get(id);
		if (!person) this.people.set(id, (person = { consents: new Map(), stoppedAt: null, resumedAt: null }));
		return person;
	}

	apply(event: ProjectedEvent): void {
		const { subjectId: id, atMs: at, payload } = event;
		if (event.type === 'retention.purged' && typeof payload?.pendingBefore === 'string') {
			this.purgePending(Date.parse(payload.pendingBefore));
			return;
		}
		if (id === null) return;
		if (event.type === 'subject.erased') {
			// Kept for legal claims (rights.ts): every consent withdrawn, the person stays; otherwise they are gone.
			if (payload?.retainedProof !== true) {
				this.people.delete(id);
				return;
			}
			for (const consent of this.people.get(id)?.consents.values() ?? []) {
				if (consent.state !== 'withdrawn') Object.assign(consent, { state: 'withdrawn', withdrawnAt: at });
			}
			return;
		}
		// An erased person's payloads are blanked, and so is what they said; their erasure event removes them above.
		if (payload === null) return;
		const person = this.person(id);
		const purposes = (name: string) => (Array.isArray(payload[name]) ? (payload[name] as string[]) : []);
		switch (event.type) {
			case 'optin.requested':
				for (const purpose of purposes('purposes')) {
					const consent = person.consents.get(purpose);
					if (!consent) person.consents.set(purpose, { state: 'pending', requestedAt: at, confirmedAt: null, withdrawnAt: null, marketingWithdrawn: null });
					else if (consent.state !== 'confirmed') Object.assign(consent, { state: 'pending', requestedAt: at });
				}
				break;
			case 'optin.confirmed':
				for (const purpose of purposes('purposes')) {
					const consent = person.consents.get(purpose);
					if (!consent) continue;
					consent.marketingWithdrawn = withdrawalWins(consent.marketingWithdrawn, at) ? consent.marketingWithdrawn : null;
					Object.assign(consent, { state: 'confirmed', confirmedAt: at, withdrawnAt: null });
				}
				break;
			case 'consent.withdrawn':
				if (purposes('scope').includes('marketing')) {
					for (const consent of person.consents.values()) {
						const given = consent.state === 'confirmed' ? consent.confirmedAt! : consent.requestedAt;
						if (consent.state !== 'withdrawn' && withdrawalWins(at, given)) consent.marketingWithdrawn = Math.max(consent.marketingWithdrawn ?? at, at);
					}
				} else {
					for (const purpose of purposes('withdrawn')) {
						const consent = person.consents.get(purpose);
						if (consent) Object.assign(consent, { state: 'withdrawn', withdrawnAt: at });
					}
				}
				break;
			case 'marketing.stopped':
				person.stoppedAt = Math.max(person.stoppedAt ?? at, at);
				break;
			case 'marketing.resumed':
				person.resumedAt = Math.max(person.resumedAt ?? at, at);
				break;
		}
	}

	/**
	 * What purge() does to sign-ups requested before the cutoff and never confirmed (rights.ts): one after a
	 * withdrawal is withdrawn again, any other is deleted, with what a STOP had marked on it. A sign-up for the same
	 * purpose later starts from nothing, as its row does.
	 */
	private purgePending(before: number): void {
		for (const person of this.people.values()) {
			for (const [purpose, consent] of person.consents) {
				if (consent.state !== 'pending' || consent.requestedAt >= before) continue;
				if (consent.withdrawnAt === null) person.consents.delete(purpose);
				else consent.state = 'withdrawn';
			}
		}
	}

	/** The first difference between the tables' rows and the events, or undefined. */
	compare(subjects: SubjectFacts[], consents: ConsentRowFacts[]): { subjectId: string; problem: string } | undefined {
		for (const subject of subjects) {
			const person = this.people.get(subject.id);
			for (const [column, expected] of [
				['marketing_stopped_at', person?.stoppedAt ?? null],
				['marketing_resumed_at', person?.resumedAt ?? null],
			] as const) {
				const actual = subject[column];
				if (actual !== expected) {
					return { subjectId: subject.id, problem: `subject ${subject.id}: ${column} is ${show(actual)} in the table, the events say ${show(expected)}` };
				}
			}
		}
		for (const row of consents) {
			const consent = this.people.get(row.subject_id)?.consents.get(row.purpose);
			const where = `the consent of subject ${row.subject_id} for '${row.purpose}'`;
			if (!consent) return { subjectId: row.subject_id, problem: `${where} is in the table, but no event gave it` };
			// A purge recorded before its event carried the cutoff (`pendingBefore`): purge() ended a sign-up that came
			// after a withdrawal and was never confirmed, and the withdrawal stood again. Withdrawn is what purge made of
			// that row; it is stricter than the events, never more permissive.
			const purgedBack = row.state === 'withdrawn' && consent.state === 'pending' && consent.withdrawnAt !== null;
			if (row.state !== consent.state && !purgedBack) {
				return { subjectId: row.subject_id, problem: `${where} is '${row.state}' in the table, the events say '${consent.state}'` };
			}
			if (row.withdrawn_at !== consent.withdrawnAt) {
				return { subjectId: row.subject_id, problem: `${where}: withdrawn_at is ${show(row.withdrawn_at)} in the table, the events say ${show(consent.withdrawnAt)}` };
			}
			if ((row.marketing_withdrawn_at === null) !== (consent.marketingWithdrawn === null)) {
				return {
					subjectId: row.subject_id,
					problem: `${where}: marketing is ${row.marketing_withdrawn_at === null ? 'not ' : ''}withdrawn in the table, the events say it is${consent.marketingWithdrawn === null ? ' not' : ''}`,
				};
			}
		}
		return undefined;
	}
}

const show = (ms: number | null) => (ms === null ? 'empty' : new Date(ms).toISOString());

/** The facts of the tables, times in ms. */
export interface SubjectFacts {
	id: string;
	marketing_stopped_at: number | null;
	marketing_resumed_at: number | null;
}

export interface ConsentRowFacts {
	subject_id: string;
	purpose: string;
	state: string;
	withdrawn_at: number | null;
	marketing_withdrawn_at: number | null;
}
