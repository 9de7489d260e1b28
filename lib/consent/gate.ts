/**
 * The gate every message passes (checklist 15–19): may this person get a message of this purpose and category?
 * `decide` is the whole rule, as a pure function of what the ledger holds; the queries around it only fetch rows.
 */
import { ValidationError } from '../errors';
import type { LedgerContext, Queryable } from './context';
import { SERVICE_WINDOW_MS } from './context';
import { resolveRecipient, type Identity } from './identity';
import { CATEGORIES, isReply, type Category, type GateDecision, type GateQuestion, type RefusalReason } from './types';

export interface GateFacts {
	subjectId?: string;
	/** The person's last message that was not a withdrawal (Meta's time). */
	lastInboundAt?: Date | null;
	lastWithdrawalAt?: Date | null;
	/** The latest STOP written on WhatsApp, and the one whose confirmation was sent. */
	stopOwedAt?: Date | null;
	stopConfirmedFor?: Date | null;
	marketingStoppedAt?: Date | null;
	marketingResumedAt?: Date | null;
	consent?: {
		state: 'pending' | 'confirmed' | 'withdrawn';
		confirmedAt: Date | null;
		textVersion: string | null;
		confirmEventSeq: number | null;
		/** STOP with the scope 'marketing only': this purpose's utility messages still go out. */
		marketingWithdrawnAt: Date | null;
	};
	suppressed: boolean;
	minTextVersion?: string | null;
}

const MESSAGES: Record<RefusalReason, string> = {
	invalid_recipient: 'The recipient is not a valid mobile number or WhatsApp user id',
	never_asked: 'This person never gave consent for this purpose',
	pending: 'The opt-in is not confirmed yet: the person has not sent the code from WhatsApp',
	withdrawn: 'The person withdrew consent for this purpose',
	suppressed: 'The number is on the suppression list (withdrawn or erased); only a new double opt-in lifts that',
	marketing_stopped_in_app: 'The person switched off marketing messages from this business in WhatsApp',
	outside_service_window:
		'The person has not written in the last 24 hours: a service reply is not allowed, send an approved template to a consented number instead',
	withdrawn_since_last_message:
		'The person withdrew consent after their last message: only the confirmation of the withdrawal may go out (category Withdrawal Confirmation), or a reply once they write again',
	no_withdrawal_to_confirm:
		'There is no STOP from this person in the last 24 hours that is still unconfirmed: a withdrawal is confirmed once',
	consent_too_old: 'The consent is older than the configured maximum age: ask for it again',
	outdated_text: 'The consent was given to an older consent text that changed materially: ask for it again',
	template_not_approved: 'The template is not approved for sending (paused, disabled, rejected or pending)',
	marketing_template_as_reply:
		'Meta approved this template as MARKETING: it is never a service reply or a withdrawal confirmation. Send it with the category Marketing and a purpose the person consented to',
};

export function refusal(reason: RefusalReason, subjectId?: string): GateDecision {
	return { allowed: false, reason, message: MESSAGES[reason], subjectId };
}

const versionOrder = new Intl.Collator('en', { numeric: true });

const time = (date: Date | null | undefined) => (date ? date.getTime() : null);

/** A withdrawal wins over what was given before it or in its second (Meta's timestamps are whole seconds). */
const withdrawalWins = (withdrawnAt: number, givenAt: number) => givenAt < withdrawnAt + 1000;

/** The in-app switch: the later of stop and resume; a stop in the same second as a resume wins. */
function stoppedInApp(facts: GateFacts): boolean {
	const stopped = time(facts.marketingStoppedAt);
	const resumed = time(facts.marketingResumedAt);
	return stopped !== null && (resumed === null || withdrawalWins(stopped, resumed));
}

