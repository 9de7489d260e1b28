/**
 * Timers the sandbox owns (status ladder, redeliveries, reorder batches), so reset and close can cancel them all
 * and nothing fires into a stopped sandbox.
 */
export class Timers {
	private readonly pending = new Set<NodeJS.Timeout>();

	after(ms: number, run: () => void): void {
		const timer = setTimeout(() => {
			this.pending.delete(timer);
			run();
		}, ms);
		this.pending.add(timer);
	}

	get size(): number {
		return this.pending.size;
	}

	cancelAll(): void {
		for (const timer of this.pending) clearTimeout(timer);
		this.pending.clear();
	}
}
