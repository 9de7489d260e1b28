/** The consent ledger's vocabulary. */

/**
 * Why a message is sent: marketing and utility need consent for its purpose; a service reply needs the 24 h window the
 * person's last message opened (a withdrawal since closes it); a withdrawal confirmation is the one reply to a STOP.
 */
export type Category = 'marketing' | 'utility' | 'service' | 'withdrawal_confirmation';
export const CATEGORIES: readonly Category[] = ['marketing', 'utility', 'service', 'withdrawal_confirmation'];
/** The categories that are replies inside a window the person opened, and need no consent for a purpose. */
export type ReplyCategory = Extract<Category, 'service' | 'withdrawal_confirmation'>;
export function isReply(category: Category): category is ReplyCategory {
	return category === 'service' || category === 'withdrawal_confirmation';
}

export type ConsentState = 'pending' | 'confirmed' | 'withdrawn';

/** Where a withdrawal came from (checklist 24). */
export type WithdrawalChannel = 'whatsapp' | 'whatsapp_button' | 'in_app' | 'email' | 'web_form' | 'support' | 'erasure';
export const WITHDRAWAL_CHANNELS: readonly WithdrawalChannel[] = [
	'whatsapp',
	'whatsapp_button',
	'in_app',
	'email',
	'web_form',
	'support',
	'erasure',
];

/** Who a message goes to: a phone number (any format the default country resolves) or Meta's business-scoped user id. */
export type Recipient = string;

export interface PurposeDefinition {
	id: string;
	label: string;
	description?: string;
	/** Consent given to a text version older than this counts as outdated (a material change needs fresh consent). */
	minTextVersion?: string;
}

export interface ConsentText {
	version: string;
	language: string;
	/** The exact text shown next to the boxes; its SHA-256 is the proof of what was shown. */
	text: string;
}

export interface OptInRequest {
	phone: string;
	purposes: string[];
	consentText: ConsentText;
	source: {
		pageUrl?: string;
		widgetVersion?: string;
		/** The visitor's address; stored only as the IP mode allows (off by default, checklist 8). */
		ip?: string;
		/** What to keep of the address, set where the privacy notice is: the collection point. Default: the ledger's. */
		ipMode?: 'off' | 'truncated' | 'hashed';
		userAgent?: string;
	};
	/** When the form was submitted; defaults to the ledger's clock. */
	at?: Date;
}

export interface OptInRequested {
	requestId: string;
	subjectId: string;
	phone: string;
	purposes: string[];
	code: string;
	expiresAt: Date;
	textHash: string;
}

/** An inbound WhatsApp message, as the trigger passes it on. */
export interface InboundMessage {
	/** wamid: the key that makes a redelivered webhook change nothing twice. */
	messageId: string;
	/** The sender's wa_id (digits); absent for a user who hides their number behind a username. */
	from?: string;
	/** Meta's business-scoped user id, when the webhook carries one. */
	userId?: string;
	/** The parent user id Meta gives linked business portfolios, when the webhook carries one. */
	parentUserId?: string;
	/** The number (digits) the sender shared by answering a contact info request: their own. */
	sharedPhone?: string;
	text: string;
	at: Date;
}

export type ConfirmOutcome =
	| 'confirmed'
	| 'already_confirmed'
	| 'no_code'
	| 'unknown_code'
	| 'wrong_number'
	/** The code came from a user id the ledger cannot tie to a number: it stays pending until the person shares it. */
	| 'number_needed'
	| 'expired'
	| 'too_many_attempts'
	| 'superseded_by_withdrawal';

export interface ConfirmResult {
	outcome: ConfirmOutcome;
	/** True when this message id was handled before: nothing changed now. */
	duplicate: boolean;
	subjectId?: string;
	phone?: string;
	purposes: string[];
	/** What the workflow could tell the sender, e.g. that the code expired and how to get a new one. */
	hint?: string;
}

export interface WithdrawalInput {
	recipient: Recipient;
	/** 'all' or a list of purpose ids. */
	purposes: 'all' | string[];
	channel: WithdrawalChannel;
	/** Set for withdrawals that arrive by webhook, so a redelivery changes nothing twice. */
	messageId?: string;
	evidence?: { text?: string; note?: string; reference?: string };
	at?: Date;
}

export interface WithdrawalResult {
	/** Purposes that were active (pending or confirmed) and are now withdrawn. */
	withdrawn: string[];
	/** What the withdrawal was for, as recorded: 'all', 'marketing' or purpose ids. A redelivery gets the first one's. */
	scope: string[];
	duplicate: boolean;
	subjectId?: string;
	phone?: string;
	/** False when the ledger knew nothing of this person: the withdrawal is still recorded on the suppression list. */
	known: boolean;
}

export type RefusalReason =
	| 'invalid_recipient'
	| 'never_asked'
	| 'pending'
	| 'withdrawn'
	| 'suppressed'
	| 'marketing_stopped_in_app'
	| 'outside_service_window'
	| 'withdrawn_since_last_message'
	| 'no_withdrawal_to_confirm'
	| 'consent_too_old'
	| 'outdated_text'
	| 'template_not_approved'
	| 'marketing_template_as_reply';

export type GateDecision =
	| { allowed: true; reason: 'consented' | 'service_window_open' | 'withdrawal_to_confirm'; subjectId: string; consentEventSeq?: number }
	| { allowed: false; reason: RefusalReason; message: string; subjectId?: string };

export interface GateQuestion {
	recipient: Recipient;
	purpose: string;
	category: Category;
	/**
	 * Asked again right before the HTTP call of a send already reserved: the one confirmation of a STOP that its
	 * reservation used up is its own, so it still goes out (unless the person was erased or 24 h have passed).
	 */
	reserved?: boolean;
}
