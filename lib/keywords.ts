/**
 * STOP / START / HELP keyword detection for inbound WhatsApp messages (checklist 21).
 *
 * The rule, in words:
 * 1. Normalise: Unicode NFKC, lower case, accents dropped ("ARRÊT" = "arret", "Kündigen" = "kundigen", Polish ł = l),
 *    every character that is not a letter, digit or space becomes a space (punctuation and emoji go), spaces
 *    collapse. "STOPP!!", "stop 🙏" and " Stop. " all become "stopp" / "stop".
 * 2. Whole message: the message is a keyword, compared without its spaces, so "opt out", "OPT-OUT" and "optout" or
 *    "STOP ALL" and "STOPALL" are the same.
 * 3. First word (the default mode): the keyword followed by exactly one courtesy or scope word ("STOP bitte",
 *    "stop please", "unsubscribe me", "stop all", "stop merci"), or one courtesy word followed by the keyword
 *    ("bitte abmelden", "please stop").
 * Everything else is 'none' and goes to a person: a sentence that happens to start with a keyword ("stop it please",
 * "cancel my order", "stop sending the wrong size") is a request a human must read, not a withdrawal, and a message
 * where the keyword is not in front ("Bus stop", "nicht stoppen") is not one either. A sentence that says it wants
 * out ("ich möchte mich bitte abmelden") is recognised by `lib/withdrawal-wish.ts`, for a person to confirm.
 *
 * The default words, and why (no EU-wide list exists; neither Meta nor the GDPR names keywords: Meta's marketing
 * templates offer a "Stop promotions" quick reply, see lib/inbound.ts, and the GDPR only asks that withdrawing be as
 * easy as consenting, Art. 7(3)). Each language takes what its national SMS practice uses, since that is what people
 * there type out of habit:
 * - everywhere: STOP. It is the SMS standard across the EU: France's CNIL requires the "STOP SMS" mention on
 *   commercial SMS, the Dutch SMS-Gedragscode accepts STOP (and UIT), Belgium's Ethische Commissie voor de
 *   telecommunicatie says "send STOP", Italian and Polish SMS providers print "STOP" as the opt-out. START and INFO
 *   are understood in every language and are shared too.
 * - en: the CTIA/US carrier list (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPT OUT, REVOKE; START, UNSTOP;
 *   HELP, INFO), as AWS End User Messaging, Braze and Sakari document it. YES is left out: people answer "yes" to
 *   all kinds of questions.
 * - de: STOPP, ABMELDEN, ABBESTELLEN, STORNIEREN; ANMELDEN; HILFE. No official list: the words German shops print
 *   ("Abmelden mit STOP"), chosen by us.
 * - fr: ARRET (the French STOP word of Canada's CRTC rules, in AWS's required list), DESABONNER, DESINSCRIRE; AIDE
 *   (CRTC's French HELP). France itself only mandates STOP.
 * - es: BAJA ("dar de baja", what Spanish operators such as Movistar answer to; the MMA lists it), SALIR and
 *   DETENER (Sinch's WhatsApp defaults), PARAR (shared with pt); ALTA as START ("dar de alta"); AYUDA.
 * - it: CANCELLAMI, DISISCRIVIMI; ISCRIVIMI; AIUTO. No national list; Italian SMS providers print STOP.
 * - nl: UIT and AFMELDEN (the Dutch SMS-Gedragscode: "STOP of UIT" suffices to unsubscribe; HELP there returns the
 *   unsubscribe information); AANMELDEN; HELP, HULP.
 * - pl: WYPISZ ("sign me out"), REZYGNUJĘ ("I resign"); ZAPISZ; POMOC. No national list; chosen by us.
 * - pt: SAIR and PARAR (Sinch's WhatsApp defaults for Portuguese), DESCADASTRAR (Brazilian WhatsApp practice);
 *   INSCREVER; AJUDA.
 * Left out on purpose, because they are ordinary words or answers elsewhere and would withdraw by mistake: FINE
 * (Italian "end", English "fine" = okay), FIN (not on any list), BASTA (Italian/Spanish "enough", also "basta così" =
 * "that's all, thanks"), ALTO (Spanish "halt", Italian/Portuguese "tall"), PARE (Italian "it seems"), NEE/NIE/NO/NON
 * (plain "no"), OFF, and the "cancel" of the new languages (CANCELAR, ANNULLA, ANNULER, ANULUJ: in a chat with order
 * updates and appointments, "cancelar" alone most often means "cancel that appointment"; such a message goes to a
 * person). English CANCEL and German STORNIEREN stay for the carriers' list and for what earlier versions matched.
 * The unit tests hold the list against a lexicon of everyday words of all eight languages.
 */
import { ValidationError } from './errors';

