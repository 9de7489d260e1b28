/** What every ledger operation shares: the store, the keys, the settings and the clock. */
import { ValidationError } from '../errors';
import type { KeywordOptions } from '../keywords';
import type { CountryCode } from '../phone';
import type { Queryable, Store } from '../store';
import type { LedgerKeys } from './crypto';
import type { OptInGroups } from './optin-groups';
import type { UnreleasedClaims } from './outbox';

export type IpMode = 'off' | 'truncated' | 'hashed';

export interface LedgerOptions {
	/** Country for numbers typed without +: e.g. 'DE' reads 0151 1234567 as +49 151 1234567. */
	defaultCountry?: CountryCode;
	/** The ledger's clock; tests inject one. */
	clock?: () => Date;
	/** How long a one-time code stays valid (default 24 h). */
	codeTtlMinutes?: number;
	/** Messages without the right code before a request is locked (default 5). */
	maxCodeAttempts?: number;
	/** Unconfirmed requests and their codes are deleted after this (default 72 h, checklist 14). */
	pendingRetentionHours?: number;
	/** Proof is kept to the end of the year plus this many years after the last send or withdrawal (default 3). */
	proofRetentionYears?: number;
	/** Consent older than this needs renewing before marketing (default: no limit). */
	maxConsentAgeDays?: number;
	/** What is kept of the visitor's IP address (default 'off', checklist 8). */
	ipMode?: IpMode;
	/**
	 * Operational records are deleted by purge() after this many days (default 30): handled webhook deliveries, the
	 * rows of finished sends, early statuses and rejected events. Meta redelivers a webhook for up to 7 days.
	 */
	operationalRetentionDays?: number;
	/**
	 * A webhook event whose Meta timestamp is older than this many days is a replay, without effect (default 14).
	 * At most the operational retention: a redelivery must never outlive the record that it was handled.
	 */
	replayWindowDays?: number;
	/**
	 * Sign-up requests per number per hour, from all networks together (default 20): the durable bound on what a flood
	 * writes for one number. The widget's own window counts per number and network (lib/widget/rate-limit.ts), 3 an
	 * hour, so a stranger needs 7 networks within the hour to make the owner wait.
	 */
	maxRequestsPerNumberPerHour?: number;
	/** What a withdrawal is: the one setting the Opt-In Trigger (before it answers Meta) and Handle STOP both use. */
	withdrawal?: Partial<WithdrawalPolicy>;
}

/** Which messages withdraw (STOP and its variants, with the operator's own words) and what a STOP withdraws. */
export interface WithdrawalPolicy {
	scope: 'all' | 'marketing';
	keywords: KeywordOptions;
}

export type ResolvedOptions = Required<Omit<LedgerOptions, 'defaultCountry' | 'clock' | 'maxConsentAgeDays' | 'withdrawal'>> &
	Pick<LedgerOptions, 'defaultCountry' | 'maxConsentAgeDays'> & { withdrawal: WithdrawalPolicy };

export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Meta retries a webhook for up to 7 days: the replay window is twice that, the retention about four times. */
export const DEFAULT_REPLAY_WINDOW_DAYS = 14;
export const DEFAULT_OPERATIONAL_RETENTION_DAYS = 30;

export function resolveOptions(options: LedgerOptions): ResolvedOptions {
	const retention = options.operationalRetentionDays ?? DEFAULT_OPERATIONAL_RETENTION_DAYS;
	const window = options.replayWindowDays ?? DEFAULT_REPLAY_WINDOW_DAYS;
	for (const [field, days] of [['operationalRetentionDays', retention], ['replayWindowDays', window]] as const) {
		if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) {
			throw new ValidationError(field, `${field} must be a number of days above 0`, 'Leave it empty for the default');
		}
	}
	if (window > retention) {
		throw new ValidationError(
			'replayWindowDays',
			`The replay window (${window} days) is longer than the operational retention (${retention} days): a redelivery inside the window could find its record purged and be processed again`,
			'Make Replay Window at most Keep Operational Records For (both in days)',
		);
	}
	return {
		defaultCountry: options.defaultCountry,
		codeTtlMinutes: options.codeTtlMinutes ?? 24 * 60,
		maxCodeAttempts: options.maxCodeAttempts ?? 5,
		pendingRetentionHours: options.pendingRetentionHours ?? 72,
		proofRetentionYears: options.proofRetentionYears ?? 3,
		maxConsentAgeDays: options.maxConsentAgeDays,
		ipMode: options.ipMode ?? 'off',
		maxRequestsPerNumberPerHour: options.maxRequestsPerNumberPerHour ?? 20,
		operationalRetentionDays: options.operationalRetentionDays ?? DEFAULT_OPERATIONAL_RETENTION_DAYS,
		replayWindowDays: options.replayWindowDays ?? DEFAULT_REPLAY_WINDOW_DAYS,
		withdrawal: { scope: options.withdrawal?.scope ?? 'all', keywords: options.withdrawal?.keywords ?? {} },
	};
}

export interface LedgerContext {
	store: Store;
	keys: LedgerKeys;
	options: ResolvedOptions;
	now(): Date;
	/** Sign-ups and confirmations of concurrent callers, grouped into set-based calls. */
	optIns: OptInGroups;
	/** Outbox claims given back while the store was away, freed before the next claim (shared by `Ledger.on`). */
	unreleased: UnreleasedClaims;
}

export type { Queryable };
