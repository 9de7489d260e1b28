/**
 * Issue 10, item 3: the ledger's keys. scrypt and a random salt per ledger; the secret's check value refuses another
 * secret at once; ledgers written by the HKDF scheme keep opening and reading; ciphertexts are bound to their row
 * and column; the demo's published secret is refused outside the demo.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger, openLedger } from '../../lib/consent/ledger';
import { ConsentError, SecretKeyError, TamperingError } from '../../lib/errors';
import { DEMO_ENV, DEMO_SECRET } from '../../lib/consent/keyring';
import { openStore } from '../../lib/store';
import { closeTestLedgers, newStoreConfig, openTestLedger, SECRET, STORE_KINDS } from '../helpers/ledgers';
import { asBeforeKeyedChain, oldKeys } from '../helpers/legacy-keys';
import { gateAnswers, readable, seedPeople } from '../helpers/people';

const OTHER_SECRET = 'another-secret-key-9876543210';

describe.each(STORE_KINDS)('the ledger keys (%s store)', (kind) => {
	afterEach(() => closeTestLedgers());

	test('each ledger has its own salt and scrypt parameters; its data keys are stored wrapped, not in clear', async () => {
		const [a, b] = [await openTestLedger(kind), await openTestLedger(kind)];
		const rowOf = async (ledger: Ledger) => (await ledger.store.query<{ scheme: string; salt: string; kdf: unknown; keyring: { wrapped: Record<string, string> } }>('SELECT scheme, salt, kdf, keyring FROM ledger_keys'))[0];
		const [rowA, rowB] = [await rowOf(a.ledger), await rowOf(b.ledger)];
		expect(rowA).toMatchObject({ scheme: 'scrypt-v1', kdf: { N: 32768, r: 8, p: 1 } });
		expect(Buffer.from(rowA.salt, 'base64')).toHaveLength(16);
		expect(rowA.salt).not.toBe(rowB.salt);
		expect(Object.values(rowA.keyring.wrapped).every((sealed) => sealed.startsWith('v2.kek.'))).toBe(true);
		// Same secret, different salts: the same number gets different lookup keys in the two ledgers.
		expect(a.ledger.keys.lookupHmac('+4915112345678')).not.toBe(b.ledger.keys.lookupHmac('+4915112345678'));
	});

	test('a different secret is refused at open, with the fix, and writes nothing', async () => {
		const { ledger, config } = await openTestLedger(kind);
		const phones = await seedPeople(ledger, 4);
		const before = await ledger.store.query('SELECT * FROM ledger_keys');
		await ledger.close();
		const opening = openLedger({ store: config, secret: OTHER_SECRET });
		await expect(opening).rejects.toBeInstanceOf(SecretKeyError);
		await expect(opening).rejects.toMatchObject({
			code: 'wrong_secret',
			field: 'secretKey',
			message: expect.stringContaining('This ledger was created with a different secret key'),
			hint: expect.stringMatching(/original secret key back in the Consent Ledger credential.*rotate/),
		});
		const { ledger: again } = await openTestLedger(kind, {}, config);
		expect(await again.store.query('SELECT * FROM ledger_keys')).toEqual(before);
		expect(await readable(again, phones)).toEqual(phones.map((phone, n) => (n % 7 === 6 ? undefined : phone)));
	});

	test('a ledger written by the HKDF scheme opens, reads every number, answers as before, and then knows its secret', async () => {
		// Written by the old keys, as a ledger of before migration 9.
		const config = newStoreConfig(kind);
		const store = await openStore(config);
		const old = new Ledger(store, oldKeys(SECRET));
		const phones = await seedPeople(old, 8);
		const answers = await gateAnswers(old, phones);
		await asBeforeKeyedChain(store);
		await store.query('DROP TABLE ledger_keys');
		await store.query('DELETE FROM schema_migrations WHERE version = 9');
		await store.close();

		await expect(openLedger({ store: config, secret: OTHER_SECRET })).rejects.toMatchObject({ code: 'wrong_secret' });
		const { ledger } = await openTestLedger(kind, {}, config);
		expect((await ledger.store.query('SELECT scheme FROM ledger_keys'))[0]).toEqual({ scheme: 'scrypt-v1' });
		expect(await readable(ledger, phones)).toEqual(phones.map((phone, n) => (n % 7 === 6 ? undefined : phone)));
		expect(await gateAnswers(ledger, phones)).toEqual(answers);
		expect((await ledger.exportPerson(phones[1]))?.history.map((event) => event.details)).toContainEqual(expect.objectContaining({ purposes: ['offers', 'service'] }));
		expect((await ledger.verifyChain()).ok).toBe(true);
		// New writes go on under the same keys, and the old secret is now the only one that opens it.
		await ledger.revoke({ recipient: phones[1], purposes: 'all', channel: 'web_form' });
		expect(await ledger.mayMessage({ recipient: phones[1], purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		await ledger.close();
		await expect(openLedger({ store: config, secret: OTHER_SECRET })).rejects.toMatchObject({ code: 'wrong_secret' });
	});

	test("a number copied onto another person's row does not decrypt there: a clear error, not the other number", async () => {
		const { ledger } = await openTestLedger(kind);
		const [source, target] = await seedPeople(ledger, 2);
		const idOf = async (phone: string) =>
			(await ledger.store.query<{ id: string }>('SELECT id FROM subjects WHERE phone_hmac = $1', [ledger.keys.lookupHmac(phone)]))[0].id;
		const [sourceId, targetId] = [await idOf(source), await idOf(target)];
		await ledger.store.query('UPDATE subjects SET phone_enc = (SELECT phone_enc FROM subjects WHERE id = $1) WHERE id = $2', [sourceId, targetId]);
		expect((await ledger.getConsent(source))?.phone).toBe(source);
		const reading = ledger.getConsent(target);
		await expect(reading).rejects.toBeInstanceOf(TamperingError);
		await expect(reading).rejects.toMatchObject({ code: 'tampered', message: expect.stringContaining(`subjects.phone_enc of ${targetId}`) });
	});

	test('a ciphertext moved to another column does not decrypt there', async () => {
		const { ledger } = await openTestLedger(kind);
		await seedPeople(ledger, 1);
		await ledger.recordRejected({ raw: { odd: true }, reason: 'test' });
		await ledger.store.query('UPDATE rejected_events SET raw_enc = (SELECT phone_enc FROM subjects LIMIT 1)');
		await expect(ledger.rejectedEvents()).rejects.toMatchObject({ code: 'tampered', message: expect.stringContaining('rejected_events.raw_enc') });
	});
});

describe('the ledger keys with several processes (postgres store: an embedded folder has one process)', () => {
	afterEach(() => closeTestLedgers());

	test('processes opening a new ledger at once end up with the same keys', async () => {
		const config = newStoreConfig('postgres');
		const ledgers = (await Promise.all([1, 2, 3, 4].map(() => openTestLedger('postgres', {}, config)))).map((opened) => opened.ledger);
		expect(new Set(ledgers.map((ledger) => ledger.keys.lookupHmac('+4915112345678'))).size).toBe(1);
		const [phone] = await seedPeople(ledgers[0], 1);
		for (const ledger of ledgers) expect((await ledger.getConsent(phone))?.phone).toBe(phone);
	});
});

describe("the demo's secret", () => {
	afterEach(() => {
		delete process.env[DEMO_ENV];
		return closeTestLedgers();
	});

	test('is refused outside the demo, with the fix, before anything is opened', async () => {
		const config = newStoreConfig('embedded');
		const opening = openLedger({ store: config, secret: DEMO_SECRET });
		await expect(opening).rejects.toBeInstanceOf(ConsentError);
		await expect(opening).rejects.toMatchObject({ code: 'demo_secret', field: 'secretKey', hint: expect.stringContaining('secret key of your own') });
	});

	test('opens the demo when npm start says so (WHATSAPP_CONSENT_DEMO=1, set by scripts/lib/n8n.mjs)', async () => {
		process.env[DEMO_ENV] = '1';
		const ledger = await openLedger({ store: newStoreConfig('embedded'), secret: DEMO_SECRET });
		await ledger.close();
		expect(readFileSync(join(__dirname, '../../scripts/lib/n8n.mjs'), 'utf8')).toContain(`${DEMO_ENV}: '1'`);
	});

	test("is the secret of the demo's credentials", () => {
		const credentials = JSON.parse(readFileSync(join(__dirname, '../../demo/credentials.json'), 'utf8')) as { data: { secretKey?: string } }[];
		expect(credentials.map((credential) => credential.data.secretKey).filter(Boolean)).toEqual([DEMO_SECRET]);
	});
});
