/**
 * One consented send (checklist 15, 20; invariants 1 and 2): reserve the key with the gate's yes, ask the gate again
 * right before every HTTP attempt, then record what Meta answered. There is no other path to the send API.
 */
import { createHash } from 'node:crypto';
import type { Ledger } from './consent/ledger';
import { isReply, type Category, type GateDecision, type RefusalReason } from './consent/types';
import { MARKETING_STOPPED_CODE } from './consent/sends';
import { templateQuestion, type ApprovedTemplate } from './consent/gate';
import { ConsentError, ValidationError } from './errors';
import { sendLedgerFor, type SendLedger } from './send-ledger';
import { digitsOf, isBusinessScopedUserId } from './phone';
import { expectedPricing, type MessagePricing } from './pricing';
import {
	buildMessage,
	OutcomeUnknownError,
	WhatsAppApiError,
	type MessageRequest,
	type OutgoingMessage,
	type Semaphore,
	type SendEndpoint,
	type SentMessage,
	type WhatsAppClient,
} from './whatsapp';

export interface ConsentedSend {
	/** Unique per message: see `idempotencyKey`. */
	key: string;
	recipient: string;
	purpose: string;
	category: Category;
	message: OutgoingMessage;
	/** The Campaign Key the send belongs to (the campaign report counts it). */
	campaign?: string;
	/**
	 * For a template message: the template as Meta approved it and its webhooks since changed it. The gate then asks
	 * about Meta's category where it is stricter (`templateQuestion`), and refuses a paused or disabled template.
	 */
	template?: ApprovedTemplate;
	/** Art. 21(4) GDPR: the first marketing message to a person carries the notice of the right to object. */
	objectionNotice?: ObjectionNotice;
	/**
	 * Send a template Meta approved as MARKETING through the Marketing Messages API. Only `template`'s category
	 * decides: a template of another category, or one whose category is unknown, goes through /messages.
	 */
	marketingMessages?: boolean;
}

/**
 * 'append': the notice is added to the first marketing text as a paragraph of its own; a template cannot be changed,
 * so a first marketing template is refused. 'included': the message says it itself (a template whose footer names
 * STOP), and the ledger records that it was given.
 */
export interface ObjectionNotice {
	mode: 'append' | 'included';
	text: string;
}

export type SendOutcome =
	| { status: 'sent'; key: string; wamid: string; waId?: string; attempts: number; endpoint: SendEndpoint; pricing: MessagePricing; objectionNotice?: true }
	| { status: 'refused'; key: string; reason: RefusalReason; message: string }
	| { status: 'already_sent'; key: string; previous: { status: string; wamid: string | null; at: Date } }
	| { status: 'failed'; key: string; error: ConsentError };

/** The gate said no between the reservation and an attempt: a withdrawal arrived in the meantime. */
class RefusedBeforeAttempt extends Error {
	constructor(readonly decision: GateDecision & { allowed: false }) {
		super(decision.message);
	}
}

/** A campaign key the ledger can keep as it is: visible ASCII without spaces (what every key had to be before). */
const PLAIN_CAMPAIGN = /^[\x21-\x7e]{0,200}$/;

/**
 * The campaign key as it goes into the idempotency key. One of visible ASCII characters without spaces (up to 200)
 * stays as it is, so the keys of runs from before stay the same and nothing is sent twice; any other text (spaces,
 * umlauts, emoji, line breaks, longer) becomes `#` and its SHA-256 in hex, after Unicode normalisation (NFC), so
 * the key is always one the ledger accepts and a different text is a different campaign.
 */
export function campaignPart(campaign: string): string {
	if (PLAIN_CAMPAIGN.test(campaign)) return campaign;
	return `#${createHash('sha256').update(campaign.normalize('NFC'), 'utf16le').digest('hex')}`;
}

/**
 * The key a message is sent under once: workflow, node, recipient, the user's campaign key and the message itself.
 * A re-run sends nothing twice; a different message (or campaign) to the same person is a new send.
 */
export function idempotencyKey(parts: { workflowId: string; node: string; recipient: string; campaign: string; message: OutgoingMessage }): string {
	const content = createHash('sha256').update(JSON.stringify(keyContent(parts.message))).digest('hex').slice(0, 16);
	const scope = createHash('sha256').update(`${parts.workflowId}\u0000${parts.node}`).digest('hex').slice(0, 12);
	return `${scope}:${parts.recipient}:${campaignPart(parts.campaign)}:${content}`.slice(0, 512);
}

/** The message as its key counts it: a file by its digest, not its bytes (JSON would spell out every byte). */
function keyContent(message: OutgoingMessage): unknown {
	if (message.type !== 'media' || !message.file) return message;
	const { data, ...file } = message.file;
	return { ...message, file: { ...file, sha256: createHash('sha256').update(data).digest('hex') } };
}

/**
 * Free-form messages need the 24 h window whatever their purpose; only templates may open a conversation. A reply
 * category is itself the question of its window.
 */
