/**
 * The settings of a sign-up widget, checked once when the node starts so a mistake shows up in the editor, not on a
 * customer's website. Every error names the setting and says how to fix it.
 */
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { assertCountry, type CountryCode } from '../phone';
import { PURPOSE_ID } from '../consent/validation';

export const WIDGET_LANGUAGES = ['de', 'en'] as const;
export type WidgetLanguage = (typeof WIDGET_LANGUAGES)[number];

/** WCAG 2.1 AA for normal text. */
export const MINIMUM_CONTRAST = 4.5;

/** A setting of the widget is wrong; `field` is its path, e.g. `colours.primary`. */
export class WidgetConfigError extends ValidationError {
	constructor(field: string, message: string) {
		super(field, `Widget setting '${field}' ${message}`);
	}
}

const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

const webAddress = (example: string) =>
	z
		.string({ required_error: `is required: enter the full address, e.g. ${example}`, invalid_type_error: 'must be text' })
		.trim()
		.url(`must be a full web address starting with https://, e.g. ${example}`)
		.refine((url) => /^https?:\/\//i.test(url), `must start with https:// (or http://), e.g. ${example}`);

const colour = (fallback: string) =>
	z
		.string({ invalid_type_error: 'must be text' })
		.trim()
		.regex(HEX_COLOUR, 'must be a colour in the form #RRGGBB, e.g. #075E54')
		.default(fallback);

const customText = z.object({
	version: z
		.string({ required_error: 'is required: give the text a version such as "2026-01" and change it whenever the text changes' })
		.trim()
		.min(1, 'is empty: give the text a version such as "2026-01"')
		.max(64, 'is longer than 64 characters'),
	text: z
		.string({ required_error: 'is required: write the consent text, or remove this language to use the built-in one' })
		.trim()
		.min(1, 'is empty: write the consent text, or remove this language to use the built-in one')
		.max(5000, 'is longer than 5000 characters')
		// Checklist 2: the text must name the business, the channel and how to withdraw; these three are checkable.
		.refine((text) => text.includes('STOP'), 'must tell people they can withdraw any time by writing STOP (in capitals)')
		.refine((text) => /whatsapp/i.test(text), 'must name WhatsApp as the channel'),
});

const widgetConfigSchema = z
	.object({
		businessName: z
			.string({ required_error: 'is required: enter the name people know your business by' })
			.trim()
			.min(1, 'is empty: enter the name people know your business by')
			.max(120, 'is longer than 120 characters'),
		businessWhatsAppNumber: z
			.string({ required_error: 'is required: enter your WhatsApp business number with country code, e.g. +49 30 1234567' })
			.transform((value, ctx) => {
				const raw = value.trim();
				try {
					const parsed = parsePhoneNumberWithError(raw.startsWith('00') ? `+${raw.slice(2)}` : raw);
					if (parsed.isValid()) return parsed.number;
				} catch {
					// reported below with the fix
				}
				ctx.addIssue({ code: 'custom', message: `'${raw}' is not a phone number with country code: write it like +49 30 1234567` });
				return z.NEVER;
			}),
		purposes: z
			.array(
				z.object({
					id: PURPOSE_ID,
					label: z.string({ required_error: 'is required: the text next to the box' }).trim().min(1, 'is empty: write the text next to the box').max(200),
					description: z.string().trim().max(1000, 'is longer than 1000 characters').optional(),
				}),
				{ required_error: 'is required: add at least one purpose, e.g. { id: "offers", label: "Offers and news" }' },
			)
			.min(1, 'needs at least one purpose, e.g. { id: "offers", label: "Offers and news" }')
			.max(8, 'has more than 8 purposes: a form with that many boxes is hard to read; merge some')
			.refine((purposes) => new Set(purposes.map((p) => p.id)).size === purposes.length, 'has two purposes with the same id: give each its own'),
		consentTexts: z.object({ de: customText.optional(), en: customText.optional() }).default({}),
		privacyUrl: webAddress('https://example.com/privacy'),
		imprintUrl: webAddress('https://example.com/imprint').optional(),
		/** The trigger's address as visitors reach it, behind a proxy or CDN (public-url.ts). */
		publicUrl: webAddress('https://n8n.example.com/webhook/whatsapp-optin').optional(),
		defaultCountry: z
			.string()
			.default('DE')
			.transform((value, ctx) => {
				try {
					return assertCountry(value) ?? ('DE' as CountryCode);
				} catch {
					ctx.addIssue({ code: 'custom', message: `'${value}' is not a country code: use two letters such as DE, AT or CH` });
					return z.NEVER;
				}
			}),
		languages: z
			.array(z.enum(WIDGET_LANGUAGES, { errorMap: () => ({ message: 'may only hold "de" and "en"' }) }))
			.min(1, 'needs at least one language: "de" or "en"')
			.default(['de', 'en'])
			.transform((languages) => [...new Set(languages)]),
		colours: z
			.object({ primary: colour('#075E54'), text: colour('#1F2328'), background: colour('#FFFFFF') })
			.default({}),
		minimumAge: z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(16, 'must be at least 16 (Art. 8 GDPR)').max(21).default(16),
		siteOrigins: z
			.array(
				z
					.string()
					.trim()
					.transform((value, ctx) => {
						try {
							const url = new URL(value);
							if ((url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value.replace(/\/$/, '')) return url.origin;
						} catch {
							// reported below with the fix
						}
						ctx.addIssue({ code: 'custom', message: `'${value}' is not a site address: write only scheme and host, e.g. https://shop.example.com` });
						return z.NEVER;
					}),
			)
			.default([]),
		timeZone: z
			.string()
			.default('Europe/Berlin')
			.refine((zone) => {
				try {
					new Intl.DateTimeFormat('en', { timeZone: zone });
					return true;
				} catch {
					return false;
				}
			}, 'is not a time zone: use a name such as Europe/Berlin'),
	})
	.superRefine((config, ctx) => {
		for (const language of WIDGET_LANGUAGES) {
			const text = config.consentTexts[language]?.text;
			if (text && !text.includes('{business}') && !text.includes(config.businessName)) {
				ctx.addIssue({ code: 'custom', path: ['consentTexts', language, 'text'], message: 'must name the business: write {business} or the business name' });
			}
		}
		const { primary, text, background } = config.colours;
		const checks: [string, string, string, string][] = [
			['text', text, background, 'the text colour on the background'],
			['primary', primary, background, 'links in the primary colour on the background'],
			['primary', buttonTextColour(primary), primary, 'the button label on the primary colour'],
		];
		for (const [field, foreground, behind, what] of checks) {
			const ratio = contrastRatio(foreground, behind);
			if (ratio < MINIMUM_CONTRAST) {
				ctx.addIssue({
					code: 'custom',
					path: ['colours', field],
					message: `gives ${what} a contrast of ${ratio.toFixed(1)}:1; readable text needs ${MINIMUM_CONTRAST}:1 (WCAG AA): choose a darker or lighter colour`,
				});
			}
		}
	});

export type WidgetConfigInput = z.input<typeof widgetConfigSchema>;
export type WidgetConfig = z.output<typeof widgetConfigSchema>;
export type WidgetPurpose = WidgetConfig['purposes'][number];

/** Checks the settings and fills in the defaults; throws a WidgetConfigError naming the first wrong setting. */
export function parseWidgetConfig(input: unknown): WidgetConfig {
	const result = widgetConfigSchema.safeParse(input);
	if (result.success) return result.data;
	const issue = result.error.issues[0];
	const field = issue.path.map(String).join('.') || 'config';
	return issue.path.length === 0 && issue.code === 'invalid_type'
		? fail('config', 'must be an object with businessName, businessWhatsAppNumber, purposes and privacyUrl')
		: fail(field, issue.message);
}

function fail(field: string, message: string): never {
	throw new WidgetConfigError(field, message);
}

/** White or near-black, whichever reads better on the primary colour. */
export function buttonTextColour(primary: string): string {
	return contrastRatio('#FFFFFF', primary) >= contrastRatio('#111111', primary) ? '#FFFFFF' : '#111111';
}

function relativeLuminance(hex: string): number {
	const channels = [1, 3, 5].map((start) => parseInt(hex.slice(start, start + 2), 16) / 255);
	const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2.1 contrast ratio of two #RRGGBB colours. */
export function contrastRatio(a: string, b: string): number {
	const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
	return (light + 0.05) / (dark + 0.05);
}
