import fc from 'fast-check';
import { ValidationError } from '../../lib/errors';
import { classifyMessage, DEFAULT_KEYWORD_ENTRIES, languageOf, type Classification, type KeywordKind, type KeywordLanguage } from '../../lib/keywords';
import { withdrawalWish } from '../../lib/withdrawal-wish';

const stop = (keyword: string, language?: KeywordLanguage): Classification => ({ kind: 'stop', keyword, language });
const start = (keyword: string, language?: KeywordLanguage): Classification => ({ kind: 'start', keyword, language });
const none: Classification = { kind: 'none' };

describe('classifyMessage with the defaults', () => {
	const table: [string, Classification][] = [
		// bare keywords, any case, with punctuation, emoji and spaces around
		['STOP', stop('STOP')],
		['stop', stop('STOP')],
		[' Stop. ', stop('STOP')],
		['stop 🙏', stop('STOP')],
		['🛑 STOP 🛑', stop('STOP')],
		['Stopp', stop('STOPP', 'de')],
		['STOPP!!', stop('STOPP', 'de')],
		['ABMELDEN.', stop('ABMELDEN', 'de')],
		['abbestellen', stop('ABBESTELLEN', 'de')],
		['Stornieren', stop('STORNIEREN', 'de')],
		['Unsubscribe', stop('UNSUBSCRIBE', 'en')],
		['cancel', stop('CANCEL', 'en')],
		['END', stop('END', 'en')],
		['quit!', stop('QUIT', 'en')],
		['revoke', stop('REVOKE', 'en')],
		['OPTOUT', stop('OPTOUT', 'en')],
		['opt out', stop('OPTOUT', 'en')],
		['Opt-Out', stop('OPTOUT', 'en')],
		['STOPALL', stop('STOPALL', 'en')],
		['STOP ALL', stop('STOPALL', 'en')],
		['Info-Stop', stop('INFOSTOP')],
		['ＳＴＯＰ', stop('STOP')], // full-width letters from some keyboards
		// keyword plus one courtesy word
		['STOP bitte', stop('STOP', 'de')],
		['stop please', stop('STOP', 'en')],
		['Bitte abmelden!', stop('ABMELDEN', 'de')],
		['please stop', stop('STOP', 'en')],
		['unsubscribe me', stop('UNSUBSCRIBE', 'en')],
		['Stop promotions', stop('STOP', 'en')],
		['STOPP, danke', stop('STOPP', 'de')],
		// start words
		['START', start('START')],
		['start.', start('START')],
		['Anmelden', start('ANMELDEN', 'de')],
		['unstop', start('UNSTOP', 'en')],
		['INFOSTART', start('INFOSTART')],
		['start bitte', start('START', 'de')],
		// near-misses: a person reads these
		['stop it please', none],
		['stop it', none],
		['Can you stop sending the wrong size?', none],
		['Bus stop', none],
		['nicht stoppen', none],
		['stoppen', none],
		['Cancel my order', none],
		['cancel order 4711', none],
		['I want to unsubscribe', none],
		['The end of the month works', none],
		['stop bitte bitte', none],
		['stopper', none],
		['YES', none],
		['ja', none],
		['K7Q2XM', none],
		['Anmeldung bestätigen: K7Q2XM', none],
		// nothing at all
		['🙏🙏', none],
		['!!!', none],
		['', none],
		['   ', none],
	];

	test.each(table)('%j → %j', (text, expected) => {
		expect(classifyMessage(text)).toEqual(expected);
	});

	test('the table covers at least 30 variants and near-misses', () => {
		expect(table.length).toBeGreaterThanOrEqual(30);
	});
});

describe('classifyMessage options', () => {
	test("'whole-message' mode accepts only the bare keyword", () => {
		expect(classifyMessage('STOP!', { mode: 'whole-message' })).toEqual(stop('STOP'));
		expect(classifyMessage('stop please', { mode: 'whole-message' })).toEqual(none);
		expect(classifyMessage('opt out', { mode: 'whole-message' })).toEqual(stop('OPTOUT', 'en'));
	});

	test('extra words extend the defaults', () => {
		const options = { stopWords: ['Halt', { word: 'Austragen', language: 'de' as const }], startWords: ['Weiter'] };
		expect(classifyMessage('halt', options)).toEqual(stop('Halt'));
		expect(classifyMessage('austragen bitte', options)).toEqual(stop('Austragen', 'de'));
		expect(classifyMessage('WEITER', options)).toEqual(start('Weiter'));
		expect(classifyMessage('STOPP', options)).toEqual(stop('STOPP', 'de'));
	});

	test('replaceDefaults keeps only the given words', () => {
		const options = { stopWords: ['Halt'], startWords: ['Los'], replaceDefaults: true };
		expect(classifyMessage('halt', options)).toEqual(stop('Halt'));
		expect(classifyMessage('STOP', options)).toEqual(none);
		expect(classifyMessage('START', options)).toEqual(none);
		expect(classifyMessage('los', options)).toEqual(start('Los'));
	});

	test('a word on both lists is refused with the fix', () => {
		expect(() => classifyMessage('x', { startWords: ['Stop'] })).toThrow(ValidationError);
		expect(() => classifyMessage('x', { startWords: ['Stop'] })).toThrow("'Stop' is both a STOP and a START word");
	});

	test('a keyword without letters is refused', () => {
		expect(() => classifyMessage('x', { stopWords: ['!!'] })).toThrow(expect.objectContaining({ field: 'stopWords' }));
	});
});

