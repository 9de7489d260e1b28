/**
 * Issue 10, item 5 (invariant 7): what a committed webhook event owes the workflow is handed over at least once,
 * across a 500 and across a crash, and its ledger effect happens once. Signed POSTs go over real HTTP to the Opt-In
 * Trigger, hosted as n8n 2.41.1 hosts an `onReceived` webhook (test/helpers/trigger-host.ts), on both stores.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';
import type { Ledger } from '../../lib/consent/ledger';
import { HAND_OVER_LEASE_MS } from '../../lib/consent/outbox';
import { StoreError } from '../../lib/errors';
import type { Queryable } from '../../lib/store';
import { closeLedgers, ledgerFor } from '../../nodes/shared/ledger';
import { STORE_KINDS, TEXT_DE, type StoreKind } from '../helpers/ledgers';
import { failNthDelivery, outboxCredentials, owedRows, post, textMessage, webhookBody } from '../helpers/outbox-world';
import { startTriggerHost, type TriggerHost } from '../helpers/trigger-host';

const PURPOSES = [{ id: 'offers', label: 'Angebote' }];

async function dropStore(credentials: Record<string, ICredentialDataDecryptedObject>): Promise<void> {
	if (credentials.consentLedgerApi.store === 'postgres') {
		const ledger = await ledgerFor(credentials.consentLedgerApi);
		await ledger.store.query(`DROP SCHEMA IF EXISTS ${ledger.store.schema} CASCADE`);
	}
	await closeLedgers();
}

/** A number that signed up; its code is what confirms it. */
async function signUp(ledger: Ledger, waId: string): Promise<string> {
	return (await ledger.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: TEXT_DE, source: {} })).code;
}

const kinds = (execution: IDataObject[]) => execution.map((item) => `${String(item.event)}:${String((item.message as IDataObject | undefined)?.id)}`);
const historyOf = async (ledger: Ledger, phone: string) => ((await ledger.getConsent(phone))?.history ?? []).map((event) => event.type);

/** Moves the clock every ledger call reads (Date) by `ms`; timers stay real. */
function advanceDate(ms: number): void {
	jest.useFakeTimers({ now: Date.now() + ms, doNotFake: ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'nextTick', 'queueMicrotask', 'performance', 'hrtime'] });
}

