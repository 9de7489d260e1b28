/**
 * Meta's webhooks: the signature check and the events, normalised. The signature covers the raw bytes as Meta sent
 * them (non-ASCII escaped as \uXXXX), so it is checked before anything is parsed, in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors';

/** `sha256=` and the 64 hex digits of one HMAC-SHA256, nothing around it (no whitespace, no second value). */
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Whether `header` (X-Hub-Signature-256) is Meta's signature of `rawBody`. Only one header of exactly `sha256=` and
 * 64 hex digits is read: several headers (an array, or repeated headers that Node joined with ", "), extra
 * characters or a digest of another length are refused before any comparison. The comparison is constant-time.
 */
export function verifySignature(rawBody: Buffer, header: string | string[] | undefined, appSecret: string): boolean {
	if (typeof header !== 'string' || !appSecret) return false;
	const match = SIGNATURE.exec(header);
	if (!match) return false;
	const given = Buffer.from(match[1], 'hex');
	const expected = createHmac('sha256', appSecret).update(rawBody).digest();
	return given.length === expected.length && timingSafeEqual(given, expected);
}

export type WebhookEvent =
	| {
			kind: 'message';
			messageId: string;
			from?: string;
			userId?: string;
			profileName?: string;
			at: Date;
			type: string;
			/** The text body, a button's text or an interactive reply's title. */
			text: string;
			buttonPayload?: string;
			interactiveId?: string;
			contextMessageId?: string;
			phoneNumberId?: string;
	  }
	| {
			kind: 'status';
			messageId: string;
			status: 'sent' | 'delivered' | 'read' | 'failed';
			recipientId?: string;
			at: Date;
			errors?: { code: number; title?: string; message?: string; details?: string }[];
	  }
	| { kind: 'preference'; waId?: string; userId?: string; category: string; value: 'stop' | 'resume'; at: Date }
	| { kind: 'system'; type: string; messageId?: string; from?: string; newWaId?: string; body?: string; at: Date };

const STATUSES = new Set(['sent', 'delivered', 'read', 'failed']);

const unixTime = z.union([z.string(), z.number()]).transform((value) => new Date(Number(value) * 1000));

const contact = z.object({ wa_id: z.string().optional(), user_id: z.string().optional(), profile: z.object({ name: z.string().optional() }).passthrough().optional() }).passthrough();

const message = z
	.object({
		from: z.string().optional(),
		from_user_id: z.string().optional(),
		id: z.string(),
		timestamp: unixTime,
		type: z.string(),
		text: z.object({ body: z.string() }).passthrough().optional(),
		button: z.object({ payload: z.string().optional(), text: z.string().optional() }).passthrough().optional(),
		interactive: z
			.object({
				type: z.string().optional(),
				button_reply: z.object({ id: z.string(), title: z.string() }).passthrough().optional(),
				list_reply: z.object({ id: z.string(), title: z.string() }).passthrough().optional(),
			})
			.passthrough()
			.optional(),
		context: z.object({ id: z.string().optional() }).passthrough().optional(),
		system: z.object({ body: z.string().optional(), wa_id: z.string().optional(), type: z.string().optional() }).passthrough().optional(),
	})
	.passthrough();

const status = z
	.object({
		id: z.string(),
		// Any string: Meta adds statuses (e.g. `deleted`) and one unknown value must not sink the whole delivery.
		status: z.string(),
		timestamp: unixTime,
		recipient_id: z.string().optional(),
		errors: z
			.array(
				z
					.object({ code: z.number(), title: z.string().optional(), message: z.string().optional(), error_data: z.object({ details: z.string().optional() }).passthrough().optional() })
					.passthrough(),
			)
			.optional(),
	})
	.passthrough();

const preference = z
	.object({
		wa_id: z.string().optional(),
		user_id: z.string().optional(),
		category: z.string(),
		value: z.enum(['stop', 'resume']),
		timestamp: unixTime,
	})
	.passthrough();

/** The `value` of a change: what n8n's own WhatsApp Trigger passes on as its item. */
const value = z
	.object({
		metadata: z.object({ phone_number_id: z.string().optional() }).passthrough().optional(),
		contacts: z.array(contact).optional(),
		messages: z.array(message).optional(),
		statuses: z.array(status).optional(),
		user_preferences: z.array(preference).optional(),
	})
	.passthrough();

const envelope = z.object({
	object: z.literal('whatsapp_business_account'),
	entry: z.array(z.object({ changes: z.array(z.object({ field: z.string(), value: value }).passthrough()) }).passthrough()),
});

