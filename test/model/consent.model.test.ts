/**
 * The consent rules, checked by generated histories against the reference model (test/model/consent-model.ts) on
 * both stores. `npm test` runs a bounded number with a fixed seed; `npm run test:model` runs the long search
 * (MODEL_RUNS histories per store, MODEL_SEED to repeat one).
 */
import fc from 'fast-check';
import { STORE_KINDS, type StoreKind } from '../helpers/ledgers';
import { coverage, historyArb, HistoryRunner } from './histories';

const RUNS = Number(process.env.MODEL_RUNS ?? 40);
const SEED = process.env.MODEL_SEED === undefined ? 20261201 : Number(process.env.MODEL_SEED);

describe.each(STORE_KINDS)('the consent rules on the %s store', (kind: StoreKind) => {
	let runner: HistoryRunner;
	beforeAll(async () => {
		runner = await HistoryRunner.open(kind);
	});
	afterAll(() => runner.close());

	test(`${RUNS} generated histories: the gate, reservations, confirmations and exports answer as the model does`, async () => {
		const started = Date.now();
		await fc.assert(
			fc.asyncProperty(historyArb, (actions) => runner.run(actions)),
			{ numRuns: RUNS, seed: SEED, endOnFailure: false },
		);
		if (process.env.MODEL_RUNS) {
			const reached = [...coverage].sort(([a], [b]) => a.localeCompare(b)).map(([what, n]) => `  ${what}: ${n}`);
			console.log(`${kind}: ${RUNS} histories, seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(0)} s\n${reached.join('\n')}`);
			coverage.clear();
		}
	}, 60_000 + RUNS * 3_000);
});
