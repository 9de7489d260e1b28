import { createHash } from 'node:crypto';
import { ConsentError, StoreError, ValidationError } from '../../lib/errors';
import type { OptInRequest, OptInRequested } from '../../lib/consent/types';
import { parseWidgetConfig } from '../../lib/widget/config';
import fc from 'fast-check';
import { networkOf, SignupRateLimiter, TooManySignupsError } from '../../lib/widget/rate-limit';
import { renderHostedPage } from '../../lib/widget/render';
import { handleSignup, parseSubmission, prefillText, signupErrorAnswer, SignupInputError, WIDGET_VERSION, type Submission } from '../../lib/widget/signup';

const config = parseWidgetConfig({
	businessName: 'Beispiel GmbH',
	businessWhatsAppNumber: '+49 30 901820',
	purposes: [
		{ id: 'offers', label: 'Angebote' },
		{ id: 'service', label: 'Bestellstatus' },
	],
	privacyUrl: 'https://beispiel.example/datenschutz',
});

const valid = { phone: '0151 23456789', purposes: ['offers'], ageConfirmed: true, language: 'en', pageUrl: 'https://shop.example/whatsapp' };

function inputError(body: unknown, contentType: 'json' | 'form' = 'json'): SignupInputError {
	try {
		parseSubmission(body, contentType, config);
	} catch (error) {
		expect(error).toBeInstanceOf(SignupInputError);
		expect(error).toBeInstanceOf(ValidationError);
		return error as SignupInputError;
	}
	throw new Error('the submission was accepted');
}

describe('parseSubmission', () => {
	test('reads the JSON the embedded script posts', () => {
		expect(parseSubmission(valid, 'json', config)).toEqual({
			phone: '+4915123456789',
			purposes: ['offers'],
			ageConfirmed: true,
			language: 'en',
			pageUrl: 'https://shop.example/whatsapp',
			honeypot: false,
		});
		expect(parseSubmission(JSON.stringify({ ...valid, purposes: ['offers', 'service', 'offers'] }), 'json', config).purposes).toEqual(['offers', 'service']);
	});

	test('reads a urlencoded form with one field per ticked box', () => {
		const body = 'phone=%2B49+151+23456789&purposes=offers&purposes=service&ageConfirmed=yes&language=de&website=';
		const submission = parseSubmission(body, 'form', config);
		expect(submission).toEqual({ phone: '+4915123456789', purposes: ['offers', 'service'], ageConfirmed: true, language: 'de', pageUrl: undefined, honeypot: false });
		expect(parseSubmission(new URLSearchParams(body), 'form', config)).toEqual(submission);
	});

	test('reads a form a body parser already turned into an object', () => {
		expect(parseSubmission({ phone: '+4915123456789', purposes: 'service', ageConfirmed: 'on' }, 'form', config).purposes).toEqual(['service']);
		expect(parseSubmission({ phone: '+4915123456789', 'purposes[]': ['offers'], ageConfirmed: 'on' }, 'form', config).purposes).toEqual(['offers']);
	});

	test('notices a filled honeypot', () => {
		expect(parseSubmission({ ...valid, website: 'https://spam.example' }, 'json', config).honeypot).toBe(true);
	});

	test.each<[string, unknown, 'json' | 'form', string, string]>([
		['no phone', { ...valid, phone: undefined }, 'json', 'phone', 'Please enter your mobile number.'],
		['an empty phone', { ...valid, phone: '  ' }, 'json', 'phone', 'Please enter your mobile number.'],
		['a phone that is a number', { ...valid, phone: 4915123456789 }, 'json', 'phone', 'This is not a valid mobile number. Please enter it with country code, e.g. +44 7700 900123.'],
		['a phone that is not one', { ...valid, phone: 'call me' }, 'json', 'phone', 'This is not a valid mobile number. Please enter it with country code, e.g. +44 7700 900123.'],
		['a landline', { ...valid, phone: '+49 30 901820' }, 'json', 'phone', 'This is not a valid mobile number. Please enter it with country code, e.g. +44 7700 900123.'],
		['no box ticked', { ...valid, purposes: [] }, 'json', 'purposes', 'Please tick at least one topic you would like to receive.'],
		['no purposes at all', { ...valid, purposes: undefined }, 'json', 'purposes', 'Please tick at least one topic you would like to receive.'],
		['purposes as text in JSON', { ...valid, purposes: 'offers' }, 'json', 'purposes', 'Please tick at least one topic you would like to receive.'],
		['an unknown purpose', { ...valid, purposes: ['offers', 'lottery'] }, 'json', 'purposes', 'This topic is no longer offered. Please reload the page.'],
		['no age statement', { ...valid, ageConfirmed: false }, 'json', 'ageConfirmed', 'Please confirm that you are at least 16 years old.'],
		['a page address that is not one', { ...valid, pageUrl: 'javascript:alert(1)' }, 'json', 'pageUrl', 'The page address is not valid. Please reload the page.'],
		['a form without any box', 'phone=%2B4915123456789&ageConfirmed=yes&language=en', 'form', 'purposes', 'Please tick at least one topic you would like to receive.'],
		['a form without the age box', 'phone=%2B4915123456789&purposes=offers&language=en', 'form', 'ageConfirmed', 'Please confirm that you are at least 16 years old.'],
	])('refuses %s, naming the field in the visitor’s language', (_, body, contentType, field, message) => {
		const error = inputError(body, contentType);
		expect(error.field).toBe(field);
		expect(error.message).toBe(message);
		expect(error.language).toBe('en');
	});

	test('answers in German when the form is German, and in the first language when it says none', () => {
		expect(inputError({ ...valid, language: 'de', purposes: [] }).message).toBe('Bitte kreuzen Sie mindestens ein Thema an, das Sie erhalten möchten.');
		expect(inputError({ ...valid, language: 'fr', ageConfirmed: false }).message).toBe('Bitte bestätigen Sie, dass Sie mindestens 16 Jahre alt sind.');
		for (const body of ['{phone', '[1]', null]) {
			expect(inputError(body)).toMatchObject({ field: 'body', message: 'Das Formular kam unvollständig an. Bitte laden Sie die Seite neu und versuchen Sie es erneut.' });
		}
	});
});

