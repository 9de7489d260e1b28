/**
 * Meta's webhooks: the signature check and the events, normalised. The signature covers the raw bytes as Meta sent
 * them (non-ASCII escaped as \uXXXX), so it is checked before anything is parsed, in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { MessagePricing } from '../pricing';

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
			/** The sender's wa_id; absent for a user with a username whose number Meta withholds. */
			from?: string;
			/** The sender's business-scoped user id and, for linked business portfolios, their parent user id. */
			userId?: string;
			parentUserId?: string;
			profileName?: string;
			username?: string;
			/**
			 * The number a person shared by tapping the button of a contact info request (a `contacts` message with
			 * `origin: contact_request`): their own, as WhatsApp knows it. Contacts they forward otherwise are not it.
			 */
			sharedPhone?: string;
			at: Date;
			type: string;
			/** The text body, a button's text or an interactive reply's title. */
			text: string;
			buttonPayload?: string;
			/** The id of the tapped reply button or the chosen list row. */
			interactiveId?: string;
			/** What the person shared in answer to a location request (or on their own). */
			location?: { latitude: number; longitude: number; name?: string; address?: string };
			contextMessageId?: string;
			phoneNumberId?: string;
	  }
	| {
			kind: 'status';
			messageId: string;
			status: 'sent' | 'delivered' | 'read' | 'failed';
			recipientId?: string;
			/** The recipient's business-scoped user id (Meta leaves `recipient_id` out for a username user). */
			recipientUserId?: string;
			at: Date;
			errors?: { code: number; title?: string; message?: string; details?: string }[];
			pricing?: MessagePricing;
	  }
	| { kind: 'preference'; waId?: string; userId?: string; category: string; value: 'stop' | 'resume'; at: Date }
	/**
	 * `user_changed_number` (the number changed, and with it the user id) or `user_changed_user_id` (only the user id
	 * changed; no number is shared): the previous and the new user ids, and parent user ids, as Meta reports them.
	 */
	| {
			kind: 'system';
			type: string;
			messageId?: string;
			from?: string;
			newWaId?: string;
			body?: string;
			userId?: string;
			previousUserId?: string;
			parentUserId?: string;
			previousParentUserId?: string;
			at: Date;
	  }
	/**
	 * A template's status changed (`message_template_status_update`: APPROVED, PAUSED, DISABLED, REJECTED, …) or Meta
	 * changed its category (a completed `template_category_update`; the impending notice before it changes nothing
	 * and is left out). `at` is the notice's time (the entry's), `wabaId` the business account (the entry's id).
	 */
	| {
			kind: 'template';
			update: 'status' | 'category';
			wabaId: string;
			templateId?: string;
			name: string;
			language: string;
			status?: string;
			category?: string;
			previousCategory?: string;
			reason?: string;
			at: Date;
	  }
	/**
	 * An event this parser cannot understand (a field of the wrong type, a value Meta documents no meaning for): kept,
	 * with the reason, so that the events beside it are processed (invariant 6). `raw` is the event as Meta sent it.
	 */
	| { kind: 'rejected'; reason: string; raw: unknown; at?: Date };

/** The event as Meta sent it, for every event the parser made (the ledger keeps it, encrypted, if it refuses it). */
const RAW = new WeakMap<object, unknown>();

export function rawOf(event: WebhookEvent): unknown {
	return event.kind === 'rejected' ? event.raw : RAW.get(event);
}

function withRaw<T extends WebhookEvent>(event: T, raw: unknown): T {
	RAW.set(event, raw);
	return event;
}

const STATUSES = new Set(['sent', 'delivered', 'read', 'failed']);

/** Unix seconds, as a string or a number, between 1970 and the year 5000 (what the store can hold, with room). */
const unixTime = z
	.union([z.string(), z.number()])
	.transform((value) => new Date(Number(value) * 1000))
	.refine((date) => !Number.isNaN(date.getTime()) && date.getTime() >= 0 && date.getTime() < 95_617_584_000_000, 'is not a time in unix seconds');

/** Meta's error codes are numbers; a code sent as digits in a string is the same code. */
const errorCode = z
	.union([z.number().int(), z.string().regex(/^-?\d{1,10}$/).transform(Number)], {
		errorMap: () => ({ message: 'is not a number (error codes are numbers)' }),
	})
	.refine((code) => Math.abs(code) <= 2_147_483_647, 'is not an error code (out of range)');

