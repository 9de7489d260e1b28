/**
 * The few messages the business sends on its own behalf in the consent process. They name the sender, say what
 * happened and how to stop or rejoin, and carry no advertising (BGH VI ZR 134/15; checklist 13, 23). Each exists in
 * the eight languages of the default keywords; STOP is named as the way out in all of them, since it works in all.
 */
import type { KeywordLanguage } from './keywords';

export type ReplyLanguage = KeywordLanguage;

export interface ReplyContext {
	business: string;
	/** The hosted sign-up page, for a fresh double opt-in. */
	signupUrl?: string;
	/** Labels of the purposes confirmed, e.g. "Angebote und Neuigkeiten". */
	purposes?: string[];
	/** What people receive, for the help text, e.g. "offers, at most one a week". */
	receives?: string;
}

interface Texts {
	and: string;
	optIn(business: string, purposes: string): string;
	chosenMessages: string;
	withdrawn(business: string): string;
	alreadyWithdrawn(business: string): string;
	signUpAgainHere(url: string): string;
	rejoinWithUrl(url: string): string;
	rejoinWithoutUrl(business: string): string;
	codeExpired(where: string): string;
	/** Above the button of a contact info request: a username user's code waits for their number. */
	numberNeeded(business: string): string;
	onWebsite(business: string): string;
	help(business: string, receives: string): string;
	signedUpMessages: string;
}

