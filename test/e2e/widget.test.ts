/**
 * The widget in a real browser (Debian's Chromium): the script-tag embed on a host page, the hosted page without
 * JavaScript, both languages, accessibility (axe-core) and no request to anyone but our own server. Sign-ups go
 * into a real consent ledger on an embedded store.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { openLedger, type Ledger } from '../../lib/consent/ledger';
import type { OptInRequest } from '../../lib/consent/types';
import {
	handleSignup,
	parseSubmission,
	parseWidgetConfig,
	pickLanguage,
	renderHostedPage,
	renderResultPage,
	signupErrorAnswer,
	widgetScript,
	type WidgetLanguage,
} from '../../lib/widget';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const AXE = require.resolve('axe-core/axe.min.js');
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const config = parseWidgetConfig({
	businessName: 'Bäckerei Sonnenschein',
	businessWhatsAppNumber: '+49 30 901820',
	purposes: [
		{ id: 'offers', label: 'Angebote & Aktionen', description: 'Wochenangebote und Rabatte, höchstens einmal pro Woche' },
		{ id: 'service', label: 'Bestellstatus', description: 'Wann Ihre Vorbestellung abholbereit ist' },
	],
	privacyUrl: 'http://127.0.0.1/privacy',
	imprintUrl: 'http://127.0.0.1/imprint',
});

let server: Server;
let origin: string;
let browser: Browser;
let ledger: Ledger;
const optInCalls: OptInRequest[] = [];
const posts: { contentType: string; body: string }[] = [];
/** Every URL any page asked for, across all tests. */
const requested: string[] = [];

function readBody(request: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		request.on('error', reject);
	});
}

const HOST_PAGE = `<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Bäckerei Sonnenschein</title>
<style>body{font-family:Georgia,serif;background:#FFF8EE;color:#3B2A1A;margin:0;padding:2rem}main{max-width:60rem;margin:0 auto}</style></head>
<body><main><h1>Bäckerei Sonnenschein</h1><p>Frisches Brot seit 1952.</p>
<div data-whatsapp-consent></div><script src="/widget.js" async></script></main></body></html>`;

async function route(request: IncomingMessage): Promise<{ status: number; type: string; body: string }> {
	const url = new URL(request.url ?? '/', origin);
	const lang = pickLanguage(request.headers['accept-language'], config);
	if (request.method === 'GET' && url.pathname === '/host') return { status: 200, type: 'text/html', body: HOST_PAGE };
	if (request.method === 'GET' && url.pathname === '/widget.js') {
		return { status: 200, type: 'application/javascript', body: widgetScript(config, { submitUrl: '/signup' }) };
	}
	if (request.method === 'GET' && url.pathname === '/signup') {
		const scriptUrl = url.searchParams.has('enhanced') ? '/widget.js' : undefined;
		return { status: 200, type: 'text/html', body: renderHostedPage(config, { lang, submitUrl: '/signup', scriptUrl }) };
	}
	if (request.method === 'POST' && url.pathname === '/signup') {
		const isJson = (request.headers['content-type'] ?? '').startsWith('application/json');
		const raw = await readBody(request);
		posts.push({ contentType: isJson ? 'json' : 'form', body: raw });
		const deps = {
			requestOptIn: (optIn: OptInRequest) => {
				optInCalls.push(optIn);
				return ledger.requestOptIn(optIn);
			},
		};
		const meta = { ip: request.socket.remoteAddress, userAgent: request.headers['user-agent'], pageUrl: request.headers.referer };
		let language: WidgetLanguage = lang;
		try {
			const submission = parseSubmission(isJson ? raw : new URLSearchParams(raw), isJson ? 'json' : 'form', config);
			language = submission.language;
			const result = await handleSignup(deps, config, submission, meta);
			return isJson
				? { status: 200, type: 'application/json', body: JSON.stringify(result) }
				: { status: 200, type: 'text/html', body: renderResultPage(config, { lang: language, result }) };
		} catch (error) {
			const answer = signupErrorAnswer(error, (error as { language?: WidgetLanguage }).language ?? language);
			if (isJson) return { status: answer.httpStatus, type: 'application/json', body: JSON.stringify(answer.body) };
			const form = new URLSearchParams(raw);
			const values = { phone: form.get('phone') ?? '', purposes: form.getAll('purposes'), ageConfirmed: form.has('ageConfirmed') };
			const formLang = config.languages.find((candidate) => candidate === form.get('language')) ?? language;
			return { status: answer.httpStatus, type: 'text/html', body: renderHostedPage(config, { lang: formLang, submitUrl: '/signup', error: answer.body, values }) };
		}
	}
	return { status: 404, type: 'text/plain', body: 'not found' };
}

