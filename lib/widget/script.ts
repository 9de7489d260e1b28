/**
 * The embed: one `<script src=".../widget.js" async></script>` puts the sign-up form on a business's website. The
 * script carries the server-rendered form and result fragments (so both ways of signing up show the same words and
 * the same consent text), renders them into a Shadow DOM, checks the form, posts JSON and shows the result in place.
 * It loads nothing else: no fonts, no images, no libraries.
 */
import type { WidgetConfig, WidgetLanguage } from './config';
import { formMarkup, resultMarkup } from './markup';
import { widgetStyles } from './styles';
import { STRINGS } from './texts';

export interface WidgetScriptOptions {
	/** Where the script posts the sign-up (absolute when the script runs on another site). */
	submitUrl: string;
	/** Always this language; otherwise the visitor's browser languages decide (or `data-lang` on the container). */
	lang?: WidgetLanguage;
}

interface ClientTexts {
	locale: string;
	form: string;
	result: string;
	submit: string;
	submitting: string;
	summary: string;
	errors: { phone: string; purposes: string; ageConfirmed: string; network: string; unavailable: string };
}

function clientTexts(config: WidgetConfig, lang: WidgetLanguage, submitUrl: string): ClientTexts {
	const t = STRINGS[lang];
	return {
		locale: t.locale,
		form: formMarkup(config, lang, { submitUrl, headingLevel: 2 }),
		result: resultMarkup(config, lang, { waLink: '{{waLink}}', qrSvg: '', code: '{{code}}', expires: '{{expires}}' }, 2),
		submit: t.submit,
		submitting: t.submitting,
		summary: t.errorSummary,
		errors: {
			phone: t.errors.phoneMissing,
			purposes: t.errors.purposesMissing,
			ageConfirmed: t.errors.ageMissing(config.minimumAge),
			network: t.errors.network,
			unavailable: t.errors.unavailable,
		},
	};
}

export function widgetScript(config: WidgetConfig, options: WidgetScriptOptions): string {
	const languages = options.lang ? [options.lang] : config.languages;
	const data = {
		submitUrl: options.submitUrl,
		languages,
		css: `:host{all:initial;display:block}\n${widgetStyles(config)}`,
		texts: Object.fromEntries(languages.map((lang) => [lang, clientTexts(config, lang, options.submitUrl)])),
	};
	// JSON is valid JavaScript; escaping "<" keeps "</script>" harmless should someone inline the script.
	return CLIENT.replace('__DATA__', () => JSON.stringify(data).replace(/</g, '\\u003c'));
}

