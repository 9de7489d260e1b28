import { ValidationError } from '../../lib/errors';
import { contrastRatio, parseWidgetConfig, WidgetConfigError, type WidgetConfigInput } from '../../lib/widget/config';
import { corsHeaders } from '../../lib/widget/cors';
import { renderHostedPage, renderResultPage } from '../../lib/widget/render';
import { widgetScript } from '../../lib/widget/script';
import { BUILT_IN_TEXT_VERSION, consentTextFor, pickLanguage } from '../../lib/widget/texts';

const base: WidgetConfigInput = {
	businessName: 'Beispiel GmbH',
	businessWhatsAppNumber: '+49 30 901820',
	purposes: [
		{ id: 'offers', label: 'Offers and news', description: 'At most once a week' },
		{ id: 'service', label: 'Order updates' },
	],
	privacyUrl: 'https://beispiel.example/datenschutz',
};

/** The page's Content-Security-Policy, as the browser reads the attribute. */
const policyOf = (html: string) => html.match(/http-equiv="Content-Security-Policy" content="([^"]+)"/)![1].replace(/&#39;/g, "'");

function configError(input: unknown): WidgetConfigError {
	try {
		parseWidgetConfig(input);
	} catch (error) {
		expect(error).toBeInstanceOf(WidgetConfigError);
		expect(error).toBeInstanceOf(ValidationError);
		return error as WidgetConfigError;
	}
	throw new Error('the config was accepted');
}

