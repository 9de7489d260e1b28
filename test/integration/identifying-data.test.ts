/**
 * Issue 10 item 1, invariant 8: once a person is erased, no column of any ledger table holds their number in any
 * form a reader could turn back into it: the digits, their base64 at any alignment (a wamid is base64 of a record
 * with the recipient's digits), their hex, or an unkeyed SHA-256 of the number (numbers are few enough to enumerate).
 * The person goes through everything that writes rows on their behalf, with real HTTP between the sandbox and a
 * receiver that does what the Opt-In Trigger does; then every text, JSON and binary column is searched.
 */
import { createHash } from 'node:crypto';
import type { Ledger } from '../../lib/consent/ledger';
import { idempotencyKey, sendWithConsent } from '../../lib/sending';
import { WhatsAppClient, type OutgoingMessage } from '../../lib/whatsapp';
import { newWamid } from '../../sandbox/ids';
import { signatureOf } from '../../sandbox/meta-json';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS, TestClock, TEXT_DE } from '../helpers/ledgers';
import { control, sandboxIdle, startReceiver, until, type Receiver } from '../helpers/receiver';

interface Person {
	phone: string;
	waId: string;
	/** Every digit string the number is known by: the full number and the national number, in each form WhatsApp uses. */
	digits: string[];
}

const PEOPLE: Person[] = [
	{ phone: '+4915112345678', waId: '4915112345678', digits: ['4915112345678', '15112345678'] },
	// A Brazilian mobile: WhatsApp may report it without the ninth digit.
	{ phone: '+5511987654321', waId: '551187654321', digits: ['5511987654321', '551187654321', '11987654321', '1187654321'] },
];
const BYSTANDER = { phone: '+4915199990077', waId: '4915199990077' };
/** A person with a WhatsApp username: Meta names them by their user ids only, until they share the number. */
const USERNAME = {
	phone: '+4915177776666',
	waId: '4915177776666',
	digits: ['4915177776666', '15177776666'],
	userId: 'DE.7391046628105573',
	parentUserId: 'DE.ENT.55120973316640028741',
};

/** The base64 of `text` as it appears inside any longer base64 string, whatever the text's offset (mod 3). */
function base64Cores(text: string): string[] {
	const cores: string[] = [];
	for (let offset = 0; offset < 3; offset++) {
		for (const alphabet of ['base64', 'base64url'] as const) {
			const encoded = Buffer.from('x'.repeat(offset) + text).toString(alphabet).replace(/=+$/, '');
			// drop the characters that mix in the bytes before and after the text
			cores.push(encoded.slice(offset === 0 ? 0 : 4, -4));
		}
	}
	return cores;
}

function needlesOf(person: Pick<Person, 'digits'> & { userIds?: string[] }): { kind: string; needle: string }[] {
	const sha = (text: string) => createHash('sha256').update(text).digest('hex');
	return [
		...person.digits.flatMap((digits) => [
			{ kind: 'digits', needle: digits },
			...base64Cores(digits).map((needle) => ({ kind: 'base64', needle })),
			{ kind: 'hex', needle: Buffer.from(digits).toString('hex') },
			{ kind: 'sha256', needle: sha(digits) },
			{ kind: 'sha256', needle: sha(`+${digits}`) },
		]),
		// A business-scoped user id names the person as well as the number does.
		...(person.userIds ?? []).flatMap((id) => [
			{ kind: 'user id', needle: id },
			...base64Cores(id).map((needle) => ({ kind: 'user id base64', needle })),
			{ kind: 'user id hex', needle: Buffer.from(id).toString('hex') },
			{ kind: 'user id sha256', needle: sha(id) },
			{ kind: 'user id sha256', needle: sha(`user:${id}`) },
		]),
	];
}

/** What each needle matched, as "table.column (kind)". */
function search(rows: { table: string; column: string; text: string }[], needles: { kind: string; needle: string }[]): string[] {
	const found = new Set<string>();
	for (const row of rows) {
		for (const { kind, needle } of needles) {
			if (row.text.toLowerCase().includes(needle.toLowerCase())) found.add(`${row.table}.${row.column} (${kind})`);
		}
	}
	return [...found].sort();
}

