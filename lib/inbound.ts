/**
 * What an inbound WhatsApp message means for consent: a withdrawal (STOP and its variants, Meta's "Stop promotions"
 * button), a wish to rejoin (START), or anything else (a code, a question for the helpdesk). Shared by the Opt-In
 * Trigger, which commits the withdrawal before it answers Meta, and Handle STOP, which confirms it.
 */
import { classifyMessage, type KeywordLanguage, type KeywordOptions } from './keywords';

export interface InboundContent {
	type: string;
	text: string;
	buttonPayload?: string;
}

export type Meaning =
	| { kind: 'withdraw'; via: 'keyword' | 'stop_promotions_button'; keyword?: string; language?: KeywordLanguage }
	| { kind: 'rejoin'; keyword?: string; language?: KeywordLanguage }
	| { kind: 'other' };

/** The payload or title of the opt-out quick reply on Meta's marketing templates, in the languages we know. */
const STOP_BUTTONS = new Map<string, KeywordLanguage>([
	['stop promotions', 'en'],
	['stop marketing', 'en'],
	['unsubscribe', 'en'],
	['werbung stoppen', 'de'],
	['angebote stoppen', 'de'],
	['marketing stoppen', 'de'],
	['abmelden', 'de'],
]);

export function interpret(message: InboundContent, keywords: KeywordOptions = {}): Meaning {
	if (message.type === 'button' || message.type === 'interactive') {
		for (const label of [message.buttonPayload, message.text]) {
			const language = label === undefined ? undefined : STOP_BUTTONS.get(label.trim().toLowerCase());
			if (language) return { kind: 'withdraw', via: 'stop_promotions_button', keyword: label, language };
		}
	}
	const classified = classifyMessage(message.text, keywords);
	if (classified.kind === 'stop') return { kind: 'withdraw', via: 'keyword', keyword: classified.keyword, language: classified.language };
	if (classified.kind === 'start') return { kind: 'rejoin', keyword: classified.keyword, language: classified.language };
	return { kind: 'other' };
}

const GERMAN_SPEAKING_PREFIXES = ['49', '43', '41', '423'];

/** The language to answer in: the keyword's own, else German for German-speaking countries' numbers, else the fallback. */
export function replyLanguage(meaning: Meaning, waId: string | undefined, fallback: KeywordLanguage): KeywordLanguage {
	if (meaning.kind !== 'other' && meaning.language) return meaning.language;
	if (waId && GERMAN_SPEAKING_PREFIXES.some((prefix) => waId.startsWith(prefix))) return 'de';
	return fallback;
}
