/**
 * The hosted sign-up page and its result page: complete HTML documents that work without JavaScript. A strict
 * Content-Security-Policy keeps them from loading anything from a third party.
 */
import type { WidgetConfig, WidgetLanguage } from './config';
import { escapeHtml, formMarkup, resultMarkup, type FormError, type FormValues } from './markup';
import type { SignupResponse } from './signup';
import { widgetStyles } from './styles';
import { STRINGS } from './texts';

export interface HostedPageOptions {
	lang: WidgetLanguage;
	submitUrl: string;
	/** The embed script: when given, it takes over the form so the result appears without a page load. */
	scriptUrl?: string;
	error?: FormError;
	values?: FormValues;
}

/** 'self' for relative addresses, else the origin, for the Content-Security-Policy. */
function sourceOf(url: string): string {
	try {
		return new URL(url).origin;
	} catch {
		return "'self'";
	}
}

function page(config: WidgetConfig, lang: WidgetLanguage, body: string, sources: { form?: string; script?: string; connect?: string }): string {
	const policy = [
		"default-src 'none'",
		"style-src 'unsafe-inline'",
		`form-action ${sources.form ?? "'none'"}`,
		`script-src ${sources.script ?? "'none'"}`,
		`connect-src ${sources.connect ?? "'none'"}`,
		"base-uri 'none'",
	].join('; ');
	return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(policy)}">
<meta name="referrer" content="strict-origin-when-cross-origin">
<title>${escapeHtml(`${STRINGS[lang].pageTitle} · ${config.businessName}`)}</title>
<style>
html{background:#F3F5F7}
body{margin:0;padding:2.5rem 1rem;min-height:100vh;box-sizing:border-box}
main{display:block}
${widgetStyles(config)}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export function renderHostedPage(config: WidgetConfig, options: HostedPageOptions): string {
	const { lang, submitUrl, scriptUrl } = options;
	const form = formMarkup(config, lang, { submitUrl, headingLevel: 1, error: options.error, values: options.values });
	// The script replaces the plain form in this container with the live widget; without JavaScript the form stays.
	const body = scriptUrl
		? `<div data-whatsapp-consent data-lang="${lang}" data-heading-level="1">${form}</div>\n<script src="${escapeHtml(scriptUrl)}" async></script>`
		: form;
	const submitSource = sourceOf(submitUrl);
	return page(config, lang, body, {
		form: submitSource,
		script: scriptUrl ? sourceOf(scriptUrl) : undefined,
		connect: scriptUrl ? submitSource : undefined,
	});
}

/** The expiry for a visitor of the business, in its time zone. */
export function formatExpiry(config: WidgetConfig, lang: WidgetLanguage, expiresAt: string): string {
	return new Intl.DateTimeFormat(STRINGS[lang].locale, {
		day: 'numeric',
		month: 'long',
		year: 'numeric',
		hour: '2-digit',
		minute: '2-digit',
		timeZone: config.timeZone,
		timeZoneName: 'short',
	}).format(new Date(expiresAt));
}

export function renderResultPage(config: WidgetConfig, options: { lang: WidgetLanguage; result: SignupResponse }): string {
	const { lang, result } = options;
	const view = { waLink: result.waLink, qrSvg: result.qrSvg, code: result.code, expires: formatExpiry(config, lang, result.expiresAt) };
	return page(config, lang, resultMarkup(config, lang, view, 1), {});
}
