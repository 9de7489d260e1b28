import { ConsentError } from '../../lib/errors';
import { errorFromResponse, OutcomeUnknownError, parseRetryAfter, WhatsAppApiError, WhatsAppHttpError, type RetryAdvice } from '../../lib/whatsapp/errors';

const URL = 'https://graph.facebook.com';

function envelope(code: number, details?: string, message = `(#${code}) Something`) {
	return { error: { message, type: 'OAuthException', code, error_data: { messaging_product: 'whatsapp', details }, fbtrace_id: 'AbCdEfGhIjKlMnOpQrStUvW' } };
}

function apiError(code: number, options: { status?: number; details?: string; retryAfter?: string; templateName?: string; language?: string } = {}): WhatsAppApiError {
	const error = errorFromResponse(options.status ?? 400, envelope(code, options.details), options.retryAfter ?? null, URL, {
		templateName: options.templateName,
		language: options.language,
	});
	expect(error).toBeInstanceOf(WhatsAppApiError);
	return error as WhatsAppApiError;
}

describe("Meta's error table", () => {
	test.each<[number, RetryAdvice, string]>([
		[131047, 'never', 'The customer has not written in the last 24 hours: send an approved template instead'],
		[131026, 'never', 'cannot be delivered'],
		[131049, 'much-later', 'not an opt-out; do not retry today'],
		[130472, 'never', 'do not retry it, and do not treat it as an opt-out'],
		[131042, 'never', 'payment method'],
		[132015, 'never', 'paused by Meta for low quality'],
		[132016, 'never', 'disabled for good: create a new template'],
		[131050, 'never', 'marketing opt-out'],
		[130429, 'backoff', 'throughput limit'],
		[131056, 'after-pair-rate', 'at least 6 seconds'],
		[131048, 'never', 'spam'],
		[4, 'backoff', 'too many API calls'],
		[80007, 'backoff', 'rate limit'],
		[131057, 'much-later', 'about a minute'],
		[1, 'backoff', 'temporary'],
		[2, 'backoff', 'temporarily unavailable'],
		[131016, 'backoff', 'temporarily overloaded'],
		[100, 'never', 'invalid or missing parameter'],
		[132001, 'never', 'not approved'],
		[190, 'never', 'The access token is invalid or expired: create a new one and update the credential'],
		[368, 'never', 'policy violation'],
		[131031, 'never', 'locked'],
		[133010, 'never', 'not registered'],
		[131055, 'never', 'accept them in WhatsApp Manager'],
	])('%i: retry %s, fix says "%s"', (code, retry, fix) => {
		const error = apiError(code);
		expect(error.metaCode).toBe(code);
		expect(error.retry).toBe(retry);
		expect(error.retryable).toBe(retry !== 'never');
		expect(error.fix).toContain(fix);
		expect(error.hint).toBe(error.fix);
		expect(error.outcomeUnknown).toBe(false);
	});

	test('it is a ConsentError carrying status, trace id, details and Meta’s message', () => {
		const error = apiError(131047, { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' });
		expect(error).toBeInstanceOf(ConsentError);
		expect(error).toMatchObject({ httpStatus: 400, fbtraceId: 'AbCdEfGhIjKlMnOpQrStUvW', code: 'whatsapp_131047' });
		expect(error.details).toContain('more than 24 hours');
		expect(error.message).toContain('131047');
		expect(error.message).toContain('more than 24 hours');
	});

	test('132000 names the template and the expected and given counts from the details', () => {
		const error = apiError(132000, {
			templateName: 'welcome',
			details: 'body: number of localizable_params (1) does not match the expected number of params (2)',
		});
		expect(error.retry).toBe('never');
		expect(error.fix).toContain("Template 'welcome' expects 2 body parameters, got 1");
		expect(apiError(132000, { templateName: 'newsletter', details: 'header: number of localizable_params (0) does not match the expected number of params (1)' }).fix).toContain(
			"Template 'newsletter' expects 1 header parameter, got 0",
		);
		expect(apiError(132000, { templateName: 'order_update', details: "body: parameter_name 'name' is not in template" }).fix).toContain(
			"Template 'order_update' got parameters that do not match",
		);
	});

	test('132001 names the template and language', () => {
		expect(apiError(132001, { templateName: 'welcom', language: 'de' }).fix).toContain("Template 'welcom' does not exist in language 'de'");
	});

	test('131050 is flagged as a marketing opt-out', () => {
		expect(apiError(131050).marketingOptOut).toBe(true);
		expect(apiError(131047).marketingOptOut).toBe(false);
	});

	test('an unknown code is permanent and its fix is Meta’s own message', () => {
		const error = errorFromResponse(400, envelope(999_999, undefined, '(#999999) A brand new rule'), null, URL) as WhatsAppApiError;
		expect(error.retry).toBe('never');
		expect(error.fix).toBe('(#999999) A brand new rule');
		const serverSide = errorFromResponse(500, envelope(999_998, undefined, 'Boom'), null, URL) as WhatsAppApiError;
		expect(serverSide.retry).toBe('never');
	});

	test('Retry-After in seconds or as an HTTP date', () => {
		expect(apiError(130429, { status: 429, retryAfter: '3' }).retryAfterMs).toBe(3000);
		expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('Thu, 01 Jan 2026 00:00:00 GMT'))).toBe(10_000);
		expect(parseRetryAfter(null)).toBeUndefined();
		expect(parseRetryAfter('soon')).toBeUndefined();
	});
});

