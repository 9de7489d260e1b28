import fc from 'fast-check';
import { classifyMessage, KEYWORD_LANGUAGES, type KeywordLanguage } from '../../lib/keywords';
import { interpret, replyLanguage } from '../../lib/inbound';
import { codeExpiredReply, helpReply, optInConfirmation, rejoinReply, withdrawalConfirmation } from '../../lib/replies';
import { withdrawalWish } from '../../lib/withdrawal-wish';

/** Sentences that want out, per language; each is for a person to confirm, none is a keyword. */
const WISHES: Record<KeywordLanguage, string[]> = {
	en: [
		'Please stop sending me messages',
		'I want to unsubscribe',
		'How do I unsubscribe from this?',
		'I unsubscribed last week and still get these',
		'Remove me from your list please',
		'No more messages please!',
		"I don't want to receive any more promotions",
		'stop texting me',
		'Stop sending these annoying messages',
		'please opt me out',
	],
	de: [
		'Ich möchte mich bitte abmelden',
		'Wie kann ich das abbestellen?',
		'Bitte tragen Sie mich aus Ihrem Verteiler aus',
		'Ich will keine Nachrichten mehr von Ihnen',
		'Bitte keine Werbung mehr!',
		'Hören Sie bitte auf, mir zu schreiben',
		'Schicken Sie mir nichts mehr',
		'Löschen Sie meine Nummer',
	],
	fr: [
		'Je veux me désabonner',
		'Comment me désinscrire ?',
		'Je ne veux plus recevoir vos messages',
		"Arrêtez de m'envoyer des messages",
		'Retirez-moi de votre liste svp',
		'Supprimez mon numéro',
	],
	es: [
		'Quiero darme de baja',
		'No quiero recibir más mensajes',
		'Dejen de enviarme mensajes, por favor',
		'Quitadme de la lista',
		'¿Cómo puedo desuscribirme?',
	],
	it: [
		'Voglio disiscrivermi',
		'Non voglio più ricevere messaggi',
		'Smettete di scrivermi',
		'Cancellatemi dalla lista per favore',
		"Vorrei annullare l'iscrizione",
	],
	nl: [
		'Ik wil me afmelden',
		'Graag uitschrijven',
		'Ik wil geen berichten meer ontvangen',
		'Stuur me geen reclame',
		'Haal me van de lijst',
		'Stop met sturen alsjeblieft',
	],
	pl: [
		'Chcę się wypisać',
		'Proszę mnie wypisać',
		'Nie chcę więcej wiadomości',
		'Przestańcie mi wysyłać reklamy',
		'Rezygnuję z subskrypcji',
	],
	pt: [
		'Quero descadastrar',
		'Não quero mais receber mensagens',
		'Parem de me enviar mensagens',
		'Quero sair da lista',
		'Quero cancelar a minha inscrição',
	],
};

/** Sentences with the same words that do not want out: negated, about something else, or a complaint. */
const NOT_WISHES: Record<KeywordLanguage, string[]> = {
	en: [
		"Don't stop sending me messages, I love them",
		'Please do not unsubscribe me',
		"I don't want to unsubscribe, just fewer messages",
		'I will stop by the shop tomorrow',
		'Can you stop sending the wrong size?',
		'Cancel my order please',
		'Where is the bus stop?',
		'The end of the month works for me',
	],
	de: [
		'Bitte nicht abmelden, ich will die Angebote',
		'Ich möchte mich nicht abmelden',
		'Ich habe keine Nachricht mehr bekommen, wo ist mein Paket?',
		'Wo kann ich mich anmelden?',
		'Bitte keine Zwiebeln mehr auf die Pizza',
		'Das Paket ist nicht angekommen',
	],
	fr: ["Ne me désabonnez pas s'il vous plaît", 'Je ne veux pas me désinscrire', "Je voudrais un rendez-vous à l'arrêt de bus", "N'arrêtez pas de m'envoyer les offres"],
	es: ['No me den de baja, por favor', 'Quiero saber el precio de la temporada baja', 'Voy a salir de casa a las ocho', 'No dejen de enviarme ofertas'],
	it: ['Non voglio disiscrivermi', 'Basta così, grazie', 'Vorrei sapere il prezzo', 'Non smettete di scrivermi'],
	nl: ['Meld me niet af', 'Ik krijg geen berichten meer, klopt dat?', 'De winkel is uitverkocht', 'Niet stoppen met sturen'],
	pl: ['Nie chcę się wypisać', 'Chcę zapytać o zamówienie', 'Nie rezygnuję'],
	pt: ['Não quero me descadastrar', 'Quero saber o preço', 'Vou sair de casa amanhã', 'Não parem de me enviar ofertas'],
};