/** A plain function standing in for the ledger: records what it was asked and answers as the ledger does. */
function recordingLedger() {
	const calls: OptInRequest[] = [];
	const requestOptIn = async (request: OptInRequest): Promise<OptInRequested> => {
		calls.push(request);
		return {
			requestId: 'r1',
			subjectId: 's1',
			phone: request.phone,
			purposes: request.purposes,
			code: 'K7Q2XM',
			expiresAt: new Date('2026-03-03T10:00:00Z'),
			textHash: createHash('sha256').update(request.consentText.text).digest('hex'),
		};
	};
	return { calls, requestOptIn };
}

const submission = (overrides: Partial<Submission> = {}): Submission => ({
	phone: '+4915123456789',
	purposes: ['offers'],
	ageConfirmed: true,
	language: 'de',
	pageUrl: 'https://shop.example/whatsapp?email=a%40b.example#form',
	honeypot: false,
	...overrides,
});

describe('handleSignup', () => {
	test('records the pending request with the exact rendered text and answers with the WhatsApp link', async () => {
		const ledger = recordingLedger();
		const answer = await handleSignup(ledger, config, submission(), { ip: '203.0.113.9', userAgent: 'Browser/1.0', pageUrl: 'https://referer.example/' });

		expect(ledger.calls).toHaveLength(1);
		const request = ledger.calls[0];
		const rendered = renderHostedPage(config, { lang: 'de', submitUrl: '/s' }).match(/<p id="wcw-consent-text" data-version="([^"]+)">([^<]*)<\/p>/)!;
		expect(request.consentText).toEqual({ version: rendered[1], language: 'de', text: rendered[2] });
		expect(request).toMatchObject({
			phone: '+4915123456789',
			purposes: ['offers'],
			source: { pageUrl: 'https://shop.example/whatsapp', widgetVersion: WIDGET_VERSION, ip: '203.0.113.9', userAgent: 'Browser/1.0' },
		});

		expect(answer).toEqual({
			status: 'pending',
			waLink: 'https://wa.me/4930901820?text=Anmeldung%20best%C3%A4tigen%3A%20K7Q2XM',
			qrSvg: expect.stringMatching(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"[^>]*><path/),
			code: 'K7Q2XM',
			expiresAt: '2026-03-03T10:00:00.000Z',
			message: 'Senden Sie jetzt die vorbereitete Nachricht per WhatsApp, um Ihre Anmeldung zu bestätigen.',
		});
	});

	test('falls back to the Referer for the page and cuts an overlong user agent to what the ledger keeps', async () => {
		const ledger = recordingLedger();
		await handleSignup(ledger, config, submission({ pageUrl: undefined }), { pageUrl: 'https://shop.example/a?b=c', userAgent: 'x'.repeat(600) });
		expect(ledger.calls[0].source.pageUrl).toBe('https://shop.example/a');
		expect(ledger.calls[0].source.userAgent).toHaveLength(512);
	});

	test('gives a bot that filled the honeypot the same-looking answer and records nothing', async () => {
		const ledger = recordingLedger();
		const real = await handleSignup(ledger, config, submission({ language: 'en' }));
		const decoy = await handleSignup(ledger, config, submission({ language: 'en', honeypot: true }), {});
		expect(ledger.calls).toHaveLength(1);
		expect(Object.keys(decoy).sort()).toEqual(Object.keys(real).sort());
		expect(decoy.message).toBe(real.message);
		expect(decoy.code).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
		expect(decoy.waLink).toBe(`https://wa.me/4930901820?text=${encodeURIComponent(prefillText(decoy.code, 'en'))}`);
		expect(new Date(decoy.expiresAt).getTime()).toBeGreaterThan(Date.now());
	});

	test('stops at the rate limit before asking the ledger', async () => {
		const ledger = recordingLedger();
		const rateLimiter = new SignupRateLimiter({ perNumber: { limit: 1, windowMinutes: 60 } });
		await handleSignup({ ...ledger, rateLimiter }, config, submission());
		await expect(handleSignup({ ...ledger, rateLimiter }, config, submission())).rejects.toThrow(TooManySignupsError);
		expect(ledger.calls).toHaveLength(1);
	});
});

