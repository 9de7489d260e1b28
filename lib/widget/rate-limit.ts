/**
 * The first line against abuse of a public sign-up form: sliding windows kept in memory, per visitor network and per
 * number entered from that network. The ledger's own per-number limit is the durable second line.
 *
 * A network is an IPv4 address, or an IPv6 /64: one home or phone gets a whole /64, so counting IPv6 addresses one by
 * one would give a single visitor 2^64 tries.
 *
 * The per-number window counts per number *and network*, so that a stranger who types someone else's number uses up
 * only their own tries: the owner, from their own network, still gets through. (A code costs the number's owner
 * nothing until they send it, so the window is about the ledger's size, not about protecting the owner.) What a
 * stranger with many networks can still do is reach the ledger's durable per-number limit (20 an hour from all
 * networks: 7 networks' worth of tries), which delays the owner's sign-up by at most an hour.
 */
import { isIPv4, isIPv6 } from 'node:net';
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

/** The network an address counts for: itself for IPv4 (also written as IPv4-mapped IPv6), its /64 for IPv6. */
export function networkOf(ip: string): string {
	const address = ip.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
	if (mapped && isIPv4(mapped[1])) return mapped[1];
	if (isIPv4(address) || !isIPv6(address)) return address;
	return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros (an embedded IPv4 tail as two groups). */
function expandIPv6(address: string): string[] {
	const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
	const hex = tail
		? address.slice(0, tail.index) + [0, 2].map((i) => ((Number(tail[i + 1]) << 8) | Number(tail[i + 2])).toString(16)).join(':')
		: address;
	const [head, rest] = hex.split('::');
	const left = head ? head.split(':') : [];
	const right = rest === undefined ? [] : rest ? rest.split(':') : [];
	const zeros = rest === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
	return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
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
	 * Counts one sign-up for the visitor's network and for the number from that network, or throws
	 * TooManySignupsError and counts nothing when either is over its limit.
	 */
	check(keys: { ip?: string; phone: string }, language: WidgetLanguage): void {
		const now = this.clock().getTime();
		const network = keys.ip ? networkOf(keys.ip) : '';
		const windows: [string, 'ip' | 'number', WindowLimit][] = [[`n:${keys.phone}|${network}`, 'number', this.limits.perNumber]];
		if (network) windows.unshift([`i:${network}`, 'ip', this.limits.perIp]);

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
