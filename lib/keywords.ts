/**
 * STOP / START keyword detection for inbound WhatsApp messages (checklist 21).
 *
 * The rule, in words:
 * 1. Normalise: Unicode NFKC, lower case, every character that is not a letter, digit or space becomes a space
 *    (punctuation and emoji go), spaces collapse. "STOPP!!", "stop 🙏" and " Stop. " all become "stopp" / "stop".
 * 2. Whole message: the message is a keyword, compared without its spaces, so "opt out", "OPT-OUT" and "optout" or
 *    "STOP ALL" and "STOPALL" are the same.
 * 3. First word (the default mode): the keyword followed by exactly one courtesy or scope word ("STOP bitte",
 *    "stop please", "unsubscribe me", "stop all"), or one courtesy word followed by the keyword ("bitte abmelden",
 *    "please stop").
 * Everything else is 'none' and goes to a person: a sentence that happens to start with a keyword ("stop it please",
 * "cancel my order", "stop sending the wrong size") is a request a human must read, not a withdrawal, and a message
 * where the keyword is not in front ("Bus stop", "nicht stoppen") is not one either.
 */
import { ValidationError } from './errors';

export type KeywordLanguage = 'de' | 'en';
export type KeywordKind = 'stop' | 'start';
export type MatchMode = 'whole-message' | 'first-word';

export interface Classification {
	kind: KeywordKind | 'none';
	/** The keyword as listed, e.g. 'STOPP' or 'OPT OUT'. */
	keyword?: string;
	/** The language to confirm in: from the keyword, else from the courtesy word ("stop bitte" is German). */
	language?: KeywordLanguage;
}

/** A keyword, optionally with the language its confirmation should use. */
export type KeywordEntry = string | { word: string; language?: KeywordLanguage };

export interface KeywordOptions {
	/** 'first-word' (default) also accepts the keyword with one courtesy word; 'whole-message' only the bare keyword. */
	mode?: MatchMode;
	stopWords?: KeywordEntry[];
	startWords?: KeywordEntry[];
	/** True: the lists above replace the defaults. False (default): they are added to them. */
	replaceDefaults?: boolean;
}

const DEFAULT_STOP_WORDS: KeywordEntry[] = [
	'STOP',
	{ word: 'STOPP', language: 'de' },
	{ word: 'ABMELDEN', language: 'de' },
	{ word: 'ABBESTELLEN', language: 'de' },
	{ word: 'STORNIEREN', language: 'de' },
	{ word: 'UNSUBSCRIBE', language: 'en' },
	{ word: 'CANCEL', language: 'en' },
	{ word: 'END', language: 'en' },
	{ word: 'QUIT', language: 'en' },
	{ word: 'OPTOUT', language: 'en' },
	{ word: 'OPT OUT', language: 'en' },
	{ word: 'STOPALL', language: 'en' },
	{ word: 'REVOKE', language: 'en' },
	'INFOSTOP',
];

// YES is deliberately absent: people answer "yes" to all kinds of questions.
const DEFAULT_START_WORDS: KeywordEntry[] = [
	'START',
	{ word: 'ANMELDEN', language: 'de' },
	{ word: 'UNSTOP', language: 'en' },
	'INFOSTART',
];

const listed = (entries: KeywordEntry[]) => entries.map((entry) => (typeof entry === 'string' ? entry : entry.word)).join(', ');
/** The default words, as a settings description names them. */
export const DEFAULT_STOP_WORD_LIST = listed(DEFAULT_STOP_WORDS);
export const DEFAULT_START_WORD_LIST = listed(DEFAULT_START_WORDS);

/** Words that may stand next to a keyword without turning the message into a sentence a person must read. */
const COURTESY_WORDS: ReadonlyMap<string, KeywordLanguage | undefined> = new Map([
	['bitte', 'de'],
	['danke', 'de'],
	['jetzt', 'de'],
	['sofort', 'de'],
	['alle', 'de'],
	['alles', 'de'],
	['werbung', 'de'],
	['nachrichten', 'de'],
	['please', 'en'],
	['pls', 'en'],
	['plz', 'en'],
	['thanks', 'en'],
	['now', 'en'],
	['all', 'en'],
	['me', 'en'],
	['promotions', 'en'],
	['messages', 'en'],
	['ok', undefined],
]);

interface Keyword {
	listed: string;
	kind: KeywordKind;
	tokens: string[];
	compact: string;
	language?: KeywordLanguage;
}

