/**
 * Issue 11, hostile input: generated widget submissions and webhook bodies, well-shaped and not, with script and SQL
 * in every text field, into a real ledger on both stores. No crash and no 5xx; nothing recorded from a request that
 * is refused, and each accepted one recorded once; nothing a visitor typed comes back unescaped, in the form shown
 * again with its error, in the result page or in the proof page of an export.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { Ledger } from '../../lib/consent/ledger';
import { receiveMetaDelivery } from '../../lib/meta-delivery';
import { proofPage } from '../../lib/consent/export-formats';
import { handleSignup, parseSubmission, parseWidgetConfig, renderHostedPage, renderResultPage, signupErrorAnswer } from '../../lib/widget';
import { closeTestLedgers, openTestLedger, PURPOSES, STORE_KINDS } from '../helpers/ledgers';

/** Every hostile text carries this tag: where it shows up unescaped, it was reflected. */
const MARK = '<b0gus';
const hostile = fc.oneof(
	fc.constantFrom(
		`${MARK} id=1><script>alert(1)</script>`,
		`"><${MARK.slice(1)} src=x onerror=alert(1)>`,
		`'; DROP TABLE subjects; -- ${MARK}>`,
		`${MARK}>' OR '1'='1`,
		`javascript:alert(1)//${MARK}>`,
		`</textarea></title>${MARK}>`,
		`{{code}}${MARK}>\${process.exit()}`,
		`+49 151 ${MARK}>12345678`,
	),
	fc.tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 })).map(([a, b]) => `${a}${MARK}>${b}`),
);
const goodPhone = fc.integer({ min: 10_000_000, max: 99_999_999 }).map((n) => `+49151${n}`);
const field = <T,>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: good }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.anything() });
const anySubmission = fc.record(
	{
		phone: field(goodPhone),
		purposes: fc.oneof(fc.constant(['offers']), fc.constant(['offers', 'service']), fc.array(hostile, { maxLength: 3 }), fc.anything()),
		ageConfirmed: fc.oneof(fc.constant(true), fc.constant('on'), fc.anything()),
		pageUrl: fc.oneof(fc.constant('https://shop.example.de/anmelden?utm=x'), hostile, fc.anything()),
		language: fc.oneof(fc.constantFrom('de', 'en'), hostile),
		website: fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: hostile }),
	},
	{ requiredKeys: [] },
);
/** Half of them as the widget posts them, with hostile text only where the form takes free text. */
const wellShaped = fc.record({
	phone: goodPhone,
	purposes: fc.constantFrom(['offers'], ['offers', 'service']),
	ageConfirmed: fc.constant(true),
	pageUrl: fc.oneof(fc.constant('https://shop.example.de/anmelden'), hostile),
	language: fc.constantFrom('de', 'en'),
});
const submission = fc.oneof(wellShaped, anySubmission);

const config = parseWidgetConfig({
	businessName: 'Beispiel GmbH',
	businessWhatsAppNumber: '+49 30 1234567',
	purposes: PURPOSES,
	privacyUrl: 'https://example.com/datenschutz',
});

