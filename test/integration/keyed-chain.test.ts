/**
 * Issue 10, item 8: the chain is keyed. Whoever can write to the database but does not hold the secret can edit,
 * remove, insert or reorder events and relink the SHA-256 chain consistently (as `rewrite` below does, the strongest
 * such edit): each of these histories then passes the SHA-256 links, and fails on the keyed link of the first event
 * it touched. The edits are generated (fast-check), on both stores.
 */
import fc from 'fast-check';
import type { Ledger } from '../../lib/consent/ledger';
import { openLedger } from '../../lib/consent/ledger';
import { openStore } from '../../lib/store';
import { asBeforeKeyedChain } from '../helpers/legacy-keys';
import { closeTestLedgers, newStoreConfig, openTestLedger, SECRET, STORE_KINDS } from '../helpers/ledgers';
import { seedPeople } from '../helpers/people';

/** One edit of the events, as someone with SQL access makes it: the rows as they want them, relinked. */
type Edit =
	| { kind: 'delete'; at: number }
	| { kind: 'swapPayloads'; at: number; with: number }
	| { kind: 'moveInTime'; at: number; byMs: number }
	| { kind: 'otherSubject'; at: number; with: number }
	| { kind: 'duplicate'; at: number; to: number }
	| { kind: 'swapOrder'; at: number; with: number };

const editArbitrary = (events: number) => {
	const seq = fc.integer({ min: 1, max: events });
	return fc.oneof(
		fc.record({ kind: fc.constant('delete' as const), at: seq }),
		fc.record({ kind: fc.constant('swapPayloads' as const), at: seq, with: seq }),
		fc.record({ kind: fc.constant('moveInTime' as const), at: seq, byMs: fc.integer({ min: -86_400_000, max: 86_400_000 }).filter((ms) => ms !== 0) }),
		fc.record({ kind: fc.constant('otherSubject' as const), at: seq, with: seq }),
		fc.record({ kind: fc.constant('duplicate' as const), at: seq, to: seq }),
		fc.record({ kind: fc.constant('swapOrder' as const), at: seq, with: seq }),
	);
};