describe('prefillText', () => {
	test('puts the code in a short message in the visitor’s language', () => {
		expect(prefillText('K7Q2XM', 'de')).toBe('Anmeldung bestätigen: K7Q2XM');
		expect(prefillText('K7Q2XM', 'en')).toBe('Confirm sign-up: K7Q2XM');
	});
});

describe('SignupRateLimiter', () => {
	let now = new Date('2026-03-02T10:00:00Z');
	const clock = () => now;
	const advanceMinutes = (minutes: number) => (now = new Date(now.getTime() + minutes * 60_000));

	function refusal(limiter: SignupRateLimiter, keys: { ip?: string; phone: string }): TooManySignupsError {
		try {
			limiter.check(keys, 'en');
		} catch (error) {
			expect(error).toBeInstanceOf(TooManySignupsError);
			return error as TooManySignupsError;
		}
		throw new Error('the sign-up was let through');
	}

	test('allows 5 sign-ups per address in 10 minutes, then says when to try again', () => {
		const limiter = new SignupRateLimiter({}, clock);
		for (let i = 0; i < 5; i++) {
			limiter.check({ ip: '198.51.100.1', phone: `+4915100000${i}` }, 'en');
			advanceMinutes(1);
		}
		const error = refusal(limiter, { ip: '198.51.100.1', phone: '+491510000099' });
		expect(error.scope).toBe('ip');
		expect(error.retryAfterMinutes).toBe(5);
		expect(error.message).toBe('Too many sign-ups in a short time. Please try again in 5 minutes.');
		limiter.check({ ip: '198.51.100.2', phone: '+491510000099' }, 'en');
		advanceMinutes(5);
		limiter.check({ ip: '198.51.100.1', phone: '+491510000098' }, 'en');
	});

	test('allows 3 sign-ups per number and network in an hour', () => {
		const limiter = new SignupRateLimiter({}, clock);
		for (let i = 0; i < 3; i++) limiter.check({ ip: '198.51.100.50', phone: '+4915123456789' }, 'de');
		const error = refusal(limiter, { ip: '198.51.100.50', phone: '+4915123456789' });
		expect(error.scope).toBe('number');
		expect(error.field).toBe('phone');
		expect(error.retryAfterMinutes).toBe(60);
		advanceMinutes(60);
		limiter.check({ ip: '198.51.100.50', phone: '+4915123456789' }, 'de');
	});

	test('a refused sign-up does not count against the other key', () => {
		const limiter = new SignupRateLimiter({ perIp: { limit: 1, windowMinutes: 10 }, perNumber: { limit: 1, windowMinutes: 60 } }, clock);
		limiter.check({ ip: '198.51.100.7', phone: '+4915111111111' }, 'en');
		expect(refusal(limiter, { ip: '198.51.100.7', phone: '+4915122222222' }).scope).toBe('ip');
		expect(refusal(limiter, { ip: '198.51.100.7', phone: '+4915122222222' }).scope).toBe('ip');
		limiter.check({ ip: '198.51.100.8', phone: '+4915122222222' }, 'en');
	});

	test('says it in German', () => {
		const limiter = new SignupRateLimiter({ perNumber: { limit: 1, windowMinutes: 1 } }, clock);
		limiter.check({ phone: '+4915133333333' }, 'de');
		expect(() => limiter.check({ phone: '+4915133333333' }, 'de')).toThrow('Zu viele Anmeldungen in kurzer Zeit. Bitte versuchen Sie es in 1 Minute erneut.');
	});

	test('refuses a limit that allows nothing', () => {
		expect(() => new SignupRateLimiter({ perIp: { limit: 0, windowMinutes: 10 } })).toThrow(expect.objectContaining({ field: 'limits.perIp' }));
	});
});