function questionsFor(send: ConsentedSend) {
	const questions = [{ recipient: send.recipient, purpose: send.purpose, category: send.category }];
	if (send.message.type !== 'template' && !isReply(send.category)) {
		questions.push({ recipient: send.recipient, purpose: send.purpose, category: 'service' });
	}
	return questions;
}

function decisionsFor(ledger: SendLedger, send: ConsentedSend, reserved = false): Promise<GateDecision[]> {
	return Promise.all(questionsFor(send).map((question) => ledger.mayMessage({ ...question, reserved })));
}

function refusalAmong(decisions: GateDecision[]): (GateDecision & { allowed: false }) | undefined {
	return decisions.find((decision): decision is GateDecision & { allowed: false } => !decision.allowed);
}

async function refusal(ledger: SendLedger, send: ConsentedSend, reserved = false): Promise<(GateDecision & { allowed: false }) | undefined> {
	return refusalAmong(await decisionsFor(ledger, send, reserved));
}

/**
 * The first marketing message to a person with the objection notice: a text gets it as a paragraph of its own; a
 * message that includes it stays as it is; a template with 'append' cannot take it (the error says what to do).
 */
function withObjectionNotice(message: OutgoingMessage, notice: ObjectionNotice): OutgoingMessage | ValidationError {
	if (notice.mode === 'included') return message;
	if (message.type !== 'text') {
		return new ValidationError(
			'objectionNotice',
			"This is the first marketing message to this person, it must carry the objection notice (Art. 21(4) GDPR), and a template's text cannot be added to",
			"Use a template whose footer says how to object (e.g. 'Reply STOP to opt out') and set Objection Notice to 'The Message Includes It', or send the first marketing message as text inside the 24 h window",
		);
	}
	return { ...message, text: `${message.text}\n\n${notice.text}` };
}

/** The send as the gate asks about it: with its template's category where Meta's is stricter, or refused for its template. */
function asTemplateAsks(send: ConsentedSend): ConsentedSend | { refused: GateDecision & { allowed: false } } {
	if (!send.template) return send;
	const question = templateQuestion(send.template, send.category);
	return 'refused' in question ? question : { ...send, category: question.category };
}

/**
 * What a dry run found: the request Meta would get (with the objection notice if this would be the person's first
 * marketing message), or why nothing would go out. Nothing is reserved, recorded or sent.
 */
export type DryRunOutcome =
	| { status: 'would_send'; key: string; request: MessageRequest; pricing: MessagePricing; objectionNotice?: true }
	| { status: 'refused'; key: string; reason: RefusalReason; message: string }
	| { status: 'already_sent'; key: string }
	/** A first marketing template with Objection Notice 'append': a send would fail, with this error. */
	| { status: 'needs_objection_notice'; key: string; error: ValidationError };

/**
 * A send up to the last step before Meta: the message is built and validated as `sendWithConsent` would, the gate
 * asked the same questions, and the objection notice looked up as a reservation would find it; the key is looked
 * up, not reserved.
 */
export async function dryRun(consentLedger: Ledger, asked: ConsentedSend): Promise<DryRunOutcome> {
	const { key } = asked;
	// Meta's limits first, as for a send: a message that cannot be built throws before the gate is asked.
	buildMessage(asked.recipient, asked.message);
	const send = asTemplateAsks(asked);
	if ('refused' in send) return { status: 'refused', key, reason: send.refused.reason, message: send.refused.message };
	const decisions = await decisionsFor(sendLedgerFor(consentLedger), send);
	const refused = refusalAmong(decisions);
	if (refused) return { status: 'refused', key, reason: refused.reason, message: refused.message };
	if (await consentLedger.wasSent(key)) return { status: 'already_sent', key };
	const notice = send.category === 'marketing' ? send.objectionNotice : undefined;
	const subjectId = decisions[0].allowed ? decisions[0].subjectId : undefined;
	let message = send.message;
	const first = notice !== undefined && subjectId !== undefined && !(await consentLedger.hadObjectionNotice(subjectId));
	if (first) {
		const noticed = withObjectionNotice(message, notice);
		if (noticed instanceof ValidationError) return { status: 'needs_objection_notice', key, error: noticed };
		message = noticed;
	}
	return {
		status: 'would_send',
		key,
		request: buildMessage(send.recipient, message),
		pricing: expectedPricing(send.category, send.message.type === 'template'),
		...(first ? { objectionNotice: true as const } : {}),
	};
}

/**
 * Items in the ledger stages besides those waiting for Meta: enough to cover the ledger's latency at Meta's top rate.
 * A send spends about 0.1–0.3 s in them (reservation, gate re-check, completion, each waiting for the slice before
 * it; measured on PostgreSQL in BENCHMARKS.md, 2026-12-02): with 100 the pace ran dry at 1,000/s, and the cap below
 * (half a second of the pace) still bounds what a crash leaves unknown.
 */
const LEDGER_WINDOW = 300;
/** How far ahead of its turn at the pace a send may be reserved. */
const RESERVED_AHEAD_SECONDS = 0.5;
const FEWEST_IN_FLIGHT = 10;

