/**
 * Everything the widget says, in German and English, and the consent text itself: the one string that is shown next
 * to the boxes AND hashed as proof of what was shown (checklist 2 and 7).
 */
import type { ConsentText } from '../consent/types';
import type { WidgetConfig, WidgetLanguage } from './config';

/**
 * The version of the built-in consent texts. Change it whenever a built-in text changes: the ledger keeps every
 * version, and the gate can ask for fresh consent when the text changed materially.
 */
export const BUILT_IN_TEXT_VERSION = 'builtin-2026-1';

const BUILT_IN_CONSENT: Record<WidgetLanguage, string> = {
	de:
		'Ja, ich möchte von {business} Nachrichten per WhatsApp an die oben angegebene Nummer erhalten, und zwar zu den Themen, die ich ankreuze: {purposes}. ' +
		'Ich kann meine Einwilligung jederzeit widerrufen, indem ich STOP an {business} per WhatsApp schreibe. ' +
		'Der Widerruf berührt nicht die Rechtmäßigkeit der bis dahin erfolgten Verarbeitung.',
	en:
		'Yes, I would like to receive WhatsApp messages from {business} at the number above about the topics I tick: {purposes}. ' +
		'I can withdraw my consent at any time by writing STOP to {business} on WhatsApp. ' +
		'Withdrawal does not affect the lawfulness of processing before it.',
};

export interface WidgetStrings {
	locale: string;
	pageTitle: string;
	heading: string;
	intro: string;
	phoneLabel: string;
	phoneHint: string;
	purposesLegend: string;
	consentHeading: string;
	ageLabel: (age: number) => string;
	privacyLink: string;
	privacyNote: string;
	imprintLink: string;
	submit: string;
	submitting: string;
	honeypotLabel: string;
	errorSummary: string;
	errors: {
		phoneMissing: string;
		phoneInvalid: string;
		purposesMissing: string;
		purposeUnknown: string;
		ageMissing: (age: number) => string;
		pageUrl: string;
		body: string;
		tooMany: (minutes: number) => string;
		numberBusy: string;
		unavailable: string;
		network: string;
	};
	result: {
		heading: string;
		message: string;
		openWhatsApp: string;
		qrLabel: string;
		qrHint: string;
		codeLabel: string;
		validUntil: string;
		stepsHeading: string;
		steps: string[];
		nothingSent: string;
	};
	/** The "and" of a list: "Angebote, Service und Termine". */
	and: string;
}