describe('parseWidgetConfig', () => {
	test('fills in the defaults', () => {
		const config = parseWidgetConfig(base);
		expect(config.businessWhatsAppNumber).toBe('+4930901820');
		expect(config.languages).toEqual(['de', 'en']);
		expect(config.minimumAge).toBe(16);
		expect(config.defaultCountry).toBe('DE');
		expect(config.siteOrigins).toEqual([]);
		expect(contrastRatio(config.colours.text, config.colours.background)).toBeGreaterThanOrEqual(4.5);
		expect(contrastRatio('#FFFFFF', config.colours.primary)).toBeGreaterThanOrEqual(4.5);
	});

	test.each<[string, unknown, string, RegExp]>([
		['not an object', 'hello', 'config', /must be an object/],
		['no business name', { ...base, businessName: ' ' }, 'businessName', /is empty: enter the name/],
		['a number without country code', { ...base, businessWhatsAppNumber: '030 901820' }, 'businessWhatsAppNumber', /with country code: write it like \+49/],
		['no purposes', { ...base, purposes: [] }, 'purposes', /needs at least one purpose/],
		['a purpose id with spaces', { ...base, purposes: [{ id: 'Big Offers', label: 'x' }] }, 'purposes.0.id', /lower-case letters/],
		['two purposes with one id', { ...base, purposes: [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }] }, 'purposes', /same id/],
		['no privacy notice', { ...base, privacyUrl: undefined }, 'privacyUrl', /is required: enter the full address/],
		['a privacy notice that is not a web address', { ...base, privacyUrl: 'ftp://x.example/p' }, 'privacyUrl', /must start with https:\/\//],
		['an unknown country', { ...base, defaultCountry: 'XX' }, 'defaultCountry', /two letters such as DE/],
		['an unknown language', { ...base, languages: ['fr'] }, 'languages.0', /"de" and "en"/],
		['a colour name', { ...base, colours: { primary: 'green' } }, 'colours.primary', /#RRGGBB/],
		['a pale primary colour', { ...base, colours: { primary: '#25D366' } }, 'colours.primary', /contrast of .*:1; readable text needs 4.5:1/],
		['grey text on white', { ...base, colours: { text: '#AAAAAA' } }, 'colours.text', /contrast/],
		['an age below 16', { ...base, minimumAge: 13 }, 'minimumAge', /at least 16/],
		['a site with a path', { ...base, siteOrigins: ['https://shop.example/page'] }, 'siteOrigins.0', /only scheme and host/],
		['a consent text without STOP', { ...base, consentTexts: { de: { version: '1', text: 'Beispiel GmbH schreibt per WhatsApp.' } } }, 'consentTexts.de.text', /STOP/],
		['a consent text without WhatsApp', { ...base, consentTexts: { en: { version: '1', text: '{business} writes. STOP ends it.' } } }, 'consentTexts.en.text', /WhatsApp/],
		['a consent text without the business', { ...base, consentTexts: { en: { version: '1', text: 'We write on WhatsApp. STOP ends it.' } } }, 'consentTexts.en.text', /name the business/],
		['a consent text without a version', { ...base, consentTexts: { en: { text: '{business}, WhatsApp, STOP' } } }, 'consentTexts.en.version', /give the text a version/],
		['an unknown time zone', { ...base, timeZone: 'Mars/Olympus' }, 'timeZone', /Europe\/Berlin/],
	])('refuses %s, naming the setting and the fix', (_, input, field, message) => {
		const error = configError(input);
		expect(error.field).toBe(field);
		expect(error.message).toMatch(new RegExp(`^Widget setting '${field.replace(/\./g, '\\.')}' `));
		expect(error.message).toMatch(message);
	});
});

describe('consentTextFor', () => {
	const config = parseWidgetConfig(base);

	test.each([
		['de', /von Beispiel GmbH Nachrichten per WhatsApp/, /Offers and news und Order updates/, /jederzeit widerrufen, indem ich STOP an Beispiel GmbH/, /berührt nicht die Rechtmäßigkeit/],
		['en', /WhatsApp messages from Beispiel GmbH/, /Offers and news and Order updates/, /withdraw my consent at any time by writing STOP/, /does not affect the lawfulness/],
	] as const)('#2 names the business, WhatsApp, the topics, STOP and the effect of withdrawal (%s)', (lang, business, topics, stop, earlier) => {
		const text = consentTextFor(config, lang);
		expect(text.language).toBe(lang);
		expect(text.version).toBe(BUILT_IN_TEXT_VERSION);
		for (const pattern of [business, topics, stop, earlier]) expect(text.text).toMatch(pattern);
	});

	test('uses a custom text with its version and fills in the placeholders once', () => {
		const custom = parseWidgetConfig({
			...base,
			businessName: 'Shop {purposes}',
			consentTexts: { en: { version: '2026-03', text: '{business} sends {purposes} on WhatsApp. Write STOP to end it.' } },
		});
		expect(consentTextFor(custom, 'en')).toEqual({
			version: '2026-03',
			language: 'en',
			text: 'Shop {purposes} sends Offers and news and Order updates on WhatsApp. Write STOP to end it.',
		});
		expect(consentTextFor(custom, 'de').version).toBe(BUILT_IN_TEXT_VERSION);
	});
});

describe('pickLanguage', () => {
	const both = parseWidgetConfig(base);
	const englishFirst = parseWidgetConfig({ ...base, languages: ['en', 'de'] });

	test.each<[string | string[] | undefined, typeof both, string]>([
		['de-CH,de;q=0.9,en;q=0.8', both, 'de'],
		['en-US,en;q=0.9', both, 'en'],
		['fr-FR,fr;q=0.9,en;q=0.5,de;q=0.7', both, 'de'],
		['de;q=0.1, en', both, 'en'],
		['fr', both, 'de'],
		['fr', englishFirst, 'en'],
		['', both, 'de'],
		[undefined, englishFirst, 'en'],
		[['en-GB', 'de'], both, 'en'],
		[['it', 'DE-at'], both, 'de'],
	])('%j → %s', (preferred, config, expected) => {
		expect(pickLanguage(preferred, config)).toBe(expected);
	});
});

describe('renderHostedPage', () => {
	const config = parseWidgetConfig({ ...base, imprintUrl: 'https://beispiel.example/impressum' });
	const html = renderHostedPage(config, { lang: 'de', submitUrl: '/webhook/optin' });

	test('is a plain form that posts without JavaScript', () => {
		expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="de">/);
		expect(html).toContain('<form class="wcw-form" method="post" action="/webhook/optin"');
		expect(html).not.toContain('<script');
	});

	test('#1 #3 has one unticked box per purpose with its label and description, in a fieldset', () => {
		expect(html).not.toMatch(/\schecked/);
		expect(html.match(/type="checkbox" id="wcw-purpose-[a-z]+" name="purposes"/g)).toHaveLength(2);
		expect(html).toContain('<label class="wcw-choice" for="wcw-purpose-offers">');
		expect(html).toContain('Offers and news</span><span class="wcw-choice-description" id="wcw-purpose-offers-description">At most once a week');
		expect(html).toMatch(/<fieldset[^>]*>\s*<legend>Was möchten Sie erhalten\?<\/legend>/);
	});

	test('#4 #7 labels the phone field and shows the consent text apart, exactly as it is hashed', () => {
		expect(html).toContain('<label class="wcw-label" for="wcw-phone">Handynummer</label>');
		expect(html).toMatch(/<input type="tel" id="wcw-phone" name="phone" autocomplete="tel"/);
		const shown = html.match(/<p id="wcw-consent-text" data-version="([^"]+)">([^<]*)<\/p>/)!;
		expect(shown[1]).toBe(BUILT_IN_TEXT_VERSION);
		expect(shown[2]).toBe(consentTextFor(config, 'de').text);
	});

	test('#5 #6 links the privacy notice and the imprint, asks for the age and hides a honeypot', () => {
		expect(html).toContain('<a href="https://beispiel.example/datenschutz">Datenschutzhinweise</a>');
		expect(html).toContain('<a href="https://beispiel.example/impressum">Impressum</a>');
		expect(html).toMatch(/<input type="checkbox" id="wcw-age" name="ageConfirmed" value="yes" required/);
		expect(html).toContain('Ich bin mindestens 16 Jahre alt.');
		expect(html).toContain('<div class="wcw-hp" aria-hidden="true">');
		expect(html).toMatch(/<input type="text" id="wcw-website" name="website" tabindex="-1" autocomplete="off">/);
	});

	test('loads nothing from elsewhere and says so in its Content-Security-Policy', () => {
		expect(policyOf(html)).toBe("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; script-src 'none'; connect-src 'none'; base-uri 'none'");
		expect(html.match(/(?:src|href)="https?:\/\/[^"]+"/g)).toEqual([
			'href="https://beispiel.example/datenschutz"',
			'href="https://beispiel.example/impressum"',
		]);
	});

	test('shows an error next to its field, keeps what was typed and escapes it', () => {
		const page = renderHostedPage(config, {
			lang: 'en',
			submitUrl: '/s',
			error: { field: 'purposes', message: 'Please tick at least one topic you would like to receive.' },
			values: { phone: '+49 151 <b>', purposes: ['service'], ageConfirmed: true },
		});
		expect(page).toContain('<span class="wcw-error" id="wcw-purposes-error">Please tick at least one topic you would like to receive.</span>');
		expect(page).toContain('value="+49 151 &#60;b&#62;"');
		expect(page).toMatch(/id="wcw-purpose-service" name="purposes" value="service" checked/);
		expect(page).toMatch(/id="wcw-purpose-offers"[^>]*autofocus/);
	});

	test('with a script, wraps the form in the container the script takes over', () => {
		const page = renderHostedPage(config, { lang: 'en', submitUrl: '/s', scriptUrl: '/widget.js' });
		expect(page).toContain('<div data-whatsapp-consent data-lang="en" data-heading-level="1"><div class="wcw"');
		expect(page).toContain('<script src="/widget.js" async></script>');
		expect(policyOf(page)).toContain("script-src 'self'; connect-src 'self'");
	});
});