const contact = z
	.object({
		wa_id: z.string().optional(),
		user_id: z.string().optional(),
		parent_user_id: z.string().optional(),
		profile: z.object({ name: z.string().optional(), username: z.string().optional() }).passthrough().optional(),
	})
	.passthrough();

/** A contact card in a `contacts` message; `origin` says whether it answers a contact info request. */
const sharedContact = z
	.object({
		origin: z.string().optional(),
		phones: z.array(z.object({ phone: z.string().optional(), wa_id: z.string().optional() }).passthrough()).optional(),
	})
	.passthrough();

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
		location: z.object({ latitude: z.number(), longitude: z.number(), name: z.string().optional(), address: z.string().optional() }).passthrough().optional(),
		context: z.object({ id: z.string().optional() }).passthrough().optional(),
		origin: z.string().optional(),
		contacts: z.array(sharedContact).optional(),
		system: z
			.object({
				body: z.string().optional(),
				wa_id: z.string().optional(),
				type: z.string().optional(),
				user_id: z.string().optional(),
				previous_user_id: z.string().optional(),
				parent_user_id: z.string().optional(),
				previous_parent_user_id: z.string().optional(),
			})
			.passthrough()
			.optional(),
	})
	.passthrough();

const status = z
	.object({
		id: z.string(),
		// Any string: Meta adds statuses (e.g. `deleted`) and one unknown value must not sink the whole delivery.
		status: z.string(),
		timestamp: unixTime,
		recipient_id: z.string().optional(),
		recipient_user_id: z.string().optional(),
		errors: z
			.array(
				z
					.object({ code: errorCode, title: z.string().optional(), message: z.string().optional(), error_data: z.object({ details: z.string().optional() }).passthrough().optional() })
					.passthrough(),
			)
			.optional(),
	})
	.passthrough();

/**
 * What Meta charges for a message, on its statuses (per-message pricing since July 2025): the category
 * (marketing, utility, authentication, service, …) and the type (`regular`, `free_customer_service`,
 * `free_entry_point`). Read on its own: pricing Meta reshapes tomorrow must not cost the status itself.
 */
const pricing = z.object({ category: z.string().max(64), type: z.string().max(64).optional(), billable: z.boolean().optional() }).passthrough();

const preference = z
	.object({
		wa_id: z.string().optional(),
		user_id: z.string().optional(),
		category: z.string(),
		value: z.enum(['stop', 'resume']),
		timestamp: unixTime,
	})
	.passthrough();

/**
 * The `value` of a change: what n8n's own WhatsApp Trigger passes on as its item. Only the shape of the lists is
 * checked here; each message, status and preference is checked on its own, so one that cannot be understood does not
 * sink the others.
 */
const value = z
	.object({
		metadata: z.object({ phone_number_id: z.string().optional() }).passthrough().optional(),
		contacts: z.array(z.unknown()).optional(),
		messages: z.array(z.unknown()).optional(),
		statuses: z.array(z.unknown()).optional(),
		user_preferences: z.array(z.unknown()).optional(),
	})
	.passthrough();

const envelope = z.object({
	object: z.literal('whatsapp_business_account'),
	entry: z.array(
		z
			.object({
				id: z.unknown().optional(),
				time: z.unknown().optional(),
				changes: z.array(z.object({ field: z.string().optional(), value: z.unknown() }).passthrough()),
			})
			.passthrough(),
	),
});

type Entry = z.infer<typeof envelope>['entry'][number];

/** Template ids are numbers in Meta's payloads; kept as digits. */
const templateId = z.union([z.string(), z.number()]).transform(String);

const templateChange = z
	.object({
		message_template_id: templateId.optional(),
		message_template_name: z.string().min(1),
		message_template_language: z.string().min(2),
	})
	.passthrough();

const templateStatus = templateChange.extend({ event: z.string().min(1), reason: z.string().nullish(), message_template_category: z.string().optional() });

const templateCategory = templateChange.extend({
	new_category: z.string().min(1),
	previous_category: z.string().optional(),
	correct_category: z.string().optional(),
});

/** The template change fields this parser reads; any other field with no messages in it yields nothing. */
const TEMPLATE_FIELDS = new Set(['message_template_status_update', 'template_category_update']);