describe.each(STORE_KINDS)('hostile input (%s store)', (kind) => {
	let ledger: Ledger;
	beforeEach(async () => {
		({ ledger } = await openTestLedger(kind));
		await ledger.definePurposes(PURPOSES);
	});
	afterEach(() => closeTestLedgers());

	const requests = async () => Number((await ledger.store.query<{ n: number }>('SELECT count(*)::int AS n FROM optin_requests'))[0].n);

	test('generated widget submissions: a 4xx or a recorded sign-up, never a 5xx, never a reflection', async () => {
		const tally = { accepted: 0, decoys: 0, refused: 0 };
		await fc.assert(
			fc.asyncProperty(submission, fc.constantFrom<'json' | 'form'>('json', 'form'), hostile, async (body, contentType, userAgent) => {
				const before = await requests();
				let page: string;
				let recorded = 0;
				try {
					const parsed = parseSubmission(body, contentType, config);
					const result = await handleSignup({ requestOptIn: (request) => ledger.requestOptIn(request) }, config, parsed, {
						ip: '2001:db8::1',
						userAgent,
						pageUrl: 'https://shop.example.de/',
					});
					page = renderResultPage(config, { lang: parsed.language, result });
					if (parsed.honeypot) tally.decoys++;
					else {
						tally.accepted++;
						recorded = 1;
					}
				} catch (error) {
					const answer = signupErrorAnswer(error, 'de');
					expect(answer.httpStatus).toBeGreaterThanOrEqual(400);
					expect(answer.httpStatus).toBeLessThan(500);
					tally.refused++;
					const typed = (body ?? {}) as Record<string, unknown>;
					page = renderHostedPage(config, {
						lang: 'de',
						submitUrl: 'https://n8n.example.com/webhook/whatsapp-consent',
						scriptUrl: 'https://n8n.example.com/webhook/whatsapp-consent?asset=widget.js',
						error: { field: answer.body.field, message: answer.body.message },
						values: { phone: typeof typed.phone === 'string' ? typed.phone : undefined, purposes: ([] as unknown[]).concat(typed.purposes ?? []).map(String), ageConfirmed: Boolean(typed.ageConfirmed) },
					});
				}
				expect(page).not.toContain(MARK);
				expect(await requests()).toBe(before + recorded);
			}),
			{ numRuns: 150, seed: 1101 },
		);
		console.log(`hostile widget submissions (${kind}): ${JSON.stringify(tally)}`);
		expect(tally.accepted).toBeGreaterThan(40);
		expect(tally.refused).toBeGreaterThan(50);
	});

	test("a hostile page address, user agent and consent text never reach the proof page unescaped", async () => {
		const phone = '+4915112340001';
		await ledger.requestOptIn({
			phone,
			purposes: ['offers'],
			consentText: { version: `${MARK}>1`, language: 'de', text: `Ja, ${MARK} onerror=alert(1)> ich will Angebote von Beispiel GmbH per WhatsApp. STOP beendet es.` },
			source: { pageUrl: `https://shop.example.de/${MARK}>`, userAgent: `${MARK}><script>alert(1)</script>`, widgetVersion: `${MARK}>` },
		});
		const person = await ledger.exportPerson(phone);
		const html = proofPage(person!, `Beispiel ${MARK}> GmbH`);
		expect(html).not.toContain(MARK);
		expect(html).toContain('&lt;b0gus');
	});

	test('deeply nested and oversized webhook bodies: 200, the STOP beside them withdraws, nothing crashes', async () => {
		const secret = 'app-secret';
		const waId = '4915112340002';
		const { code } = await ledger.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: { version: '1', language: 'de', text: 'Ja, Angebote von Beispiel GmbH per WhatsApp, Widerruf mit STOP.' }, source: {} });
		await ledger.confirm({ messageId: `wamid.code-${waId}`, from: waId, text: code, at: new Date() });
		const nested = `${'{"a":'.repeat(20_000)}"x"${'}'.repeat(20_000)}`;
		const deepText = `{"deep":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
		const metadata = { display_phone_number: '49301234567', phone_number_id: '100000000000001' };
		const stop = { from: waId, id: `wamid.stop-${waId}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'STOP' } };
		const bodies = [
			JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, extra: 'NESTED', messages: [stop] } }] }] }).replace('"NESTED"', nested),
			JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, messages: [{ ...stop, id: 'wamid.big', text: { body: `${MARK}>`.repeat(200_000) } }, stop] } }] }] }),
			JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, messages: [stop] } }] }] }).replace('"messaging_product"', `${deepText.slice(1, -1)},"messaging_product"`),
		];
		for (const text of bodies) {
			const raw = Buffer.from(text, 'utf8');
			const answer = await receiveMetaDelivery(
				{ raw, signature: `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}` },
				{ appSecret: secret, phoneNumberId: '100000000000001' },
				async () => ledger,
				() => ({ business: 'Beispiel GmbH', fallbackLanguage: 'de' }),
			);
			expect(answer.httpStatus).toBe(200);
			if (answer.httpStatus === 200) await answer.handOver.done();
		}
		expect(await ledger.mayMessage({ recipient: `+${waId}`, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		const withdrawals = await ledger.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'consent.withdrawn'`);
		expect(Number(withdrawals[0].n)).toBe(1);
	});
});