/** Every value of every column of every table in the ledger's schema, as text: binary as latin1, hex and base64. */
async function everyValue(ledger: Ledger): Promise<{ table: string; column: string; text: string }[]> {
	const tables = await ledger.store.query<{ table_name: string }>(
		`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
		[ledger.store.schema],
	);
	const values: { table: string; column: string; text: string }[] = [];
	for (const { table_name: table } of tables) {
		for (const row of await ledger.store.query<Record<string, unknown>>(`SELECT * FROM ${table}`)) {
			for (const [column, value] of Object.entries(row)) {
				if (value === null || value === undefined) continue;
				const text = Buffer.isBuffer(value) || value instanceof Uint8Array
					? [Buffer.from(value).toString('latin1'), Buffer.from(value).toString('hex'), Buffer.from(value).toString('base64')].join(' ')
					: typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : String(value);
				values.push({ table, column, text });
			}
		}
	}
	return values;
}

describe.each(STORE_KINDS)('nothing identifying survives erasure (%s store)', (kind) => {
	let ledger: Ledger;
	let receiver: Receiver;
	let sandbox: Sandbox;
	const clock = new TestClock(new Date());

	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE', clock: clock.now }));
		await ledger.definePurposes(PURPOSES);
		receiver = await startReceiver(ledger);
		sandbox = await startSandbox({ webhookUrl: receiver.url, duplicateDeliveries: 1, pairRateSeconds: 0 });
	});

	afterEach(async () => {
		await sandbox.close();
		await receiver.close();
		await closeTestLedgers();
	});

	const client = () => new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: '100000000000001', baseUrl: sandbox.url, pairRateSeconds: 0 });
	const emitted = (event: string) => receiver.emitted.filter((item) => item.event === event).length;

	/** A signed POST as Meta sends it, straight to the receiver. */
	async function metaPosts(value: Record<string, unknown>): Promise<number> {
		const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '200000000000001', changes: [{ field: 'messages', value: {
			messaging_product: 'whatsapp',
			metadata: { display_phone_number: '49301234567', phone_number_id: '100000000000001' },
			...value,
		} }] }] });
		const response = await fetch(receiver.url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signatureOf(body, 'sandbox-secret') } });
		return response.status;
	}

	/** Everything that writes a row on the person's behalf. */
	async function liveThrough(person: { phone: string; waId: string }): Promise<string> {
		const confirmed = emitted('optin.confirmed');
		const { code } = await ledger.requestOptIn({ phone: person.phone, purposes: ['offers', 'service'], consentText: TEXT_DE, source: { ip: '203.0.113.7' } });
		await control(sandbox, 'inbound', { from: person.waId, text: `Anmelden ${code}` });
		await until('the confirmation', () => emitted('optin.confirmed') > confirmed);

		// a template under the Send node's own key (scope:+E164:campaign:hash), with its sent, delivered and read
		const message: OutgoingMessage = { type: 'template', name: 'welcome', language: 'de', body: ['Anna'] };
		const statuses = emitted('status.updated');
		const sent = await sendWithConsent(ledger, client(), {
			key: idempotencyKey({ workflowId: 'wf-1', node: 'Send WhatsApp', recipient: person.phone, campaign: 'spring sale', message }),
			recipient: person.phone,
			purpose: 'offers',
			category: 'marketing',
			message,
		});
		expect(sent.status === 'failed' ? sent.error.message : sent.status).toBe('sent');
		await until('three statuses', async () => emitted('status.updated') >= statuses + 3 && (await sandboxIdle(sandbox)));

		// a send that crashed before its completion was recorded, whose status came anyway
		const lost = newWamid(person.waId);
		await ledger.reserveSend({ key: `crashed:${person.phone}`, recipient: person.phone, purpose: 'service', category: 'utility' });
		await ledger.recordStatus({ messageId: lost, status: 'delivered', at: clock.now(), recipientId: person.waId });

		// a chat message, the in-app stop, a STOP, and an event the ledger cannot read
		await control(sandbox, 'inbound', { from: person.waId, text: 'Hallo, wann habt ihr offen?' });
		await control(sandbox, 'preferences', { waId: person.waId, value: 'stop' });
		await control(sandbox, 'inbound', { from: person.waId, text: 'STOP' });
		await until('the withdrawal', async () => (await sandboxIdle(sandbox)) && receiver.emitted.some((item) => item.event === 'consent.withdrawn'));
		const poison = await metaPosts({
			statuses: [{ id: newWamid(person.waId), status: 'failed', timestamp: String(Math.floor(clock.now().getTime() / 1000)), recipient_id: person.waId, errors: [{ code: 'not-a-number' }] }],
		});
		expect(poison).toBe(200);
		await until('all deliveries', () => sandboxIdle(sandbox));
		return (sent as { wamid: string }).wamid;
	}

	/**
	 * The username user's way: a code that carries only the user ids, Meta's contact info request to the user id, the
	 * shared number, a chat message and a STOP, all without their number in the webhooks.
	 */
	async function liveAsUsername(): Promise<void> {
		await control(sandbox, 'users', { waId: USERNAME.waId, username: 'mila', userId: USERNAME.userId, parentUserId: USERNAME.parentUserId });
		const { code } = await ledger.requestOptIn({ phone: USERNAME.phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await control(sandbox, 'inbound', { from: USERNAME.waId, text: code });
		const asked = await until('the number request', () => receiver.emitted.find((item) => item.event === 'optin.number_needed'));
		const reply = asked.reply as { to: string; text: string };
		const request = await sendWithConsent(ledger, client(), {
			key: idempotencyKey({ workflowId: 'wf-1', node: 'Send WhatsApp', recipient: reply.to, campaign: '', message: { type: 'contact_info_request', body: reply.text } }),
			recipient: reply.to,
			purpose: 'service',
			category: 'service',
			message: { type: 'contact_info_request', body: reply.text },
		});
		expect(request.status === 'failed' ? request.error.message : request.status).toBe('sent');
		const confirmed = emitted('optin.confirmed');
		await control(sandbox, 'inbound', { from: USERNAME.waId, shareContact: true });
		await until('the confirmation', () => emitted('optin.confirmed') > confirmed);
		await control(sandbox, 'inbound', { from: USERNAME.waId, text: 'Danke!' });
		await control(sandbox, 'inbound', { from: USERNAME.waId, text: 'STOP' });
		await until('the withdrawal', async () => (await sandboxIdle(sandbox)) && emitted('consent.withdrawn') >= PEOPLE.length + 2);
	}

	test('sign-up, confirmation, a template with its statuses, chat, stops and a rejected event, a username user; then erasure: no column holds the number or the user ids', async () => {
		const wamids: string[] = [];
		for (const person of [...PEOPLE, BYSTANDER]) wamids.push(await liveThrough(person));
		expect(emitted('event.rejected')).toBeGreaterThanOrEqual(3);
		await liveAsUsername();
		const username = { ...USERNAME, userIds: [USERNAME.userId, USERNAME.parentUserId] };

		// the search finds what it looks for: a wamid holds the digits in base64
		for (const [index, person] of PEOPLE.entries()) {
			expect(search([{ table: 'probe', column: 'wamid', text: wamids[index] }], needlesOf(person))).toEqual(['probe.wamid (base64)']);
		}
		const before = await everyValue(ledger);
		expect(before.length).toBeGreaterThan(100);

		// the ledger keeps the user ids keyed: nothing of them in any column even before erasure (the search finds them
		// where they are, e.g. in a webhook body)
		const { deliveries: sandboxDeliveries } = (await control(sandbox, 'webhooks')) as { deliveries: { body: string }[] };
		const bodies = sandboxDeliveries.map(({ body }) => ({ table: 'probe', column: 'webhook', text: body }));
		expect(search(bodies, needlesOf({ digits: [], userIds: username.userIds }))).toEqual(['probe.webhook (user id)']);
		expect(search(before, needlesOf({ digits: [], userIds: username.userIds }))).toEqual([]);

		for (const person of [...PEOPLE, username]) expect(await ledger.erase(person.phone, { reason: 'request by e-mail' })).toMatchObject({ erased: true });
		const after = await everyValue(ledger);
		for (const person of [...PEOPLE, username]) expect({ person: person.phone, found: search(after, needlesOf(person)) }).toEqual({ person: person.phone, found: [] });
		// the person the ledger knew by the user id alone went with them (the user id is their key)
		expect(await ledger.mayMessage({ recipient: USERNAME.userId, purpose: 'service', category: 'service' })).toMatchObject({ allowed: false, reason: 'outside_service_window' });

		// the erased people's sends went with them; the bystander's stay, and the gate still knows them
		const sends = await ledger.store.query<{ subject_id: string | null }>('SELECT subject_id FROM sends');
		expect(sends).toHaveLength(2);
		expect((await ledger.exportPerson(BYSTANDER.phone))!.sends.map((send) => send.wamid)).toContain(wamids[PEOPLE.length]);
		for (const person of PEOPLE) {
			expect(await ledger.mayMessage({ recipient: person.phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'suppressed' });
		}
		expect((await ledger.verifyChain()).ok).toBe(true);

		// Meta redelivers everything it sent (within its redelivery days): nobody is recreated, nothing is found again
		const subjects = await ledger.store.query('SELECT id FROM subjects');
		const { deliveries } = (await control(sandbox, 'webhooks')) as { deliveries: { body: string }[] };
		for (const { body } of deliveries) {
			const response = await fetch(receiver.url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signatureOf(body, 'sandbox-secret') } });
			expect(response.status).toBe(200);
		}
		expect(await ledger.store.query('SELECT id FROM subjects')).toHaveLength(subjects.length);
		for (const person of [...PEOPLE, username]) expect(search(await everyValue(ledger), needlesOf(person))).toEqual([]);

		// the operational retention takes the rest: early statuses and rejected events linked to nobody (once the
		// sandbox has nothing more to say: a `read` that came after the clock moved would be a day old, not 31)
		await until('the sandbox is quiet', () => sandboxIdle(sandbox));
		clock.advance(31 * 86_400_000);
		await ledger.purge();
		for (const table of ['early_statuses', 'rejected_events', 'processed_deliveries']) {
			expect({ table, rows: await ledger.store.query(`SELECT * FROM ${table}`) }).toEqual({ table, rows: [] });
		}
	});
});

describe.each(STORE_KINDS)('rows an earlier version kept in clear are keyed when the ledger opens (%s store)', (kind) => {
	afterEach(() => closeTestLedgers());

	test('sends and handled deliveries move to the keyed tables; a key already sent and a status already handled stay duplicates', async () => {
		const { ledger: before, config } = await openTestLedger(kind, { defaultCountry: 'DE' });
		await before.definePurposes(PURPOSES);
		const { code } = await before.requestOptIn({ phone: PEOPLE[0].phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		await before.confirm({ messageId: 'wamid.in-1', from: PEOPLE[0].waId, text: code, at: new Date() });
		const [subject] = await before.store.query<{ id: string }>('SELECT id FROM subjects');
		const wamid = newWamid(PEOPLE[0].waId);
		const key = `a1b2c3:${PEOPLE[0].phone}:spring:0011223344556677`;
		// what schema 8 leaves of a ledger written by version 7: its rows set aside, as they were
		await before.store.query(`CREATE TABLE sends_unkeyed (idempotency_key text PRIMARY KEY, subject_id text, purpose text NOT NULL, category text NOT NULL,
			consent_event_seq bigint, status text NOT NULL, wamid text UNIQUE, error_code int, error_message text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`);
		await before.store.query(`INSERT INTO sends_unkeyed VALUES ($1, $2, 'offers', 'marketing', 2, 'delivered', $3, NULL, NULL, now(), now())`, [key, subject.id, wamid]);
		await before.store.query('CREATE TABLE processed_deliveries_unkeyed (key text PRIMARY KEY, result text NOT NULL, processed_at timestamptz NOT NULL)');
		await before.store.query(`INSERT INTO processed_deliveries_unkeyed VALUES ($1, $2, now())`, [`status:${wamid}:delivered`, JSON.stringify({ updated: true, key, early: false })]);

		const { ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }, config);
		expect(await ledger.store.query(`SELECT relname FROM pg_class WHERE relname LIKE '%_unkeyed' AND relnamespace = current_schema()::regnamespace`)).toEqual([]);
		expect(await ledger.reserveSend({ key, recipient: PEOPLE[0].phone, purpose: 'offers', category: 'marketing' })).toMatchObject({
			status: 'duplicate',
			previous: { status: 'delivered', wamid },
		});
		expect(await ledger.recordStatus({ messageId: wamid, status: 'delivered', at: new Date(), recipientId: PEOPLE[0].waId })).toMatchObject({ duplicate: true });
		expect(await ledger.recordStatus({ messageId: wamid, status: 'read', at: new Date(), recipientId: PEOPLE[0].waId })).toMatchObject({ updated: true, key, duplicate: false });
		expect(search(await everyValue(ledger), needlesOf(PEOPLE[0]))).toEqual([]);
	});
});
