/**
 * A wish to unsubscribe said in a sentence ("ich möchte mich bitte abmelden", "please stop sending me messages").
 * Such a message is not withdrawn automatically: a sentence can say the opposite in a way no pattern sees ("I don't
 * think I'll unsubscribe"), and a false withdrawal ends consent the person wanted to keep. It is not a helpdesk
 * ticket either: whoever reads it must record the withdrawal at once (Consent Ledger → Record Withdrawal), since a
 * withdrawal is owed from the moment it was said. Handle STOP sends it to its own output, "Probably a Withdrawal".
 *
 * The rule: the message (normalised as the keywords are: lower case, no accents, no punctuation, so "don't" is
 * "don t") matches one of its language's `wish` patterns and none of that language's `not` patterns. A `wish` is a
 * verb of leaving with its object ("stop sending me", "keine Nachrichten mehr", "darme de baja"), never a keyword
 * alone: "stop by the shop", "cancel my order" and "the end" are not wishes. A `not` is the same verb negated
 * ("don't unsubscribe me", "nicht abmelden", "no me den de baja"). The patterns, per language:
 * - en: unsubscribe(d), opt (me) out, remove/take me off, no more messages, don't want (to receive) … messages,
 *   stop sending/texting/messaging/contacting me, stop sending these/your … messages.
 * - de: abmelden, abbestellen, austragen, trag(en Sie) mich aus, möchte/will keine … Nachrichten/Werbung, bitte
 *   keine … mehr, hören Sie auf … zu schreiben/schicken, schicken Sie mir nichts mehr, löschen Sie meine Nummer.
 * - fr: (me) désabonner / désinscrire / désabonnement, ne (veux) plus recevoir, arrêtez de m'envoyer / m'écrire,
 *   retirez-moi / supprimez-moi / supprimez mon numéro.
 * - es: darme/darse de baja, desuscribirme, no quiero recibir (más), dejen de enviarme / mandarme / escribirme,
 *   quitadme / sacadme / eliminadme / bórrenme de (la lista).
 * - it: disiscrivermi / disiscrivetemi, cancellatemi / cancellami, annullare l'iscrizione, non voglio più ricevere,
 *   non mandatemi più, smettete di scrivermi / mandarmi / inviarmi.
 * - nl: afmelden, uitschrijven, wil geen … berichten, stuur me geen, geen berichten/reclame meer, stop met sturen /
 *   appen, haal me van de lijst, verwijder mijn nummer.
 * - pl: wypisać / wypiszcie, rezygnuję (z), nie chcę (więcej) … wiadomości / SMS-ów, przestańcie (mi) wysyłać /
 *   pisać, usuńcie mój numer.
 * - pt: descadastrar, cancelar a inscrição / subscrição, não quero (mais) receber, parem de (me) enviar / mandar,
 *   sair da lista, tirem/removam-me da lista.
 */
import { normalise, type KeywordLanguage } from './keywords';

interface Patterns {
	wish: RegExp[];
	not: RegExp[];
}

const MESSAGES_EN = '(messages|texts|promotions|offers|ads|marketing|newsletters?|whatsapps?)';