/** The events of one template change: the entry says which account and when (Meta's value carries no time). */
function templateEventsOf(field: string, rawValue: unknown, entry: Entry): WebhookEvent[] {
	const at = unixTime.safeParse(entry.time);
	if (!at.success) return [rejected(`entry.time: ${at.error.issues[0].message} (a ${field} notice needs its time)`, rawValue)];
	const wabaId = typeof entry.id === 'string' || typeof entry.id === 'number' ? String(entry.id) : undefined;
	if (!wabaId) return [rejected(`entry.id: the ${field} notice names no business account`, rawValue)];
	if (field === 'message_template_status_update') {
		const parsed = templateStatus.safeParse(rawValue);
		if (!parsed.success) return [rejected(describeIssue(field, 0, parsed.error), rawValue)];
		const item = parsed.data;
		return [
			withRaw(
				{
					kind: 'template',
					update: 'status',
					wabaId,
					templateId: item.message_template_id,
					name: item.message_template_name,
					language: item.message_template_language,
					status: item.event.toUpperCase(),
					...(item.reason ? { reason: item.reason } : {}),
					at: at.data,
				},
				rawValue,
			),
		];
	}
	const parsed = templateCategory.safeParse(rawValue);
	if (!parsed.success) return [rejected(describeIssue(field, 0, parsed.error), rawValue)];
	const item = parsed.data;
	// The impending notice (it names the correct category, not the previous one) announces a change Meta has not
	// made yet: the template still goes out under its category until the completed notice.
	if (item.correct_category !== undefined || item.previous_category === undefined) return [];
	return [
		withRaw(
			{
				kind: 'template',
				update: 'category',
				wabaId,
				templateId: item.message_template_id,
				name: item.message_template_name,
				language: item.message_template_language,
				category: item.new_category.toUpperCase(),
				previousCategory: item.previous_category.toUpperCase(),
				at: at.data,
			},
			rawValue,
		),
	];
}

/** The events of one change of an entry. */
function changeEvents(change: { field?: string; value?: unknown }, entry: Entry): WebhookEvent[] {
	if (change.field !== undefined && TEMPLATE_FIELDS.has(change.field)) return templateEventsOf(change.field, change.value, entry);
	return eventsOf(change.value);
}

function describeIssue(list: string, index: number, error: z.ZodError): string {
	const issue = error.issues[0];
	return `${[`${list}[${index}]`, ...issue.path.map(String)].join('.')}: ${issue.message}`;
}

/** The Meta time of an event that could not be read otherwise, if it has one that can be read. */
function timeOf(raw: unknown): Date | undefined {
	const parsed = unixTime.safeParse((raw as { timestamp?: unknown } | null)?.timestamp);
	return parsed.success ? parsed.data : undefined;
}

function pricingOf(raw: unknown): MessagePricing | undefined {
	const parsed = pricing.safeParse(raw);
	return parsed.success ? { category: parsed.data.category, type: parsed.data.type, billable: parsed.data.billable } : undefined;
}

function rejected(reason: string, raw: unknown): WebhookEvent {
	return { kind: 'rejected', reason, raw, at: timeOf(raw) };
}

/**
 * The number of a `contacts` message that answers a contact info request. Meta's pages show `origin` on the message
 * and, in providers' copies, on the card: either counts.
 */
function sharedPhoneOf(item: z.infer<typeof message>): string | undefined {
	if (item.type !== 'contacts') return undefined;
	const card = item.contacts?.find((candidate) => (candidate.origin ?? item.origin) === 'contact_request');
	const phone = card?.phones?.find((entry) => entry.wa_id || entry.phone);
	const digits = (phone?.wa_id ?? phone?.phone ?? '').replace(/\D/g, '');
	return digits === '' ? undefined : digits;
}