describe.each(STORE_KINDS)('the keyed chain (%s store)', (kind) => {
	let ledger: Ledger;
	let phones: string[];

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		phones = await seedPeople(ledger, 8);
		for (const phone of phones.slice(0, 2)) await ledger.exportPerson(phone);
	});
	afterEach(() => closeTestLedgers());

	const sql = (text: string, params: unknown[] = []) => ledger.store.query<Record<string, unknown>>(text, params);

	/**
	 * Rewrites the events as `edit` says, with the trigger off, then renumbers them 1…n and recomputes every SHA-256
	 * link and the head (chain_link is the ledger's own function): a chain whose unkeyed links all hold.
	 */
	async function rewrite(edit: Edit): Promise<void> {
		// The events with their links, edited as one table, so that a link moves with its event.
		await sql('CREATE TABLE edited AS SELECT e.*, l.mac FROM events e LEFT JOIN event_links l ON l.seq = e.seq');
		const columns = 'type, subject_id, at_ms, payload, payload_hash, prev_hash, hash, mac';
		switch (edit.kind) {
			case 'delete':
				await sql('DELETE FROM edited WHERE seq = $1', [edit.at]);
				break;
			case 'swapPayloads':
			case 'otherSubject': {
				const swapped = edit.kind === 'swapPayloads' ? ['payload', 'payload_hash'] : ['subject_id'];
				const set = swapped.map((column) => `${column} = o.${column}`).join(', ');
				await sql(
					`UPDATE edited e SET ${set} FROM (SELECT seq, ${swapped.join(', ')} FROM edited WHERE seq IN ($1, $2)) o
					 WHERE e.seq IN ($1, $2) AND o.seq <> e.seq`,
					[edit.at, edit.with],
				);
				break;
			}
			case 'moveInTime':
				await sql('UPDATE edited SET at_ms = at_ms + $2 WHERE seq = $1', [edit.at, edit.byMs]);
				break;
			case 'duplicate': // a copy of event `at`, with its link, inserted before event `to`
				await sql('UPDATE edited SET seq = seq * 2');
				await sql(`INSERT INTO edited (seq, ${columns}) SELECT $2::bigint * 2 - 1, ${columns} FROM edited WHERE seq = $1::bigint * 2`, [edit.at, edit.to]);
				break;
			case 'swapOrder':
				await sql('UPDATE edited SET seq = CASE seq WHEN $1 THEN $2::bigint WHEN $2 THEN $1::bigint ELSE seq END WHERE seq IN ($1, $2)', [edit.at, edit.with]);
				break;
		}
		await sql('UPDATE edited e SET seq = o.n FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM edited) o WHERE e.seq = o.seq');
		await sql(`DO $$
			DECLARE r record; prev text := repeat('0', 64); last bigint := 0;
			BEGIN
				FOR r IN SELECT seq, type, subject_id, at_ms, payload_hash FROM edited ORDER BY seq LOOP
					UPDATE edited SET prev_hash = prev, hash = chain_link(prev, r.seq, r.type, r.subject_id, r.at_ms, r.payload_hash) WHERE seq = r.seq
					RETURNING hash INTO prev;
					last := r.seq;
				END LOOP;
				UPDATE chain_head SET seq = last, hash = prev;
			END $$`);
		await replaceEvents('edited');
		await sql('DROP TABLE edited');
	}

	/** Puts the events and their links of `table` in place, with the triggers off, as the database's owner can. */
	async function replaceEvents(table: string): Promise<void> {
		await sql('ALTER TABLE events DISABLE TRIGGER events_append_only');
		await sql('ALTER TABLE event_links DISABLE TRIGGER event_links_append_only');
		await sql('DELETE FROM events');
		await sql('DELETE FROM event_links');
		await sql(`INSERT INTO events (seq, type, subject_id, at_ms, payload, payload_hash, prev_hash, hash) SELECT seq, type, subject_id, at_ms, payload, payload_hash, prev_hash, hash FROM ${table}`);
		await sql(`INSERT INTO event_links (seq, mac) SELECT seq, mac FROM ${table} WHERE mac IS NOT NULL`);
		await sql('ALTER TABLE events ENABLE TRIGGER events_append_only');
		await sql('ALTER TABLE event_links ENABLE TRIGGER event_links_append_only');
	}

	/** The first event whose content or place the edit changed; none for an edit that changes nothing. */
	function firstTouched(edit: Edit): number | undefined {
		switch (edit.kind) {
			case 'delete':
				return edit.at;
			case 'moveInTime':
				return edit.at;
			case 'duplicate': // a copy right before its original is the original, at its own place
				return edit.to === edit.at ? edit.at + 1 : edit.to;
			default:
				return edit.at === edit.with ? undefined : Math.min(edit.at, edit.with);
		}
	}

	test('every generated edit that relinks the SHA-256 chain fails on the keyed link of the first event it touched', async () => {
		const [{ n: events }] = await sql('SELECT count(*)::int AS n FROM events');
		expect(Number(events)).toBeGreaterThan(20);
		await sql('CREATE TABLE events_kept AS SELECT e.*, l.mac FROM events e LEFT JOIN event_links l ON l.seq = e.seq');
		const [head] = await sql('SELECT seq, hash FROM chain_head');
		const { checkpoint } = await ledger.verifyChain();
		let found = 0;
		await fc.assert(
			fc.asyncProperty(editArbitrary(Number(events)), async (edit) => {
				try {
					await rewrite(edit);
					const touched = firstTouched(edit);
					const [{ same }] = await sql('SELECT NOT EXISTS (SELECT seq, type, subject_id, at_ms, payload_hash FROM events EXCEPT ALL SELECT seq, type, subject_id, at_ms, payload_hash FROM events_kept) AND (SELECT count(*) FROM events) = (SELECT count(*) FROM events_kept) AS same');
					// The checkpoint the operator kept, for the one edit no link can show: the newest event removed.
					const verification = await ledger.verifyChain(checkpoint);
					if (touched === undefined || same) {
						// Swapping equal payloads or subjects, or an event with itself, leaves the same history.
						expect(verification.ok).toBe(true);
						return;
					}
					found++;
					const truncated = edit.kind === 'delete' && edit.at === Number(events);
					expect(verification).toMatchObject({
						ok: false,
						brokenAt: touched,
						problem: truncated ? expect.stringContaining("before the checkpoint's event") : expect.stringContaining('keyed link does not match'),
					});
				} finally {
					await replaceEvents('events_kept');
					await sql('UPDATE chain_head SET seq = $1, hash = $2', [head.seq, head.hash]);
				}
			}),
			{ numRuns: 40, seed: 20261202 },
		);
		console.log(`keyed chain (${kind}): 40 generated edits, ${found} changed the history, all found by their keyed link`);
		expect(found).toBeGreaterThan(20);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('a withdrawal removed, with the chain relinked and the tables made to agree, is found', async () => {
		const [withdrawal] = await sql(`SELECT seq, subject_id FROM events WHERE type = 'consent.withdrawn' ORDER BY seq LIMIT 1`);
		await rewrite({ kind: 'delete', at: Number(withdrawal.seq) });
		await sql(`UPDATE consents SET state = 'confirmed', withdrawn_at = NULL, marketing_withdrawn_at = NULL WHERE subject_id = $1`, [withdrawal.subject_id]);
		expect(await ledger.verifyChain()).toMatchObject({
			ok: false,
			brokenAt: Number(withdrawal.seq),
			problem: `event ${withdrawal.seq} was changed, moved or inserted without this ledger's secret key (its keyed link does not match)`,
		});
	});

	test("an event without its keyed link, or with another event's, is found", async () => {
		await sql('ALTER TABLE event_links DISABLE TRIGGER event_links_append_only');
		await sql('DELETE FROM event_links WHERE seq = 5');
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, brokenAt: 5, problem: expect.stringContaining('event 5 has no keyed link') });
		await sql('INSERT INTO event_links (seq, mac) SELECT 5, mac FROM event_links WHERE seq = 6');
		await sql('ALTER TABLE event_links ENABLE TRIGGER event_links_append_only');
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, brokenAt: 5, problem: expect.stringContaining('keyed link does not match') });
	});

	test('a link is given once, and never changed or taken away', async () => {
		await expect(sql("UPDATE event_links SET mac = 'x' WHERE seq = 2")).rejects.toThrow(/append-only/);
		await expect(sql('DELETE FROM event_links WHERE seq = 2')).rejects.toThrow(/append-only/);
		await expect(sql('SELECT link_events(ARRAY[2]::bigint[], ARRAY[$1]::text[])', ['x'])).rejects.toThrow(/event_links_pkey|duplicate key/);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('a ledger whose chain key was removed from its keys is refused, not keyed anew', async () => {
		const config = newStoreConfig(kind);
		const { ledger: own } = await openTestLedger(kind, {}, config);
		await seedPeople(own, 2);
		await own.store.query(
			`UPDATE ledger_keys SET keyring = jsonb_set(keyring #- '{current,chain}', '{wrapped}', (keyring->'wrapped') - (keyring->'current'->>'chain'))`,
		);
		await own.close();
		await expect(openLedger({ store: config, secret: SECRET })).rejects.toMatchObject({
			code: 'tampered',
			message: expect.stringContaining('chain key that its keys no longer hold'),
		});
	});

	test('a ledger written before the keyed chain keeps verifying, is keyed from its next event on, and its old events are fixed', async () => {
		const config = newStoreConfig(kind);
		const { ledger: old } = await openTestLedger(kind, {}, config);
		const people = await seedPeople(old, 6);
		await asBeforeKeyedChain(old.store);
		const [{ seq: headBefore }] = await old.store.query<{ seq: number }>('SELECT seq FROM chain_head');
		await old.close();

		const { ledger: upgraded } = await openTestLedger(kind, {}, config);
		expect(await upgraded.verifyChain()).toMatchObject({ ok: true, events: Number(headBefore) });
		await upgraded.revoke({ recipient: people[1], purposes: 'all', channel: 'web_form' });
		const links = await upgraded.store.query<{ seq: number; mac: string | null }>('SELECT e.seq, l.mac FROM events e LEFT JOIN event_links l ON l.seq = e.seq ORDER BY e.seq');
		const keyed = links.filter((link) => link.mac !== null).map((link) => Number(link.seq));
		expect(keyed).toEqual(links.map((link) => Number(link.seq)).filter((seq) => seq > Number(headBefore)));
		expect(keyed.length).toBeGreaterThan(0);
		expect(await upgraded.verifyChain()).toMatchObject({ ok: true });

		// An event from before, edited and relinked: the chain key was made after the old head's hash.
		ledger = upgraded;
		await rewrite({ kind: 'moveInTime', at: 2, byMs: 60_000 });
		expect(await upgraded.verifyChain()).toMatchObject({
			ok: false,
			brokenAt: Number(headBefore),
			problem: expect.stringContaining('written before the chain was keyed, were changed since'),
		});
	});
});

describe('the chain key survives a reopen', () => {
	afterEach(() => closeTestLedgers());
	test.each(STORE_KINDS)('%s: the same key links before and after, so the chain verifies across processes', async (kind) => {
		const config = newStoreConfig(kind);
		const { ledger } = await openTestLedger(kind, {}, config);
		await seedPeople(ledger, 4);
		await ledger.close();
		const store = await openStore(config);
		const [{ keyring }] = await store.query<{ keyring: { current: Record<string, string> } }>('SELECT keyring FROM ledger_keys');
		expect(keyring.current.chain).toMatch(/^chain-from-1-0{64}-[0-9a-f]{8}$/);
		await store.close();
		const { ledger: again } = await openTestLedger(kind, {}, config);
		await seedPeople(again, 2, new Date('2026-03-03T10:00:00Z'));
		expect(await again.verifyChain()).toMatchObject({ ok: true });
	});
});