describe('on a send: only what cannot have delivered the message is retried', () => {
	const onSend = (status: number, body: unknown, retryAfter: string | null = null) => errorFromResponse(status, body, retryAfter, URL, undefined, 'send');

	test.each([
		[1, 500],
		[2, 503],
		[131000, 500],
		[131016, 503],
		[131000, 400],
		[999_998, 500],
	])('%i with HTTP %i is an unknown outcome carrying the code, never retried', (code, status) => {
		const error = onSend(status, envelope(code));
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ reason: 'server_error', metaCode: code, httpStatus: status, fbtraceId: 'AbCdEfGhIjKlMnOpQrStUvW', outcomeUnknown: true, retry: 'never' });
		expect(error.message).toMatch(new RegExp(`error ${code} with HTTP ${status}.*may or may not have been sent`));
	});

	test.each<[number, number, RetryAdvice]>([
		[130429, 429, 'backoff'],
		[131056, 400, 'after-pair-rate'],
		[4, 400, 'backoff'],
		[80007, 400, 'backoff'],
		[131047, 400, 'never'],
		[999_999, 400, 'never'],
	])('%i (HTTP %i) was refused before acceptance: retry %s, as elsewhere', (code, status, retry) => {
		const error = onSend(status, envelope(code), '2');
		expect(error).toBeInstanceOf(WhatsAppApiError);
		expect(error).toMatchObject({ metaCode: code, retry, outcomeUnknown: false });
	});

	test('a bare 5xx is an unknown outcome, a bare 429 is retried, a bare 4xx points at the base URL', () => {
		for (const status of [500, 502, 503]) expect(onSend(status, undefined)).toMatchObject({ reason: 'server_error', httpStatus: status, outcomeUnknown: true });
		expect(onSend(504, undefined)).toMatchObject({ reason: 'timeout', outcomeUnknown: true });
		expect(onSend(429, undefined)).toMatchObject({ retry: 'backoff', outcomeUnknown: false });
		expect(onSend(404, undefined)).toBeInstanceOf(WhatsAppHttpError);
	});
});

describe('answers without Meta’s envelope', () => {
	test('a bare 5xx or 429 is transient, a bare 4xx points at the base URL', () => {
		for (const status of [500, 502, 503, 429]) {
			const error = errorFromResponse(status, undefined, null, URL);
			expect(error).toBeInstanceOf(WhatsAppHttpError);
			expect(error.retry).toBe('backoff');
		}
		const notFound = errorFromResponse(404, { hello: 'world' }, null, URL);
		expect(notFound).toBeInstanceOf(WhatsAppHttpError);
		expect(notFound.retry).toBe('never');
		expect(notFound.fix).toContain('base URL');
	});

	test('a bare 504 means the message may have gone out', () => {
		const error = errorFromResponse(504, undefined, null, URL);
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ outcomeUnknown: true, retry: 'never', reason: 'timeout' });
	});
});
