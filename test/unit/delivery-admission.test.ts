/**
 * DeliveryAdmission against a reference model: for generated arrivals (a delivery with a message, or of statuses
 * only) and completions in any order, the deliveries that run are exactly the model's: never more than the limit at
 * once, each started once, the waiting ones with a message before those of statuses, each kind in arrival order.
 */
import fc from 'fast-check';
import { DeliveryAdmission } from '../../lib/delivery-admission';

type Step = { arrive: 'message' | 'statuses' } | { finish: number };

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('generated arrivals and completions: what runs is what the model says', async () => {
	await fc.assert(
		fc.asyncProperty(
			fc.integer({ min: 1, max: 4 }),
			fc.array(fc.oneof(fc.record({ arrive: fc.constantFrom('message' as const, 'statuses' as const) }), fc.record({ finish: fc.nat(10) })), { maxLength: 60 }),
			async (atOnce, steps: Step[]) => {
				const admission = new DeliveryAdmission(atOnce);
				const finishers = new Map<number, () => void>();
				const started: number[] = [];
				let inWork = 0;
				let mostInWork = 0;
				const answered: Promise<number>[] = [];
				// The model: which deliveries run, and the two queues.
				let modelRunning: number[] = [];
				const modelWaiting: { message: number[]; statuses: number[] } = { message: [], statuses: [] };
				const modelStarted: number[] = [];
				let next = 0;

				const modelStart = () => {
					while (modelRunning.length < atOnce) {
						const id = modelWaiting.message.shift() ?? modelWaiting.statuses.shift();
						if (id === undefined) return;
						modelRunning.push(id);
						modelStarted.push(id);
					}
				};
				for (const step of steps) {
					if ('arrive' in step) {
						const id = next++;
						modelWaiting[step.arrive].push(id);
						modelStart();
						answered.push(
							admission.run(step.arrive === 'message', () => {
								started.push(id);
								mostInWork = Math.max(mostInWork, ++inWork);
								return new Promise<number>((resolve) =>
									finishers.set(id, () => {
										inWork--;
										resolve(id);
									}),
								);
							}),
						);
					} else if (modelRunning.length > 0) {
						const id = modelRunning[step.finish % modelRunning.length];
						modelRunning = modelRunning.filter((other) => other !== id);
						modelStart();
						finishers.get(id)!();
					}
					await settle();
					expect(started).toEqual(modelStarted);
				}
				// Everything still running or waiting ends, each with its own answer.
				while (modelRunning.length > 0) {
					const [id] = modelRunning;
					modelRunning = modelRunning.slice(1);
					modelStart();
					finishers.get(id)!();
					await settle();
				}
				expect(started).toEqual(modelStarted);
				expect(mostInWork).toBeLessThanOrEqual(atOnce);
				expect(await Promise.all(answered)).toEqual(answered.map((_, index) => index));
			},
		),
		{ numRuns: 300 },
	);
});

test('a delivery whose work fails gives its place to the next one', async () => {
	const admission = new DeliveryAdmission(1);
	const failing = admission.run(false, async () => {
		throw new Error('store down');
	});
	const next = admission.run(false, async () => 'recorded');
	await expect(failing).rejects.toThrow('store down');
	await expect(next).resolves.toBe('recorded');
});

test('messagesBeforeNow waits for the deliveries with a message at the ledger now, failed ones included, not for later ones', async () => {
	const admission = new DeliveryAdmission(4);
	const release: (() => void)[] = [];
	const held = () => new Promise<void>((resolve) => release.push(resolve));
	const first = admission.run(true, held);
	const failing = admission.run(true, async () => {
		await held();
		throw new Error('store down');
	});
	void admission.run(false, held); // statuses are not waited for
	let waited = false;
	const before = admission.messagesBeforeNow().then(() => (waited = true));
	const later = admission.run(true, held);
	await settle();
	release[0]();
	await first;
	await settle();
	expect(waited).toBe(false);
	release[1]();
	await expect(failing).rejects.toThrow('store down');
	await before;
	expect(waited).toBe(true);
	release.slice(2).forEach((resolve) => resolve());
	await later;
	await expect(admission.messagesBeforeNow()).resolves.toBeUndefined();
});
