import { ValidationError } from '../../lib/errors';
import { classifyMessage, languageOf, type Classification } from '../../lib/keywords';

const stop = (keyword: string, language?: 'de' | 'en'): Classification => ({ kind: 'stop', keyword, language });
const start = (keyword: string, language?: 'de' | 'en'): Classification => ({ kind: 'start', keyword, language });
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
