/**
 * The few messages the business sends on its own behalf in the consent process. They name the sender, say what
 * happened and how to stop or rejoin, and carry no advertising (BGH VI ZR 134/15; checklist 13, 23).
 */
export type ReplyLanguage = 'de' | 'en';

export interface ReplyContext {
	business: string;
	/** The hosted sign-up page, for a fresh double opt-in. */
	signupUrl?: string;
	/** Labels of the purposes confirmed, e.g. "Angebote und Neuigkeiten". */
	purposes?: string[];
}

const list = (items: string[], and: string) =>
	items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`;

export function optInConfirmation(language: ReplyLanguage, context: ReplyContext): string {
	const purposes = context.purposes ?? [];
	return language === 'de'
		? `Danke! Ihre Anmeldung bei ${context.business} ist bestätigt. Sie erhalten hier auf WhatsApp: ${list(purposes, 'und') || 'die gewählten Nachrichten'}. ` +
				'Abmelden können Sie sich jederzeit, indem Sie STOP schreiben.'
		: `Thank you! Your sign-up with ${context.business} is confirmed. You will receive here on WhatsApp: ${list(purposes, 'and') || 'the messages you chose'}. ` +
				'You can unsubscribe at any time by writing STOP.';
}

export function withdrawalConfirmation(language: ReplyLanguage, context: ReplyContext, alreadyWithdrawn: boolean): string {
	const rejoin = context.signupUrl
		? language === 'de'
			? ` Wenn Sie es sich anders überlegen, können Sie sich hier neu anmelden: ${context.signupUrl}`
			: ` If you change your mind, you can sign up again here: ${context.signupUrl}`
		: '';
	if (language === 'de') {
		return (
			(alreadyWithdrawn
				? `Sie sind bereits abgemeldet: ${context.business} sendet Ihnen keine Nachrichten mehr über WhatsApp.`
				: `Sie sind abgemeldet. ${context.business} sendet Ihnen keine Nachrichten mehr über WhatsApp.`) + rejoin
		);
	}
	return (
		(alreadyWithdrawn
			? `You are already unsubscribed: ${context.business} no longer sends you messages on WhatsApp.`
			: `You are unsubscribed. ${context.business} will no longer send you messages on WhatsApp.`) + rejoin
	);
}

/** START never re-subscribes silently: the person gets the way to a new double opt-in (checklist 26). */
export function rejoinReply(language: ReplyLanguage, context: ReplyContext): string {
	if (language === 'de') {
		return context.signupUrl
			? `Schön, dass Sie wieder dabei sein möchten! Bitte melden Sie sich hier neu an und bestätigen Sie Ihre Nummer: ${context.signupUrl}`
			: `Schön, dass Sie wieder dabei sein möchten! Bitte melden Sie sich über das Formular auf der Website von ${context.business} neu an.`;
	}
	return context.signupUrl
		? `Glad you want to come back! Please sign up again here and confirm your number: ${context.signupUrl}`
		: `Glad you want to come back! Please sign up again with the form on the ${context.business} website.`;
}

export function codeExpiredReply(language: ReplyLanguage, context: ReplyContext): string {
	const where = context.signupUrl ?? (language === 'de' ? `auf der Website von ${context.business}` : `on the ${context.business} website`);
	return language === 'de'
		? `Dieser Code ist nicht mehr gültig. Bitte melden Sie sich erneut an, um einen neuen zu erhalten: ${where}`
		: `This code is no longer valid. Please sign up again to get a new one: ${where}`;
}