describe.each(STORE_KINDS)('the outbox (%s store)', (kind: StoreKind) => {
	let credentials: Record<string, ICredentialDataDecryptedObject>;
	let ledger: Ledger;
	let host: TriggerHost | undefined;

	beforeEach(async () => {
		credentials = outboxCredentials(kind);
		ledger = await ledgerFor(credentials.consentLedgerApi);
		await ledger.definePurposes(PURPOSES);
	});

	afterEach(async () => {
		jest.useRealTimers();
		await host?.close();
		host = undefined;
		await dropStore(credentials);
	});

	test('an entry of three messages whose second fails: 500; the redelivery hands over the first one\'s item once, with the rest', async () => {
		const at = new Date(Date.now() - 60_000);
		const code = await signUp(ledger, '4915100000101');
		await ledger.confirm({ messageId: 'wamid.carl-code', from: '4915100000103', text: await signUp(ledger, '4915100000103'), at });
		const body = webhookBody([
			textMessage('4915100000101', 'wamid.anna-code', `Anmeldung bestätigen: ${code}`, at),
			textMessage('4915100000102', 'wamid.ben-question', 'Wann öffnet der Laden?', at),
			textMessage('4915100000103', 'wamid.carl-stop', 'STOP', at),
		]);
		host = await startTriggerHost({ credentials });

		// The second message's write fails in the database: Anna's confirmation is committed, the answer is 500.
		await failNthDelivery(ledger, 2);
		expect(await post(host.url, body)).toBe(500);
		expect(host.executions).toEqual([]);
		expect(await historyOf(ledger, '+4915100000101')).toContain('optin.confirmed');
		expect(await ledger.mayMessage({ recipient: '+4915100000101', purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });

		// Meta delivers again: Anna's welcome is owed still, and comes with Ben's and Carl's items, each once.
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions.map(kinds)).toEqual([['optin.confirmed:wamid.anna-code', 'message.received:wamid.ben-question', 'consent.withdrawn:wamid.carl-stop']]);
		const [welcome] = host.executions[0];
		expect(welcome).toMatchObject({ phone: '+4915100000101', purposes: ['offers'], reply: { to: '+4915100000101', text: expect.stringContaining('Angebote') }, eventId: expect.stringMatching(/^[0-9a-f]{32}$/) });
		expect(new Set(host.executions[0].map((item) => item.eventId)).size).toBe(3);
		expect(await owedRows(ledger)).toEqual([]);

		// And again, as Meta may: 200, nothing owed any more, no execution.
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions).toHaveLength(1);
		expect(host.answers).toEqual([500, 200, 200]);
		// The ledger changed once for each.
		expect((await historyOf(ledger, '+4915100000101')).filter((type) => type === 'optin.confirmed')).toHaveLength(1);
		expect((await historyOf(ledger, '+4915100000103')).filter((type) => type === 'consent.withdrawn')).toHaveLength(1);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('n8n cannot store the execution (it answers 500): the items are given back and the redelivery hands them over', async () => {
		const at = new Date(Date.now() - 60_000);
		const code = await signUp(ledger, '4915100000111');
		let failures = 1;
		host = await startTriggerHost({
			credentials,
			beforeStore: () => {
				if (failures-- > 0) throw new Error('SQLITE_BUSY: database is locked');
			},
		});
		const body = webhookBody([textMessage('4915100000111', 'wamid.dana-code', code, at)]);
		expect(await post(host.url, body)).toBe(500);
		expect(await owedRows(ledger)).toEqual([{ id: expect.any(String), claim: null }]);
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions.map(kinds)).toEqual([['optin.confirmed:wamid.dana-code']]);
		expect(await owedRows(ledger)).toEqual([]);
	});

	test('the store goes away right after the commit: the 500 cannot give the item back, the redelivery hands it over at once', async () => {
		// Seen in invariant 4 (PostgreSQL stopped mid-run): the commit went through, taking what earlier events owe
		// failed, and so did giving the row back; the redelivery then found the row held for the lease (60 s).
		const at = new Date(Date.now() - 60_000);
		await ledger.confirm({ messageId: 'wamid.erik-code', from: '4915100000121', text: await signUp(ledger, '4915100000121'), at });
		host = await startTriggerHost({ credentials });
		const store = ledger.store;
		const { query, transaction } = store;
		let down = false;
		store.transaction = async function <T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
			const result = await transaction.call(store, work);
			down = true;
			return result as T;
		};
		store.query = async function <T>(sql: string, params?: unknown[]): Promise<T[]> {
			if (down) throw new StoreError('The store is unreachable: nothing was recorded', 'Start it again');
			return query.call(store, sql, params) as Promise<T[]>;
		};
		const body = webhookBody([textMessage('4915100000121', 'wamid.erik-stop', 'STOP', at)]);
		try {
			expect(await post(host.url, body)).toBe(500);
		} finally {
			store.transaction = transaction;
			store.query = query;
		}
		expect(await historyOf(ledger, '+4915100000121')).toContain('consent.withdrawn');
		expect(await owedRows(ledger)).toEqual([{ id: expect.any(String), claim: expect.any(String) }]);
		// Back up, well within the lease: Meta's redelivery gets the item.
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions.map(kinds)).toEqual([['consent.withdrawn:wamid.erik-stop']]);
		expect(await owedRows(ledger)).toEqual([]);
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions).toHaveLength(1);
	});

	test('a process killed between the commit and the hand-over: a new process hands the item over, to the redelivery or to the next POST', async () => {
		const at = new Date(Date.now() - 60_000);
		const code = await signUp(ledger, '4915100000121');
		const otherCode = await signUp(ledger, '4915100000122');
		await closeLedgers(); // the embedded store is for one process at a time: the child takes it
		const body = webhookBody([textMessage('4915100000121', 'wamid.emil-code', code, at)]);

		// A trigger process that commits the POST, returns its items to n8n, and dies before n8n stores the execution.
		const child = spawn(process.execPath, ['-r', join(__dirname, '..', 'helpers', 'ts-register.js'), join(__dirname, '..', 'helpers', 'trigger-child.ts')], {
			env: { ...process.env, TRIGGER_CREDENTIALS: JSON.stringify(credentials) },
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		const exited = new Promise((resolve) => child.once('exit', resolve));
		let output = '';
		const line = (pattern: RegExp) =>
			new Promise<string>((resolve) => {
				const look = () => {
					const match = pattern.exec(output);
					if (match) resolve(match[1]);
					else child.stdout!.once('data', look);
				};
				look();
			});
		child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
		const url = await line(/^LISTENING (\S+)$/m);
		const answered = post(url, body);
		expect(await line(/^(STORING) /m)).toBe('STORING');
		child.kill('SIGKILL');
		await exited;
		expect(await answered).toBe('no answer');

		// A new process on the same store. The confirmation was committed once, and is owed.
		ledger = await ledgerFor(credentials.consentLedgerApi);
		expect(await historyOf(ledger, '+4915100000121')).toContain('optin.confirmed');
		host = await startTriggerHost({ credentials });
		// Meta delivers again at once: the dead process's claim still holds it (its lease), so nothing yet.
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions).toEqual([]);
		// After the lease: the next POST, about someone else, hands over the dead process's item first.
		advanceDate(HAND_OVER_LEASE_MS + 1000);
		expect(await post(host.url, webhookBody([textMessage('4915100000122', 'wamid.fritz-code', otherCode, at)]))).toBe(200);
		expect(host.executions.map(kinds)).toEqual([['optin.confirmed:wamid.emil-code', 'optin.confirmed:wamid.fritz-code']]);
		expect(host.executions[0][0]).toMatchObject({ phone: '+4915100000121', reply: { text: expect.stringContaining('Angebote') } });
		// Meta's later redelivery of the first body finds nothing owed.
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions).toHaveLength(1);
		expect((await historyOf(ledger, '+4915100000121')).filter((type) => type === 'optin.confirmed')).toHaveLength(1);
		expect(await owedRows(ledger)).toEqual([]);
	});

	test('events the workflow does not start with are committed but owe it nothing: only the STOP\'s item is kept for the redelivery', async () => {
		const at = new Date(Date.now() - 60_000);
		const waId = '4915100000141';
		const code = await signUp(ledger, waId);
		expect((await ledger.confirm({ messageId: 'wamid.owes-code', from: waId, text: code, at })).outcome).toBe('confirmed');
		let failures = 1;
		host = await startTriggerHost({
			credentials,
			parameters: { events: ['consent.withdrawn'] },
			beforeStore: () => {
				if (failures-- > 0) throw new Error('n8n is down');
			},
		});
		const body = webhookBody([textMessage(waId, 'wamid.owes-hello', 'Hallo', at), textMessage(waId, 'wamid.owes-stop', 'STOP', at)]);
		Object.assign(body.entry[0].changes[0].value, { statuses: [{ id: 'wamid.owes-out', status: 'delivered', timestamp: String(Math.floor(at.getTime() / 1000)), recipient_id: waId }] });
		// n8n could not store the execution: what is still owed stays in the outbox, and that is the STOP alone (not
		// the status or the other message, which this workflow does not start with).
		expect(await post(host.url, body)).toBe(500);
		expect(await owedRows(ledger)).toEqual([{ id: expect.any(String), claim: null }]);
		expect(await historyOf(ledger, `+${waId}`)).toContain('consent.withdrawn');
		expect(await post(host.url, body)).toBe(200);
		expect(host.executions.map(kinds)).toEqual([['consent.withdrawn:wamid.owes-stop']]);
		expect(await owedRows(ledger)).toEqual([]);
	});

	test('purge deletes items never handed over after the operational retention; erasure deletes a person\'s at once', async () => {
		const at = new Date(Date.now() - 60_000);
		const codes = [await signUp(ledger, '4915100000131'), await signUp(ledger, '4915100000132')];
		host = await startTriggerHost({ credentials, beforeStore: () => Promise.reject(new Error('n8n is down')) });
		for (const [index, waId] of ['4915100000131', '4915100000132'].entries()) {
			expect(await post(host.url, webhookBody([textMessage(waId, `wamid.owed-${index}`, codes[index], at)]))).toBe(500);
		}
		// Someone who never confirms: their wrong code is owed to the workflow as a refusal.
		await signUp(ledger, '4915100000133');
		expect(await post(host.url, webhookBody([textMessage('4915100000133', 'wamid.owed-wrong', 'ZZZ234', at)]))).toBe(500);
		expect(await owedRows(ledger)).toHaveLength(3);
		// No number of the person in the row: the item is encrypted, the lookups are keyed HMACs.
		expect(JSON.stringify(await ledger.store.query('SELECT * FROM outbox'))).not.toMatch(/15100000131|15100000132|15100000133/);

		await ledger.erase('+4915100000131');
		expect(await owedRows(ledger)).toHaveLength(2);
		// The unconfirmed sign-up is deleted after 72 hours, and what was owed about that person with it.
		advanceDate(29 * 86_400_000);
		const purged = await ledger.purge();
		expect(purged).toMatchObject({ unconfirmedErased: 1, operational: { owedItems: 0 } });
		expect(await owedRows(ledger)).toHaveLength(1);
		advanceDate(31 * 86_400_000);
		expect((await ledger.purge()).operational.owedItems).toBe(1);
		expect(await owedRows(ledger)).toEqual([]);
	});
});

