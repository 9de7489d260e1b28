/**
 * Issue 10, item 8: verification holds against edits of the database. The gate's tables are rebuilt from the events
 * and compared, so an edit the events do not explain is found and named by the person's id (never the number); a
 * checkpoint kept elsewhere finds a chain truncated or rewritten since.
 */
import type { Ledger } from '../../lib/consent/ledger';
import { closeTestLedgers, openTestLedger, STORE_KINDS } from '../helpers/ledgers';
import { seedPeople } from '../helpers/people';

describe.each(STORE_KINDS)('verification against edits of the database (%s store)', (kind) => {
	let ledger: Ledger;
	let phones: string[];

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		phones = await seedPeople(ledger, 8);
	});
	afterEach(() => closeTestLedgers());

	const sql = (text: string, params: unknown[] = []) => ledger.store.query<Record<string, unknown>>(text, params);
	const subjectOf = async (phone: string) => String((await sql('SELECT id FROM subjects WHERE phone_hmac = $1', [ledger.keys.lookupHmac(phone)]))[0].id);
	/** What a database owner does to edit the append-only events: switch the trigger off, and on again. */
	const asOwner = async (text: string, params: unknown[] = []) => {
		await sql('ALTER TABLE events DISABLE TRIGGER events_append_only');
		await sql(text, params);
		await sql('ALTER TABLE events ENABLE TRIGGER events_append_only');
	};

	test('an untouched ledger verifies and prints a checkpoint: the head, its sequence and its time', async () => {
		const [head] = await sql('SELECT seq, hash FROM chain_head');
		const [last] = await sql('SELECT at_ms FROM events ORDER BY seq DESC LIMIT 1');
		expect(await ledger.verifyChain()).toEqual({
			ok: true,
			events: head.seq,
			tombstones: expect.any(Number),
			checkpoint: { seq: head.seq, hash: head.hash, at: new Date(Number(last.at_ms)).toISOString() },
		});
	});

	test("UPDATE consents SET state = 'confirmed' on a pending consent fails verification, naming the person by id", async () => {
		const pending = await subjectOf(phones[0]); // every fourth person is pending
		await sql("UPDATE consents SET state = 'confirmed', confirmed_at = now() WHERE subject_id = $1 AND purpose = 'offers'", [pending]);
		const verification = await ledger.verifyChain();
		expect(verification).toMatchObject({ ok: false, subjectId: pending, problem: expect.stringContaining(`subject ${pending} for 'offers' is 'confirmed' in the table, the events say 'pending'`) });
		expect(JSON.stringify(verification)).not.toContain(phones[0].slice(1));
	});

	test('a withdrawal time cleared, a marketing STOP undone or an in-app stop removed fails verification', async () => {
		const withdrawn = await subjectOf(phones[3]);
		await sql("UPDATE consents SET withdrawn_at = NULL WHERE subject_id = $1 AND purpose = 'service'", [withdrawn]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, subjectId: withdrawn, problem: expect.stringContaining('withdrawn_at is empty in the table') });
		await sql("UPDATE consents SET withdrawn_at = (SELECT withdrawn_at FROM consents WHERE subject_id = $1 AND purpose = 'offers') WHERE subject_id = $1 AND purpose = 'service'", [withdrawn]);
		expect((await ledger.verifyChain()).ok).toBe(true);

		const stopped = await subjectOf(phones[2]);
		await sql('UPDATE consents SET marketing_withdrawn_at = NULL WHERE subject_id = $1', [stopped]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, subjectId: stopped, problem: expect.stringContaining('marketing is not withdrawn in the table') });
	});

	test('an in-app stop removed from a person fails verification', async () => {
		const inApp = await subjectOf(phones[5]); // every fifth person switched marketing off in WhatsApp
		await sql('UPDATE subjects SET marketing_stopped_at = NULL WHERE id = $1', [inApp]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, subjectId: inApp, problem: expect.stringContaining('marketing_stopped_at is empty in the table') });
	});

	test('a consent row inserted fails verification', async () => {
		await ledger.definePurposes([{ id: 'partners', label: 'Partner offers' }]);
		const someone = await subjectOf(phones[1]);
		await sql("INSERT INTO consents (subject_id, purpose, state, requested_at, confirmed_at) VALUES ($1, 'partners', 'confirmed', now(), now())", [someone]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, subjectId: someone, problem: expect.stringContaining("for 'partners' is in the table, but no event gave it") });
	});

	test('an event row deleted fails verification', async () => {
		await asOwner('DELETE FROM events WHERE seq = 3');
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, brokenAt: 3, problem: 'event 3 is missing' });
	});

	test('the head rewound fails verification', async () => {
		await sql('UPDATE chain_head SET seq = seq - 1, hash = (SELECT prev_hash FROM events ORDER BY seq DESC LIMIT 1)');
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, problem: expect.stringMatching(/events after \d+ were removed/) });
	});

	test('the tail cut off, head and all, is found with an earlier checkpoint, and only with one', async () => {
		// Exports are events that change no table: cutting them leaves a chain that verifies on its own.
		for (const phone of phones.slice(0, 3)) await ledger.exportPerson(phone);
		const { checkpoint } = await ledger.verifyChain();
		await ledger.exportPerson(phones[4]);
		expect((await ledger.verifyChain(checkpoint)).ok).toBe(true); // events since the checkpoint: no finding
		// The owner removes the last four events and sets the head back, consistently.
		const cut = checkpoint!.seq - 2;
		const [kept] = await sql('SELECT hash FROM events WHERE seq = $1', [cut - 1]);
		await asOwner('DELETE FROM events WHERE seq >= $1', [cut]);
		await sql('UPDATE chain_head SET seq = $1, hash = $2', [cut - 1, kept.hash]);
		expect((await ledger.verifyChain()).ok).toBe(true);
		expect(await ledger.verifyChain(checkpoint)).toMatchObject({ ok: false, problem: expect.stringContaining(`before the checkpoint's event ${checkpoint!.seq}`) });
	});

	test('the chain rewritten from before a checkpoint is found with it', async () => {
		await ledger.exportPerson(phones[1]);
		const { checkpoint } = await ledger.verifyChain();
		// The owner removes the last event and lets the ledger append another in its place: a valid chain, not the same one.
		const [previous] = await sql('SELECT prev_hash FROM events WHERE seq = $1', [checkpoint!.seq]);
		await asOwner('DELETE FROM events WHERE seq = $1', [checkpoint!.seq]);
		await sql('ALTER TABLE event_links DISABLE TRIGGER event_links_append_only');
		await sql('DELETE FROM event_links WHERE seq = $1', [checkpoint!.seq]);
		await sql('ALTER TABLE event_links ENABLE TRIGGER event_links_append_only');
		await sql('UPDATE chain_head SET seq = $1, hash = $2', [checkpoint!.seq - 1, previous.prev_hash]);
		await ledger.exportPerson(phones[1]);
		expect((await ledger.verifyChain()).ok).toBe(true);
		expect(await ledger.verifyChain(checkpoint)).toMatchObject({ ok: false, brokenAt: checkpoint!.seq, problem: expect.stringContaining('not the one of the checkpoint') });
	});

	test('a checkpoint that is not one is refused, naming what is wrong', async () => {
		await expect(ledger.verifyChain({ seq: 1, hash: 'abc' })).rejects.toMatchObject({ code: 'invalid_input', field: 'checkpoint.hash', message: expect.stringContaining('64 hex characters') });
	});
});