export function normalise(text: string): string {
	return text
		.normalize('NFKC')
		.toLowerCase()
		.replace(/[^\p{L}\p{N}\s]+/gu, ' ')
		.replace(/\s+/g, ' ')
		.trim();
}

function toKeyword(entry: KeywordEntry, kind: KeywordKind, setting: string): Keyword {
	const { word, language } = typeof entry === 'string' ? { word: entry, language: undefined } : entry;
	const normalised = normalise(String(word ?? ''));
	if (normalised === '') {
		throw new ValidationError(setting, `The keyword '${String(word)}' has no letters or digits`, 'Use a word such as STOP or ABMELDEN');
	}
	return { listed: String(word).trim(), kind, tokens: normalised.split(' '), compact: normalised.replace(/ /g, ''), language };
}

function buildKeywords(options: KeywordOptions): Keyword[] {
	const stop = [...(options.replaceDefaults ? [] : DEFAULT_STOP_WORDS), ...(options.stopWords ?? [])];
	const start = [...(options.replaceDefaults ? [] : DEFAULT_START_WORDS), ...(options.startWords ?? [])];
	const keywords = [
		...stop.map((entry) => toKeyword(entry, 'stop', 'stopWords')),
		...start.map((entry) => toKeyword(entry, 'start', 'startWords')),
	];
	const kinds = new Map<string, Keyword>();
	for (const keyword of keywords) {
		const other = kinds.get(keyword.compact);
		if (other && other.kind !== keyword.kind) {
			throw new ValidationError(
				keyword.kind === 'stop' ? 'stopWords' : 'startWords',
				`'${keyword.listed}' is both a STOP and a START word`,
				`Remove it from one of the two lists`,
			);
		}
		kinds.set(keyword.compact, keyword);
	}
	return keywords;
}

const DEFAULT_KEYWORDS = buildKeywords({});

function sameTokens(a: readonly string[], b: readonly string[]): boolean {
	return a.length === b.length && a.every((token, i) => token === b[i]);
}

/** The courtesy word around the keyword, or null when the message is not keyword + one courtesy word. */
function courtesyAround(tokens: string[], keyword: Keyword): { word: string } | null {
	if (tokens.length !== keyword.tokens.length + 1) return null;
	if (sameTokens(tokens.slice(0, -1), keyword.tokens) && COURTESY_WORDS.has(tokens[tokens.length - 1])) {
		return { word: tokens[tokens.length - 1] };
	}
	if (sameTokens(tokens.slice(1), keyword.tokens) && COURTESY_WORDS.has(tokens[0])) return { word: tokens[0] };
	return null;
}

/** A setting's comma- or line-separated words as a list. */
export function wordList(text: string): string[] {
	return text
		.split(/[,\n]/)
		.map((word) => word.trim())
		.filter(Boolean);
}

/** Throws, naming the setting, when the keyword lists cannot be used (a word without letters, a word in both lists). */
export function assertKeywords(options: KeywordOptions): void {
	buildKeywords(options);
}

export function classifyMessage(text: string, options: KeywordOptions = {}): Classification {
	const keywords = options.stopWords || options.startWords || options.replaceDefaults ? buildKeywords(options) : DEFAULT_KEYWORDS;
	const normalised = normalise(typeof text === 'string' ? text : '');
	if (normalised === '') return { kind: 'none' };

	const compact = normalised.replace(/ /g, '');
	const whole = keywords.find((keyword) => keyword.compact === compact);
	if (whole) return { kind: whole.kind, keyword: whole.listed, language: whole.language };
	if ((options.mode ?? 'first-word') === 'whole-message') return { kind: 'none' };

	const tokens = normalised.split(' ');
	for (const keyword of keywords) {
		const courtesy = courtesyAround(tokens, keyword);
		if (courtesy) {
			return { kind: keyword.kind, keyword: keyword.listed, language: keyword.language ?? COURTESY_WORDS.get(courtesy.word) };
		}
	}
	return { kind: 'none' };
}

/** The language of a default keyword ('STOPP' → 'de', 'UNSUBSCRIBE' → 'en'); undefined for shared words like STOP. */
export function languageOf(keyword: string): KeywordLanguage | undefined {
	const compact = normalise(keyword).replace(/ /g, '');
	return DEFAULT_KEYWORDS.find((candidate) => candidate.compact === compact)?.language;
}