function eventsOf(change: z.output<typeof value>): WebhookEvent[] {
	const events: WebhookEvent[] = [];
	for (const item of change.messages ?? []) {
		const sender = change.contacts?.find((c) => c.wa_id === item.from || (item.from_user_id && c.user_id === item.from_user_id)) ?? change.contacts?.[0];
		if (item.type === 'system') {
			events.push({ kind: 'system', type: item.system?.type ?? 'system', messageId: item.id, from: item.from, newWaId: item.system?.wa_id, body: item.system?.body, at: item.timestamp });
			continue;
		}
		const reply = item.interactive?.button_reply ?? item.interactive?.list_reply;
		events.push({
			kind: 'message',
			messageId: item.id,
			from: item.from,
			userId: item.from_user_id ?? sender?.user_id,
			profileName: sender?.profile?.name,
			at: item.timestamp,
			type: item.type,
			text: item.text?.body ?? item.button?.text ?? reply?.title ?? '',
			buttonPayload: item.button?.payload,
			interactiveId: reply?.id,
			contextMessageId: item.context?.id,
			phoneNumberId: change.metadata?.phone_number_id,
		});
	}
	for (const item of change.statuses ?? []) {
		if (!STATUSES.has(item.status)) continue;
		events.push({
			kind: 'status',
			messageId: item.id,
			status: item.status as 'sent' | 'delivered' | 'read' | 'failed',
			recipientId: item.recipient_id,
			at: item.timestamp,
			errors: item.errors?.map((error) => ({ code: error.code, title: error.title, message: error.message, details: error.error_data?.details })),
		});
	}
	for (const item of change.user_preferences ?? []) {
		events.push({ kind: 'preference', waId: item.wa_id, userId: item.user_id, category: item.category, value: item.value, at: item.timestamp });
	}
	return events;
}

/** Every event of a webhook POST body, in order; anything that is not a WhatsApp webhook is a typed error. */
export function parseWebhook(body: unknown): WebhookEvent[] {
	const parsed = envelope.safeParse(body);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ValidationError('body', `This is not a WhatsApp Cloud API webhook (${issue.path.join('.') || 'body'}: ${issue.message})`);
	}
	return parsed.data.entry.flatMap((entry) => entry.changes.flatMap((change) => eventsOf(change.value)));
}

/** Events of a delivery for one business number, and what came for other numbers (only counted, never read further). */
export interface NumberEvents {
	events: WebhookEvent[];
	/** Changes whose `metadata.phone_number_id` names another number: their phone number id and how many events. */
	otherNumbers: { phoneNumberId: string; events: number }[];
}

/**
 * `parseWebhook` for the business number `phoneNumberId` (the credential's Phone Number ID). One Meta app can
 * serve several numbers and sends the webhooks of all of them to the same callback URL: a change whose
 * `metadata.phone_number_id` names another number is left out, so a code or a STOP sent to another business
 * number changes nothing here. A change without metadata cannot be told apart and is kept (Meta sends metadata
 * with every `messages` and `user_preferences` change).
 */
export function parseWebhookFor(body: unknown, phoneNumberId: string): NumberEvents {
	const parsed = envelope.safeParse(body);
	if (!parsed.success) return { events: parseWebhook(body), otherNumbers: [] };
	const events: WebhookEvent[] = [];
	const other = new Map<string, number>();
	for (const change of parsed.data.entry.flatMap((entry) => entry.changes)) {
		const own = change.value.metadata?.phone_number_id;
		const found = eventsOf(change.value);
		if (own === undefined || own === phoneNumberId) events.push(...found);
		else other.set(own, (other.get(own) ?? 0) + found.length);
	}
	return { events, otherNumbers: [...other].map(([id, count]) => ({ phoneNumberId: id, events: count })) };
}

/**
 * An item from n8n's built-in WhatsApp Trigger, or a whole webhook body. The trigger emits one item per change:
 * the change's `value` (messaging_product, metadata, contacts, messages | statuses | user_preferences) with the
 * change's `field` added. An item that carries none of these yields no events (it is not a WhatsApp event).
 */
export function parseTriggerItem(json: unknown): WebhookEvent[] {
	if ((json as { object?: unknown })?.object === 'whatsapp_business_account') return parseWebhook(json);
	const parsed = value.safeParse(json);
	return parsed.success ? eventsOf(parsed.data) : [];
}
