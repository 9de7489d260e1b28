/**
 * What the Opt-In Trigger does with Meta's webhook events before it answers 200 (invariant 4): every confirmation,
 * withdrawal, inbound message, status and preference is committed in the ledger first, with the item it owes the
 * workflow (invariant 7, the outbox). Redeliveries change nothing (invariant 3) and bring only what their first
 * delivery still owes. Returns the items the workflow may start with.
 */
import type { Ledger } from './consent/ledger';
import { ValidationError } from './errors';
import type { OwedItem, OwedTo, Owing, HandOver } from './consent/outbox';
import type { Category, ConfirmOutcome, ConfirmResult } from './consent/types';
import { applyPreference, interpret, replyLanguage, replyTo, withdrawByMessage, type Meaning } from './inbound';
import { codeExpiredReply, numberNeededReply, optInConfirmation, rejoinReply, withdrawalConfirmation, type ReplyContext, type ReplyLanguage } from './replies';
import { rawOf, type WebhookEvent } from './whatsapp/webhook';
import { adviceFor } from './whatsapp/errors';
import { invalidateTemplates } from './templates';

export type TriggerEventName =
	| 'optin.requested'
	| 'optin.confirmed'
	| 'optin.refused'
	| 'optin.number_needed'
	| 'consent.withdrawn'
	| 'message.received'
	| 'status.updated'
	| 'marketing.preference'
	| 'template.updated'
	| 'consent.incident'
	| 'event.rejected';

export interface TriggerEvent {
	event: TriggerEventName;
	at: string;
	[key: string]: unknown;
}

export type RepliesContext = ReplyContext & { fallbackLanguage: ReplyLanguage };

/** Which messages withdraw, and what, is the ledger's withdrawal policy (the Consent Ledger credential). */
export interface ProcessingOptions {
	/**
	 * What the reply texts name, asked for only when the POST has a message: a status-only POST writes no reply, and
	 * in n8n reading it means evaluating the trigger's parameters, validating them and building its webhook URL.
	 */
	replies: () => RepliesContext;
	/**
	 * The POST's hand-over: what each event owes the workflow is written to the outbox in the transaction of its effect
	 * (invariant 7), so a 500 or a crash after the commit does not lose it.
	 */
	handOver: HandOver;
	/**
	 * Whether the workflow is owed items of this kind; unset, of every kind. An event of another kind is committed all
	 * the same, but writes nothing to the outbox: a status-only POST for a workflow that does not start on
	 * `status.updated` so saves the outbox row and its deletion.
	 */
	owes?: (event: TriggerEventName) => boolean;
}

/** The parts of a message a workflow needs downstream (Handle STOP, the helpdesk, a reply). */
function messageFields(event: Extract<WebhookEvent, { kind: 'message' }>) {
	return {
		waId: event.from,
		userId: event.userId,
		parentUserId: event.parentUserId,
		profileName: event.profileName,
		username: event.username,
		message: {
			id: event.messageId,
			type: event.type,
			text: event.text,
			buttonPayload: event.buttonPayload,
			// The row or button id says which choice was made; the title is only what the person saw.
			interactiveId: event.interactiveId,
			location: event.location,
			at: event.at.toISOString(),
		},
	};
}

const REFUSED: Partial<Record<ConfirmOutcome, true>> = {
	expired: true,
	wrong_number: true,
	too_many_attempts: true,
	unknown_code: true,
	superseded_by_withdrawal: true,
};

/** What one event's processing needs: what its reply names, the purpose labels, and where its owed item goes. */
interface EventScope {
	/** Read when the POST has a message, the only kind of event answered with a reply; else undefined. */
	replies: RepliesContext | undefined;
	labels: (ids: string[]) => string[];
	/** An Owing for a ledger call: `owe` builds the item from the call's result, inside its transaction. */
	owing<R>(owe: (result: R) => { item: TriggerEvent; about: OwedTo }): Owing<R>;
	/** The item the ledger call returned as owed: new, or still owed by an earlier delivery of the same event. */
	emit(result: { owed?: OwedItem }): void;
}

/**
 * Returns the items this POST's events owe the workflow: those committed now, and those a redelivered event still
 * owes (a first delivery that was answered 500, or whose process died before the hand-over).
 */