/**
 * Generated histories: Meta delivers, delivers again, the store fails for one write, n8n fails to store the
 * execution, the process dies before or after n8n stored it. In the end every committed event's item was handed to
 * n8n at least once, every effect is in the ledger once, and no item came for an event that was not committed.
 */
describe.each(STORE_KINDS)('generated deliveries, redeliveries and failures (%s store)', (kind: StoreKind) => {
	const PEOPLE = 3;
	type Step =
		| { kind: 'deliver'; body: number }
		| { kind: 'storeFails'; body: number; nth: number }
		| { kind: 'n8nFails'; body: number }
		| { kind: 'dies'; body: number; after: 'commit' | 'store' };
	const step = fc.oneof(
		{ weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), body: fc.nat(PEOPLE) }) },
		{ weight: 2, arbitrary: fc.record({ kind: fc.constant('storeFails' as const), body: fc.nat(PEOPLE), nth: fc.integer({ min: 1, max: 3 }) }) },
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant('n8nFails' as const), body: fc.nat(PEOPLE) }) },
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant('dies' as const), body: fc.nat(PEOPLE), after: fc.constantFrom('commit' as const, 'store' as const) }) },
	);
	const totals = { histories: 0, posts: 0, answered500: 0, deaths: 0, events: 0, committed: 0, itemsStored: 0, duplicatesStored: 0 };

	afterAll(() => {
		console.log(`outbox property (${kind}): ${JSON.stringify(totals)}`);
	});

	test('every committed event\'s item reaches n8n at least once, every effect happens once, nothing uncommitted is handed over', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps: Step[]) => {
				const credentials = outboxCredentials(kind);
				const ledger = await ledgerFor(credentials.consentLedgerApi);
				let mode: 'ok' | 'n8nFails' | 'diesAfterCommit' | 'diesAfterStore' = 'ok';
				const stored: IDataObject[][] = [];
				const host = await startTriggerHost({
					credentials,
					beforeStore: async (items) => {
						if (mode === 'n8nFails') throw new Error('n8n could not store the execution');
						if (mode === 'diesAfterStore') stored.push(items);
						return mode === 'ok' ? undefined : 'die';
					},
				});
				try {
					await ledger.definePurposes(PURPOSES);
					const at = new Date(Date.now() - 60_000);
					// People who sign up (their codes come by webhook), and subscribers who send STOP.
					const joining = Array.from({ length: PEOPLE }, (_, index) => `49151000002${String(index).padStart(2, '0')}`);
					const leaving = Array.from({ length: PEOPLE }, (_, index) => `49151000003${String(index).padStart(2, '0')}`);
					const codes = await Promise.all(joining.map((waId) => signUp(ledger, waId)));
					for (const [index, waId] of leaving.entries()) await ledger.confirm({ messageId: `wamid.setup-${index}`, from: waId, text: await signUp(ledger, waId), at });
					// Body i < PEOPLE: person i's code. Body PEOPLE: one entry with a STOP from each subscriber.
					const bodies = [
						...joining.map((waId, index) => webhookBody([textMessage(waId, `wamid.code-${index}`, codes[index], at)])),
						webhookBody(leaving.map((waId, index) => textMessage(waId, `wamid.stop-${index}`, 'STOP', at))),
					];
					/** The ledger's effect of a message: the confirmation, or the withdrawal, in the person's history. */
					const committed = async (messageId: string) => {
						const [, what, index] = /^wamid\.(code|stop)-(\d+)$/.exec(messageId)!;
						const phone = `+${(what === 'code' ? joining : leaving)[Number(index)]}`;
						return (await historyOf(ledger, phone)).includes(what === 'code' ? 'optin.confirmed' : 'consent.withdrawn');
					};
					const check = async () => {
						// Nothing was handed to n8n for an event the ledger has not committed.
						for (const items of [...host.executions, ...stored]) for (const item of items) expect(await committed(String((item.message as IDataObject).id))).toBe(true);
					};
					for (const next of steps) {
						mode = next.kind === 'n8nFails' ? 'n8nFails' : next.kind === 'dies' ? (next.after === 'commit' ? 'diesAfterCommit' : 'diesAfterStore') : 'ok';
						if (next.kind === 'storeFails') await failNthDelivery(ledger, next.nth);
						const answer = await post(host.url, bodies[next.body]);
						totals.posts++;
						if (answer === 500) totals.answered500++;
						if (answer === 'no answer') totals.deaths++;
						if (next.kind === 'storeFails') await failNthDelivery(ledger, 1_000_000); // the fault is repaired
						await check();
					}
					// Later: every body comes once more (Meta's redeliveries), after any dead process's lease.
					mode = 'ok';
					advanceDate(HAND_OVER_LEASE_MS + 1000);
					for (const body of bodies) expect(await post(host.url, body)).toBe(200);
					await check();

					const handed = [...host.executions, ...stored].flat().map((item) => String((item.message as IDataObject).id));
					const events = bodies.flatMap((body) => body.entry[0].changes[0].value.messages.map((message) => message.id));
					for (const messageId of events) {
						expect(await committed(messageId)).toBe(true);
						expect(handed.filter((id) => id === messageId).length).toBeGreaterThanOrEqual(1);
					}
					// Each effect once: one confirmation per code, one withdrawal per STOP.
					for (const waId of joining) expect((await historyOf(ledger, `+${waId}`)).filter((type) => type === 'optin.confirmed')).toHaveLength(1);
					for (const waId of leaving) expect((await historyOf(ledger, `+${waId}`)).filter((type) => type === 'consent.withdrawn')).toHaveLength(1);
					expect(await owedRows(ledger)).toEqual([]);
					expect((await ledger.verifyChain()).ok).toBe(true);
					totals.histories++;
					totals.events += events.length;
					totals.committed += (await Promise.all(events.map(committed))).filter(Boolean).length;
					totals.itemsStored += handed.length;
					totals.duplicatesStored += handed.length - new Set(handed).size;
				} finally {
					jest.useRealTimers();
					await host.close();
					await dropStore(credentials);
				}
			}),
			{ numRuns: kind === 'embedded' ? 12 : 25, seed: 10_5 },
		);
	}, 600_000);
});