/** The whole rule, as a pure function of what the ledger holds (test/model/consent-model.ts states it as a spec). */
export function decide(
	facts: GateFacts,
	category: Category,
	now: Date,
	maxConsentAgeDays: number | undefined,
	reserved = false,
): GateDecision {
	const { subjectId } = facts;
	if (category === 'service') {
		const lastInbound = time(facts.lastInboundAt);
		if (!subjectId || lastInbound === null || now.getTime() - lastInbound >= SERVICE_WINDOW_MS) return refusal('outside_service_window', subjectId);
		const lastWithdrawal = time(facts.lastWithdrawalAt);
		if (lastWithdrawal !== null && withdrawalWins(lastWithdrawal, lastInbound)) return refusal('withdrawn_since_last_message', subjectId);
		return { allowed: true, reason: 'service_window_open', subjectId };
	}
	if (category === 'withdrawal_confirmation') {
		const owed = time(facts.stopOwedAt);
		const confirmed = time(facts.stopConfirmedFor);
		if (!subjectId || owed === null || now.getTime() - owed >= SERVICE_WINDOW_MS || (!reserved && confirmed !== null && confirmed >= owed)) {
			return refusal('no_withdrawal_to_confirm', subjectId);
		}
		return { allowed: true, reason: 'withdrawal_to_confirm', subjectId };
	}
	const consent = facts.consent;
	if (!subjectId || !consent || consent.state !== 'confirmed') {
		if (facts.suppressed) return refusal('suppressed', subjectId);
		if (!consent) return refusal('never_asked', subjectId);
		return refusal(consent.state === 'pending' ? 'pending' : 'withdrawn', subjectId);
	}
	if (category === 'marketing' && consent.marketingWithdrawnAt) return refusal('withdrawn', subjectId);
	if (category === 'marketing' && stoppedInApp(facts)) return refusal('marketing_stopped_in_app', subjectId);
	if (
		maxConsentAgeDays !== undefined &&
		consent.confirmedAt &&
		now.getTime() - consent.confirmedAt.getTime() > maxConsentAgeDays * 86_400_000
	) {
		return refusal('consent_too_old', subjectId);
	}
	if (facts.minTextVersion && versionOrder.compare(consent.textVersion ?? '', facts.minTextVersion) < 0) {
		return refusal('outdated_text', subjectId);
	}
	return { allowed: true, reason: 'consented', subjectId, consentEventSeq: consent.confirmEventSeq ?? undefined };
}

/** A template as Meta approved it: the gate reads its category and status, never the workflow's word for them. */
export interface ApprovedTemplate {
	name: string;
	language: string;
	/** MARKETING, UTILITY or AUTHENTICATION. */
	category: string;
	status: string;
	reason?: string;
}

/** What Meta's pauses and disablements mean, for the refusal. */
const TEMPLATE_STATUS_FIXES: Record<string, string> = {
	PAUSED: 'Meta paused it for low quality (too many blocks or reports); it resumes on its own after the pause, or edit it in WhatsApp Manager',
	DISABLED: 'Meta disabled it after repeated pauses; create a new template',
	REJECTED: 'Meta rejected it; edit it and submit it again in WhatsApp Manager',
	PENDING: 'Meta is still reviewing it; wait for the approval',
};

/**
 * The category a template message is asked about (checklist 15–17): Meta's, wherever it is stricter than the one the
 * workflow gave. A MARKETING template is marketing whatever the workflow calls it, so it can never pass as utility
 * or as a service reply; a utility or authentication template keeps the workflow's category (a service reply in the
 * window stays one). A template Meta does not let through (paused, disabled, …) is refused before the call.
 */
export function templateQuestion(template: ApprovedTemplate, requested: Category): { category: Category } | { refused: GateDecision & { allowed: false } } {
	if (template.status !== 'APPROVED') {
		const fix = TEMPLATE_STATUS_FIXES[template.status] ?? 'Check its status in WhatsApp Manager';
		const because = template.reason && template.reason !== 'NONE' ? ` (${template.reason})` : '';
		return {
			refused: {
				allowed: false,
				reason: 'template_not_approved',
				message: `Template '${template.name}' (${template.language}) is ${template.status.toLowerCase()}${because}: ${fix}`,
			},
		};
	}
	if (template.category !== 'MARKETING') return { category: requested };
	if (isReply(requested)) return { refused: { allowed: false, reason: 'marketing_template_as_reply', message: `Template '${template.name}' (${template.language}): ${MESSAGES.marketing_template_as_reply}` } };
	return { category: 'marketing' };
}