export async function processEvents(ledger: Ledger, events: WebhookEvent[], options: ProcessingOptions): Promise<TriggerEvent[]> {
	const out: TriggerEvent[] = [];
	// The items are built inside the effects' transactions, so the labels a confirmation's reply names are read first.
	const hasMessage = events.some((event) => event.kind === 'message');
	const purposeLabels = new Map(hasMessage ? (await ledger.listPurposes()).map((p) => [p.id, p.label]) : []);
	const scope: EventScope = {
		// Read before the events, outside their own error handling: a reply context that cannot be read fails the
		// delivery (Meta delivers again) rather than being kept as an event that could not be understood.
		replies: hasMessage ? options.replies() : undefined,
		labels: (ids) => ids.map((id) => purposeLabels.get(id) ?? id),
		owing: (owe) => ({
			handOver: options.handOver,
			owe: (result) => {
				const owed = owe(result);
				return options.owes === undefined || options.owes(owed.item.event) ? owed : undefined;
			},
		}),
		emit: (result) => {
			if (result.owed) out.push(result.owed as TriggerEvent);
		},
	};

	const reject = async (event: WebhookEvent, reason: string) => {
		const result = await ledger.recordRejected(
			{ raw: rawOf(event) ?? event, reason, at: event.at },
			scope.owing((kept) => ({
				item: { event: 'event.rejected', at: kept.receivedAt, eventAt: event.at?.toISOString(), rejectedId: kept.id, reason: kept.reason },
				about: {},
			})),
		);
		scope.emit(result);
	};

	for (const event of events) {
		if (event.kind === 'rejected') {
			await reject(event, event.reason);
			continue;
		}
		try {
			await processEvent(ledger, event, scope);
		} catch (error) {
			// An event the ledger refuses as input, or whose data the database cannot hold, is kept and reported; it
			// blocks neither its siblings nor the redeliveries (invariant 6). Anything else (the store) fails the
			// delivery, so Meta delivers it again.
			const refused = refusedAsData(error);
			if (refused === undefined) throw error;
			await reject(event, refused);
		}
	}
	return out;
}

/** Why the event itself was refused: a ValidationError, or a data exception of the database (SQLSTATE class 22). */
function refusedAsData(error: unknown): string | undefined {
	if (error instanceof ValidationError) return error.message;
	const code = (error as { code?: unknown } | null)?.code;
	if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return `The ledger cannot store this event (SQLSTATE ${code}: ${(error as Error).message})`;
	return undefined;
}

