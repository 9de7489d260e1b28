/**
 * The first line against abuse of a public sign-up form: a sliding window per visitor address and per phone number,
 * kept in memory. It stops one visitor from flooding the ledger and one number from collecting codes; the ledger's
 * own per-number limit is the durable second line.
 */
import { ConsentError } from '../errors';
import type { WidgetLanguage } from './config';
import { STRINGS } from './texts';

export interface WindowLimit {
	limit: number;
	windowMinutes: number;
}

export interface SignupLimits {
	perIp: WindowLimit;
	perNumber: WindowLimit;
}

export const DEFAULT_SIGNUP_LIMITS: SignupLimits = {
	perIp: { limit: 5, windowMinutes: 10 },
	perNumber: { limit: 3, windowMinutes: 60 },
};

/** Too many sign-ups from one address or for one number; the message is in the visitor's language. */
export class TooManySignupsError extends ConsentError {
	readonly retryAfterMinutes: number;
	readonly scope: 'ip' | 'number';

	constructor(scope: 'ip' | 'number', retryAfterMinutes: number, language: WidgetLanguage) {
		super('too_many_signups', STRINGS[language].errors.tooMany(retryAfterMinutes), {
			field: scope === 'number' ? 'phone' : undefined,
			hint: `Sign-ups per ${scope === 'ip' ? 'visitor address' : 'number'} are limited; raise the limit in the widget settings if real visitors hit it`,
		});
		this.scope = scope;
		this.retryAfterMinutes = retryAfterMinutes;
	}
}

/** Bounds memory under a flood of distinct addresses: the oldest keys go first. */
const MAX_TRACKED_KEYS = 50_000;

export class SignupRateLimiter {
	private readonly limits: SignupLimits;
	private readonly clock: () => Date;
	private readonly hits = new Map<string, number[]>();

	constructor(limits: Partial<SignupLimits> = {}, clock: () => Date = () => new Date()) {
		this.limits = { ...DEFAULT_SIGNUP_LIMITS, ...limits };
		for (const [name, { limit, windowMinutes }] of Object.entries(this.limits)) {
			if (!Number.isInteger(limit) || limit < 1 || !(windowMinutes > 0)) {
				throw new ConsentError('invalid_input', `The sign-up limit '${name}' must allow at least 1 sign-up in a window longer than 0 minutes`, {
					field: `limits.${name}`,
				});
			}
		}
		this.clock = clock;
	}

	/**
	 * Counts one sign-up for the address and the number, or throws TooManySignupsError and counts nothing when
	 * either is over its limit.
	 */
	check(keys: { ip?: string; phone: string }, language: WidgetLanguage): void {
		const now = this.clock().getTime();
		const windows: [string, 'ip' | 'number', WindowLimit][] = [[`n:${keys.phone}`, 'number', this.limits.perNumber]];
		if (keys.ip) windows.unshift([`i:${keys.ip}`, 'ip', this.limits.perIp]);

		for (const [key, scope, { limit, windowMinutes }] of windows) {
			const recent = this.recent(key, now, windowMinutes);
			if (recent.length >= limit) {
				const freeAt = recent[recent.length - limit] + windowMinutes * 60_000;
				throw new TooManySignupsError(scope, Math.max(1, Math.ceil((freeAt - now) / 60_000)), language);
			}
		}
		for (const [key] of windows) {
			const recent = this.hits.get(key) ?? [];
			this.hits.delete(key); // re-inserted last, so the Map's order is least recently used first
			this.hits.set(key, [...recent, now]);
		}
		while (this.hits.size > MAX_TRACKED_KEYS) this.hits.delete(this.hits.keys().next().value as string);
	}

	private recent(key: string, now: number, windowMinutes: number): number[] {
		const since = now - windowMinutes * 60_000;
		const recent = (this.hits.get(key) ?? []).filter((at) => at > since);
		if (recent.length === 0) this.hits.delete(key);
		else this.hits.set(key, recent);
		return recent;
	}
}
