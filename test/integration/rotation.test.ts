/**
 * Issue 10, item 3: secret rotation, interrupted for real. The CLI runs as a child process on a seeded ledger and is
 * killed with SIGKILL half-way; a second run with only the new secret finishes it. Then the new secret reads every
 * number, the gate answers as before, the old secret is refused and the chain verifies.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openLedger, type Ledger } from '../../lib/consent/ledger';
import { openStore, type StoreConfig } from '../../lib/store';
import { closeTestLedgers, openTestLedger, SECRET, STORE_KINDS } from '../helpers/ledgers';
import { gateAnswers, readable, seedPeople } from '../helpers/people';

const NEW_SECRET = 'the-new-secret-key-after-rotation-0001';
const ROOT = join(__dirname, '..', '..');
const PEOPLE = 240;

function cliEnvironment(config: StoreConfig, secrets: { LEDGER_OLD_SECRET?: string; LEDGER_NEW_SECRET: string }) {
	const { TEST_DATABASE_URL, NODE_OPTIONS, ...env } = process.env;
	void NODE_OPTIONS;
	const where =
		config.kind === 'embedded'
			? { LEDGER_FOLDER: config.folder }
			: { LEDGER_DATABASE_URL: TEST_DATABASE_URL, LEDGER_SCHEMA: config.schema };
	return { ...env, ...where, ...secrets, ROTATION_BATCH_SIZE: '20', ROTATION_PAUSE_MS: '150' };
}

/** Runs the CLI; with `killWhen`, kills it with SIGKILL at the first output line that matches. */
function runCli(env: NodeJS.ProcessEnv, killWhen?: (line: string) => boolean): Promise<{ code: number | null; signal: string | null; output: string }> {
	const child = spawn(process.execPath, ['-r', join(ROOT, 'test/helpers/ts-register.cjs'), join(ROOT, 'lib/cli.ts'), 'rotate-secret'], {
		env,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	const watch = (chunk: Buffer) => {
		output += chunk.toString();
		if (killWhen && output.split('\n').some(killWhen)) child.kill('SIGKILL');
	};
	child.stdout.on('data', watch);
	child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
	return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })));
}

const halfWay = (line: string) => {
	const match = /^subjects\.phone_enc: (\d+) of (\d+)$/.exec(line);
	return match !== null && Number(match[1]) > 0 && Number(match[1]) < Number(match[2]) / 2 + 20;
};

describe.each(STORE_KINDS)('secret rotation (%s store)', (kind) => {
	afterEach(() => closeTestLedgers());

	test('killed half-way with SIGKILL, resumed with the new secret: every number reads, the gate answers as before, the old secret is refused', async () => {
		const { ledger, config } = await openTestLedger(kind);
		const phones = await seedPeople(ledger, PEOPLE);
		await ledger.recordRejected({ raw: { from: '4915100000001' }, reason: 'test' });
		await ledger.recordStatus({ messageId: 'wamid.early', status: 'sent', at: new Date('2026-03-02T10:00:00Z'), recipientId: '4915100000002' });
		// sends, whose key and wamid are kept encrypted
		const sent = phones.filter((_, n) => n % 4 === 1 && n % 7 !== 6).slice(0, 10); // confirmed, not erased
		for (const [n, phone] of sent.entries()) {
			await ledger.reserveSend({ key: `k-${n}:${phone}`, recipient: phone, purpose: 'service', category: 'utility', campaign: 'spring' });
			await ledger.completeSend(`k-${n}:${phone}`, { wamid: `wamid.sent-${n}` });
		}
		const sends = async (reader: Ledger) => Promise.all(sent.map(async (phone) => (await reader.exportPerson(phone))!.sends.map((send) => [send.key, send.wamid])));
		const answers = await gateAnswers(ledger, phones);
		const numbers = await readable(ledger, phones);
		const sendsBefore = await sends(ledger);
		expect(sendsBefore.flat()).toHaveLength(sent.length);
		expect(numbers.filter(Boolean).length).toBeGreaterThan(PEOPLE / 2);
		await ledger.close();

		const killed = await runCli(cliEnvironment(config, { LEDGER_OLD_SECRET: SECRET, LEDGER_NEW_SECRET: NEW_SECRET }), halfWay);
		expect(killed.signal).toBe('SIGKILL');
		// Half-way indeed: some numbers under the new records key, some not; the rotation is recorded as under way.
		const store = await openStore(config);
		const [{ rotation }] = await store.query<{ rotation: { target: string } | null }>('SELECT rotation FROM ledger_keys');
		expect(rotation).not.toBeNull();
		const [{ moved, total }] = await store.query<{ moved: number; total: number }>(
			`SELECT count(*) FILTER (WHERE phone_enc LIKE $1)::int AS moved, count(*)::int AS total FROM subjects`,
			[`v2.${rotation!.target}.%`],
		);
		expect(moved).toBeGreaterThan(0);
		expect(moved).toBeLessThan(total);
		await store.close();

		// Meanwhile the old secret no longer opens the ledger; a second run needs only the new one.
		await expect(openLedger({ store: config, secret: SECRET })).rejects.toMatchObject({ code: 'wrong_secret' });
		const resumed = await runCli(cliEnvironment(config, { LEDGER_NEW_SECRET: NEW_SECRET }));
		expect(resumed).toMatchObject({ code: 0, output: expect.stringContaining('Resumed and finished') });
		expect(resumed.output).toContain(`subjects.phone_enc: ${total} of ${total}`);

		const after = await openLedger({ store: config, secret: NEW_SECRET });
		try {
			expect(await readable(after, phones)).toEqual(numbers);
			expect(await sends(after)).toEqual(sendsBefore);
			expect(await gateAnswers(after, phones)).toEqual(answers);
			expect(await after.rejectedEvents()).toEqual([expect.objectContaining({ raw: { from: '4915100000001' } })]);
			expect((await after.verifyChain()).ok).toBe(true);
			const [{ left, pending }] = await after.store.query<{ left: number; pending: unknown }>(
				`SELECT (SELECT count(*)::int FROM subjects WHERE phone_enc NOT LIKE $1) + (SELECT count(*)::int FROM rejected_events WHERE raw_enc NOT LIKE $1)
					+ (SELECT count(*)::int FROM early_statuses WHERE recipient_enc NOT LIKE $1)
					+ (SELECT count(*)::int FROM sends WHERE key_enc NOT LIKE $1 OR wamid_enc NOT LIKE $1) AS left, (SELECT rotation FROM ledger_keys) AS pending`,
				[`v2.${rotation!.target}.%`],
			);
			expect({ left, pending }).toEqual({ left: 0, pending: null });
		} finally {
			await after.close();
		}
		await expect(openLedger({ store: config, secret: SECRET })).rejects.toMatchObject({ code: 'wrong_secret' });
	}, 240_000);
});

