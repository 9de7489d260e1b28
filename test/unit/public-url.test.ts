/**
 * Issue 11: the widget script must not be poisonable through Host or X-Forwarded-Host. Generated headers, hostile
 * and ordinary: the address written into the script is always the configured one, n8n's own, an allowed website's,
 * or this machine's, never one a stranger's header named.
 */
import fc from 'fast-check';
import { publicSubmitUrl, type RequestAddress } from '../../lib/widget/public-url';

const N8N = 'https://n8n.example.com/webhook/whatsapp-consent';
const base: RequestAddress = {
	n8nUrl: N8N,
	config: { siteOrigins: ['https://shop.example.de'] },
	protocol: 'http',
	path: '/webhook/whatsapp-consent',
};
const allowedHosts = new Set(['n8n.example.com', 'shop.example.de']);
const loopback = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** What a stranger puts in a header: names, names with ports, paths, credentials, lists, control characters. */
const hostile = fc.oneof(
	fc.domain(),
	fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65535 })).map(([name, port]) => `${name}:${port}`),
	fc.tuple(fc.domain(), fc.webPath()).map(([name, path]) => `${name}${path}`),
	fc.tuple(fc.domain(), fc.constantFrom('n8n.example.com', 'shop.example.de')).map(([name, good]) => `${good}@${name}`),
	fc.tuple(fc.domain(), fc.constantFrom('n8n.example.com', 'localhost')).map(([name, good]) => `${name}, ${good}`),
	fc.string({ unit: 'binary', maxLength: 40 }),
	fc.constantFrom('n8n.example.com.evil.example', 'evil.example#n8n.example.com', 'shop.example.de:443/../evil', '[::ffff:1.2.3.4]'),
);

describe('the address sign-ups are posted to', () => {
	it('never takes a host from Host or X-Forwarded-Host that the operator does not stand behind', () => {
		fc.assert(
			fc.property(hostile, fc.option(hostile, { nil: undefined }), fc.option(fc.string({ maxLength: 10 }), { nil: undefined }), (host, forwardedHost, forwardedProto) => {
				const url = new URL(publicSubmitUrl({ ...base, host, forwardedHost, forwardedProto }));
				expect(allowedHosts.has(url.hostname) || loopback.test(url.host)).toBe(true);
				expect(['http:', 'https:']).toContain(url.protocol);
				expect(url.username + url.password).toBe('');
			}),
			{ numRuns: 2000, seed: 7 },
		);
	});

	it("takes the visitor's address when it is n8n's host, an allowed website or this machine", () => {
		expect(publicSubmitUrl({ ...base, host: 'n8n.example.com', forwardedProto: 'https' })).toBe(N8N);
		expect(publicSubmitUrl({ ...base, host: '10.0.0.5:5678', forwardedHost: 'shop.example.de', forwardedProto: 'https' })).toBe(
			'https://shop.example.de/webhook/whatsapp-consent',
		);
		expect(publicSubmitUrl({ ...base, host: '127.0.0.1:5678' })).toBe('http://127.0.0.1:5678/webhook/whatsapp-consent');
		expect(publicSubmitUrl({ ...base, host: 'N8N.Example.com', forwardedProto: 'javascript' })).toBe('http://n8n.example.com/webhook/whatsapp-consent');
	});

	it("falls back to n8n's webhook URL for any other host, and the Public URL option overrides everything", () => {
		expect(publicSubmitUrl({ ...base, host: 'n8n.example.com', forwardedHost: 'evil.example', forwardedProto: 'https' })).toBe(N8N);
		expect(publicSubmitUrl({ ...base, host: '127.0.0.1:5678', forwardedHost: 'evil.example' })).toBe('http://127.0.0.1:5678/webhook/whatsapp-consent');
		expect(publicSubmitUrl({ ...base, host: 'evil.example' })).toBe(N8N);
		expect(publicSubmitUrl({ ...base, protocol: 'https', host: 'n8n.example.com', forwardedProto: 'http' })).toBe(N8N);
		const configured = 'https://www.example.de/anmelden/whatsapp';
		expect(publicSubmitUrl({ ...base, config: { ...base.config, publicUrl: configured }, host: 'n8n.example.com' })).toBe(configured);
	});
});