describe('renderResultPage', () => {
	const config = parseWidgetConfig(base);

	test('shows the WhatsApp button, the QR code, the code with its expiry and the next steps', () => {
		const html = renderResultPage(config, {
			lang: 'de',
			result: {
				status: 'pending',
				waLink: 'https://wa.me/4930901820?text=Anmeldung%20best%C3%A4tigen%3A%20K7Q2XM',
				qrSvg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><path d="M0 0h1"/></svg>',
				code: 'K7Q2XM',
				expiresAt: '2026-03-03T09:00:00.000Z',
				message: 'x',
			},
		});
		expect(html).toContain('href="https://wa.me/4930901820?text=Anmeldung%20best%C3%A4tigen%3A%20K7Q2XM"');
		expect(html).toContain('<figure class="wcw-qr" role="img" aria-label="QR-Code, der WhatsApp mit der vorbereiteten Nachricht öffnet"><svg');
		expect(html).toContain('<span class="wcw-code">K7Q2XM</span>');
		expect(html).toContain('<time>3. März 2026 um 10:00 MEZ</time>');
		expect(html).toContain('So geht es weiter');
		expect(html).not.toContain('<form');
	});
});

describe('widgetScript', () => {
	test('carries the same form and consent text, and loads nothing from elsewhere', () => {
		const config = parseWidgetConfig(base);
		const script = widgetScript(config, { submitUrl: 'https://n8n.example/webhook/optin', lang: 'en' });
		expect(() => new Function(script)).not.toThrow();
		const data = JSON.parse(script.match(/var DATA = (.*);\n/)![1]);
		expect(data.languages).toEqual(['en']);
		expect(data.submitUrl).toBe('https://n8n.example/webhook/optin');
		expect(data.texts.en.form).toContain(`>${consentTextFor(config, 'en').text}</p>`);
		expect(data.texts.en.result).toContain('href="{{waLink}}"');
		expect(script).not.toMatch(/https?:\/\/(?!n8n\.example|beispiel\.example|www\.w3\.org)/);
	});

	test('offers every configured language unless one is fixed', () => {
		const script = widgetScript(parseWidgetConfig(base), { submitUrl: '/s' });
		expect(Object.keys(JSON.parse(script.match(/var DATA = (.*);\n/)![1]).texts)).toEqual(['de', 'en']);
	});
});

describe('corsHeaders', () => {
	const config = parseWidgetConfig({ ...base, siteOrigins: ['https://shop.example/'] });

	test('lets a listed site post and nobody else', () => {
		expect(corsHeaders(config, 'https://shop.example')).toMatchObject({ 'Access-Control-Allow-Origin': 'https://shop.example', Vary: 'Origin' });
		expect(corsHeaders(config, 'https://evil.example')).toEqual({});
		expect(corsHeaders(config, undefined)).toEqual({});
	});
});