export function assertCategory(category: unknown, field = 'category'): Category {
	if (!CATEGORIES.includes(category as Category)) {
		throw new ValidationError(field, `'${String(category)}' is not a message category`, `Use one of: ${CATEGORIES.join(', ')}`);
	}
	return category as Category;
}

/** Checks purposes exist; returns their minimum text versions. */
export async function loadPurposes(db: Queryable, purposes: string[], field = 'purpose'): Promise<Map<string, string | null>> {
	const rows = await db.query<{ id: string; min_text_version: string | null }>('SELECT id, min_text_version FROM purposes');
	return knownPurposes(new Map(rows.map((row) => [row.id, row.min_text_version])), purposes, field);
}

/** `known`: every purpose with its minimum text version. Throws for a purpose not among them. */
function knownPurposes(known: Map<string, string | null>, purposes: string[], field: string): Map<string, string | null> {
	const unknown = [...new Set(purposes)].filter((purpose) => !known.has(purpose));
	if (unknown.length > 0) {
		throw new ValidationError(
			field,
			`Unknown purpose '${unknown.join("', '")}'`,
			known.size > 0
				? `Known purposes: ${[...known.keys()].join(', ')}`
				: 'No purposes are defined yet: define them in the Opt-In Trigger (or with ledger.definePurposes) first',
		);
	}
	return known;
}

/**
 * What the gate may read about one person and one of the asked purposes (purpose and state are null without
 * consent), and the column each comes from.
 */
const FACT_SOURCES = {
	id: 's.id',
	purpose: 'c.purpose',
	state: 'c.state',
	confirmEventSeq: 'c.confirm_event_seq',
	lastInboundAt: 's.last_inbound_at',
	lastWithdrawalAt: 's.last_withdrawal_at',
	stopOwedAt: 's.stop_owed_at',
	stopConfirmedFor: 's.stop_confirmed_for',
	marketingStoppedAt: 's.marketing_stopped_at',
	marketingResumedAt: 's.marketing_resumed_at',
	marketingWithdrawnAt: 'c.marketing_withdrawn_at',
	confirmedAt: 'c.confirmed_at',
	textVersion: 'c.text_version',
} as const;
type FactName = keyof typeof FACT_SOURCES;
type FactRow = Partial<Record<FactName, string | null>> & { state?: 'pending' | 'confirmed' | 'withdrawn' | null; confirmEventSeq?: number | null };

/** Only what the rule will read for these questions: every column costs time at 100,000 questions. */
function factsNeeded(categories: Set<Category>, options: { confirmedAt: boolean; textVersion: boolean }): FactName[] {
	const needed: FactName[] = ['id', 'purpose', 'state', 'confirmEventSeq'];
	if (categories.has('service')) needed.push('lastInboundAt', 'lastWithdrawalAt');
	if (categories.has('withdrawal_confirmation')) needed.push('stopOwedAt', 'stopConfirmedFor');
	if (categories.has('marketing')) needed.push('marketingStoppedAt', 'marketingResumedAt', 'marketingWithdrawnAt');
	if (options.confirmedAt) needed.push('confirmedAt');
	if (options.textVersion) needed.push('textVersion');
	return needed;
}

/**
 * The facts for many people in one query. They come back as one JSON text, not as rows: for 100,000 questions
 * building and copying 50,000 row objects cost more than finding them (PGlite builds them on the database thread and
 * copies them to this one; one string crosses at once).
 */
interface FoundFacts {
	byLookup: Map<string, FactRow[]>;
	purposes?: Map<string, string | null>;
}

