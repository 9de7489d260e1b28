/**
 * What the Opt-In Trigger does with Meta's webhook events before it answers 200 (invariant 4): every confirmation,
 * withdrawal, inbound message, status and preference is committed in the ledger first. Redeliveries change
 * nothing and start no workflow (invariant 3). Returns the events the workflow may start with.
 */
import type { Ledger } from './consent/ledger';
import { ValidationError } from './errors';
import type { Category, ConfirmOutcome } from './consent/types';
import { applyPreference, interpret, replyLanguage, replyTo, withdrawByMessage, type Meaning } from './inbound';
import { codeExpiredReply, optInConfirmation, rejoinReply, withdrawalConfirmation, type ReplyContext } from './replies';
import { rawOf, type WebhookEvent } from './whatsapp/webhook';

export type TriggerEventName =
	| 'optin.requested'
	| 'optin.confirmed'
	| 'optin.refused'
	| 'consent.withdrawn'
	| 'message.received'
	| 'status.updated'
	| 'marketing.preference'
	| 'event.rejected';

export interface TriggerEvent {
	event: TriggerEventName;
	at: string;
	[key: string]: unknown;
}

/** Which messages withdraw, and what, is the ledger's withdrawal policy (the Consent Ledger credential). */
export interface ProcessingOptions {
	replies: ReplyContext & { fallbackLanguage: 'de' | 'en' };
}

/** The parts of a message a workflow needs downstream (Handle STOP, the helpdesk, a reply). */
function messageFields(event: Extract<WebhookEvent, { kind: 'message' }>) {
	return {
		waId: event.from,
		userId: event.userId,
		profileName: event.profileName,
		message: { id: event.messageId, type: event.type, text: event.text, buttonPayload: event.buttonPayload, at: event.at.toISOString() },
	};
}

const REFUSED: Partial<Record<ConfirmOutcome, true>> = {
	expired: true,
	wrong_number: true,
	too_many_attempts: true,
	unknown_code: true,
	superseded_by_withdrawal: true,
};

export async function processEvents(ledger: Ledger, events: WebhookEvent[], options: ProcessingOptions): Promise<TriggerEvent[]> {
	const out: TriggerEvent[] = [];
	let purposeLabels: Map<string, string> | undefined;
	const labels = async (ids: string[]) => {
		purposeLabels ??= new Map((await ledger.listPurposes()).map((p) => [p.id, p.label]));
		return ids.map((id) => purposeLabels!.get(id) ?? id);
	};

	const reject = async (event: WebhookEvent, reason: string) => {
		const result = await ledger.recordRejected({ raw: rawOf(event) ?? event, reason, at: event.at });
		if (!result.duplicate) out.push({ event: 'event.rejected', at: result.receivedAt, eventAt: event.at?.toISOString(), rejectedId: result.id, reason: result.reason });
	};

	for (const event of events) {
		if (event.kind === 'rejected') {
			await reject(event, event.reason);
			continue;
		}
		try {
			await processEvent(ledger, event, options, out, labels);
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

async function processEvent(
	ledger: Ledger,
	event: Exclude<WebhookEvent, { kind: 'rejected' }>,
	options: ProcessingOptions,
	out: TriggerEvent[],
	labels: (ids: string[]) => Promise<string[]>,
): Promise<void> {
	if (event.kind === 'message') {
		const meaning: Meaning = interpret(event, ledger.withdrawalPolicy.keywords);
		const language = replyLanguage(meaning, event.from, options.replies.fallbackLanguage);
		const reply = (text: string, phone?: string, category: Category = 'service') => ({ to: replyTo(event, phone), text, language, category });
		if (meaning.kind === 'withdraw') {
			const result = await withdrawByMessage(ledger, event, meaning.via);
			if (result.duplicate) return;
			out.push({
				event: 'consent.withdrawn',
				at: event.at.toISOString(),
				...messageFields(event),
				phone: result.phone,
				scope: result.scope,
				withdrawn: result.withdrawn,
				via: meaning.via,
				keyword: meaning.keyword,
				reply: reply(withdrawalConfirmation(language, options.replies, result.withdrawn.length === 0), result.phone, 'withdrawal_confirmation'),
			});
			return;
		}
		const result = await ledger.confirm({ messageId: event.messageId, from: event.from, userId: event.userId, text: event.text, at: event.at });
		if (result.duplicate) return;
		const common = { at: event.at.toISOString(), ...messageFields(event), subjectId: result.subjectId };
		if (result.outcome === 'confirmed' || result.outcome === 'already_confirmed') {
			out.push({
				event: 'optin.confirmed',
				...common,
				phone: result.phone,
				purposes: result.purposes,
				alreadyConfirmed: result.outcome === 'already_confirmed',
				reply: reply(optInConfirmation(language, { ...options.replies, purposes: await labels(result.purposes) }), result.phone),
			});
		} else if (REFUSED[result.outcome]) {
			out.push({
				event: 'optin.refused',
				...common,
				outcome: result.outcome,
				hint: result.hint,
				purposes: result.purposes,
				reply: result.outcome === 'expired' || result.outcome === 'too_many_attempts' ? reply(codeExpiredReply(language, options.replies)) : undefined,
			});
		} else {
			out.push({
				event: 'message.received',
				...common,
				meaning: meaning.kind,
				reply: meaning.kind === 'rejoin' ? reply(rejoinReply(language, options.replies)) : undefined,
			});
		}
	} else if (event.kind === 'status') {
		const result = await ledger.recordStatus({
			messageId: event.messageId,
			status: event.status,
			at: event.at,
			recipientId: event.recipientId,
			errors: event.errors,
			pricing: event.pricing,
		});
		if (result.duplicate) return;
		out.push({
			event: 'status.updated',
			at: event.at.toISOString(),
			messageId: event.messageId,
			status: event.status,
			recipientId: event.recipientId,
			sendKey: result.key,
			errors: event.errors,
			pricing: event.pricing,
			marketingStopped: result.marketingStopped,
		});
	} else if (event.kind === 'preference') {
		const result = await applyPreference(ledger, event);
		if (result.duplicate) return;
		out.push({ event: 'marketing.preference', at: event.at.toISOString(), waId: event.waId, userId: event.userId, value: event.value, known: result.known });
	} else if (event.kind === 'system' && event.type === 'user_changed_number' && event.from) {
		// Consent is bound to the number that confirmed it: a changed number needs a new confirmation (checklist 32).
		await ledger.revoke({
			waId: event.from,
			purposes: 'all',
			channel: 'whatsapp',
			owesConfirmation: false,
			messageId: event.messageId,
			evidence: { note: 'WhatsApp reported that the user changed their number' },
			at: event.at,
		});
	}
}
