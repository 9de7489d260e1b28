/**
 * The consent ledger on both stores, the embedded one and the real PostgreSQL. Checklist items of
 * ../shared/reference/gdpr-consent.md are named in the test titles (#n).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import fc from 'fast-check';
import { openLedger } from '../../lib/consent/ledger';
import { ConsentError, ValidationError } from '../../lib/errors';
import type { Ledger } from '../../lib/consent/ledger';
import { TooManyRequestsError } from '../../lib/consent/optin';
import { sha256Hex } from '../../lib/consent/crypto';
import { LATEST_SCHEMA_VERSION } from '../../lib/store/migrations';
import {
	closeTestLedgers,
	openTestLedger,
	pgConnection,
	PURPOSES,
	STORE_KINDS,
	TestClock,
	TEXT_DE,
	type StoreKind,
} from '../helpers/ledgers';

const PHONE = '+4915112345678';
const WA_ID = '4915112345678';
const OTHER_WA_ID = '4915199999999';
let messageCounter = 0;
const nextMessageId = () => `wamid.TEST${++messageCounter}`;

async function countEvents(ledger: Ledger): Promise<number> {
	const [row] = await ledger.store.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
	return Number(row.n);
}

describe.each(STORE_KINDS)('consent ledger on the %s store', (kind: StoreKind) => {
	let ledger: Ledger;
	let clock: TestClock;

	async function setup(options = {}) {
		clock = new TestClock();
		({ ledger } = await openTestLedger(kind, { clock: clock.now, defaultCountry: 'DE', ...options }));
		await ledger.definePurposes(PURPOSES);
		return ledger;
	}

	async function signUp(phone = PHONE, purposes = ['offers']) {
		return ledger.requestOptIn({ phone, purposes, consentText: TEXT_DE, source: { pageUrl: 'https://shop.example/whatsapp', widgetVersion: '1.0.0' } });
	}

	function inbound(text: string, from = WA_ID, at = clock.now()) {
		return { messageId: nextMessageId(), from, text, at };
	}

	beforeEach(() => setup());
	afterEach(() => closeTestLedgers());

	test('#7 a sign-up is pending with the text hash, page, widget version and time; #9 nothing may be sent', async () => {
		const requested = await signUp('0151 12345678');
		expect(requested.phone).toBe(PHONE);
		expect(requested.code).toMatch(/^[A-Z2-9]{6}$/);
		expect(requested.expiresAt.getTime() - clock.now().getTime()).toBe(24 * 3_600_000);
		expect(requested.textHash).toBe(sha256Hex(TEXT_DE.text));
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'pending' });
		const person = await ledger.getConsent(PHONE);
		expect(person!.consents).toEqual([
			expect.objectContaining({ purpose: 'offers', state: 'pending', text: expect.objectContaining({ body: TEXT_DE.text, version: '2026-01', hash: requested.textHash }) }),
		]);
		expect(person!.history[0]).toMatchObject({
			type: 'optin.requested',
			details: expect.objectContaining({ pageUrl: 'https://shop.example/whatsapp', widgetVersion: '1.0.0', textHash: requested.textHash }),
		});
	});

	test('#8 the IP address is not kept by default, truncated or keyed-hashed when configured', async () => {
		await closeTestLedgers();
		for (const [ipMode, expected] of [
			['off', undefined],
			['truncated', '203.0.113.0'],
			['hashed', expect.stringMatching(/^[0-9a-f]{32}$/)],
		] as const) {
			await setup({ ipMode });
			await ledger.requestOptIn({ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: { ip: '203.0.113.77' } });
			const person = await ledger.getConsent(PHONE);
			expect(person!.history[0].details!.ip).toEqual(expected);
			const raw = await ledger.store.query<{ payload: string }>('SELECT payload FROM events');
			expect(JSON.stringify(raw)).not.toContain('203.0.113.77');
			await closeTestLedgers();
		}
		await setup();
	});

	test('#10 #12 the code from the same number confirms, tolerant of case, spaces and words; evidence is kept', async () => {
		const { code } = await signUp();
		const spaced = `${code.slice(0, 3).toLowerCase()} ${code.slice(3).toLowerCase()}`;
		const message = inbound(`Hallo! Anmeldung bestätigen: ${spaced} danke`);
		const result = await ledger.confirm(message);
		expect(result).toMatchObject({ outcome: 'confirmed', purposes: ['offers'], phone: PHONE, duplicate: false });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true, reason: 'consented' });
		const person = await ledger.getConsent(PHONE);
		const confirmed = person!.history.find((event) => event.type === 'optin.confirmed')!;
		expect(confirmed.details).toMatchObject({ evidence: { messageId: message.messageId, text: message.text, receivedAt: message.at.toISOString() } });
	});

	test('#11 a code sent from another number confirms nothing and says why', async () => {
		const { code } = await signUp();
		const result = await ledger.confirm(inbound(code, OTHER_WA_ID));
		expect(result.outcome).toBe('wrong_number');
		expect(result.hint).toMatch(/different WhatsApp number/);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'pending' });
	});

	test("someone else's live code in the same message does not hide the sender's own", async () => {
		const own = await signUp();
		clock.advance(1000);
		const other = await signUp('+4915100000999');
		const result = await ledger.confirm(inbound(`${other.code} ${own.code}`));
		expect(result).toMatchObject({ outcome: 'confirmed', subjectId: own.subjectId });
		expect(await ledger.mayMessage({ recipient: '+4915100000999', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'pending' });
	});

	test('#10 an expired code confirms nothing and yields a hint', async () => {
		const { code } = await signUp();
		clock.advance(25 * 3_600_000);
		const result = await ledger.confirm(inbound(code));
		expect(result).toMatchObject({ outcome: 'expired', hint: expect.stringMatching(/expired/) });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'pending' });
	});

	test('wrong codes are limited: after five the request is locked', async () => {
		const { code } = await signUp();
		for (let i = 0; i < 5; i++) {
			expect((await ledger.confirm(inbound('ZZZZZZ'))).outcome).toBe('unknown_code');
		}
		expect(await ledger.confirm(inbound(code))).toMatchObject({ outcome: 'too_many_attempts' });
	});

	test('an ordinary message is no code attempt and opens the service window (#19)', async () => {
		await signUp();
		expect(await ledger.confirm(inbound('Wann kommt meine Bestellung?'))).toMatchObject({ outcome: 'no_code' });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'service' })).toMatchObject({ allowed: true, reason: 'service_window_open' });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'pending' });
	});

	test('Brazilian wa_id without the mobile 9 confirms the number entered with it', async () => {
		const { code } = await ledger.requestOptIn({ phone: '+55 11 91234-5678', purposes: ['offers'], consentText: TEXT_DE, source: {} });
		expect(await ledger.confirm(inbound(code, '551112345678'))).toMatchObject({ outcome: 'confirmed' });
		await ledger.revoke({ waId: '551112345678', purposes: 'all', channel: 'whatsapp', messageId: nextMessageId() });
		expect(await ledger.mayMessage({ recipient: '+5511912345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
	});

	test('#3 #16 consent is per purpose', async () => {
		const { code } = await signUp(PHONE, ['offers']);
		await ledger.confirm(inbound(code));
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'service', category: 'utility' })).toMatchObject({ allowed: false, reason: 'never_asked' });
		expect(await ledger.mayMessage({ recipient: '+4915100000001', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'never_asked' });
	});

	test('#22 #25 #26 withdrawal is effective at once, idempotent, keeps earlier events; rejoining needs a new double opt-in', async () => {
		const { code } = await signUp(PHONE, ['offers', 'service']);
		await ledger.confirm(inbound(code));
		const before = await countEvents(ledger);
		const first = await ledger.revoke({ recipient: PHONE, purposes: 'all', channel: 'email', evidence: { note: 'mail of 2 March' } });
		expect(first).toMatchObject({ withdrawn: ['offers', 'service'], known: true });
		const again = await ledger.revoke({ recipient: PHONE, purposes: 'all', channel: 'email' });
		expect(again.withdrawn).toEqual([]);
		expect(await countEvents(ledger)).toBe(before + 1);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'withdrawn' });
		const person = await ledger.getConsent(PHONE);
		expect(person!.history.map((event) => event.type)).toEqual(['optin.requested', 'optin.confirmed', 'consent.withdrawn']);
		expect(person!.history[2].details).toMatchObject({ channel: 'email', evidence: { note: 'mail of 2 March' } });

		clock.advance(60_000);
		const renewed = await signUp(PHONE, ['offers']);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false });
		await ledger.confirm(inbound(renewed.code));
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'service', category: 'utility' })).toMatchObject({ allowed: false });
	});

	test('#24 withdrawal by e-mail, web form or support is recorded with its channel, even for unknown numbers', async () => {
		const result = await ledger.revoke({ recipient: '+4915100000002', purposes: ['offers'], channel: 'support', evidence: { reference: 'ticket 42' } });
		expect(result).toMatchObject({ known: false, withdrawn: [] });
		expect(await ledger.mayMessage({ recipient: '+4915100000002', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'suppressed' });
		await expect(ledger.revoke({ recipient: PHONE, purposes: 'all', channel: 'fax' as never })).rejects.toThrow(/not a withdrawal channel/);
	});

	test('STOP for marketing only keeps utility messages', async () => {
		const { code } = await signUp(PHONE, ['offers', 'service']);
		await ledger.confirm(inbound(code));
		await ledger.revoke({ waId: WA_ID, purposes: 'marketing', channel: 'whatsapp', messageId: nextMessageId() });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'service', category: 'utility' })).toMatchObject({ allowed: true });
	});

	test('#17 the in-app marketing switch blocks marketing until resumed', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await ledger.setMarketingPreference({ waId: WA_ID, value: 'stop', at: clock.now() }, 'pref:1');
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'marketing_stopped_in_app' });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'utility' })).toMatchObject({ allowed: true });
		clock.advance(1000);
		await ledger.setMarketingPreference({ waId: WA_ID, value: 'resume', at: clock.now() }, 'pref:2');
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('#19 service replies only inside the 24 h window', async () => {
		await ledger.recordInbound(inbound('Hallo, ich habe eine Frage', '4917012345678'));
		expect(await ledger.mayMessage({ recipient: '+4917012345678', purpose: 'support', category: 'service' })).toMatchObject({ allowed: true });
		expect(await ledger.mayMessage({ recipient: '+4917012345678', purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'never_asked' });
		clock.advance(24 * 3_600_000 + 1);
		expect(await ledger.mayMessage({ recipient: '+4917012345678', purpose: 'support', category: 'service' })).toMatchObject({
			allowed: false,
			reason: 'outside_service_window',
			message: expect.stringMatching(/template/),
		});
	});

	test('#18 fresh consent can be required after a material text change or after a maximum age', async () => {
		await closeTestLedgers();
		await setup({ maxConsentAgeDays: 365 });
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await ledger.definePurposes([{ id: 'offers', label: 'Offers and news', minTextVersion: '2026-06' }]);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'outdated_text' });
		await ledger.definePurposes([{ id: 'offers', label: 'Offers and news' }]);
		clock.advance(366 * 86_400_000);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'consent_too_old' });
	});

	test('#18 a minimum text version set after the gate last read the purposes is applied at once, by the gate and by a reservation', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		const marketing = { recipient: PHONE, purpose: 'offers', category: 'marketing' } as const;
		const offers = (minTextVersion?: string) => ledger.definePurposes([{ id: 'offers', label: 'Offers and news', ...(minTextVersion ? { minTextVersion } : {}) }]);
		// Read without any minimum version: the gate's next query may leave out the text version, and must then read it.
		expect(await ledger.mayMessage(marketing)).toMatchObject({ allowed: true });
		await offers(TEXT_DE.version);
		expect(await ledger.mayMessage(marketing)).toMatchObject({ allowed: true });
		await offers('2026-06');
		expect(await ledger.mayMessageBatch([marketing])).toMatchObject([{ allowed: false, reason: 'outdated_text' }]);
		await offers();
		expect(await ledger.reserveSend({ key: 'k-no-version', ...marketing })).toMatchObject({ status: 'reserved' });
		await offers(TEXT_DE.version);
		expect(await ledger.reserveSend({ key: 'k-same-version', ...marketing })).toMatchObject({ status: 'reserved' });
		await offers('2026-06');
		expect(await ledger.reserveSend({ key: 'k-newer-version', ...marketing })).toMatchObject({ status: 'refused', decision: { reason: 'outdated_text' } });
	});

	test('bad input gives a typed error naming the field, and nothing is written', async () => {
		const before = await countEvents(ledger);
		const cases: [unknown, string][] = [
			[{ phone: '12', purposes: ['offers'], consentText: TEXT_DE }, 'phone'],
			[{ phone: '+49 30 1234567', purposes: ['offers'], consentText: TEXT_DE }, 'phone'],
			[{ phone: 4915112345678, purposes: ['offers'], consentText: TEXT_DE }, 'phone'],
			[{ phone: PHONE, purposes: ['unknown'], consentText: TEXT_DE }, 'purposes'],
			[{ phone: PHONE, purposes: [], consentText: TEXT_DE }, 'purposes'],
			[{ phone: PHONE, purposes: 'offers', consentText: TEXT_DE }, 'purposes'],
			[{ phone: PHONE, purposes: ['offers'], consentText: { ...TEXT_DE, text: '   ' } }, 'consentText.text'],
			[{ phone: PHONE, purposes: ['offers'], consentText: { ...TEXT_DE, text: 'x'.repeat(10_001) } }, 'consentText.text'],
			[{ phone: PHONE, purposes: ['offers'], consentText: { ...TEXT_DE, version: 3 } }, 'consentText.version'],
			[{ phone: PHONE, purposes: ['offers'], consentText: TEXT_DE, source: { pageUrl: 'not a url' } }, 'source.pageUrl'],
		];
		for (const [input, field] of cases) {
			const error = await ledger.requestOptIn(input as never).catch((e) => e);
			expect(error).toBeInstanceOf(ValidationError);
			expect(error).toMatchObject({ field });
		}
		const unknown = await ledger.requestOptIn({ phone: PHONE, purposes: ['newsletter'], consentText: TEXT_DE, source: {} }).catch((e) => e);
		expect(unknown.message).toContain("'newsletter'");
		expect(unknown.hint).toContain('offers, service');
		await expect(ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'promo' as never })).rejects.toMatchObject({ field: 'category' });
		expect(await countEvents(ledger)).toBe(before);
		const [subjects] = await ledger.store.query<{ n: number }>('SELECT count(*)::int AS n FROM subjects');
		expect(Number(subjects.n)).toBe(0);
	});

	test('#34 no number in clear in any table', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await ledger.revoke({ waId: WA_ID, purposes: 'all', channel: 'whatsapp', messageId: nextMessageId() });
		for (const table of ['subjects', 'events', 'consents', 'optin_requests', 'suppressions', 'processed_deliveries', 'sends']) {
			const rows = await ledger.store.query(`SELECT * FROM ${table}`);
			expect(JSON.stringify(rows)).not.toMatch(/15112345678/);
		}
	});

	test('invariant 3: the same webhook delivered three times, in any order, changes the ledger once', async () => {
		const { code } = await signUp();
		const confirmation = inbound(code);
		clock.advance(5000);
		const stop = { waId: WA_ID, purposes: 'all' as const, channel: 'whatsapp' as const, messageId: nextMessageId(), at: clock.now() };
		// Meta delivers the STOP first, then the confirmation that was sent before it, each three times.
		const results = [];
		for (let i = 0; i < 3; i++) {
			results.push(await ledger.revoke(stop));
			results.push(await ledger.confirm(confirmation));
		}
		expect(results.filter((r) => !r.duplicate)).toHaveLength(2);
		expect(results[1]).toMatchObject({ outcome: 'superseded_by_withdrawal' });
		expect(results[3]).toMatchObject({ outcome: 'superseded_by_withdrawal', duplicate: true });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false });
		const person = await ledger.getConsent(PHONE);
		expect(person!.history.map((e) => e.type)).toEqual(['optin.requested', 'consent.withdrawn']);
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('sends: reserved once per key, refused without consent, retried only after a refusal by Meta (#20)', async () => {
		const refused = await ledger.reserveSend({ key: 'news-1:+4915112345678', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		expect(refused).toMatchObject({ status: 'refused', decision: { reason: 'never_asked' } });
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		const reserved = await ledger.reserveSend({ key: 'news-1:+4915112345678', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		expect(reserved).toMatchObject({ status: 'reserved', decision: { allowed: true, consentEventSeq: expect.any(Number) } });
		await ledger.failSend('news-1:+4915112345678', { outcome: 'failed', code: 132000, message: 'template parameters' });
		expect((await ledger.reserveSend({ key: 'news-1:+4915112345678', recipient: PHONE, purpose: 'offers', category: 'marketing' })).status).toBe('reserved');
		await ledger.completeSend('news-1:+4915112345678', { wamid: 'wamid.A1' });
		expect(await ledger.reserveSend({ key: 'news-1:+4915112345678', recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({
			status: 'duplicate',
			previous: { status: 'accepted', wamid: 'wamid.A1' },
		});
		await ledger.reserveSend({ key: 'news-2', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		await ledger.failSend('news-2', { outcome: 'unknown', message: 'timeout' });
		expect((await ledger.reserveSend({ key: 'news-2', recipient: PHONE, purpose: 'offers', category: 'marketing' })).status).toBe('duplicate');

		// statuses move forward only, whatever order they arrive in, and each counts once
		expect((await ledger.recordStatus({ messageId: 'wamid.A1', status: 'read', at: clock.now() })).updated).toBe(true);
		expect((await ledger.recordStatus({ messageId: 'wamid.A1', status: 'delivered', at: clock.now() })).updated).toBe(false);
		expect((await ledger.recordStatus({ messageId: 'wamid.A1', status: 'read', at: clock.now() })).duplicate).toBe(true);
		const exported = await ledger.exportPerson(PHONE);
		expect(exported!.sends.find((s) => s.key === 'news-1:+4915112345678')).toMatchObject({ status: 'read', wamid: 'wamid.A1', consentEventSeq: expect.any(Number) });
	});

	test('a failed status with 131050 records the in-app marketing stop', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await ledger.reserveSend({ key: 'k1', recipient: PHONE, purpose: 'offers', category: 'marketing' });
		await ledger.completeSend('k1', { wamid: 'wamid.B1' });
		const result = await ledger.recordStatus({ messageId: 'wamid.B1', status: 'failed', at: clock.now(), recipientId: WA_ID, errors: [{ code: 131050 }] });
		expect(result.marketingStopped).toBe(true);
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'marketing_stopped_in_app' });
	});

	test('#30 #36 export has the full history with the texts shown, and is itself logged', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		const exported = await ledger.exportPerson('0151 12345678', 'dpo@example.com');
		expect(exported).toMatchObject({ phone: PHONE, consents: [expect.objectContaining({ state: 'confirmed', text: expect.objectContaining({ body: TEXT_DE.text }) })] });
		expect(exported!.history.map((e) => e.type)).toEqual(['optin.requested', 'optin.confirmed', 'subject.exported']);
		expect(await ledger.exportPerson('+4915100000009')).toBeUndefined();
	});

	test('#31 #35 #29 erasure leaves tombstones, a verifiable chain and a suppression entry', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await signUp('+4915100000003');
		const erased = await ledger.erase(PHONE, { reason: 'e-mail request' });
		expect(erased).toMatchObject({ erased: true, retainedProof: false, notify: expect.arrayContaining(['crm', 'newsletter']) });
		expect(await ledger.getConsent(PHONE)).toBeUndefined();
		const verification = await ledger.verifyChain();
		expect(verification).toMatchObject({ ok: true, tombstones: 2 });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ reason: 'suppressed' });
		const [suppression] = await ledger.store.query<{ hmac: string; scope: string }>('SELECT * FROM suppressions');
		expect(Object.keys(suppression).sort()).toEqual(['hmac', 'scope', 'since']);
		// rejoining through a new double opt-in lifts the suppression for that purpose
		const again = await signUp();
		await ledger.confirm(inbound(again.code));
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	test('#31 erasure can keep restricted proof for legal claims', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		const erased = await ledger.erase(PHONE, { retainProofForLegalClaims: true });
		expect(erased.retainedProof).toBe(true);
		const person = await ledger.getConsent(PHONE);
		expect(person!.consents[0].state).toBe('withdrawn');
		expect(person!.history.at(-1)!.details).toMatchObject({ legalBasis: expect.stringContaining('17(3)(e)') });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false });
	});

	test('#35 a row changed or removed behind the ledger with plain SQL is found by the verification', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		await ledger.revoke({ recipient: PHONE, purposes: 'all', channel: 'web_form' });
		expect(await ledger.verifyChain()).toMatchObject({ ok: true, events: 4 });
		await expect(ledger.store.query('DELETE FROM events WHERE seq = 2')).rejects.toThrow(/append-only/);
		await ledger.store.query('ALTER TABLE events DISABLE TRIGGER events_append_only');
		const [event] = await ledger.store.query<{ payload: string }>('SELECT payload FROM events WHERE seq = 3');
		await ledger.store.query('UPDATE events SET payload = $1 WHERE seq = 2', [event.payload]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, brokenAt: 2, problem: expect.stringContaining('changed') });
		await ledger.store.query(`UPDATE events SET payload_hash = $1 WHERE seq = 2`, [sha256Hex(event.payload)]);
		expect(await ledger.verifyChain()).toMatchObject({ ok: false, brokenAt: 2 });
		await ledger.store.query('DELETE FROM events WHERE seq = 4');
		const afterDelete = await ledger.verifyChain();
		expect(afterDelete.ok).toBe(false);
	});

	test('#14 #28 purge: unconfirmed sign-ups after 72 h, proof at the end of the year plus 3 years', async () => {
		await signUp('+4915100000004');
		const kept = await signUp();
		await ledger.confirm(inbound(kept.code));
		await signUp('+4915100000005');
		await ledger.revoke({ recipient: '+4915100000005', purposes: 'all', channel: 'email' });
		clock.advance(71 * 3_600_000);
		expect(await ledger.purge()).toEqual({
			unconfirmedErased: 0,
			requestsDeleted: 0,
			proofErased: 0,
			operational: { deliveries: 0, sends: 0, earlyStatuses: 0, rejectedEvents: 0, owedItems: 0 },
		});
		clock.advance(2 * 3_600_000);
		const first = await ledger.purge();
		expect(first).toMatchObject({ unconfirmedErased: 1, proofErased: 0 });
		expect(await ledger.getConsent('+4915100000004')).toBeUndefined();
		expect(await ledger.getConsent('+4915100000005')).toBeDefined();
		clock.current = new Date('2029-12-31T23:00:00Z');
		expect((await ledger.purge()).proofErased).toBe(0);
		clock.current = new Date('2030-01-01T00:00:01Z');
		expect((await ledger.purge()).proofErased).toBe(1);
		expect(await ledger.getConsent('+4915100000005')).toBeUndefined();
		expect(await ledger.getConsent(PHONE)).toBeDefined();
		expect((await ledger.verifyChain()).ok).toBe(true);
	});

	test('subscribers lists only those the gate allows', async () => {
		for (const [phone, confirmIt] of [['+4915100000011', true], ['+4915100000012', true], ['+4915100000013', false]] as const) {
			const { code } = await signUp(phone);
			if (confirmIt) await ledger.confirm(inbound(code, phone.slice(1)));
		}
		await ledger.setMarketingPreference({ waId: '4915100000012', value: 'stop', at: clock.now() });
		const marketing = await ledger.subscribers('offers', 'marketing');
		expect(marketing.subscribers.map((s) => s.phone)).toEqual(['+4915100000011']);
		expect((await ledger.subscribers('offers', 'utility')).subscribers).toHaveLength(2);
	});

	test('parts of the subscriber list: any number of parts, read in any page size, hold every subscriber exactly once', async () => {
		const phones = Array.from({ length: 40 }, (_, index) => `+49151000${String(index + 300).padStart(5, '0')}`);
		for (const phone of phones) {
			const { code } = await signUp(phone);
			await ledger.confirm(inbound(code, phone.slice(1)));
		}
		const readPart = async (part: { part: number; of: number }, pageSize: number) => {
			const found: string[] = [];
			let after: string | undefined;
			do {
				const page = await ledger.subscribers('offers', 'marketing', { after, limit: pageSize, part });
				found.push(...page.subscribers.map((subscriber) => subscriber.phone));
				after = page.next;
			} while (after);
			return found;
		};
		await fc.assert(
			fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 50 }), async (of, pageSize) => {
				const parts = [];
				for (let part = 1; part <= of; part++) parts.push(await readPart({ part, of }, pageSize));
				const all = parts.flat();
				expect(all.slice().sort()).toEqual(phones.slice().sort());
				expect(new Set(all).size).toBe(all.length);
			}),
			{ numRuns: 15 },
		);
		// Two parts split 40 people roughly in half (MD5 of random ids), not all into one.
		const halves = [await readPart({ part: 1, of: 2 }, 1000), await readPart({ part: 2, of: 2 }, 1000)];
		expect(Math.min(...halves.map((half) => half.length))).toBeGreaterThanOrEqual(8);
		await expect(ledger.subscribers('offers', 'marketing', { part: { part: 3, of: 2 } })).rejects.toThrow('The part must be a whole number from 1 to 2 (the number of parts), got 3');
		await expect(ledger.subscribers('offers', 'marketing', { part: { part: 1, of: 0 } })).rejects.toThrow('The number of parts must be a whole number from 1 to 1000, got 0');
	});

	test('the batch gate answers many recipients in one call, in order', async () => {
		const { code } = await signUp();
		await ledger.confirm(inbound(code));
		const decisions = await ledger.mayMessageBatch([
			{ recipient: PHONE, purpose: 'offers', category: 'marketing' },
			{ recipient: '+4915100000020', purpose: 'offers', category: 'marketing' },
			{ recipient: '0151 12345678', purpose: 'service', category: 'utility' },
		]);
		expect(decisions.map((d) => d.reason)).toEqual(['consented', 'never_asked', 'never_asked']);
		await expect(ledger.mayMessageBatch([{ recipient: 'abc', purpose: 'offers', category: 'marketing' }, { recipient: 'x', purpose: 'offers', category: 'marketing' }])).rejects.toMatchObject({
			field: 'items[0].recipient',
		});
	});

	test('in one batch each question gets the answer the single gate gives it, whatever the mix of people', async () => {
		await closeTestLedgers();
		await setup({ maxConsentAgeDays: 365 });
		const [both, pending, stoppedInApp, withdrawnOffers, suppressed, wroteOnly, oldConsent] = Array.from(
			{ length: 7 },
			(_, i) => `+49151000003${i}`,
		);
		const confirmed = async (phone: string, purposes: string[]) => {
			const { code } = await signUp(phone, purposes);
			await ledger.confirm(inbound(code, phone.slice(1)));
		};
		await confirmed(oldConsent, ['offers']);
		clock.advance(300 * 86_400_000);
		await confirmed(both, ['offers', 'service']);
		await signUp(pending, ['offers']);
		await confirmed(stoppedInApp, ['offers', 'service']);
		await ledger.setMarketingPreference({ waId: stoppedInApp.slice(1), value: 'stop', at: clock.now() });
		await confirmed(withdrawnOffers, ['offers', 'service']);
		await ledger.revoke({ recipient: withdrawnOffers, purposes: ['offers'], channel: 'web_form' });
		await ledger.revoke({ recipient: suppressed, purposes: 'all', channel: 'support' });
		clock.advance(100 * 86_400_000); // the first consent is now 400 days old; the others' windows have closed
		await ledger.recordInbound({ ...inbound('Hallo', wroteOnly.slice(1)), userId: 'DE.1502576394655843' });

		const questions = [both, pending, stoppedInApp, withdrawnOffers, suppressed, wroteOnly, oldConsent, 'DE.1502576394655843'].flatMap(
			(recipient) =>
				(
					[
						['offers', 'marketing'],
						['service', 'utility'],
						['support', 'service'],
					] as const
				).map(([purpose, category]) => ({ recipient, purpose, category })),
		);
		const batch = await ledger.mayMessageBatch(questions);
		const single = [];
		for (const question of questions) single.push(await ledger.mayMessage(question));
		expect(batch).toEqual(single);
		expect(batch.map((decision) => decision.reason)).toEqual([
			...['consented', 'consented', 'outside_service_window'],
			...['pending', 'never_asked', 'outside_service_window'],
			...['marketing_stopped_in_app', 'consented', 'outside_service_window'],
			...['withdrawn', 'consented', 'outside_service_window'],
			...['suppressed', 'suppressed', 'outside_service_window'],
			...['never_asked', 'never_asked', 'service_window_open'],
			...['consent_too_old', 'never_asked', 'outside_service_window'],
			...['never_asked', 'never_asked', 'service_window_open'],
		]);
	});

	test('100 parallel sign-ups for one number make one person and a consistent chain', async () => {
		await closeTestLedgers();
		await setup({ maxRequestsPerNumberPerHour: 1000 });
		const results = await Promise.all(Array.from({ length: 100 }, () => signUp()));
		expect(new Set(results.map((r) => r.subjectId)).size).toBe(1);
		const [requests] = await ledger.store.query<{ n: number }>('SELECT count(*)::int AS n FROM optin_requests');
		expect(Number(requests.n)).toBe(100);
		expect(await ledger.verifyChain()).toMatchObject({ ok: true, events: 101 });
	});

	test('sign-ups and confirmations at the same moment each get their own answer; one refusal takes no other with it', async () => {
		const phones = Array.from({ length: 30 }, (_, i) => `+49151000020${String(i).padStart(2, '0')}`);
		const requests = await Promise.allSettled(phones.map((phone, i) => signUp(phone, i % 3 === 0 ? ['offers', 'no_such_purpose'] : ['offers'])));
		requests.forEach((request, i) => {
			if (i % 3 === 0) expect(request).toMatchObject({ status: 'rejected', reason: { field: 'purposes', message: expect.stringMatching(/no_such_purpose/) } });
			else expect(request).toMatchObject({ status: 'fulfilled', value: { phone: phones[i], purposes: ['offers'] } });
		});
		const codes = requests.map((request) => (request.status === 'fulfilled' ? request.value.code : 'NOCODE00'));
		// every other confirmation comes from a wrong number, and each message is delivered twice at once
		const messages = phones.map((phone, i) => inbound(codes[i], i % 2 === 0 ? phone.slice(1) : '4915199999999'));
		const results = await Promise.all([...messages, ...messages].map((message) => ledger.confirm(message)));
		phones.forEach((_, i) => {
			const [first, second] = [results[i], results[i + phones.length]];
			const expected = i % 3 === 0 ? 'no_code' : i % 2 === 0 ? 'confirmed' : 'wrong_number';
			expect([first.outcome, second.outcome]).toEqual([expected, expected]);
			expect([first.duplicate, second.duplicate].sort()).toEqual([false, true]);
		});
		const decisions = await ledger.mayMessageBatch(phones.map((recipient) => ({ recipient, purpose: 'offers', category: 'marketing' as const })));
		expect(decisions.map((d) => d.allowed)).toEqual(phones.map((_, i) => i % 3 !== 0 && i % 2 === 0));
		// purposes defined, 20 sign-ups, 10 confirmations (i even, not a multiple of 3), 10 wrong-number refusals (i odd)
		expect(await ledger.verifyChain()).toMatchObject({ ok: true, events: 1 + 20 + 10 + 10 });
	});

	test('a withdrawal between finding a code and confirming it wins: the confirmation sees it and takes the full path', async () => {
		const { code } = await signUp();
		clock.advance(1000);
		const message = inbound(code, WA_ID, new Date(clock.now().getTime() - 500));
		// The STOP (sent after the code) commits right between the two steps of the quick path.
		// The second step is confirm_opt_ins with its events' keyed links, in one transaction (Store.callThen).
		const callThen = ledger.store.callThen.bind(ledger.store);
		let interleaved = false;
		ledger.store.callThen = async <T,>(fn: string, args: unknown[], then: Parameters<typeof callThen<T>>[2]) => {
			if (fn === 'confirm_opt_ins' && !interleaved) {
				interleaved = true;
				await ledger.revoke({ waId: WA_ID, purposes: 'all', channel: 'whatsapp', messageId: 'wamid.stop-race', at: clock.now() });
			}
			return callThen<T>(fn, args, then);
		};
		const confirmed = await ledger.confirm(message);
		expect(interleaved).toBe(true);
		expect(confirmed).toMatchObject({ outcome: 'superseded_by_withdrawal', duplicate: false });
		expect(await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		expect(await ledger.verifyChain()).toMatchObject({ ok: true });
	});

	test('the per-number sign-up limit refuses the 21st request in an hour', async () => {
		for (let i = 0; i < 20; i++) await signUp();
		await expect(signUp()).rejects.toBeInstanceOf(TooManyRequestsError);
		clock.advance(3_600_001);
		await expect(signUp()).resolves.toBeDefined();
	});

	test('invariant 1: confirmation and withdrawal at the same moment from two connections end withdrawn', async () => {
		for (let round = 0; round < 10; round++) {
			const phone = `+49151000001${String(round).padStart(2, '0')}`;
			const { code } = await signUp(phone);
			clock.advance(1000);
			const confirmation = inbound(code, phone.slice(1), new Date(clock.now().getTime() - 500));
			// PostgreSQL: a second pool on the same schema; embedded: one process, so the same database
			const second = kind === 'postgres' ? (await openTestLedger(kind, { clock: clock.now }, configOf(ledger))).ledger : ledger;
			await Promise.all([ledger.confirm(confirmation), second.revoke({ recipient: phone, purposes: 'all', channel: 'web_form' })]);
			expect(await ledger.mayMessage({ recipient: phone, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		}
		expect((await ledger.verifyChain()).ok).toBe(true);
	});
});

/** The configuration the ledger was opened with, to open a second connection pool on the same schema. */
function configOf(ledger: Ledger) {
	return { kind: 'postgres' as const, ...pgConnection(), schema: ledger.store.schema };
}