/**
 * Sends in flight at once: reserved, waiting for their turn at the pace, or waiting for Meta. A send is reserved
 * before it waits, and a process that dies leaves its reserved sends as unknown outcomes, never sent again
 * (invariant 3). So at most half a second of the pace is reserved ahead: at 1,000/s that is all the node's window
 * (Parallel Requests plus the ledger's), at the default 80/s a crash leaves at most 40 unknown instead of 200.
 */
export function sendsInFlight(parallelRequests: number, messagesPerSecond: number): number {
	return Math.min(parallelRequests + LEDGER_WINDOW, Math.max(FEWEST_IN_FLIGHT, Math.ceil(messagesPerSecond * RESERVED_AHEAD_SECONDS)));
}

/**
 * Sends many of these may run side by side (the Send node runs up to its Parallel Requests): their ledger calls
 * are coalesced into slices (`sendLedgerFor`), each send still reserved, checked and completed on its own terms.
 */
export async function sendWithConsent(
	consentLedger: Ledger,
	client: WhatsAppClient,
	asked: ConsentedSend,
	signal?: AbortSignal,
	/** Bounds the requests waiting for Meta's answer across the sends that share it (the node's Parallel Requests). */
	requests?: Semaphore,
): Promise<SendOutcome> {
	const { key } = asked;
	const send = asTemplateAsks(asked);
	if ('refused' in send) return { status: 'refused', key, reason: send.refused.reason, message: send.refused.message };
	const ledger = sendLedgerFor(consentLedger);
	const windowClosed = questionsFor(send).length > 1 ? await refusal(ledger, { ...send, category: 'service' }) : undefined;
	if (windowClosed) {
		return {
			status: 'refused',
			key,
			reason: 'outside_service_window',
			message: 'The person has not written in the last 24 hours: free text is not allowed, use Send Template with an approved template',
		};
	}
	const notice = send.category === 'marketing' ? send.objectionNotice : undefined;
	const reservation = await ledger.reserve({
		key,
		recipient: send.recipient,
		purpose: send.purpose,
		category: send.category,
		campaign: send.campaign,
		...(notice ? { objectionNotice: true } : {}),
	});
	if (reservation.status === 'duplicate') return { status: 'already_sent', key, previous: reservation.previous };
	if (reservation.status === 'refused') return { status: 'refused', key, reason: reservation.decision.reason, message: reservation.decision.message };
	let message = send.message;
	if (reservation.givesObjectionNotice && notice) {
		const noticed = withObjectionNotice(message, notice);
		if (noticed instanceof ValidationError) {
			// The key and the notice are handed back: the person's next marketing message carries it.
			await consentLedger.failSend(key, { outcome: 'failed', message: noticed.message });
			return { status: 'failed', key, error: noticed };
		}
		message = noticed;
	}

	let attempted = false;
	let sent: SentMessage;
	let release: (() => void) | undefined;
	try {
		release = await requests?.acquire(signal);
		sent = await client.send(send.recipient, message, {
			signal,
			marketingMessages: send.marketingMessages === true && send.template?.category === 'MARKETING',
			beforeAttempt: async () => {
				const refused = await refusal(ledger, send, true);
				if (refused) throw new RefusedBeforeAttempt(refused);
				attempted = true;
			},
		});
	} catch (error) {
		release?.();
		if (error instanceof RefusedBeforeAttempt) {
			await consentLedger.failSend(key, { outcome: 'failed', message: `refused before sending: ${error.decision.reason}` });
			return { status: 'refused', key, reason: error.decision.reason, message: error.decision.message };
		}
		if (error instanceof WhatsAppApiError) {
			await consentLedger.failSend(key, { outcome: 'failed', code: error.metaCode, message: error.message });
			if (error.metaCode === MARKETING_STOPPED_CODE && !isBusinessScopedUserId(send.recipient)) {
				await consentLedger.setMarketingPreference({ waId: digitsOf(send.recipient), value: 'stop', at: new Date() }, `send:${key}:131050`);
			}
			return { status: 'failed', key, error };
		}
		const unknown = error instanceof OutcomeUnknownError || (attempted && signal?.aborted);
		const code = error instanceof OutcomeUnknownError ? error.metaCode : undefined;
		await consentLedger.failSend(key, { outcome: unknown ? 'unknown' : 'failed', code, message: (error as Error).message });
		if (error instanceof ConsentError) return { status: 'failed', key, error };
		throw error;
	}
	release?.();
	// Meta accepted it. Should recording that fail, the send must not be marked failed (that would free its key for
	// a second message): the error reaches the caller and the reservation keeps the key from being sent again.
	await ledger.complete(key, { wamid: sent.wamid });
	return {
		status: 'sent',
		key,
		wamid: sent.wamid,
		waId: sent.waId,
		attempts: sent.attempts,
		endpoint: sent.endpoint,
		pricing: expectedPricing(send.category, send.message.type === 'template'),
		...(reservation.givesObjectionNotice ? { objectionNotice: true as const } : {}),
	};
}
