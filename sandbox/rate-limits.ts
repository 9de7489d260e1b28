/**
 * Meta's two send limits: the throughput of a business number (messages per second, 130429) and the pair rate to
 * one recipient (about one message every 6 s, 131056). Both answer "how long until allowed" instead of a yes/no,
 * because the throughput error carries a Retry-After.
 */

/** At most `perSecond` messages in any sliding second. */
export class ThroughputLimit {
	private readonly accepted: number[] = [];

	constructor(public perSecond: number) {}

	/** Takes a slot and returns 0, or returns the milliseconds until a slot frees up. */
	take(now: number): number {
		while (this.accepted.length > 0 && this.accepted[0] <= now - 1000) this.accepted.shift();
		if (this.accepted.length >= this.perSecond) return this.accepted[0] + 1000 - now;
		this.accepted.push(now);
		return 0;
	}
}

/**
 * One message per `intervalSeconds` to the same recipient, with a bucket of `burst` messages that refills at that
 * rate (Meta lets short bursts borrow from later). An interval of 0 disables the limit.
 */
export class PairRateLimit {
	private readonly buckets = new Map<string, { tokens: number; at: number }>();

	constructor(
		public intervalSeconds: number,
		public burst: number,
	) {}

	take(recipient: string, now: number): boolean {
		if (this.intervalSeconds <= 0) return true;
		const intervalMs = this.intervalSeconds * 1000;
		const bucket = this.buckets.get(recipient) ?? { tokens: this.burst, at: now };
		const tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) / intervalMs);
		if (tokens < 1) {
			this.buckets.set(recipient, { tokens, at: now });
			return false;
		}
		this.buckets.set(recipient, { tokens: tokens - 1, at: now });
		return true;
	}
}