async function fetchFacts(
	db: Queryable,
	kind: Identity['kind'],
	lookups: string[],
	purposes: string[],
	facts: FactName[],
	lock: GateLock,
	/** Also read every purpose with its minimum text version, in the same query (one round trip less). */
	withPurposes: boolean,
): Promise<FoundFacts> {
	// A user id names a person by their own user id or by the parent user id of linked portfolios: one query each.
	const columns = kind === 'phone' ? ['phone_hmac'] : ['user_id_hmac', 'parent_user_id_hmac'];
	const select = (column: string) =>
		`SELECT s.${column} AS lookup, ${facts.map((fact, index) => `${FACT_SOURCES[fact]} AS f${index}`).join(', ')}
			 FROM subjects s
			 LEFT JOIN consents c ON c.subject_id = s.id AND c.purpose = ANY($2::text[])
			 WHERE s.${column} = ANY(string_to_array($1, ','))${lock === 'none' ? '' : lock === 'share' ? ' FOR SHARE OF s' : ' FOR UPDATE OF s'}`;
	// Two in CTEs of their own: PostgreSQL takes no row locks in the arms of a UNION.
	const source = columns.length === 1 ? select(columns[0]) : `SELECT * FROM k0 UNION ALL SELECT * FROM k1`;
	const [{ found, known }] = await db.query<{ found: string | null; known?: string | null }>(
		`${columns.length === 1 ? '' : `WITH k0 AS (${select(columns[0])}), k1 AS (${select(columns[1])})`}
		 SELECT json_agg(json_build_array(lookup, ${facts.map((_, index) => `f${index}`).join(', ')}))::text AS found
			${withPurposes ? ', (SELECT json_agg(json_build_array(id, min_text_version)) FROM purposes)::text AS known' : ''}
		 FROM (${source}) AS fact`,
		// One text instead of a text[]: for 100,000 keys it is the cheaper parameter to send (hex has no commas).
		[lookups.join(','), purposes],
	);
	const byLookup = new Map<string, FactRow[]>();
	for (const [lookup, ...values] of JSON.parse(found ?? '[]') as [string, ...unknown[]][]) {
		const row = Object.fromEntries(facts.map((name, index) => [name, values[index]])) as FactRow;
		const known = byLookup.get(lookup);
		if (known) known.push(row);
		else byLookup.set(lookup, [row]);
	}
	return withPurposes ? { byLookup, purposes: new Map(JSON.parse(known ?? '[]') as [string, string | null][]) } : { byLookup };
}

/**
 * Whether some purpose had a minimum text version when the gate last read them, per ledger: the facts are read
 * with each consent's text version then (as they are the first time). Only a hint for the query's columns: should it
 * turn out wrong, the facts are read again with the text version.
 */
const minVersionsSeen = new WeakMap<LedgerContext, boolean>();

export type GateLock = 'none' | 'share' | 'update';

const dateOf = (value: string | null | undefined) => (value ? new Date(value) : null);

/**
 * Answers many questions with a few queries: one per identity kind for subjects and consents, one for the
 * suppression list of those not confirmed. `lock` is for reservations, which must order against a withdrawal ('share'),
 * or use up what only one may use ('update': the one confirmation of a STOP).
 */