function eventsOf(rawValue: unknown): WebhookEvent[] {
	const parsedValue = value.safeParse(rawValue);
	if (!parsedValue.success) {
		const issue = parsedValue.error.issues[0];
		return [rejected(`value.${issue.path.join('.') || '(the change)'}: ${issue.message}`, rawValue)];
	}
	const change = parsedValue.data;
	const contacts = (change.contacts ?? []).flatMap((raw) => {
		const parsed = contact.safeParse(raw);
		return parsed.success ? [parsed.data] : [];
	});
	const events: WebhookEvent[] = [];
	(change.messages ?? []).forEach((raw, index) => {
		const parsed = message.safeParse(raw);
		if (!parsed.success) {
			events.push(rejected(describeIssue('messages', index, parsed.error), raw));
			return;
		}
		const item = parsed.data;
		const sender = contacts.find((c) => c.wa_id === item.from || (item.from_user_id && c.user_id === item.from_user_id)) ?? contacts[0];
		if (item.type === 'system') {
			const system = item.system;
			events.push(
				withRaw(
					{
						kind: 'system',
						type: system?.type ?? 'system',
						messageId: item.id,
						from: item.from,
						newWaId: system?.wa_id,
						body: system?.body,
						userId: system?.user_id ?? item.from_user_id,
						previousUserId: system?.previous_user_id,
						parentUserId: system?.parent_user_id,
						previousParentUserId: system?.previous_parent_user_id,
						at: item.timestamp,
					},
					raw,
				),
			);
			return;
		}
		const reply = item.interactive?.button_reply ?? item.interactive?.list_reply;
		events.push(
			withRaw(
				{
					kind: 'message',
					messageId: item.id,
					from: item.from,
					userId: item.from_user_id ?? sender?.user_id,
					parentUserId: sender?.parent_user_id,
					profileName: sender?.profile?.name,
					username: sender?.profile?.username,
					sharedPhone: sharedPhoneOf(item),
					at: item.timestamp,
					type: item.type,
					text: item.text?.body ?? item.button?.text ?? reply?.title ?? '',
					buttonPayload: item.button?.payload,
					interactiveId: reply?.id,
					...(item.location ? { location: { latitude: item.location.latitude, longitude: item.location.longitude, name: item.location.name, address: item.location.address } } : {}),
					contextMessageId: item.context?.id,
					phoneNumberId: change.metadata?.phone_number_id,
				},
				raw,
			),
		);
	});
	(change.statuses ?? []).forEach((raw, index) => {
		const parsed = status.safeParse(raw);
		if (!parsed.success) {
			events.push(rejected(describeIssue('statuses', index, parsed.error), raw));
			return;
		}
		const item = parsed.data;
		// Statuses Meta adds (e.g. `deleted`) say nothing about delivery: tolerated and left out.
		if (!STATUSES.has(item.status)) return;
		events.push(
			withRaw(
				{
					kind: 'status',
					messageId: item.id,
					status: item.status as 'sent' | 'delivered' | 'read' | 'failed',
					recipientId: item.recipient_id,
					recipientUserId: item.recipient_user_id,
					at: item.timestamp,
					errors: item.errors?.map((error) => ({ code: error.code, title: error.title, message: error.message, details: error.error_data?.details })),
					pricing: pricingOf((raw as { pricing?: unknown }).pricing),
				},
				raw,
			),
		);
	});
	(change.user_preferences ?? []).forEach((raw, index) => {
		const parsed = preference.safeParse(raw);
		if (!parsed.success) {
			events.push(rejected(describeIssue('user_preferences', index, parsed.error), raw));
			return;
		}
		const item = parsed.data;
		events.push(withRaw({ kind: 'preference', waId: item.wa_id, userId: item.user_id, category: item.category, value: item.value, at: item.timestamp }, raw));
	});
	return events;
}

/** Every event of a webhook POST body, in order; anything that is not a WhatsApp webhook is a typed error. */
export function parseWebhook(body: unknown): WebhookEvent[] {
	const parsed = envelope.safeParse(body);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ValidationError('body', `This is not a WhatsApp Cloud API webhook (${issue.path.join('.') || 'body'}: ${issue.message})`);
	}
	return parsed.data.entry.flatMap((entry) => entry.changes.flatMap((change) => changeEvents(change, entry)));
}

/** The phone number id a change names, if it names one. */
function numberOf(rawValue: unknown): string | undefined {
	const id = (rawValue as { metadata?: { phone_number_id?: unknown } } | null)?.metadata?.phone_number_id;
	return typeof id === 'string' ? id : undefined;
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
 * with every `messages` and `user_preferences` change). Nothing here throws: what cannot be understood (a body that is
 * not a webhook, a change or an event of the wrong shape) becomes a `rejected` event, kept by the caller.
 */
export function parseWebhookFor(body: unknown, phoneNumberId: string): NumberEvents {
	const parsed = envelope.safeParse(body);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		return { events: [rejected(`This is not a WhatsApp Cloud API webhook (${issue.path.join('.') || 'body'}: ${issue.message})`, body)], otherNumbers: [] };
	}
	const events: WebhookEvent[] = [];
	const other = new Map<string, number>();
	for (const [change, entry] of parsed.data.entry.flatMap((entry) => entry.changes.map((change) => [change, entry] as const))) {
		const own = numberOf(change.value);
		const found = changeEvents(change, entry);
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
	if (!value.safeParse(json).success) return [];
	return eventsOf(json).filter((event) => event.kind !== 'rejected');
}