const PATTERNS: Record<KeywordLanguage, Patterns> = {
	en: {
		wish: [
			/\bunsubscrib/,
			/\bopt (me )?out\b/,
			/\b(remove|take) me (off|from)\b/,
			new RegExp(`\\bno (more|further) ${MESSAGES_EN}`),
			new RegExp(`\\b(don t|dont|do not) (want|wish|need)\\b.*\\b${MESSAGES_EN}`),
			/\bstop (sending|texting|messaging|contacting|writing to) (me|us)\b/,
			new RegExp(`\\bstop (sending|texting) (these|your|any|the|those|all)( \\w+)? ${MESSAGES_EN}`),
		],
		not: [/\b(don t|dont|do not|never|not) (stop|unsubscribe|remove|opt)\b/, /\b(don t|dont|do not) (want|wish|need) to (unsubscribe|opt out|stop)\b/],
	},
	de: {
		wish: [
			/\b(abmelden|abbestellen|austragen|abmeldung)\b/,
			/\btrag(en sie|t)? mich\b.*\baus\b/,
			/\b(will|mochte|mochten|wollen|wunsche) (ich |wir )?keine\b.*\b(nachrichten|werbung|angebote|whatsapps?|newsletter|nachricht)\b/,
			/\bbitte keine (nachrichten|werbung|angebote|whatsapps?|newsletter|sms)\b.*\bmehr\b/,
			/\bhor(en sie|t)?( bitte)? auf\b.*\b(schreiben|schicken|senden|anzuschreiben)\b/,
			/\b(schicken|senden|schreiben) sie mir (nichts|keine)\b/,
			/\bloschen sie (mich|meine nummer)\b/,
		],
		not: [/\bnicht (ab|aus)(melden|bestellen|tragen)\b/, /\bmich nicht\b.*\b(abmelden|austragen)\b/, /\bnicht auf(horen|zuhoren)\b/],
	},
	fr: {
		wish: [
			/\b(desabonner|desinscrire|desabonnement|desinscription|desabonnez|desinscrivez)\b/,
			/\bne (veux |souhaite |voudrais )?plus recevoir\b/,
			/\b(arretez|arrete|cessez|cesse) (de m|d m|de nous) (envoyer|ecrire|contacter)\b/,
			/\b(retirez|supprimez|enlevez) moi\b/,
			/\bsupprimez mon numero\b/,
		],
		not: [/\bne (me )?(desabonnez|desinscrivez) pas\b/, /\bne (veux |souhaite )?pas (me )?(desabonner|desinscrire)\b/, /\bn arretez pas\b/],
	},
	es: {
		wish: [
			/\b(dar(me|nos)?|darse) de baja\b/,
			/\b(desuscribir(me)?|desuscribirse|desuscribanme|desuscribidme)\b/,
			/\bno (quiero|deseo) recibir\b/,
			/\b(dejen|deja|dejad|dejar) de (enviarme|mandarme|escribirme|enviarnos)\b/,
			/\b(quitadme|quitenme|sacadme|saquenme|eliminadme|eliminenme|borradme|borrenme) de\b/,
		],
		not: [/\bno (me )?(den|des|deis) de baja\b/, /\bno (quiero|deseo) dar(me)? de baja\b/, /\bno dejen de\b/],
	},
	it: {
		wish: [
			/\b(disiscriver(mi|si|ci)|disiscrivetemi|cancellatemi|cancellami)\b/,
			/\b(annullare|cancellare) (l )?iscrizione\b/,
			/\bnon (voglio|desidero) piu ricevere\b/,
			/\bnon (mandatemi|inviatemi|scrivetemi) piu\b/,
			/\b(smettete|smettila|smetti|smettere) di (scrivermi|mandarmi|inviarmi|contattarmi)\b/,
		],
		not: [/\bnon (voglio |desidero )?(disiscrivermi|cancellarmi)\b/, /\bnon (smettete|smettere)\b/],
	},
	nl: {
		wish: [
			/\b(afmelden|uitschrijven|afmelding|uitschrijving)\b/,
			/\b(wil|wens) (ik )?geen\b.*\b(berichten|reclame|aanbiedingen|whatsapps?|nieuwsbrief)\b/,
			/\bstuur (me|mij) geen\b/,
			/\bgeen (berichten|reclame|aanbiedingen) meer\b/,
			/\b(stop|stopt|stoppen) met (sturen|berichten|appen|mailen)\b/,
			/\bhaal (me|mij) (van|uit) de lijst\b/,
			/\bverwijder (me|mij|mijn nummer)\b/,
		],
		not: [/\bniet (afmelden|uitschrijven)\b/, /\bmeld (me|mij) niet af\b/, /\bniet stoppen\b/, /\bkrijg (ik )?geen\b/],
	},
	pl: {
		wish: [
			/\b(wypisac|wypiszcie|wypisz mnie|wyrejestrowac)\b/,
			/\brezygnuje\b/,
			/\bnie chce\b.*\b(wiadomosci|smsow|sms|reklam|powiadomien)\b/,
			/\b(przestancie|przestan) (mi )?(wysylac|pisac)\b/,
			/\busuncie (moj numer|mnie)\b/,
		],
		not: [/\bnie chce sie wypisac\b/, /\bnie wypisuj/, /\bnie rezygnuje\b/],
	},
	pt: {
		wish: [
			/\b(descadastrar|descadastre|descadastrem)\b/,
			/\bcancelar (a )?(minha )?(inscricao|subscricao|assinatura)\b/,
			/\bnao quero (mais )?receber\b/,
			/\b(parem|pare) de (me )?(enviar|mandar)\b/,
			/\bsair da lista\b/,
			/\b(tirem|retirem|removam|remova)( me)? (da lista|o meu numero|meu numero)\b/,
		],
		not: [/\bnao (quero )?(me )?descadastrar\b/, /\bnao parem\b/, /\bnao quero sair\b/],
	},
};

export interface WithdrawalWish {
	language: KeywordLanguage;
	/** The pattern that matched, for the person who confirms and for the audit. */
	pattern: string;
}

/** The language whose patterns say "I want out" and none of whose patterns say "not", or undefined. */
export function withdrawalWish(text: string): WithdrawalWish | undefined {
	const normalised = normalise(typeof text === 'string' ? text : '');
	if (normalised === '') return undefined;
	for (const [language, patterns] of Object.entries(PATTERNS) as [KeywordLanguage, Patterns][]) {
		const wish = patterns.wish.find((pattern) => pattern.test(normalised));
		if (wish && !patterns.not.some((pattern) => pattern.test(normalised))) return { language, pattern: wish.source };
	}
	return undefined;
}