export async function answer(
	ctx: LedgerContext,
	db: Queryable,
	questions: GateQuestion[],
	lock: GateLock = 'none',
): Promise<GateDecision[]> {
	const now = ctx.now();
	const identities: Identity[] = questions.map((question, index) => {
		assertCategory(question.category, questions.length > 1 ? `items[${index}].category` : 'category');
		return resolveRecipient(ctx, question.recipient, ctx.options.defaultCountry, questions.length > 1 ? `items[${index}].recipient` : 'recipient');
	});
	// Only consent-based categories name a purpose the gate must know; a reply or a STOP's confirmation needs none.
	const purposes = [...new Set(questions.filter((q) => !isReply(q.category)).map((q) => q.purpose))];
	const categories = new Set(questions.map((q) => q.category));
	const kinds = (['phone', 'user'] as const).map((kind) => ({
		kind,
		lookups: [...new Set(identities.filter((identity) => identity.kind === kind).map((identity) => identity.lookup))],
	}));
	// The purposes come with the first kind's facts: one query, and one snapshot, for both.
	const withPurposes = kinds.findIndex(({ lookups }) => lookups.length > 0);
	const fetch = (textVersion: boolean) => {
		const facts = factsNeeded(categories, { confirmedAt: ctx.options.maxConsentAgeDays !== undefined, textVersion });
		return Promise.all(
			kinds.map(({ kind, lookups }, index) =>
				lookups.length === 0 ? ({ byLookup: new Map() } as FoundFacts) : fetchFacts(db, kind, lookups, purposes, facts, lock, index === withPurposes),
			),
		);
	};
	const withTextVersion = minVersionsSeen.get(ctx) ?? true;
	const fetching = fetch(withTextVersion);
	fetching.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
	// While the database looks the facts up, this thread has nothing to do: it keys the numbers for the suppression
	// list now (after letting the queries leave), rather than after the answer for those that turn out unknown.
	await new Promise((resolve) => setImmediate(resolve));
	const suppressionKeys = identities.map((identity) => (identity.kind === 'phone' ? ctx.keys.suppressionHmac(identity.e164) : undefined));
	let found = await fetching;
	const minVersions = knownPurposes(found[withPurposes].purposes!, purposes, 'purpose');
	const textVersionNeeded = [...minVersions.values()].some(Boolean);
	minVersionsSeen.set(ctx, textVersionNeeded);
	if (textVersionNeeded && !withTextVersion) found = await fetch(true);
	const [{ byLookup: phoneFacts }, { byLookup: userFacts }] = found;

	const factsFor = (index: number): GateFacts => {
		const identity = identities[index];
		const rows = (identity.kind === 'phone' ? phoneFacts : userFacts).get(identity.lookup) ?? [];
		const purpose = questions[index].purpose;
		const consent = rows.find((row) => row.purpose === purpose && row.state !== null);
		const person = rows[0];
		return {
			subjectId: person?.id ?? undefined,
			lastInboundAt: dateOf(person?.lastInboundAt),
			lastWithdrawalAt: dateOf(person?.lastWithdrawalAt),
			stopOwedAt: dateOf(person?.stopOwedAt),
			stopConfirmedFor: dateOf(person?.stopConfirmedFor),
			marketingStoppedAt: dateOf(person?.marketingStoppedAt),
			marketingResumedAt: dateOf(person?.marketingResumedAt),
			consent: consent && {
				state: consent.state!,
				confirmedAt: dateOf(consent.confirmedAt),
				textVersion: consent.textVersion ?? null,
				confirmEventSeq: consent.confirmEventSeq ?? null,
				marketingWithdrawnAt: dateOf(consent.marketingWithdrawnAt),
			},
			suppressed: false,
			minTextVersion: minVersions.get(purpose),
		};
	};

	const decisions = questions.map((question, index) => decide(factsFor(index), question.category, now, ctx.options.maxConsentAgeDays, question.reserved));

	// The suppression list outlives erasure: it names the reason for someone the ledger no longer knows.
	const unknown = decisions.flatMap((decision, index) =>
		!decision.allowed && decision.reason === 'never_asked' && suppressionKeys[index] !== undefined ? [index] : [],
	);
	if (unknown.length > 0) {
		const rows = await db.query<{ hmac: string; scope: string }>(
			`SELECT hmac, scope FROM suppressions WHERE hmac = ANY(string_to_array($1, ','))`,
			[[...new Set(unknown.map((index) => suppressionKeys[index]))].join(',')],
		);
		const scopes = new Map<string, Set<string>>();
		for (const row of rows) scopes.set(row.hmac, (scopes.get(row.hmac) ?? new Set()).add(row.scope));
		for (const index of unknown) {
			const found = scopes.get(suppressionKeys[index]!);
			const purpose = questions[index].purpose;
			if (found && (found.has('all') || found.has(purpose) || (questions[index].category === 'marketing' && found.has('marketing')))) {
				decisions[index] = refusal('suppressed', decisions[index].subjectId);
			}
		}
	}
	return decisions;
}