describe('languageOf', () => {
	test.each([
		['STOPP', 'de'],
		['abmelden', 'de'],
		['Anmelden', 'de'],
		['UNSUBSCRIBE', 'en'],
		['opt out', 'en'],
		['STOP', undefined],
		['START', undefined],
		['something else', undefined],
	])('%s → %s', (keyword, language) => {
		expect(languageOf(keyword)).toBe(language);
	});
});

/** Each language's default words and the intent and language they carry; shared words (STOP, START, INFO…) have none. */
describe('the default words of the eight languages', () => {
	const table: [string, KeywordKind, KeywordLanguage | undefined][] = [
		['HILFE', 'help', 'de'],
		['Stopp', 'stop', 'de'],
		['anmelden', 'start', 'de'],
		['help', 'help', undefined],
		['INFO', 'help', undefined],
		['Arrêt', 'stop', 'fr'],
		['ARRET', 'stop', 'fr'],
		['Désabonner', 'stop', 'fr'],
		['désinscrire', 'stop', 'fr'],
		['Aide', 'help', 'fr'],
		['BAJA', 'stop', 'es'],
		['salir', 'stop', 'es'],
		['Detener', 'stop', 'es'],
		['alta', 'start', 'es'],
		['Ayuda', 'help', 'es'],
		['PARAR', 'stop', undefined],
		['Cancellami', 'stop', 'it'],
		['disiscrivimi', 'stop', 'it'],
		['Iscrivimi', 'start', 'it'],
		['aiuto', 'help', 'it'],
		['UIT', 'stop', 'nl'],
		['afmelden', 'stop', 'nl'],
		['Aanmelden', 'start', 'nl'],
		['hulp', 'help', 'nl'],
		['Wypisz', 'stop', 'pl'],
		['REZYGNUJĘ', 'stop', 'pl'],
		['rezygnuje', 'stop', 'pl'],
		['zapisz', 'start', 'pl'],
		['POMOC', 'help', 'pl'],
		['Sair', 'stop', 'pt'],
		['descadastrar', 'stop', 'pt'],
		['inscrever', 'start', 'pt'],
		['AJUDA', 'help', 'pt'],
	];
	test.each(table)('%s → %s (%s)', (text, kind, language) => {
		expect(classifyMessage(text)).toMatchObject({ kind, language });
	});

	test.each([
		['stop merci', 'fr'],
		['Baja gracias', 'es'],
		['stop grazie', 'it'],
		['afmelden aub', 'nl'],
		['wypisz mnie', 'pl'],
		['Sair obrigada', 'pt'],
		['aide svp', 'fr'],
	])('a keyword with a courtesy word of its language: %s', (text, language) => {
		expect(classifyMessage(text).language).toBe(language);
		expect(classifyMessage(text).kind).not.toBe('none');
	});

	test('a STOP word made a HELP default word wins: the operator\'s STOP list decides', () => {
		expect(classifyMessage('info', { stopWords: ['INFO'] })).toEqual(stop('INFO'));
		expect(classifyMessage('info')).toEqual({ kind: 'help', keyword: 'INFO', language: undefined });
	});
});

/**
 * Everyday words and short answers of the eight languages, the ones that stand alone as a whole message ("fine",
 * "basta", "nee"). None may withdraw: a STOP word that is an ordinary word elsewhere withdraws people by mistake.
 */
const EVERYDAY_WORDS = [
	// en
	'fine', 'ok', 'okay', 'yes', 'no', 'thanks', 'thank you', 'done', 'finished', 'later', 'tomorrow', 'bye', 'hello', 'wait', 'enough', 'cancel order', 'stop by',
	// de
	'ja', 'nein', 'danke', 'genug', 'ende', 'fertig', 'halt', 'gut', 'passt', 'tschüss', 'morgen', 'später', 'aus', 'schluss', 'kündigen bitte nicht',
	// fr
	'oui', 'non', 'merci', 'fin', 'assez', 'annuler', 'ça va', 'bon', 'd\'accord', 'salut', 'plus tard', 'demain',
	// es
	'sí', 'no', 'gracias', 'fin', 'basta', 'alto', 'cancelar', 'vale', 'hola', 'luego', 'mañana', 'baja calidad', 'pare',
	// it
	'sì', 'grazie', 'fine', 'basta', 'basta così', 'alto', 'annulla', 'va bene', 'ciao', 'dopo', 'domani', 'pare', 'esci',
	// nl
	'nee', 'ja', 'dank je', 'klaar', 'genoeg', 'annuleren', 'prima', 'hoi', 'straks', 'morgen', 'uitverkocht', 'uit de winkel',
	// pl
	'nie', 'tak', 'dzięki', 'koniec', 'dość', 'anuluj', 'dobrze', 'cześć', 'później', 'jutro', 'wystarczy',
	// pt
	'sim', 'não', 'obrigado', 'fim', 'basta', 'chega', 'cancelar', 'pare', 'tá bom', 'olá', 'depois', 'amanhã', 'voltar',
];