const TEXTS: Record<ReplyLanguage, Texts> = {
	de: {
		and: 'und',
		optIn: (b, p) => `Danke! Ihre Anmeldung bei ${b} ist bestätigt. Sie erhalten hier auf WhatsApp: ${p}. Abmelden können Sie sich jederzeit, indem Sie STOP schreiben.`,
		chosenMessages: 'die gewählten Nachrichten',
		withdrawn: (b) => `Sie sind abgemeldet. ${b} sendet Ihnen keine Nachrichten mehr über WhatsApp.`,
		alreadyWithdrawn: (b) => `Sie sind bereits abgemeldet: ${b} sendet Ihnen keine Nachrichten mehr über WhatsApp.`,
		signUpAgainHere: (url) => ` Wenn Sie es sich anders überlegen, können Sie sich hier neu anmelden: ${url}`,
		rejoinWithUrl: (url) => `Schön, dass Sie wieder dabei sein möchten! Bitte melden Sie sich hier neu an und bestätigen Sie Ihre Nummer: ${url}`,
		rejoinWithoutUrl: (b) => `Schön, dass Sie wieder dabei sein möchten! Bitte melden Sie sich über das Formular auf der Website von ${b} neu an.`,
		codeExpired: (where) => `Dieser Code ist nicht mehr gültig. Bitte melden Sie sich erneut an, um einen neuen zu erhalten: ${where}`,
		numberNeeded: (b) => `Um Ihre Anmeldung bei ${b} abzuschließen, teilen Sie uns bitte Ihre Telefonnummer mit: Tippen Sie auf den Knopf unter dieser Nachricht.`,
		onWebsite: (b) => `auf der Website von ${b}`,
		help: (b, r) => `${b} auf WhatsApp: Sie erhalten hier ${r}. Abmelden: Schreiben Sie STOP. Für alles andere schreiben Sie uns einfach hier.`,
		signedUpMessages: 'die Nachrichten, für die Sie sich angemeldet haben',
	},
	en: {
		and: 'and',
		optIn: (b, p) => `Thank you! Your sign-up with ${b} is confirmed. You will receive here on WhatsApp: ${p}. You can unsubscribe at any time by writing STOP.`,
		chosenMessages: 'the messages you chose',
		withdrawn: (b) => `You are unsubscribed. ${b} will no longer send you messages on WhatsApp.`,
		alreadyWithdrawn: (b) => `You are already unsubscribed: ${b} no longer sends you messages on WhatsApp.`,
		signUpAgainHere: (url) => ` If you change your mind, you can sign up again here: ${url}`,
		rejoinWithUrl: (url) => `Glad you want to come back! Please sign up again here and confirm your number: ${url}`,
		rejoinWithoutUrl: (b) => `Glad you want to come back! Please sign up again with the form on the ${b} website.`,
		codeExpired: (where) => `This code is no longer valid. Please sign up again to get a new one: ${where}`,
		numberNeeded: (b) => `To complete your sign-up with ${b}, please share your phone number: tap the button below this message.`,
		onWebsite: (b) => `on the ${b} website`,
		help: (b, r) => `${b} on WhatsApp: here you receive ${r}. To unsubscribe, write STOP. For anything else, just write to us here.`,
		signedUpMessages: 'the messages you signed up for',
	},
	fr: {
		and: 'et',
		optIn: (b, p) => `Merci ! Votre inscription auprès de ${b} est confirmée. Vous recevrez ici sur WhatsApp : ${p}. Vous pouvez vous désabonner à tout moment en écrivant STOP.`,
		chosenMessages: 'les messages choisis',
		withdrawn: (b) => `Vous êtes désabonné(e). ${b} ne vous enverra plus de messages sur WhatsApp.`,
		alreadyWithdrawn: (b) => `Vous êtes déjà désabonné(e) : ${b} ne vous envoie plus de messages sur WhatsApp.`,
		signUpAgainHere: (url) => ` Si vous changez d'avis, vous pouvez vous réinscrire ici : ${url}`,
		rejoinWithUrl: (url) => `Ravis que vous souhaitiez revenir ! Veuillez vous réinscrire ici et confirmer votre numéro : ${url}`,
		rejoinWithoutUrl: (b) => `Ravis que vous souhaitiez revenir ! Veuillez vous réinscrire avec le formulaire du site de ${b}.`,
		codeExpired: (where) => `Ce code n'est plus valable. Veuillez vous réinscrire pour en recevoir un nouveau : ${where}`,
		numberNeeded: (b) => `Pour finaliser votre inscription auprès de ${b}, veuillez partager votre numéro de téléphone : appuyez sur le bouton sous ce message.`,
		onWebsite: (b) => `sur le site de ${b}`,
		help: (b, r) => `${b} sur WhatsApp : vous recevez ici ${r}. Pour vous désabonner, écrivez STOP. Pour toute autre question, écrivez-nous simplement ici.`,
		signedUpMessages: 'les messages auxquels vous vous êtes inscrit(e)',
	},
	es: {
		and: 'y',
		optIn: (b, p) => `¡Gracias! Su suscripción a ${b} está confirmada. Recibirá aquí por WhatsApp: ${p}. Puede darse de baja en cualquier momento escribiendo STOP.`,
		chosenMessages: 'los mensajes elegidos',
		withdrawn: (b) => `Se ha dado de baja. ${b} ya no le enviará mensajes por WhatsApp.`,
		alreadyWithdrawn: (b) => `Ya estaba dado/a de baja: ${b} ya no le envía mensajes por WhatsApp.`,
		signUpAgainHere: (url) => ` Si cambia de opinión, puede volver a suscribirse aquí: ${url}`,
		rejoinWithUrl: (url) => `¡Nos alegra que quiera volver! Suscríbase de nuevo aquí y confirme su número: ${url}`,
		rejoinWithoutUrl: (b) => `¡Nos alegra que quiera volver! Suscríbase de nuevo con el formulario del sitio web de ${b}.`,
		codeExpired: (where) => `Este código ya no es válido. Suscríbase de nuevo para recibir uno nuevo: ${where}`,
		numberNeeded: (b) => `Para completar su suscripción a ${b}, comparta su número de teléfono: pulse el botón debajo de este mensaje.`,
		onWebsite: (b) => `en el sitio web de ${b}`,
		help: (b, r) => `${b} en WhatsApp: aquí recibe ${r}. Para darse de baja, escriba STOP. Para cualquier otra cosa, escríbanos aquí.`,
		signedUpMessages: 'los mensajes a los que se suscribió',
	},
	it: {
		and: 'e',
		optIn: (b, p) => `Grazie! La sua iscrizione a ${b} è confermata. Riceverà qui su WhatsApp: ${p}. Può annullare l'iscrizione in qualsiasi momento scrivendo STOP.`,
		chosenMessages: 'i messaggi scelti',
		withdrawn: (b) => `L'iscrizione è stata annullata. ${b} non le invierà più messaggi su WhatsApp.`,
		alreadyWithdrawn: (b) => `L'iscrizione era già stata annullata: ${b} non le invia più messaggi su WhatsApp.`,
		signUpAgainHere: (url) => ` Se cambia idea, può iscriversi di nuovo qui: ${url}`,
		rejoinWithUrl: (url) => `Che piacere che voglia tornare! Si iscriva di nuovo qui e confermi il suo numero: ${url}`,
		rejoinWithoutUrl: (b) => `Che piacere che voglia tornare! Si iscriva di nuovo con il modulo sul sito di ${b}.`,
		codeExpired: (where) => `Questo codice non è più valido. Si iscriva di nuovo per riceverne uno nuovo: ${where}`,
		numberNeeded: (b) => `Per completare l'iscrizione a ${b}, condivida il suo numero di telefono: tocchi il pulsante sotto questo messaggio.`,
		onWebsite: (b) => `sul sito di ${b}`,
		help: (b, r) => `${b} su WhatsApp: qui riceve ${r}. Per annullare l'iscrizione scriva STOP. Per qualsiasi altra cosa ci scriva pure qui.`,
		signedUpMessages: 'i messaggi a cui si è iscritto/a',
	},
	nl: {
		and: 'en',
		optIn: (b, p) => `Bedankt! Uw aanmelding bij ${b} is bevestigd. U ontvangt hier op WhatsApp: ${p}. U kunt zich op elk moment afmelden door STOP te sturen.`,
		chosenMessages: 'de gekozen berichten',
		withdrawn: (b) => `U bent afgemeld. ${b} stuurt u geen berichten meer via WhatsApp.`,
		alreadyWithdrawn: (b) => `U bent al afgemeld: ${b} stuurt u geen berichten meer via WhatsApp.`,
		signUpAgainHere: (url) => ` Bedenkt u zich, dan kunt u zich hier opnieuw aanmelden: ${url}`,
		rejoinWithUrl: (url) => `Fijn dat u terug wilt komen! Meld u hier opnieuw aan en bevestig uw nummer: ${url}`,
		rejoinWithoutUrl: (b) => `Fijn dat u terug wilt komen! Meld u opnieuw aan via het formulier op de website van ${b}.`,
		codeExpired: (where) => `Deze code is niet meer geldig. Meld u opnieuw aan om een nieuwe te ontvangen: ${where}`,
		numberNeeded: (b) => `Om uw aanmelding bij ${b} af te ronden, deel uw telefoonnummer: tik op de knop onder dit bericht.`,
		onWebsite: (b) => `op de website van ${b}`,
		help: (b, r) => `${b} op WhatsApp: u ontvangt hier ${r}. Afmelden: stuur STOP. Voor al het andere kunt u ons hier gewoon schrijven.`,
		signedUpMessages: 'de berichten waarvoor u zich hebt aangemeld',
	},
	pl: {
		and: 'i',
		optIn: (b, p) => `Dziękujemy! Twój zapis na wiadomości od ${b} został potwierdzony. Tutaj na WhatsAppie otrzymasz: ${p}. Możesz zrezygnować w każdej chwili, wysyłając STOP.`,
		chosenMessages: 'wybrane wiadomości',
		withdrawn: (b) => `Wypisaliśmy Cię. ${b} nie będzie już wysyłać Ci wiadomości na WhatsAppie.`,
		alreadyWithdrawn: (b) => `Jesteś już wypisany(-a): ${b} nie wysyła Ci już wiadomości na WhatsAppie.`,
		signUpAgainHere: (url) => ` Jeśli zmienisz zdanie, możesz zapisać się ponownie tutaj: ${url}`,
		rejoinWithUrl: (url) => `Cieszymy się, że chcesz wrócić! Zapisz się ponownie tutaj i potwierdź swój numer: ${url}`,
		rejoinWithoutUrl: (b) => `Cieszymy się, że chcesz wrócić! Zapisz się ponownie przez formularz na stronie ${b}.`,
		codeExpired: (where) => `Ten kod nie jest już ważny. Zapisz się ponownie, aby otrzymać nowy: ${where}`,
		numberNeeded: (b) => `Aby dokończyć zapis w ${b}, udostępnij swój numer telefonu: dotknij przycisku pod tą wiadomością.`,
		onWebsite: (b) => `na stronie ${b}`,
		help: (b, r) => `${b} na WhatsAppie: otrzymujesz tutaj ${r}. Aby się wypisać, wyślij STOP. W innych sprawach po prostu napisz do nas tutaj.`,
		signedUpMessages: 'wiadomości, na które się zapisałeś(-aś)',
	},
	pt: {
		and: 'e',
		optIn: (b, p) => `Obrigado! A sua inscrição em ${b} está confirmada. Vai receber aqui no WhatsApp: ${p}. Pode cancelar a inscrição a qualquer momento escrevendo STOP.`,
		chosenMessages: 'as mensagens escolhidas',
		withdrawn: (b) => `A sua inscrição foi cancelada. ${b} deixará de lhe enviar mensagens no WhatsApp.`,
		alreadyWithdrawn: (b) => `A sua inscrição já estava cancelada: ${b} já não lhe envia mensagens no WhatsApp.`,
		signUpAgainHere: (url) => ` Se mudar de ideias, pode inscrever-se novamente aqui: ${url}`,
		rejoinWithUrl: (url) => `Que bom que quer voltar! Inscreva-se novamente aqui e confirme o seu número: ${url}`,
		rejoinWithoutUrl: (b) => `Que bom que quer voltar! Inscreva-se novamente através do formulário no site de ${b}.`,
		codeExpired: (where) => `Este código já não é válido. Inscreva-se novamente para receber um novo: ${where}`,
		numberNeeded: (b) => `Para concluir a sua inscrição em ${b}, partilhe o seu número de telefone: toque no botão abaixo desta mensagem.`,
		onWebsite: (b) => `no site de ${b}`,
		help: (b, r) => `${b} no WhatsApp: aqui recebe ${r}. Para cancelar, escreva STOP. Para qualquer outro assunto, basta escrever-nos aqui.`,
		signedUpMessages: 'as mensagens que subscreveu',
	},
};