beforeAll(async () => {
	ledger = await openLedger({ store: { kind: 'embedded', folder: mkdtempSync(join(tmpdir(), 'widget-e2e-')) }, secret: 'widget-e2e-secret-0123456789' });
	await ledger.definePurposes(config.purposes);
	server = createServer((request, response) => {
		route(request).then(
			(answer) => response.writeHead(answer.status, { 'Content-Type': `${answer.type}; charset=utf-8` }).end(answer.body),
			(error) => response.writeHead(500).end(String(error)),
		);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
	await browser?.close();
	await new Promise((resolve) => server?.close(resolve));
	await ledger?.close();
});

const contexts: BrowserContext[] = [];
afterEach(async () => {
	for (const context of contexts.splice(0)) await context.close();
});

async function newPage(options: { locale: string; javaScriptEnabled?: boolean; bypassCSP?: boolean }): Promise<Page> {
	const context = await browser.newContext({ ...options, viewport: { width: 760, height: 1100 } });
	contexts.push(context);
	const page = await context.newPage();
	page.on('request', (request) => requested.push(request.url()));
	return page;
}

async function axeViolations(page: Page): Promise<string[]> {
	await page.addScriptTag({ path: AXE });
	const violations = await page.evaluate(async () => {
		const axe = (window as unknown as { axe: { run(): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
		return (await axe.run()).violations;
	});
	return violations.map((violation) => `${violation.id}: ${JSON.stringify(violation.nodes.map((node) => node.target))}`);
}

describe('script-tag embed', () => {
	test.each([
		['de-DE', 'de', 'Anmeldung bestätigen: ', 'Fast geschafft'],
		['en-GB', 'en', 'Confirm sign-up: ', 'Almost done'],
	] as const)('signs up in %s and shows the wa.me link and the QR code', async (locale, lang, prefill, heading) => {
		const page = await newPage({ locale });
		await page.goto(`${origin}/host`);
		const widget = page.locator('[data-whatsapp-consent]');
		await widget.locator('#wcw-phone').waitFor();
		expect(await widget.locator('input[name=purposes]:checked').count()).toBe(0);
		const shownText = await widget.locator('#wcw-consent-text').textContent();

		const phone = lang === 'de' ? '0151 23456789' : '+49 151 23456780';
		await widget.locator('#wcw-phone').fill(phone);
		await widget.locator('#wcw-purpose-offers').check();
		await widget.locator('#wcw-age').check();
		await widget.locator('button[type=submit]').click();

		await expect(widget.locator('#wcw-result-heading').textContent()).resolves.toContain(heading);
		const call = optInCalls[optInCalls.length - 1];
		expect(call.consentText.text).toBe(shownText);
		expect(call.consentText.language).toBe(lang);
		expect(call.purposes).toEqual(['offers']);
		expect(call.source.pageUrl).toBe(`${origin}/host`);

		const link = (await widget.locator('#wcw-wa-link').getAttribute('href'))!;
		expect(link).toMatch(/^https:\/\/wa\.me\/4930901820\?text=/);
		const code = decodeURIComponent(link.split('?text=')[1]).replace(prefill, '');
		expect(code).toMatch(/^[A-Z2-9]{6}$/);
		await expect(widget.locator('.wcw-code').textContent()).resolves.toBe(code);
		expect(await widget.locator('.wcw-qr svg path').count()).toBeGreaterThan(0);
		expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe('wcw-result-heading');

		const e164 = phone.startsWith('+') ? phone.replace(/\s/g, '') : '+4915123456789';
		const consent = await ledger.getConsent(e164);
		expect(JSON.stringify(consent)).toContain(sha256(shownText!));
		// Sending the prefilled message from that number is what confirms the sign-up.
		const inbound = { messageId: `wamid.${lang}`, from: e164.slice(1), text: decodeURIComponent(link.split('?text=')[1]), at: new Date() };
		await expect(ledger.confirm(inbound)).resolves.toMatchObject({ outcome: 'confirmed', purposes: ['offers'] });
		expect(await axeViolations(page)).toEqual([]);
		await page.screenshot({ path: `/tmp/widget-embed-result-${lang}.png`, fullPage: true });
	});

	test('refuses a sign-up without a ticked box, and sends nothing', async () => {
		const page = await newPage({ locale: 'de-DE' });
		await page.goto(`${origin}/host`);
		const widget = page.locator('[data-whatsapp-consent]');
		await widget.locator('#wcw-phone').fill('+49 151 23456781');
		await widget.locator('#wcw-age').check();
		const before = posts.length;
		await widget.locator('button[type=submit]').click();

		await expect(widget.locator('#wcw-purposes-error').textContent()).resolves.toBe('Bitte kreuzen Sie mindestens ein Thema an, das Sie erhalten möchten.');
		await expect(widget.locator('#wcw-alert').textContent()).resolves.toContain('mindestens ein Thema');
		await expect(widget.locator('#wcw-purpose-offers').getAttribute('aria-invalid')).resolves.toBe('true');
		expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id)).toBe('wcw-purpose-offers');
		expect(posts.length).toBe(before);
		expect(await axeViolations(page)).toEqual([]);
	});

	test('works with the keyboard alone', async () => {
		const page = await newPage({ locale: 'en-GB' });
		await page.goto(`${origin}/host`);
		await page.locator('[data-whatsapp-consent] #wcw-phone').waitFor();
		const focused = () => page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id ?? document.activeElement?.tagName);
		await page.keyboard.press('Tab');
		expect(await focused()).toBe('wcw-phone');
		const outline = () => page.locator('[data-whatsapp-consent] #wcw-phone').evaluate((field) => getComputedStyle(field).outlineStyle);
		expect(await outline()).toBe('solid');
		await page.keyboard.type('+49 151 23456782');
		await page.keyboard.press('Tab');
		expect(await focused()).toBe('wcw-purpose-offers');
		await page.keyboard.press('Space');
		await page.keyboard.press('Tab');
		await page.keyboard.press('Tab');
		expect(await focused()).toBe('wcw-age');
		await page.keyboard.press('Space');
		await page.keyboard.press('Tab'); // the honeypot is skipped
		await page.keyboard.press('Enter');
		await expect(page.locator('[data-whatsapp-consent] #wcw-result-heading').textContent()).resolves.toContain('Almost done');
	});
});

test('the hosted page with the script shows the result in place, within its Content-Security-Policy', async () => {
	const page = await newPage({ locale: 'en-GB' });
	const blocked: string[] = [];
	page.on('console', (message) => {
		if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
	});
	await page.goto(`${origin}/signup?enhanced`);
	const widget = page.locator('[data-whatsapp-consent]');
	await widget.locator('h1.wcw-title').waitFor();
	expect(await page.evaluate(() => !!document.querySelector('[data-whatsapp-consent]')?.shadowRoot)).toBe(true);
	await widget.locator('#wcw-phone').fill('+49 151 23456785');
	await widget.locator('#wcw-purpose-service').check();
	await widget.locator('#wcw-age').check();
	const before = posts.length;
	await widget.locator('button[type=submit]').click();
	await expect(widget.locator('h1#wcw-result-heading').textContent()).resolves.toContain('Almost done');
	expect(posts.slice(before).map((post) => post.contentType)).toEqual(['json']);
	expect(page.url()).toBe(`${origin}/signup?enhanced`);
	expect(blocked).toEqual([]);
});

describe('hosted page without JavaScript', () => {
	test.each([
		['de-DE', 'Fast geschafft', 'Bitte kreuzen Sie mindestens ein Thema an'],
		['en-GB', 'Almost done', 'Please tick at least one topic'],
	] as const)('posts the plain form and shows the result page (%s)', async (locale, heading, refusal) => {
		const page = await newPage({ locale, javaScriptEnabled: false });
		await page.goto(`${origin}/signup`);
		await page.fill('#wcw-phone', '+49 151 23456783');
		await page.check('#wcw-age');
		await page.click('button[type=submit]');
		// The server refuses and keeps what was typed; the error sits next to the boxes.
		await expect(page.textContent('#wcw-purposes-error')).resolves.toContain(refusal);
		expect(await page.inputValue('#wcw-phone')).toBe('+49 151 23456783');

		await page.check('#wcw-purpose-service');
		await page.click('button[type=submit]');
		await expect(page.textContent('h1')).resolves.toContain(heading);
		const link = (await page.getAttribute('#wcw-wa-link', 'href'))!;
		expect(link).toMatch(/^https:\/\/wa\.me\/4930901820\?text=/);
		expect(decodeURIComponent(link)).toContain((await page.textContent('.wcw-code'))!);
		expect(await page.locator('.wcw-qr svg').count()).toBe(1);
		expect(posts[posts.length - 1].contentType).toBe('form');
	});

	test.each(['de-DE', 'en-GB'])('form and result pass axe-core without violations (%s)', async (locale) => {
		const page = await newPage({ locale, bypassCSP: true });
		await page.goto(`${origin}/signup`);
		expect(await axeViolations(page)).toEqual([]);
		await page.screenshot({ path: `/tmp/widget-form-${locale.slice(0, 2)}.png`, fullPage: true });
		await page.fill('#wcw-phone', '+49 151 23456784');
		await page.check('#wcw-purpose-offers');
		await page.check('#wcw-age');
		await page.click('button[type=submit]');
		await page.waitForSelector('#wcw-wa-link');
		expect(await axeViolations(page)).toEqual([]);
		await page.screenshot({ path: `/tmp/widget-result-${locale.slice(0, 2)}.png`, fullPage: true });
	});
});

test('no page asked any host but the test server', () => {
	expect(requested.length).toBeGreaterThan(10);
	const elsewhere = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
	expect(elsewhere).toEqual([]);
});