/** Runs in the visitor's browser: plain ES2017, no build step, no dependencies. */
const CLIENT = `(function () {
'use strict';
var DATA = __DATA__;
var script = document.currentScript;
var FIELDS = { phone: '#wcw-phone', purposes: 'input[name=purposes]', ageConfirmed: '#wcw-age' };
var ERRORS = { phone: 'wcw-phone-error', purposes: 'wcw-purposes-error', ageConfirmed: 'wcw-age-error' };
var SVG_ATTRIBUTES = ['xmlns', 'viewBox', 'shape-rendering', 'fill', 'stroke', 'd', 'width', 'height'];

function pickLanguage(host) {
	var wanted = [host.getAttribute('data-lang') || ''].concat(navigator.languages || [navigator.language || '']);
	for (var i = 0; i < wanted.length; i++) {
		var primary = String(wanted[i]).toLowerCase().split('-')[0];
		if (DATA.languages.indexOf(primary) >= 0) return primary;
	}
	return DATA.languages[0];
}

function escapeHtml(value) {
	return String(value).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; });
}

/** The QR code comes from our server, but only an <svg> of <path>s with drawing attributes is let in. */
function safeSvg(text) {
	var svg = new DOMParser().parseFromString(String(text || ''), 'image/svg+xml').documentElement;
	if (!svg || svg.nodeName !== 'svg') return null;
	var nodes = [svg].concat(Array.prototype.slice.call(svg.querySelectorAll('*')));
	for (var i = 0; i < nodes.length; i++) {
		if (i > 0 && nodes[i].nodeName !== 'path') return null;
		for (var j = 0; j < nodes[i].attributes.length; j++) {
			if (SVG_ATTRIBUTES.indexOf(nodes[i].attributes[j].name) < 0) return null;
		}
	}
	svg.setAttribute('aria-hidden', 'true');
	return document.importNode(svg, true);
}

/** The fragments use h2 (a section of the host page); a container that is the page's main content asks for h1. */
function withHeadings(html, host) {
	if (host.getAttribute('data-heading-level') !== '1') return html;
	return html.replace(/<(\\/?)h([23])\\b/g, function (_, slash, level) { return '<' + slash + 'h' + (level - 1); });
}

function mount(host) {
	if (host.shadowRoot) return;
	var lang = pickLanguage(host);
	var t = DATA.texts[lang];
	// What the container held (the hosted page's plain form, a fallback link) gives way to the live widget.
	host.replaceChildren();
	var root = host.attachShadow({ mode: 'open' });
	root.innerHTML = '<style>' + DATA.css + '</style>' + withHeadings(t.form, host);
	var form = root.querySelector('form');
	var alertBox = root.getElementById('wcw-alert');
	var button = form.querySelector('button[type=submit]');
	var busy = false;
	form.noValidate = true;

	function clearErrors() {
		alertBox.textContent = '';
		Object.keys(ERRORS).forEach(function (field) {
			root.getElementById(ERRORS[field]).textContent = '';
			var inputs = root.querySelectorAll(FIELDS[field]);
			for (var i = 0; i < inputs.length; i++) inputs[i].removeAttribute('aria-invalid');
		});
		root.querySelector('.wcw-field').classList.remove('wcw-invalid');
	}

	function showErrors(errors) {
		var focus = null;
		var lines = [];
		errors.forEach(function (error) {
			var field = error[0];
			lines.push(error[1]);
			if (!ERRORS[field]) return;
			root.getElementById(ERRORS[field]).textContent = error[1];
			var inputs = root.querySelectorAll(FIELDS[field]);
			for (var i = 0; i < inputs.length; i++) inputs[i].setAttribute('aria-invalid', 'true');
			if (field === 'phone') root.querySelector('.wcw-field').classList.add('wcw-invalid');
			focus = focus || inputs[0];
		});
		alertBox.textContent = (errors.length > 1 ? t.summary + ' ' : '') + lines.join(' ');
		if (focus) focus.focus();
	}

	function setBusy(value) {
		busy = value;
		button.setAttribute('aria-disabled', value ? 'true' : 'false');
		button.textContent = value ? t.submitting : t.submit;
	}

	function showResult(answer) {
		var expires = new Intl.DateTimeFormat(t.locale, { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(answer.expiresAt));
		var values = { waLink: answer.waLink, code: answer.code, expires: expires };
		root.innerHTML = '<style>' + DATA.css + '</style>' + withHeadings(t.result, host).replace(/\\{\\{(waLink|code|expires)\\}\\}/g, function (_, key) {
			return escapeHtml(values[key]);
		});
		var svg = safeSvg(answer.qrSvg);
		if (svg) root.querySelector('.wcw-qr').appendChild(svg);
		root.getElementById('wcw-result-heading').focus();
	}

	form.addEventListener('submit', function (event) {
		event.preventDefault();
		if (busy) return;
		clearErrors();
		var phone = form.elements.namedItem('phone').value.trim();
		var purposes = Array.prototype.map.call(form.querySelectorAll('input[name=purposes]:checked'), function (box) { return box.value; });
		var errors = [];
		if (!phone) errors.push(['phone', t.errors.phone]);
		if (purposes.length === 0) errors.push(['purposes', t.errors.purposes]);
		if (!form.elements.namedItem('ageConfirmed').checked) errors.push(['ageConfirmed', t.errors.ageConfirmed]);
		if (errors.length > 0) return showErrors(errors);

		var body = { phone: phone, purposes: purposes, ageConfirmed: true, language: lang, website: form.elements.namedItem('website').value };
		if (/^https?:/.test(location.href)) body.pageUrl = location.href;
		setBusy(true);
		fetch(DATA.submitUrl, {
			method: 'POST',
			mode: 'cors',
			credentials: 'omit',
			headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
			body: JSON.stringify(body)
		}).then(function (response) {
			return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; }, function () { return { ok: false, answer: {} }; });
		}).then(function (reply) {
			setBusy(false);
			if (reply.ok && reply.answer.status === 'pending') return showResult(reply.answer);
			showErrors([[reply.answer.field, reply.answer.message || t.errors.unavailable]]);
		}, function () {
			setBusy(false);
			showErrors([[null, t.errors.network]]);
		});
	});
}

function start() {
	var host = document.querySelector('[data-whatsapp-consent]');
	if (!host) {
		host = document.createElement('div');
		host.setAttribute('data-whatsapp-consent', '');
		if (script && script.parentNode) script.parentNode.insertBefore(host, script.nextSibling);
		else document.body.appendChild(host);
	}
	mount(host);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
})();
`;
