/**
 * One consented send (checklist 15, 20; invariants 1 and 2): reserve the key with the gate's yes, ask the gate again
 * right before every HTTP attempt, then record what Meta answered. There is no other path to the send API.
 */
import { createHash } from 'node:crypto';
import type { Ledger } from './consent/ledger';
import type { Category, GateDecision, RefusalReason } from './consent/types';
import { MARKETING_STOPPED_CODE } from './consent/sends';
import { ConsentError } from './errors';
import { digitsOf, isBusinessScopedUserId } from './phone';
import { OutcomeUnknownError, WhatsAppApiError, type OutgoingMessage, type WhatsAppClient } from './whatsapp';

export interface ConsentedSend {
	/** Unique per message: see `idempotencyKey`. */
	key: string;
	recipient: string;
	purpose: string;
	category: Category;
	message: OutgoingMessage;
}

export type SendOutcome =
	| { status: 'sent'; key: string; wamid: string; waId?: string; attempts: number }
	| { status: 'refused'; key: string; reason: RefusalReason; message: string }
	| { status: 'already_sent'; key: string; previous: { status: string; wamid: string | null; at: Date } }
	| { status: 'failed'; key: string; error: ConsentError };

/** The gate said no between the reservation and an attempt: a withdrawal arrived in the meantime. */
class RefusedBeforeAttempt extends Error {
	constructor(readonly decision: GateDecision & { allowed: false }) {
		super(decision.message);
	}
}

/**
 * The key a message is sent under once: workflow, node, recipient, the user's campaign key and the message itself.
 * A re-run sends nothing twice; a different message (or campaign) to the same person is a new send.
 */
export function idempotencyKey(parts: { workflowId: string; node: string; recipient: string; campaign: string; message: OutgoingMessage }): string {
	const content = createHash('sha256').update(JSON.stringify(parts.message)).digest('hex').slice(0, 16);
	const scope = createHash('sha256').update(`${parts.workflowId}\u0000${parts.node}`).digest('hex').slice(0, 12);
	return `${scope}:${parts.recipient}:${parts.campaign}:${content}`.slice(0, 512);
}

/** Free-form messages need the 24 h window whatever their purpose; only templates may open a conversation. */
function questionsFor(send: ConsentedSend) {
	const questions = [{ recipient: send.recipient, purpose: send.purpose, category: send.category }];
	if (send.message.type !== 'template' && send.category !== 'service') {
		questions.push({ recipient: send.recipient, purpose: send.purpose, category: 'service' });
	}
	return questions;
}

async function refusal(ledger: Ledger, send: ConsentedSend): Promise<(GateDecision & { allowed: false }) | undefined> {
	const decisions = await ledger.mayMessageBatch(questionsFor(send));
	return decisions.find((decision): decision is GateDecision & { allowed: false } => !decision.allowed);
}

export async function sendWithConsent(ledger: Ledger, client: WhatsAppClient, send: ConsentedSend, signal?: AbortSignal): Promise<SendOutcome> {
	const { key } = send;
	const windowClosed = questionsFor(send).length > 1 ? await refusal(ledger, { ...send, category: 'service' }) : undefined;
	if (windowClosed) {
		return {
			status: 'refused',
			key,
			reason: 'outside_service_window',
			message: 'The person has not written in the last 24 hours: free text is not allowed, use Send Template with an approved template',
		};
	}
	const reservation = await ledger.reserveSend({ key, recipient: send.recipient, purpose: send.purpose, category: send.category });
	if (reservation.status === 'duplicate') return { status: 'already_sent', key, previous: reservation.previous };
	if (reservation.status === 'refused') return { status: 'refused', key, reason: reservation.decision.reason, message: reservation.decision.message };

	let attempted = false;
	try {
		const sent = await client.send(send.recipient, send.message, {
			signal,
			beforeAttempt: async () => {
				const refused = await refusal(ledger, send);
				if (refused) throw new RefusedBeforeAttempt(refused);
				attempted = true;
			},
		});
		await ledger.completeSend(key, { wamid: sent.wamid });
		return { status: 'sent', key, wamid: sent.wamid, waId: sent.waId, attempts: sent.attempts };
	} catch (error) {
		if (error instanceof RefusedBeforeAttempt) {
			await ledger.failSend(key, { outcome: 'failed', message: `refused before sending: ${error.decision.reason}` });
			return { status: 'refused', key, reason: error.decision.reason, message: error.decision.message };
		}
		if (error instanceof WhatsAppApiError) {
			await ledger.failSend(key, { outcome: 'failed', code: error.metaCode, message: error.message });
			if (error.metaCode === MARKETING_STOPPED_CODE && !isBusinessScopedUserId(send.recipient)) {
				await ledger.setMarketingPreference({ waId: digitsOf(send.recipient), value: 'stop', at: new Date() }, `send:${key}:131050`);
			}
			return { status: 'failed', key, error };
		}
		const unknown = error instanceof OutcomeUnknownError || (attempted && signal?.aborted);
		await ledger.failSend(key, { outcome: unknown ? 'unknown' : 'failed', message: (error as Error).message });
		if (error instanceof ConsentError) return { status: 'failed', key, error };
		throw error;
	}
}