async function processEvent(ledger: Ledger, event: Exclude<WebhookEvent, { kind: 'rejected' }>, scope: EventScope): Promise<void> {
	if (event.kind === 'message') {
		const replies = scope.replies!;
		const meaning: Meaning = interpret(event, ledger.withdrawalPolicy.keywords);
		const language = replyLanguage(meaning, event.from, replies.fallbackLanguage);
		const reply = (text: string, phone?: string, category: Category = 'service') => ({ to: replyTo(event, phone), text, language, category });
		const about = (result: { phone?: string; subjectId?: string }): OwedTo => ({ waId: event.from, userId: event.userId, phone: result.phone, subjectId: result.subjectId });
		if (meaning.kind === 'withdraw') {
			const withdrawal = await withdrawByMessage(
				ledger,
				event,
				meaning.via,
				scope.owing((result) => ({
					item: {
						event: 'consent.withdrawn',
						at: event.at.toISOString(),
						...messageFields(event),
						phone: result.phone,
						scope: result.scope,
						withdrawn: result.withdrawn,
						via: meaning.via,
						keyword: meaning.keyword,
						reply: reply(withdrawalConfirmation(language, replies, result.withdrawn.length === 0), result.phone, 'withdrawal_confirmation'),
					},
					about: about(result),
				})),
			);
			scope.emit(withdrawal);
			return;
		}
		const confirmationItem = (result: ConfirmResult): TriggerEvent => {
			const common = { at: event.at.toISOString(), ...messageFields(event), subjectId: result.subjectId };
			if (result.outcome === 'confirmed' || result.outcome === 'already_confirmed') {
				return {
					event: 'optin.confirmed',
					...common,
					phone: result.phone,
					purposes: result.purposes,
					alreadyConfirmed: result.outcome === 'already_confirmed',
					reply: reply(optInConfirmation(language, { ...replies, purposes: scope.labels(result.purposes) }), result.phone),
				};
			}
			if (result.outcome === 'number_needed') {
				// Meta's contact info request: Send WhatsApp's Request Contact Info sends this reply to the user id.
				return {
					event: 'optin.number_needed',
					...common,
					hint: result.hint,
					purposes: result.purposes,
					reply: { ...reply(numberNeededReply(language, replies)), type: 'contact_info_request' },
				};
			}
			if (REFUSED[result.outcome]) {
				return {
					event: 'optin.refused',
					...common,
					outcome: result.outcome,
					hint: result.hint,
					purposes: result.purposes,
					reply: result.outcome === 'expired' || result.outcome === 'too_many_attempts' ? reply(codeExpiredReply(language, replies)) : undefined,
				};
			}
			return {
				event: 'message.received',
				...common,
				meaning: meaning.kind,
				reply: meaning.kind === 'rejoin' ? reply(rejoinReply(language, replies)) : undefined,
			};
		};
		const confirmation = await ledger.confirm(
			{
				messageId: event.messageId,
				from: event.from,
				userId: event.userId,
				parentUserId: event.parentUserId,
				sharedPhone: event.sharedPhone,
				text: event.text,
				at: event.at,
			},
			scope.owing((result) => ({ item: confirmationItem(result), about: about(result) })),
		);
		scope.emit(confirmation);
	} else if (event.kind === 'status') {
		const status = await ledger.recordStatus(
			{ messageId: event.messageId, status: event.status, at: event.at, recipientId: event.recipientId, errors: event.errors, pricing: event.pricing },
			scope.owing((result) => ({
				item: {
					event: 'status.updated',
					at: event.at.toISOString(),
					messageId: event.messageId,
					status: event.status,
					recipientId: event.recipientId,
					recipientUserId: event.recipientUserId,
					sendKey: result.key,
					// Each error with what to do and whether to send again, as the error table says for a synchronous error.
					errors: event.errors?.map((error) => ({ ...error, ...adviceFor(error.code, { details: error.details }) })),
					pricing: event.pricing,
					marketingStopped: result.marketingStopped,
				},
				about: { waId: event.recipientId, userId: event.recipientUserId },
			})),
		);
		scope.emit(status);
		if (status.incidentOwed) scope.emit({ owed: status.incidentOwed });
	} else if (event.kind === 'template') {
		const { kind: _kind, update: change, previousCategory, ...update } = event;
		const recorded = await ledger.recordTemplateUpdate(
			update,
			scope.owing((result) => ({
				item: {
					event: 'template.updated',
					at: event.at.toISOString(),
					change,
					wabaId: event.wabaId,
					templateId: event.templateId,
					name: event.name,
					language: event.language,
					...(change === 'status' ? { status: event.status, reason: event.reason } : { category: event.category, previousCategory }),
					applied: result.applied,
				},
				about: {},
			})),
		);
		// This process's Send nodes fetch the list again; every other process reads the notice from the ledger.
		invalidateTemplates(event.wabaId);
		scope.emit(recorded);
	} else if (event.kind === 'preference') {
		const preference = await applyPreference(
			ledger,
			event,
			scope.owing((result) => ({
				item: { event: 'marketing.preference', at: event.at.toISOString(), waId: event.waId, userId: event.userId, value: event.value, known: result.known },
				about: { waId: event.waId, userId: event.userId, subjectId: result.subjectId },
			})),
		);
		scope.emit(preference);
	} else if (event.kind === 'system' && event.type === 'user_changed_user_id' && event.messageId) {
		// Only the user id changed (no number to share): the same person, known from now on by the new ids. Owes nothing.
		await ledger.changeUserId({
			messageId: event.messageId,
			previousUserId: event.previousUserId,
			userId: event.userId,
			previousParentUserId: event.previousParentUserId,
			parentUserId: event.parentUserId,
			at: event.at,
		});
	} else if (event.kind === 'system' && event.type === 'user_changed_number' && (event.from || event.previousUserId)) {
		// Consent is bound to the number that confirmed it: a changed number needs a new confirmation (checklist 32).
		// It owes the workflow nothing. Meta names the person by the old number and, since August 2026, the old user id.
		await ledger.revoke({
			waId: event.from,
			userId: event.previousUserId,
			purposes: 'all',
			channel: 'whatsapp',
			owesConfirmation: false,
			messageId: event.messageId,
			evidence: { note: 'WhatsApp reported that the user changed their number' },
			at: event.at,
		});
	}
}