describe('signupErrorAnswer', () => {
	test('turns every error into an HTTP status and a message for the visitor', () => {
		expect(signupErrorAnswer(inputError({ ...valid, purposes: [] }), 'en')).toEqual({
			httpStatus: 400,
			body: { status: 'error', field: 'purposes', message: 'Please tick at least one topic you would like to receive.' },
		});
		expect(signupErrorAnswer(new TooManySignupsError('ip', 4, 'de'), 'de')).toEqual({
			httpStatus: 429,
			body: { status: 'error', field: undefined, message: 'Zu viele Anmeldungen in kurzer Zeit. Bitte versuchen Sie es in 4 Minuten erneut.' },
			retryAfterSeconds: 240,
		});
		expect(signupErrorAnswer(new ConsentError('too_many_requests', 'This number already asked 5 times'), 'en')).toMatchObject({
			httpStatus: 429,
			body: { field: 'phone', message: expect.stringContaining('use the WhatsApp link you received last') },
		});
		expect(signupErrorAnswer(new ValidationError('phone', "'x' is not a mobile number"), 'de').body.message).toMatch(/keine gültige Handynummer/);
		expect(signupErrorAnswer(new StoreError('down'), 'en')).toEqual({
			httpStatus: 503,
			body: { status: 'error', message: 'Signing up is not possible right now. Please try again in a few minutes.' },
		});
	});
});

describe('SignupRateLimiter under floods (issue 11)', () => {
	let now = new Date('2026-03-02T10:00:00Z');
	const clock = () => now;
	const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
	/** Any address inside 2001:db8:aa:bb::/64, written in any of IPv6's forms. */
	const inOneSlash64 = fc.tuple(hex, hex, hex, hex, fc.boolean(), fc.boolean()).map(([a, b, c, d, upper, padded]) => {
		const groups = ['2001', 'db8', 'aa', 'bb', a, b, c, d].map((group) => (padded ? group.padStart(4, '0') : group));
		const text = groups.join(':');
		return upper ? text.toUpperCase() : text;
	});

	test('counts IPv6 by /64: addresses of one network share its 5 sign-ups, whatever their form', () => {
		fc.assert(
			fc.property(fc.array(inOneSlash64, { minLength: 6, maxLength: 30 }), (addresses) => {
				const limiter = new SignupRateLimiter({}, clock);
				const outcomes = addresses.map((ip, i) => {
					try {
						limiter.check({ ip, phone: `+49151000${String(i).padStart(5, '0')}` }, 'en');
						return 'ok';
					} catch (error) {
						return (error as TooManySignupsError).scope;
					}
				});
				expect(outcomes.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
				expect(new Set(outcomes.slice(5))).toEqual(new Set(['ip']));
			}),
			{ numRuns: 200, seed: 64 },
		);
		expect(networkOf('2001:DB8:AA:BB::1')).toBe(networkOf('2001:0db8:00aa:00bb:ffff:0:0:1'));
		expect(networkOf('::ffff:198.51.100.7')).toBe('198.51.100.7');
		expect(networkOf('[2001:db8::1]')).toBe('2001:db8:0:0::/64');
		expect(networkOf('2001:db8:aa:bb::1')).not.toBe(networkOf('2001:db8:aa:bc::1'));
	});

	test('a stranger flooding your number from other networks never locks you out of your own', () => {
		fc.assert(
			fc.property(fc.uniqueArray(fc.tuple(hex, hex), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 10 }), (networks, triesEach) => {
				const limiter = new SignupRateLimiter({}, clock);
				const victim = '+4915123456789';
				for (const [a, b] of networks) {
					for (let i = 0; i < triesEach; i++) {
						try {
							limiter.check({ ip: `2001:db8:${a}:${b}::${i + 1}`, phone: victim }, 'de');
						} catch {
							// the stranger is refused
						}
					}
				}
				expect(() => limiter.check({ ip: '203.0.113.9', phone: victim }, 'de')).not.toThrow();
			}),
			{ numRuns: 100, seed: 65 },
		);
	});

	test('a real visitor gets through a flood from thousands of other addresses', () => {
		const limiter = new SignupRateLimiter({}, clock);
		let refused = 0;
		for (let i = 0; i < 5000; i++) {
			try {
				limiter.check({ ip: `2001:db8:${(i % 500).toString(16)}::${i}`, phone: `+4916${String(i).padStart(9, '0')}` }, 'en');
			} catch {
				refused++;
			}
		}
		expect(refused).toBe(5000 - 500 * 5);
		expect(() => limiter.check({ ip: '198.51.100.200', phone: '+4915199999999' }, 'en')).not.toThrow();
	});
});