const list = (items: string[], and: string) =>
	items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`;

export function optInConfirmation(language: ReplyLanguage, context: ReplyContext): string {
	const texts = TEXTS[language];
	return texts.optIn(context.business, list(context.purposes ?? [], texts.and) || texts.chosenMessages);
}

export function withdrawalConfirmation(language: ReplyLanguage, context: ReplyContext, alreadyWithdrawn: boolean): string {
	const texts = TEXTS[language];
	const confirmation = alreadyWithdrawn ? texts.alreadyWithdrawn(context.business) : texts.withdrawn(context.business);
	return confirmation + (context.signupUrl ? texts.signUpAgainHere(context.signupUrl) : '');
}

/** START never re-subscribes silently: the person gets the way to a new double opt-in (checklist 26). */
export function rejoinReply(language: ReplyLanguage, context: ReplyContext): string {
	const texts = TEXTS[language];
	return context.signupUrl ? texts.rejoinWithUrl(context.signupUrl) : texts.rejoinWithoutUrl(context.business);
}

export function numberNeededReply(language: ReplyLanguage, context: ReplyContext): string {
	return TEXTS[language].numberNeeded(context.business);
}

export function codeExpiredReply(language: ReplyLanguage, context: ReplyContext): string {
	const texts = TEXTS[language];
	return texts.codeExpired(context.signupUrl ?? texts.onWebsite(context.business));
}

/** The answer to HELP / INFO / HILFE: who writes, what people receive here, and how to stop. No advertising. */
export function helpReply(language: ReplyLanguage, context: ReplyContext): string {
	const texts = TEXTS[language];
	return texts.help(context.business, context.receives?.trim() || texts.signedUpMessages);
}

/**
 * The notice of Art. 21(4) GDPR: the right to object to direct marketing, stated explicitly and apart from the rest
 * (a paragraph of its own), with the way to use it.
 */
const OBJECTION_NOTICES: Record<ReplyLanguage, string> = {
	de: 'Ihr Widerspruchsrecht: Sie können der Nutzung Ihrer Daten für Werbung jederzeit kostenlos widersprechen. Schreiben Sie dazu STOP.',
	en: 'Your right to object: you can object to the use of your data for advertising at any time, free of charge. Just write STOP.',
	fr: "Votre droit d'opposition : vous pouvez vous opposer à tout moment et gratuitement à l'utilisation de vos données à des fins publicitaires. Écrivez simplement STOP.",
	es: 'Su derecho de oposición: puede oponerse en cualquier momento y de forma gratuita al uso de sus datos con fines publicitarios. Basta con escribir STOP.',
	it: "Il suo diritto di opposizione: può opporsi in qualsiasi momento e gratuitamente all'uso dei suoi dati a fini pubblicitari. Basta scrivere STOP.",
	nl: 'Uw recht van bezwaar: u kunt op elk moment kosteloos bezwaar maken tegen het gebruik van uw gegevens voor reclame. Stuur daarvoor STOP.',
	pl: 'Twoje prawo sprzeciwu: w każdej chwili możesz bezpłatnie sprzeciwić się wykorzystywaniu Twoich danych do celów marketingowych. Wystarczy wysłać STOP.',
	pt: 'O seu direito de oposição: pode opor-se a qualquer momento, gratuitamente, à utilização dos seus dados para publicidade. Basta escrever STOP.',
};

export function objectionNotice(language: ReplyLanguage): string {
	return OBJECTION_NOTICES[language];
}