export const KEYWORD_LANGUAGES = ['de', 'en', 'fr', 'es', 'it', 'nl', 'pl', 'pt'] as const;
export type KeywordLanguage = (typeof KEYWORD_LANGUAGES)[number];
export type KeywordKind = 'stop' | 'start' | 'help';
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
	/** True: the lists above replace the default STOP and START words. False (default): they are added to them. */
	replaceDefaults?: boolean;
}

const words = (language: KeywordLanguage, ...list: string[]): KeywordEntry[] => list.map((word) => ({ word, language }));

const DEFAULT_STOP_WORDS: KeywordEntry[] = [
	'STOP',
	...words('de', 'STOPP', 'ABMELDEN', 'ABBESTELLEN', 'STORNIEREN'),
	...words('en', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'OPT OUT', 'STOPALL', 'REVOKE'),
	'INFOSTOP',
	...words('fr', 'ARRET', 'DESABONNER', 'DESINSCRIRE'),
	...words('es', 'BAJA', 'SALIR', 'DETENER'),
	'PARAR',
	...words('it', 'CANCELLAMI', 'DISISCRIVIMI'),
	...words('nl', 'UIT', 'AFMELDEN'),
	...words('pl', 'WYPISZ', 'REZYGNUJĘ'),
	...words('pt', 'SAIR', 'DESCADASTRAR'),
];

const DEFAULT_START_WORDS: KeywordEntry[] = [
	'START',
	...words('de', 'ANMELDEN'),
	...words('en', 'UNSTOP'),
	'INFOSTART',
	...words('es', 'ALTA'),
	...words('it', 'ISCRIVIMI'),
	...words('nl', 'AANMELDEN'),
	...words('pl', 'ZAPISZ'),
	...words('pt', 'INSCREVER'),
];

/** HELP is the same in English and Dutch; INFO everywhere. */
const DEFAULT_HELP_WORDS: KeywordEntry[] = [
	'HELP',
	'INFO',
	...words('de', 'HILFE'),
	...words('fr', 'AIDE'),
	...words('es', 'AYUDA'),
	...words('it', 'AIUTO'),
	...words('nl', 'HULP'),
	...words('pl', 'POMOC'),
	...words('pt', 'AJUDA'),
];

/** Every default word with its intent, for the tests and the docs. */
export const DEFAULT_KEYWORD_ENTRIES: ReadonlyArray<{ kind: KeywordKind; entry: KeywordEntry }> = [
	...DEFAULT_STOP_WORDS.map((entry) => ({ kind: 'stop' as const, entry })),
	...DEFAULT_START_WORDS.map((entry) => ({ kind: 'start' as const, entry })),
	...DEFAULT_HELP_WORDS.map((entry) => ({ kind: 'help' as const, entry })),
];

const listed = (entries: KeywordEntry[]) => entries.map((entry) => (typeof entry === 'string' ? entry : entry.word)).join(', ');
/** The default words, as a settings description names them. */
export const DEFAULT_STOP_WORD_LIST = listed(DEFAULT_STOP_WORDS);
export const DEFAULT_START_WORD_LIST = listed(DEFAULT_START_WORDS);

/** Words that may stand next to a keyword without turning the message into a sentence a person must read. */
export const COURTESY_WORDS: ReadonlyMap<string, KeywordLanguage | undefined> = new Map<string, KeywordLanguage | undefined>([
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
	['merci', 'fr'],
	['svp', 'fr'],
	['stp', 'fr'],
	['gracias', 'es'],
	['porfa', 'es'],
	['ya', 'es'],
	['grazie', 'it'],
	['subito', 'it'],
	['tutto', 'it'],
	['aub', 'nl'],
	['alsjeblieft', 'nl'],
	['graag', 'nl'],
	['bedankt', 'nl'],
	['prosze', 'pl'],
	['dziekuje', 'pl'],
	['mnie', 'pl'],
	['obrigado', 'pt'],
	['obrigada', 'pt'],
	['tudo', 'pt'],
	['ok', undefined],
]);

interface Keyword {
	listed: string;
	kind: KeywordKind;
	tokens: string[];
	compact: string;
	language?: KeywordLanguage;
}

/**
 * Lower case without accents, punctuation or emoji, one space between words. Accents go because people type
 * "arret" for "arrêt" and "rezygnuje" for "rezygnuję"; no default word differs from another only by an accent.
 */
export function normalise(text: string): string {
	return text
		.normalize('NFKD')
		.replace(/\p{M}+/gu, '')
		.normalize('NFKC')
		.toLowerCase()
		.replace(/ł/g, 'l')
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
	// The operator's own words win over a default HELP word: "INFO" made a STOP word withdraws.
	const help = DEFAULT_HELP_WORDS.map((entry) => toKeyword(entry, 'help', 'helpWords')).filter((keyword) => !kinds.has(keyword.compact));
	return [...keywords, ...help];
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
