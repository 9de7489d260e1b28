/**
 * What an inbound WhatsApp message means for consent: a withdrawal (STOP and its variants, Meta's "Stop promotions"
 * button), a wish to rejoin (START), a question for the help text (HELP, INFO), a sentence that probably withdraws
 * (for a person to confirm), or anything else (a code, a question for the helpdesk). Shared by the Opt-In Trigger,
 * which commits the withdrawal before it answers Meta, and Handle STOP, which confirms it.
 */
import { classifyMessage, type KeywordLanguage, type KeywordOptions } from './keywords';
import { withdrawalWish } from './withdrawal-wish';
import type { Ledger } from './consent/ledger';
import type { Owing } from './consent/outbox';
import type { WithdrawalResult } from './consent/types';
import type { PreferenceResult } from './consent/withdrawal';
import { parseTriggerItem } from './whatsapp/webhook';

export interface InboundContent {
	type: string;
	text: string;
	buttonPayload?: string;
}

export type Meaning =
	| { kind: 'withdraw'; via: 'keyword' | 'stop_promotions_button'; keyword?: string; language?: KeywordLanguage }
	| { kind: 'rejoin'; keyword?: string; language?: KeywordLanguage }
	| { kind: 'help'; keyword?: string; language?: KeywordLanguage }
	| { kind: 'probable_withdrawal'; pattern: string; language: KeywordLanguage }
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
	if (classified.kind === 'help') return { kind: 'help', keyword: classified.keyword, language: classified.language };
	const wish = withdrawalWish(message.text);
	if (wish) return { kind: 'probable_withdrawal', pattern: wish.pattern, language: wish.language };
	return { kind: 'other' };
}

/**
 * Country calling codes whose country speaks one of the reply languages, longest first. Countries with several
 * (Belgium, Luxembourg) are left to the fallback; Switzerland counts as German, as before.
 */
const COUNTRY_LANGUAGES: ReadonlyArray<[string, KeywordLanguage]> = [
	['423', 'de'],
	['351', 'pt'],
	['49', 'de'],
	['43', 'de'],
	['41', 'de'],
	['33', 'fr'],
	['34', 'es'],
	['39', 'it'],
	['31', 'nl'],
	['48', 'pl'],
	['55', 'pt'],
];

/** The language to answer in: the keyword's own, else the language of the number's country, else the fallback. */
export function replyLanguage(meaning: Meaning, waId: string | undefined, fallback: KeywordLanguage): KeywordLanguage {
	if (meaning.kind !== 'other' && meaning.language) return meaning.language;
	const country = waId ? COUNTRY_LANGUAGES.find(([prefix]) => waId.startsWith(prefix)) : undefined;
	return country?.[1] ?? fallback;
}

export type InboundItem =
	| (InboundContent & { kind: 'message'; messageId: string; from?: string; userId?: string; at: Date })
	| { kind: 'preference'; waId?: string; userId?: string; value: 'stop' | 'resume'; at: Date };

/**
 * Reads an item from this package's Opt-In Trigger or from n8n's built-in WhatsApp Trigger, whose items carry the
 * webhook's `value` (messages, contacts, metadata). Undefined for items that carry no message (e.g. statuses).
 */
export function inboundFromItem(json: Record<string, unknown>): InboundItem | undefined {
	if (typeof json.event === 'string') {
		if (json.event === 'marketing.preference') {
			return { kind: 'preference', waId: json.waId as string, userId: json.userId as string, value: json.value as 'stop' | 'resume', at: new Date(String(json.at)) };
		}
		const message = json.message as { id?: string; type?: string; text?: string; buttonPayload?: string; at?: string } | undefined;
		if (!message?.id) return undefined;
		return {
			kind: 'message',
			messageId: message.id,
			from: json.waId as string | undefined,
			userId: json.userId as string | undefined,
			type: message.type ?? 'text',
			text: message.text ?? '',
			buttonPayload: message.buttonPayload,
			at: new Date(message.at ?? String(json.at)),
		};
	}
	const event = parseTriggerItem(json).find((candidate) => candidate.kind === 'message' || candidate.kind === 'preference');
	if (event?.kind === 'message') {
		return { kind: 'message', messageId: event.messageId, from: event.from, userId: event.userId, type: event.type, text: event.text, buttonPayload: event.buttonPayload, at: event.at };
	}
	if (event?.kind === 'preference') return { kind: 'preference', waId: event.waId, userId: event.userId, value: event.value, at: event.at };
	return undefined;
}

interface SentMessage {
	messageId: string;
	from?: string;
	userId?: string;
	text: string;
	at: Date;
}

/**
 * A message that means STOP, made a durable withdrawal of what the ledger's withdrawal policy says a STOP withdraws.
 * The Opt-In Trigger and Handle STOP both call this: the same message withdraws once, and the second caller gets the
 * first result, with the scope that was recorded.
 */
export function withdrawByMessage(ledger: Ledger, message: SentMessage, via: 'keyword' | 'stop_promotions_button', owing?: Owing<Omit<WithdrawalResult, 'duplicate'>>) {
	return ledger.revoke(
		{
		waId: message.from,
		userId: message.userId,
		purposes: ledger.withdrawalPolicy.scope,
		channel: via === 'keyword' ? 'whatsapp' : 'whatsapp_button',
		messageId: message.messageId,
		evidence: { text: message.text },
		at: message.at,
		},
		owing,
	);
}

/** Meta's in-app switch, keyed so that a redelivered preference webhook changes nothing twice. */
export function applyPreference(ledger: Ledger, preference: { waId?: string; userId?: string; value: 'stop' | 'resume'; at: Date }, owing?: Owing<PreferenceResult>) {
	return ledger.setMarketingPreference(
		{ waId: preference.waId, userId: preference.userId, value: preference.value, at: preference.at },
		`preference:${preference.waId ?? preference.userId}:${preference.value}:${preference.at.getTime()}`,
		owing,
	);
}

/** Where a reply goes: the number (E.164, as Send WhatsApp takes it), or the user id of a username-only user. */
export function replyTo(message: { from?: string; userId?: string }, phone?: string): string | undefined {
	return phone ?? (message.from ? `+${message.from}` : message.userId);
}
