/**
 * The two HTML fragments of the widget, the form and the "confirm in WhatsApp" result. The hosted page and the
 * embedded script render these same fragments, so both ways of signing up show the same words and the same
 * consent text.
 */
import type { WidgetConfig, WidgetLanguage } from './config';
import { STRINGS, consentTextFor } from './texts';

export const HONEYPOT_FIELD = 'website';

export function escapeHtml(value: string): string {
	return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** What the visitor typed, to fill the form in again after an error. */
export interface FormValues {
	phone?: string;
	purposes?: string[];
	ageConfirmed?: boolean;
}

/** An error to show next to its field; `field` as parseSubmission names it. */
export interface FormError {
	field?: string;
	message: string;
}

export interface FormOptions {
	submitUrl: string;
	headingLevel: 1 | 2;
	error?: FormError;
	values?: FormValues;
	pageUrl?: string;
}

const BRAND_ICON =
	'<svg viewBox="0 0 40 40" aria-hidden="true" focusable="false"><circle cx="20" cy="20" r="20" fill="var(--wcw-primary)"/>' +
	'<path fill="var(--wcw-on-primary)" d="M20 9.5c-6.1 0-11 4.5-11 10.1 0 2.3.8 4.4 2.2 6.1l-1.4 4.8 5-1.6c1.6.8 3.3 1.2 5.2 1.2 6.1 0 11-4.5 11-10.1S26.1 9.5 20 9.5Zm-5 8.9h10v2H15v-2Zm0-3.6h10v2H15v-2Zm0 7.2h6.5v2H15v-2Z"/></svg>';

function fieldError(id: string, error: FormError | undefined, field: string): string {
	const message = error?.field === field ? escapeHtml(error.message) : '';
	return `<span class="wcw-error" id="${id}">${message}</span>`;
}

/** The sign-up form. Works as a plain form post; the embedded script takes over submission when it runs. */
export function formMarkup(config: WidgetConfig, lang: WidgetLanguage, options: FormOptions): string {
	const t = STRINGS[lang];
	const { error, values = {} } = options;
	const consent = consentTextFor(config, lang);
	const ticked = new Set(values.purposes ?? []);
	const heading = `h${options.headingLevel}`;
	const unplaced = error && !['phone', 'purposes', 'ageConfirmed'].includes(error.field ?? '') ? escapeHtml(error.message) : '';
	const autofocus = (field: string) => (error?.field === field ? ' autofocus' : '');

	const purposes = config.purposes
		.map((purpose, index) => {
			const id = `wcw-purpose-${purpose.id}`;
			const description = purpose.description
				? `<span class="wcw-choice-description" id="${id}-description">${escapeHtml(purpose.description)}</span>`
				: '';
			return (
				`<label class="wcw-choice" for="${id}"><input type="checkbox" id="${id}" name="purposes" value="${escapeHtml(purpose.id)}"` +
				`${ticked.has(purpose.id) ? ' checked' : ''}${purpose.description ? ` aria-describedby="${id}-description"` : ''}` +
				`${index === 0 ? autofocus('purposes') : ''}>` +
				`<span><span class="wcw-choice-label">${escapeHtml(purpose.label)}</span>${description}</span></label>`
			);
		})
		.join('');

	const imprint = config.imprintUrl ? ` · <a href="${escapeHtml(config.imprintUrl)}">${escapeHtml(t.imprintLink)}</a>` : '';

	return `<div class="wcw" lang="${lang}">
<div class="wcw-brand">${BRAND_ICON}<div><p class="wcw-business">${escapeHtml(config.businessName)}</p><${heading} class="wcw-title">${escapeHtml(t.heading)}</${heading}></div></div>
<p>${escapeHtml(t.intro)}</p>
<form class="wcw-form" method="post" action="${escapeHtml(options.submitUrl)}" accept-charset="utf-8">
<div class="wcw-alert" id="wcw-alert" role="alert">${unplaced}</div>
<input type="hidden" name="language" value="${lang}">
${options.pageUrl ? `<input type="hidden" name="pageUrl" value="${escapeHtml(options.pageUrl)}">` : ''}
<div class="wcw-field${error?.field === 'phone' ? ' wcw-invalid' : ''}">
<label class="wcw-label" for="wcw-phone">${escapeHtml(t.phoneLabel)}</label>
<span class="wcw-hint" id="wcw-phone-hint">${escapeHtml(t.phoneHint)}</span>
<input type="tel" id="wcw-phone" name="phone" autocomplete="tel" inputmode="tel" required aria-describedby="wcw-phone-hint wcw-phone-error"${
		error?.field === 'phone' ? ' aria-invalid="true"' : ''
	} value="${escapeHtml(values.phone ?? '')}"${autofocus('phone')}>
${fieldError('wcw-phone-error', error, 'phone')}
</div>
<fieldset class="wcw-purposes" aria-describedby="wcw-purposes-error">
<legend>${escapeHtml(t.purposesLegend)}</legend>
${purposes}
${fieldError('wcw-purposes-error', error, 'purposes')}
</fieldset>
<div class="wcw-consent" id="wcw-consent"><span class="wcw-consent-heading">${escapeHtml(t.consentHeading)}</span><p id="wcw-consent-text" data-version="${escapeHtml(consent.version)}">${escapeHtml(consent.text)}</p></div>
<div class="wcw-field">
<label class="wcw-choice wcw-age" for="wcw-age"><input type="checkbox" id="wcw-age" name="ageConfirmed" value="yes" required aria-describedby="wcw-age-error"${
		values.ageConfirmed ? ' checked' : ''
	}${autofocus('ageConfirmed')}><span class="wcw-choice-label">${escapeHtml(t.ageLabel(config.minimumAge))}</span></label>
${fieldError('wcw-age-error', error, 'ageConfirmed')}
</div>
<div class="wcw-hp" aria-hidden="true"><label for="wcw-website">${escapeHtml(t.honeypotLabel)}</label><input type="text" id="wcw-website" name="${HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></div>
<button class="wcw-button" type="submit">${escapeHtml(t.submit)}</button>
<p class="wcw-fine">${escapeHtml(t.privacyNote)} <a href="${escapeHtml(config.privacyUrl)}">${escapeHtml(t.privacyLink)}</a>.${imprint}</p>
</form>
</div>`;
}

/** What the result fragment shows. The embedded script fills the same fragment with `{{…}}` placeholders. */
export interface ResultView {
	waLink: string;
	/** Inline SVG markup, inserted as is. */
	qrSvg: string;
	code: string;
	/** The expiry, already written out for the visitor. */
	expires: string;
}

export function resultMarkup(config: WidgetConfig, lang: WidgetLanguage, view: ResultView, headingLevel: 1 | 2): string {
	const r = STRINGS[lang].result;
	const heading = `h${headingLevel}`;
	const subheading = `h${headingLevel + 1}`;
	const steps = r.steps.map((step) => `<li>${escapeHtml(step)}</li>`).join('');
	return `<div class="wcw wcw-result" lang="${lang}">
<div class="wcw-brand">${BRAND_ICON}<p class="wcw-business">${escapeHtml(config.businessName)}</p></div>
<${heading} id="wcw-result-heading" tabindex="-1">${escapeHtml(r.heading)}</${heading}>
<p>${escapeHtml(r.message)}</p>
<a class="wcw-button" id="wcw-wa-link" href="${escapeHtml(view.waLink)}" target="_blank" rel="noopener noreferrer">${escapeHtml(r.openWhatsApp)}</a>
<figure class="wcw-qr" role="img" aria-label="${escapeHtml(r.qrLabel)}">${view.qrSvg}</figure>
<p class="wcw-fine">${escapeHtml(r.qrHint)}</p>
<p>${escapeHtml(r.codeLabel)}: <span class="wcw-code">${escapeHtml(view.code)}</span><br>${escapeHtml(r.validUntil)} <time>${escapeHtml(view.expires)}</time></p>
<div class="wcw-steps"><${subheading}>${escapeHtml(r.stepsHeading)}</${subheading}><ol>${steps}</ol></div>
<p class="wcw-fine">${escapeHtml(r.nothingSent)}</p>
</div>`;
}