describe.each(KEYWORD_LANGUAGES)('withdrawal wishes in %s', (language) => {
	test.each(WISHES[language])('%j probably withdraws', (text) => {
		expect(withdrawalWish(text)).toMatchObject({ language });
		// Not a keyword: these are never withdrawn without a person.
		expect(classifyMessage(text).kind).toBe('none');
		expect(interpret({ type: 'text', text })).toMatchObject({ kind: 'probable_withdrawal', language });
	});
	test.each(NOT_WISHES[language])('%j does not', (text) => {
		expect(withdrawalWish(text)).toBeUndefined();
		expect(interpret({ type: 'text', text }).kind).toBe('other');
	});
});

describe('generated: a wish however typed is still one, a negation however typed still vetoes (fast-check)', () => {
	const typed = (text: string) =>
		fc
			.tuple(fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }), fc.constantFrom(' ', '  ', ' \n'), fc.constantFrom('', '!', '?!', ' 🙏', '...', ' 😡😡'))
			.map(([upper, space, end]) => [...text].map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase())).join('').replace(/ /g, space) + end);
	test.each(KEYWORD_LANGUAGES)('%s', (language) => {
		fc.assert(
			fc.property(fc.constantFrom(...WISHES[language]).chain(typed), (text) => {
				expect(withdrawalWish(text)?.language).toBe(language);
			}),
			{ numRuns: 100 },
		);
		fc.assert(
			fc.property(fc.constantFrom(...NOT_WISHES[language]).chain(typed), (text) => {
				expect(withdrawalWish(text)).toBeUndefined();
			}),
			{ numRuns: 100 },
		);
	});
});

describe('the reply language', () => {
	test.each([
		['4915100000001', 'de'],
		['41791234567', 'de'],
		['33612345678', 'fr'],
		['34612345678', 'es'],
		['393331234567', 'it'],
		['31612345678', 'nl'],
		['48501234567', 'pl'],
		['351912345678', 'pt'],
		['5511912345678', 'pt'],
		['32470123456', 'en'], // Belgium: several languages, the fallback decides
		['447700900123', 'en'],
	])("a shared word from %s is answered in the number's language (%s)", (waId, language) => {
		expect(replyLanguage(interpret({ type: 'text', text: 'STOP' }), waId, 'en')).toBe(language);
	});

	test("the keyword's language wins over the number's", () => {
		expect(replyLanguage(interpret({ type: 'text', text: 'AYUDA' }), '4915100000001', 'en')).toBe('es');
		expect(replyLanguage(interpret({ type: 'text', text: 'ARRÊT' }), '4915100000001', 'en')).toBe('fr');
	});
});

describe('the replies in every language', () => {
	const context = { business: 'Beispiel GmbH', signupUrl: 'https://example.com/wa', purposes: ['Angebote', 'Neuigkeiten'], receives: 'offers, once a week' };
	const all = (make: (language: KeywordLanguage) => string) => KEYWORD_LANGUAGES.map(make);

	test.each([
		['opt-in confirmation', (l: KeywordLanguage) => optInConfirmation(l, context)],
		['withdrawal confirmation', (l: KeywordLanguage) => withdrawalConfirmation(l, context, false)],
		['repeated withdrawal', (l: KeywordLanguage) => withdrawalConfirmation(l, context, true)],
		['rejoin without a page', (l: KeywordLanguage) => rejoinReply(l, { business: 'Beispiel GmbH' })],
		['expired code', (l: KeywordLanguage) => codeExpiredReply(l, { business: 'Beispiel GmbH' })],
		['help', (l: KeywordLanguage) => helpReply(l, context)],
	])('%s: eight different texts that name the business', (_name, make) => {
		const texts = all(make);
		expect(new Set(texts).size).toBe(KEYWORD_LANGUAGES.length);
		for (const text of texts) expect(text).toContain('Beispiel GmbH');
	});

	test('the confirmations and the help text say how to stop, and name what people receive', () => {
		for (const language of KEYWORD_LANGUAGES) {
			expect(optInConfirmation(language, context)).toContain('STOP');
			expect(helpReply(language, context)).toContain('STOP');
			expect(helpReply(language, context)).toContain('offers, once a week');
			expect(withdrawalConfirmation(language, context, false)).toContain('https://example.com/wa');
			expect(rejoinReply(language, context)).toContain('https://example.com/wa');
		}
	});

	test('the purposes are listed with the language\'s "and"', () => {
		expect(optInConfirmation('fr', context)).toContain('Angebote et Neuigkeiten');
		expect(optInConfirmation('pl', context)).toContain('Angebote i Neuigkeiten');
		expect(optInConfirmation('nl', context)).toContain('Angebote en Neuigkeiten');
	});
});