describe('no default STOP word is an everyday word of another language', () => {
	test.each(EVERYDAY_WORDS)('%s does not withdraw', (word) => {
		expect(classifyMessage(word).kind).not.toBe('stop');
	});
});

const DEFAULT_WORDS = DEFAULT_KEYWORD_ENTRIES.map(({ kind, entry }) => ({ kind, word: typeof entry === 'string' ? entry : entry.word }));

/** The word as people type it: any case per letter, the accents kept or dropped, a multi-word keyword joined by anything. */
const typed = (word: string) =>
	fc
		.tuple(
			fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }),
			fc.boolean(),
			fc.constantFrom(' ', '-', '', '  ', '_', '.'),
		)
		.map(([upper, dropAccents, joiner]) => {
			const base = dropAccents ? word.normalize('NFD').replace(/\p{M}/gu, '') : word;
			return [...base]
				.map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase()))
				.join('')
				.replace(/ /g, joiner);
		});

/** What may stand around a whole-message keyword: spaces, line breaks, punctuation, emoji. */
const around = fc.array(fc.constantFrom(' ', '\n', '\t', '!', '?', '.', '…', ',', '🙏', '🛑', '😡', '"', '*', '¡', '¿', '\u00a0'), { maxLength: 4 }).map((chars) => chars.join(''));

describe('generated: every default word, however typed, means its intent (fast-check)', () => {
	test.each(DEFAULT_WORDS.map(({ kind, word }) => [word, kind] as const))('%s → %s', (word, kind) => {
		fc.assert(
			fc.property(around, typed(word), around, (before, text, after) => {
				expect(classifyMessage(`${before}${text}${after}`).kind).toBe(kind);
			}),
			{ numRuns: 60 },
		);
	});
});

/**
 * Ordinary words of the eight languages, keywords among them ("stop", "end", "help", "info", "uit", "alta"), but no
 * word of leaving with its object: sentences made of them are for a person, never a keyword or a withdrawal wish.
 */
const ORDINARY = [
	'stop', 'bus', 'by', 'the', 'shop', 'tomorrow', 'end', 'of', 'month', 'help', 'info', 'my', 'order', 'where', 'is', 'when', 'can', 'you', 'size', 'wrong', 'thanks', 'please',
	'ich', 'habe', 'eine', 'frage', 'zur', 'bestellung', 'wann', 'kommt', 'das', 'paket', 'bitte', 'danke', 'nicht', 'stoppen', 'hilfe', 'beim', 'login',
	'je', 'voudrais', 'un', 'rendez', 'vous', 'arrêt', 'de', 'bus', 'merci', 'la', 'commande', 'fin', 'du', 'mois',
	'quiero', 'saber', 'precio', 'alta', 'calidad', 'baja', 'temporada', 'gracias', 'mi', 'pedido', 'salir', 'hoy',
	'vorrei', 'sapere', 'il', 'prezzo', 'grazie', 'basta', 'così', 'aiuto', 'con', 'ordine', 'fine', 'settimana',
	'ik', 'wil', 'graag', 'weten', 'uit', 'winkel', 'morgen', 'bedankt', 'hulp', 'bij', 'bestelling',
	'chcę', 'zapytać', 'o', 'zamówienie', 'pomoc', 'dziękuję', 'jutro', 'sklep',
	'quero', 'saber', 'preço', 'sair', 'de', 'casa', 'ajuda', 'com', 'encomenda', 'obrigado', 'amanhã',
];

describe('generated: ordinary sentences are neither keywords nor withdrawal wishes (fast-check)', () => {
	test('3 to 9 ordinary words, in any order and case', () => {
		fc.assert(
			fc.property(fc.array(fc.constantFrom(...ORDINARY), { minLength: 3, maxLength: 9 }), around, (sentence, end) => {
				const text = `${sentence.join(' ')}${end}`;
				expect(classifyMessage(text)).toEqual(none);
				expect(withdrawalWish(text)).toBeUndefined();
			}),
			{ numRuns: 2000 },
		);
	});
});