export const STRINGS: Record<WidgetLanguage, WidgetStrings> = {
	de: {
		locale: 'de-DE',
		pageTitle: 'WhatsApp-Nachrichten abonnieren',
		heading: 'Per WhatsApp informiert bleiben',
		intro: 'Tragen Sie Ihre Handynummer ein und wählen Sie, was Sie erhalten möchten. Sie bestätigen danach mit einer WhatsApp-Nachricht.',
		phoneLabel: 'Handynummer',
		phoneHint: 'Mit Ländervorwahl, z. B. +49 151 23456789',
		purposesLegend: 'Was möchten Sie erhalten?',
		consentHeading: 'Einwilligung',
		ageLabel: (age) => `Ich bin mindestens ${age} Jahre alt.`,
		privacyLink: 'Datenschutzhinweise',
		privacyNote: 'Wie wir Ihre Nummer verarbeiten (auch über Meta, den Anbieter von WhatsApp), erklären unsere',
		imprintLink: 'Impressum',
		submit: 'Weiter zu WhatsApp',
		submitting: 'Wird gesendet …',
		honeypotLabel: 'Website (bitte leer lassen)',
		errorSummary: 'Bitte prüfen Sie Ihre Angaben:',
		errors: {
			phoneMissing: 'Bitte geben Sie Ihre Handynummer ein.',
			phoneInvalid: 'Das ist keine gültige Handynummer. Bitte mit Ländervorwahl eingeben, z. B. +49 151 23456789.',
			purposesMissing: 'Bitte kreuzen Sie mindestens ein Thema an, das Sie erhalten möchten.',
			purposeUnknown: 'Dieses Thema gibt es nicht mehr. Bitte laden Sie die Seite neu.',
			ageMissing: (age) => `Bitte bestätigen Sie, dass Sie mindestens ${age} Jahre alt sind.`,
			pageUrl: 'Die Adresse der Seite ist ungültig. Bitte laden Sie die Seite neu.',
			body: 'Das Formular kam unvollständig an. Bitte laden Sie die Seite neu und versuchen Sie es erneut.',
			tooMany: (minutes) => `Zu viele Anmeldungen in kurzer Zeit. Bitte versuchen Sie es in ${minutes} ${minutes === 1 ? 'Minute' : 'Minuten'} erneut.`,
			numberBusy: 'Für diese Nummer wurden gerade mehrere Anmeldungen gestartet. Bitte nutzen Sie den zuletzt erhaltenen WhatsApp-Link oder versuchen Sie es in einer Stunde erneut.',
			unavailable: 'Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es in einigen Minuten erneut.',
			network: 'Keine Verbindung. Bitte prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut.',
		},
		result: {
			heading: 'Fast geschafft: Bitte in WhatsApp bestätigen',
			message: 'Senden Sie jetzt die vorbereitete Nachricht per WhatsApp, um Ihre Anmeldung zu bestätigen.',
			openWhatsApp: 'WhatsApp öffnen und Nachricht senden',
			qrLabel: 'QR-Code, der WhatsApp mit der vorbereiteten Nachricht öffnet',
			qrHint: 'Am Computer? Scannen Sie den Code mit der Kamera Ihres Handys.',
			codeLabel: 'Ihr Code',
			validUntil: 'gültig bis',
			stepsHeading: 'So geht es weiter',
			steps: [
				'WhatsApp öffnet sich mit einer vorbereiteten Nachricht, die Ihren Code enthält.',
				'Senden Sie diese Nachricht von der Nummer, die Sie eingetragen haben.',
				'Sie erhalten eine kurze Bestätigung. Abmelden können Sie sich jederzeit mit STOP.',
			],
			nothingSent: 'Bis Sie die Nachricht senden, schreiben wir Ihnen nicht.',
		},
		and: 'und',
	},
	en: {
		locale: 'en-GB',
		pageTitle: 'Subscribe to WhatsApp messages',
		heading: 'Stay informed on WhatsApp',
		intro: 'Enter your mobile number and choose what you would like to receive. You then confirm with a WhatsApp message.',
		phoneLabel: 'Mobile number',
		phoneHint: 'With country code, e.g. +44 7700 900123',
		purposesLegend: 'What would you like to receive?',
		consentHeading: 'Consent',
		ageLabel: (age) => `I am at least ${age} years old.`,
		privacyLink: 'privacy notice',
		privacyNote: 'How we process your number (including through Meta, the provider of WhatsApp) is explained in our',
		imprintLink: 'Legal notice',
		submit: 'Continue to WhatsApp',
		submitting: 'Sending …',
		honeypotLabel: 'Website (leave this empty)',
		errorSummary: 'Please check your entries:',
		errors: {
			phoneMissing: 'Please enter your mobile number.',
			phoneInvalid: 'This is not a valid mobile number. Please enter it with country code, e.g. +44 7700 900123.',
			purposesMissing: 'Please tick at least one topic you would like to receive.',
			purposeUnknown: 'This topic is no longer offered. Please reload the page.',
			ageMissing: (age) => `Please confirm that you are at least ${age} years old.`,
			pageUrl: 'The page address is not valid. Please reload the page.',
			body: 'The form arrived incomplete. Please reload the page and try again.',
			tooMany: (minutes) => `Too many sign-ups in a short time. Please try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`,
			numberBusy: 'Several sign-ups were just started for this number. Please use the WhatsApp link you received last, or try again in an hour.',
			unavailable: 'Signing up is not possible right now. Please try again in a few minutes.',
			network: 'No connection. Please check your internet connection and try again.',
		},
		result: {
			heading: 'Almost done: please confirm in WhatsApp',
			message: 'Now send the prepared message on WhatsApp to confirm your sign-up.',
			openWhatsApp: 'Open WhatsApp and send the message',
			qrLabel: 'QR code that opens WhatsApp with the prepared message',
			qrHint: 'On a computer? Scan the code with your phone’s camera.',
			codeLabel: 'Your code',
			validUntil: 'valid until',
			stepsHeading: 'What happens next',
			steps: [
				'WhatsApp opens with a prepared message that contains your code.',
				'Send this message from the number you entered.',
				'You will get a short confirmation. You can unsubscribe at any time with STOP.',
			],
			nothingSent: 'Until you send the message, we will not write to you.',
		},
		and: 'and',
	},
};

/** "A", "A and B", "A, B and C": written out here, not by Intl, so the hashed text never changes with the runtime. */
function listOf(items: string[], and: string): string {
	if (items.length <= 1) return items.join('');
	return `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`;
}

/**
 * The consent text shown next to the boxes, in one language, with its version. It names every topic offered: the
 * page shows it before anything is ticked (and must work without JavaScript), so the text cannot depend on the
 * ticks; which topics were ticked is recorded separately, per purpose.
 */
export function consentTextFor(config: WidgetConfig, lang: WidgetLanguage): ConsentText {
	const custom = config.consentTexts[lang];
	const template = custom?.text ?? BUILT_IN_CONSENT[lang];
	const purposes = listOf(
		config.purposes.map((purpose) => purpose.label),
		STRINGS[lang].and,
	);
	// One pass, so a business name containing "{purposes}" is not expanded again.
	const text = template.replace(/\{(business|purposes)\}/g, (_, name: string) => (name === 'business' ? config.businessName : purposes));
	return { version: custom?.version ?? BUILT_IN_TEXT_VERSION, language: lang, text };
}

/**
 * The visitor's language: the first of theirs the widget offers, else the widget's first language.
 * Takes an Accept-Language header ("de-CH,de;q=0.9,en;q=0.8") or a list such as navigator.languages.
 */
export function pickLanguage(preferred: string | readonly string[] | undefined, config: Pick<WidgetConfig, 'languages'>): WidgetLanguage {
	const ranked =
		typeof preferred === 'string'
			? preferred
					.split(',')
					.map((part, index) => {
						const [tag, ...params] = part.trim().split(';');
						const q = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
						return { tag: tag.trim(), quality: q ? Number(q.slice(2)) : 1, index };
					})
					.filter((entry) => entry.tag !== '' && entry.quality > 0)
					.sort((a, b) => b.quality - a.quality || a.index - b.index)
					.map((entry) => entry.tag)
			: (preferred ?? []);
	for (const tag of ranked) {
		const primary = tag.toLowerCase().split('-')[0];
		const match = config.languages.find((language) => language === primary);
		if (match) return match;
	}
	return config.languages[0];
}