describe('the stores', () => {
	afterEach(() => closeTestLedgers());

	test('two processes migrating one PostgreSQL schema at once both succeed', async () => {
		const config = { kind: 'postgres' as const, ...pgConnection(), schema: `t_migrate_${Date.now()}` };
		const [a, b] = await Promise.all([openTestLedger('postgres', {}, config), openTestLedger('postgres', {}, config)]);
		await a.ledger.definePurposes(PURPOSES);
		expect(await b.ledger.listPurposes()).toHaveLength(2);
		const client = new Client(pgConnection());
		await client.connect();
		const { rows } = await client.query(`SELECT array_agg(version ORDER BY version) AS versions FROM ${config.schema}.schema_migrations`);
		await client.end();
		// Each migration ran once, whichever process got there first.
		expect(rows[0].versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
		expect(LATEST_SCHEMA_VERSION).toBe(15);
	});

	test('the embedded store refuses a folder another live process holds, and says to use PostgreSQL', async () => {
		const { spawn } = await import('node:child_process');
		const { mkdtempSync, writeFileSync } = await import('node:fs');
		const { join } = await import('node:path');
		const { tmpdir } = await import('node:os');
		const folder = mkdtempSync(join(tmpdir(), 'ledger-locked-'));
		const other = spawn('sleep', ['30']);
		try {
			writeFileSync(join(folder, 'consent-ledger.lock'), String(other.pid));
			const error = await openTestLedger('embedded', {}, { kind: 'embedded', folder }).catch((e) => e);
			expect(error).toBeInstanceOf(ConsentError);
			expect(error.message).toContain(`pid ${other.pid}`);
			expect(error.hint).toMatch(/PostgreSQL/);
		} finally {
			other.kill();
		}
		await new Promise((resolve) => other.once('exit', resolve));
		// once that process is gone, its stale lock is taken over
		const { ledger } = await openTestLedger('embedded', {}, { kind: 'embedded', folder });
		expect(await ledger.listPurposes()).toEqual([]);
	});

	test('the embedded store keeps the statistics of each table up to date, so a code is found by its index, not by reading every sign-up', async () => {
		const { ledger } = await openTestLedger('embedded', { defaultCountry: 'DE' });
		await ledger.definePurposes(PURPOSES);
		const tuples = async () =>
			Number((await ledger.store.query<{ tuples: number }>(`SELECT reltuples::float8 AS tuples FROM pg_class WHERE relname = 'optin_requests'`))[0].tuples);
		expect(await tuples()).toBeLessThan(0); // never analysed
		// A ledger that already holds many people: the sign-ups below hardly change its total size, only their table's.
		await ledger.store.query(
			`INSERT INTO subjects (id, phone_hmac, phone_enc, created_at, last_activity_at)
			 SELECT 'seed' || n, md5(n::text) || md5('x' || n), md5('y' || n), now(), now() FROM generate_series(1, 200000) AS n`,
		);
		for (let i = 0; i < 1100; i++) {
			await ledger.requestOptIn({ phone: `+491510004${String(i).padStart(4, '0')}`, purposes: ['offers'], consentText: TEXT_DE, source: {} });
		}
		await ledger.mayMessage({ recipient: PHONE, purpose: 'offers', category: 'marketing' }); // waits for a running upkeep
		// analysed once the table had grown by 256 KiB (some 850 sign-ups here), not still at its first handful of rows
		expect(await tuples()).toBeGreaterThan(600);
		const plan = await ledger.store.query<{ 'QUERY PLAN': string }>(
			`EXPLAIN SELECT id FROM optin_requests WHERE code_hmac = ANY ('{a,b}'::text[]) ORDER BY created_at DESC LIMIT 1`,
		);
		expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/optin_requests_code/);
	});

	test('a short secret is refused before anything is opened', async () => {
		const folder = join(tmpdir(), `ledger-never-${Date.now()}`);
		await expect(openLedger({ store: { kind: 'embedded', folder }, secret: 'short' })).rejects.toMatchObject({ field: 'secretKey' });
		expect(existsSync(folder)).toBe(false);
	});
});
