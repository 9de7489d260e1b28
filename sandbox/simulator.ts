/**
 * The behaviour of WhatsApp behind the Cloud API, without HTTP: which sends Meta accepts (service window,
 * templates, marketing switch, undeliverable numbers, throughput and pair rate), the status ladder after an
 * accepted message, and what happens when a customer writes or flips the marketing switch in the app.
 */
import { randomBytes } from 'node:crypto';
import { digitsOf } from '../lib/phone';
import type { ConfigPatch, SandboxConfig } from './config';
import { FaultQueue } from './faults';
import { GraphApiError } from './graph-errors';
import { derivedUserId, newWamid } from './ids';
import type { UploadedMedia } from './media';
import { PairRateLimit, ThroughputLimit } from './rate-limits';
import type { InteractivePayload, SendRequest } from './send-schema';
import { SandboxState, type ChatMessage, type DeliveryStatus, type SandboxUser } from './state';
import { callbackFor } from './subscribed-apps';
import { TemplateCatalog, type TemplateCategory, type TemplateDefinition } from './templates';

export interface TemplateChangeInput {
	name: string;
	language: string;
	status?: TemplateDefinition['status'];
	reason?: string;
	category?: TemplateCategory;
	notify?: 'completed' | 'impending' | 'none';
}

/** How long Meta shows the typing indicator at most (developers.facebook.com/…/whatsapp/typing-indicators). */
const TYPING_MS = 25_000;

/** Service messages free per business number and month (Meta's allowance since October 2026). */
const SERVICE_ALLOWANCE = 1000;
import { Timers } from './timers';
import { WebhookDispatcher } from './webhook-dispatcher';
import { inboundMessageEvent, senderOf, statusEvent, templateCategoryEvent, templateStatusEvent, userIdChangedEvent, userPreferenceEvent, type BusinessIdentity } from './webhook-payloads';

export interface SendResponse {
	messaging_product: 'whatsapp';
	contacts: { input: string; wa_id?: string; user_id?: string }[];
	messages: { id: string; message_status?: 'accepted' }[];
}

export interface InboundInput {
	from: string;
	name?: string;
	userId?: string;
	text?: string;
	button?: { payload: string; text: string };
	/** A tapped reply button or a chosen list row, by its id; which one it is follows from the message it answers. */
	interactive?: { id: string; title: string; description?: string };
	/** A shared location, e.g. the answer to a location request. */
	location?: { latitude: number; longitude: number; name?: string; address?: string };
	/** The customer taps the button of a contact info request: WhatsApp shares their own number. */
	shareContact?: true;
	/** The business message the customer answers; found from the tapped button when left out. */
	contextId?: string;
}

/** A WhatsApp user who set a username: their webhooks carry the user id and no number. */
export interface UsernameUserInput {
	waId: string;
	username: string;
	name?: string;
	userId?: string;
	parentUserId?: string;
}

export class CloudApiSimulator {
	readonly state = new SandboxState();
	readonly faults = new FaultQueue();
	readonly timers = new Timers();
	readonly webhooks: WebhookDispatcher;
	readonly catalog: TemplateCatalog;
	/** Files uploaded to `/{phone-number-id}/media`, by media id. */
	readonly media = new Map<string, UploadedMedia>();
	config: SandboxConfig;
	private throughput: ThroughputLimit;
	private pairRate: PairRateLimit;

	constructor(private readonly initialConfig: SandboxConfig, catalog: TemplateCatalog) {
		this.config = structuredClone(initialConfig);
		this.catalog = catalog;
		this.throughput = new ThroughputLimit(this.config.throughputPerSecond);
		this.pairRate = new PairRateLimit(this.config.pairRateSeconds, this.config.pairBurst);
		// Meta's alternate callbacks carry `messages` (statuses included), never `user_preferences`.
		this.webhooks = new WebhookDispatcher(
			() => ({ ...this.config, callbackFor: (kind) => callbackFor(this, kind === 'user_preferences' ? 'user_preferences' : 'messages') }),
			this.timers,
			() => this.state.isoNow(),
		);
	}

	get business(): BusinessIdentity {
		return this.config;
	}

	/** Everything back to how the sandbox started, options included. */
	reset(): void {
		this.timers.cancelAll();
		this.webhooks.clear();
		this.faults.clear();
		this.state.clear();
		this.media.clear();
		this.catalog.reset();
		this.config = structuredClone(this.initialConfig);
		this.throughput = new ThroughputLimit(this.config.throughputPerSecond);
		this.pairRate = new PairRateLimit(this.config.pairRateSeconds, this.config.pairBurst);
	}

	patchConfig(patch: ConfigPatch): void {
		const { webhookUrl, ...rest } = patch;
		Object.assign(this.config, rest);
		if (webhookUrl !== undefined) this.config.webhookUrl = webhookUrl ?? undefined;
		this.throughput.perSecond = this.config.throughputPerSecond;
		this.pairRate.intervalSeconds = this.config.pairRateSeconds;
		this.pairRate.burst = this.config.pairBurst;
		// A bound raised or lifted lets held-back webhooks go at once, not only when a request in flight ends.
		this.webhooks.admitWaiting();
	}

	/**
	 * `endpoint` 'marketing_messages': Meta's Marketing Messages API, which takes MARKETING templates only and only once
	 * the business accepted its terms. `failWith`: accepted, then a failed status with this error (an injected fault).
	 */
	send(request: SendRequest, options: { endpoint?: 'messages' | 'marketing_messages'; failWith?: GraphApiError } = {}): SendResponse {
		const viaMarketingApi = options.endpoint === 'marketing_messages';
		if (viaMarketingApi) checkMarketingRequest(request, this.config.marketingMessagesOnboarded);
		const retryAfterMs = this.throughput.take(this.state.now());
		if (retryAfterMs > 0) {
			throw new GraphApiError(130429, undefined, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
		}
		const user = this.resolveRecipient(request);
		if (this.config.undeliverableSuffixes.some((suffix) => user.waId.endsWith(suffix))) throw new GraphApiError(131026);

		const message = this.outboundMessage(request, user);
		if (viaMarketingApi && message.template?.category !== 'MARKETING') {
			throw new GraphApiError(100, 'The Marketing Messages API only sends templates of the MARKETING category.', { message: '(#100) Invalid parameter' });
		}
		// Meta prices what went through the Marketing Messages API as `marketing_lite`.
		const category = viaMarketingApi ? 'marketing_lite' : (message.template?.category.toLowerCase() ?? 'service');
		if (message.template?.category === 'MARKETING' && user.marketing === 'stop') throw new GraphApiError(131050);
		if (!message.template && !this.windowOpen(user)) throw new GraphApiError(131047);
		if (!this.pairRate.take(user.waId, this.state.now())) throw new GraphApiError(131056);

		this.state.chat(user.waId).push(message);
		// The reply ends the typing indicator.
		user.typingUntil = undefined;
		// A `failed_status` fault, a misplaced reaction (131009) or a number that fails after acceptance (131026).
		const failure =
			options.failWith ??
			(this.misplacedReaction(message, user) ? new GraphApiError(131009) : this.config.failingSuffixes.some((suffix) => user.waId.endsWith(suffix)) ? new GraphApiError(131026) : undefined);
		// Meta's per-message pricing since October 2026: templates are charged, service messages (free-form, inside
		// the window) are free for the first SERVICE_ALLOWANCE of the business number each month.
		const free = category === 'service' && (this.state.serviceMessages += 1) <= SERVICE_ALLOWANCE;
		this.scheduleStatuses(message, user, category, free ? 'free_customer_service' : 'regular', failure, request.to !== undefined);
		const input = request.to ?? request.recipient ?? user.waId;
		return {
			messaging_product: 'whatsapp',
			// A username user reached by user id gets no wa_id back: the business learns no number from a send.
			contacts: [{ input, ...(request.to === undefined && user.username ? {} : { wa_id: user.waId }), ...(request.to === undefined ? { user_id: user.userId } : {}) }],
			messages: [{ id: message.id, ...(message.template ? { message_status: 'accepted' as const } : {}) }],
		};
	}

	/** The business marks a customer's message as read (blue ticks), with `typing` also the typing dots for 25 s. */
	markRead(messageId: string, typing = false): { success: true } {
		const found = this.state.findMessage(messageId);
		if (!found || found.message.direction !== 'in') {
			throw new GraphApiError(100, `message_id ${messageId} is not a message this phone number received`);
		}
		found.message.status = 'read';
		if (typing) this.state.user(found.waId).typingUntil = this.state.now() + TYPING_MS;
		return { success: true };
	}

	/** A customer writes to the business: opens or resets the service window, and Meta sends the webhook. */
	receiveInbound(input: InboundInput): { messageId: string; waId: string; userId: string } {
		const waId = digitsOf(input.from);
		const user = this.state.user(waId, { name: input.name, userId: input.userId });
		user.lastInboundAt = this.state.now();
		const id = newWamid(waId);
		const timestamp = String(this.state.unixNow());
		const chatEntry: ChatMessage = { direction: 'in', id, at: this.state.isoNow(), type: 'text' };
		const message: Record<string, unknown> = { ...senderOf(user), id, timestamp };
		if (input.shareContact) {
			chatEntry.type = 'contacts';
			chatEntry.text = `Shared the phone number +${waId}`;
			chatEntry.contextId = input.contextId ?? this.messageWithButton(waId, (m) => m.interactive?.requestsContactInfo);
			// The card of the user's own number, as WhatsApp sends it when the request's button is tapped.
			Object.assign(message, {
				type: 'contacts',
				contacts: [{ origin: 'contact_request', name: { formatted_name: user.name }, phones: [{ phone: `+${waId}`, wa_id: waId, type: 'CELL' }] }],
			});
		} else if (input.button) {
			chatEntry.type = 'button';
			chatEntry.button = input.button;
			const { payload, text } = input.button;
			chatEntry.contextId =
				input.contextId ?? this.messageWithButton(waId, (m) => m.template?.buttons.some((b) => b.payload === payload || b.text === text));
			Object.assign(message, { type: 'button', button: { payload: input.button.payload, text: input.button.text } });
		} else if (input.interactive) {
			chatEntry.type = 'interactive';
			const { id: choiceId } = input.interactive;
			const inList = (m: ChatMessage) => m.interactive?.list?.sections.some((section) => section.rows.some((row) => row.id === choiceId));
			const listMessage = this.messageWithButton(waId, inList);
			const buttonMessage = this.messageWithButton(waId, (m) => m.interactive?.buttons?.some((b) => b.id === choiceId));
			// The answer to the latest message that offered this id; a list row when a list offered it last.
			const isList = listMessage !== undefined && (buttonMessage === undefined || this.position(waId, listMessage) > this.position(waId, buttonMessage));
			chatEntry.contextId = input.contextId ?? (isList ? listMessage : buttonMessage);
			if (isList) {
				chatEntry.listReply = input.interactive;
				Object.assign(message, { type: 'interactive', interactive: { type: 'list_reply', list_reply: input.interactive } });
			} else {
				chatEntry.buttonReply = { id: input.interactive.id, title: input.interactive.title };
				Object.assign(message, { type: 'interactive', interactive: { type: 'button_reply', button_reply: chatEntry.buttonReply } });
			}
		} else if (input.location) {
			chatEntry.type = 'location';
			chatEntry.location = input.location;
			chatEntry.contextId = input.contextId ?? this.messageWithButton(waId, (m) => m.interactive?.kind === 'location_request');
			Object.assign(message, { type: 'location', location: input.location });
		} else {
			chatEntry.text = input.text ?? '';
			Object.assign(message, { type: 'text', text: { body: chatEntry.text } });
			if (input.contextId) chatEntry.contextId = input.contextId;
		}
		if (chatEntry.contextId) {
			message.context = { from: digitsOf(this.config.displayPhoneNumber), id: chatEntry.contextId };
		}
		// Meta puts `context` first; key order matters to nobody but makes logs read like Meta's.
		const ordered = message.context ? { context: message.context, ...message } : message;
		this.state.chat(waId).push(chatEntry);
		this.webhooks.emit(inboundMessageEvent(this.business, user, ordered));
		return { messageId: id, waId, userId: user.userId };
	}

	/** A user who set a WhatsApp username: from now on their webhooks carry no number (and sends reach them by user id). */
	addUsernameUser(input: UsernameUserInput): SandboxUser {
		return this.state.user(digitsOf(input.waId), { name: input.name, username: input.username.replace(/^@/, ''), userId: input.userId, parentUserId: input.parentUserId });
	}

	/** Meta gives the user a new business-scoped user id (and parent user id) and says so in a system message. */
	changeUserId(waId: string, next: { userId?: string; parentUserId?: string } = {}): SandboxUser {
		const user = this.state.users.get(digitsOf(waId));
		if (!user) throw new Error(`The sandbox knows no user +${digitsOf(waId)}`);
		const previous = { userId: user.userId, parentUserId: user.parentUserId };
		user.userId = next.userId ?? derivedUserId(`${user.waId}:${this.state.now()}`, user.userId.slice(0, 2));
		if (next.parentUserId) user.parentUserId = next.parentUserId;
		this.webhooks.emit(userIdChangedEvent(this.business, user, previous, newWamid(user.waId), this.state.unixNow()));
		return user;
	}

	/**
	 * Meta changes a template: its status (with a status webhook) or its category. A category change comes as
	 * Meta sends it: the impending notice first (the template keeps its category), then the completed one;
	 * `notify: 'impending'` stops after the first, `'none'` changes the template without a webhook (a webhook
	 * that never arrived, so that a send relies on what it knew before).
	 */
	changeTemplate(input: TemplateChangeInput): TemplateDefinition {
		const time = this.state.unixNow();
		const before = this.catalog.list().find((t) => t.name === input.name && t.language === input.language);
		if (!before) throw new Error(`There is no template '${input.name}' in '${input.language}'`);
		const previousCategory = before.category;
		const notify = input.notify ?? 'completed';
		const ref = (template: TemplateDefinition) => ({ id: template.id ?? this.templateId(template), name: template.name, language: template.language, category: template.category });
		if (input.category && notify !== 'none') {
			this.webhooks.emit(templateCategoryEvent(this.business, ref(before), { stage: 'impending', correctCategory: input.category, at: time + 86_400 }, time));
		}
		if (input.category && notify === 'impending') return before;
		const template = this.catalog.update(input.name, input.language, { status: input.status, category: input.category });
		if (notify === 'none') return template;
		if (input.category) this.webhooks.emit(templateCategoryEvent(this.business, ref(template), { stage: 'completed', previousCategory }, time));
		if (input.status) this.webhooks.emit(templateStatusEvent(this.business, ref(template), input.status, input.reason ?? null, time));
		return template;
	}

	/** The id the template list gives a template without one in the file. */
	private templateId(template: TemplateDefinition): string {
		return String(900_000_000_000_000 + this.catalog.list().indexOf(template));
	}

	/** The customer flips "marketing messages" for this business in the WhatsApp app. */
	setMarketingPreference(from: string, value: 'stop' | 'resume'): SandboxUser {
		const user = this.state.user(digitsOf(from));
		user.marketing = value;
		this.webhooks.emit(userPreferenceEvent(this.business, user, value, this.state.unixNow()));
		return user;
	}

	windowOpenUntil(user: SandboxUser): number | undefined {
		if (user.lastInboundAt === undefined) return undefined;
		return user.lastInboundAt + this.config.serviceWindowHours * 3600_000;
	}

	private windowOpen(user: SandboxUser): boolean {
		const until = this.windowOpenUntil(user);
		return until !== undefined && this.state.now() < until;
	}

	private resolveRecipient(request: SendRequest): SandboxUser {
		if (request.to !== undefined) {
			const waId = digitsOf(request.to);
			if (waId.length < 7 || waId.length > 15) {
				throw new GraphApiError(100, `Param to '${request.to}' is not a valid phone number`);
			}
			return this.state.user(waId);
		}
		const user = this.state.userByUserId(request.recipient ?? '');
		if (!user) {
			throw new GraphApiError(100, `recipient '${request.recipient}' is not the business-scoped user id of a WhatsApp user of this business`);
		}
		return user;
	}

	private outboundMessage(request: SendRequest, user: SandboxUser): ChatMessage {
		const base: ChatMessage = { direction: 'out', id: newWamid(user.waId), at: this.state.isoNow(), type: request.type, status: 'accepted' };
		if (request.context) base.contextId = request.context.message_id;
		switch (request.type) {
			case 'text':
				return { ...base, text: request.text.body };
			case 'template':
				return { ...base, template: this.catalog.render(request.template) };
			case 'interactive':
				return { ...base, interactive: shownInteractive(request.interactive) };
			case 'reaction':
				return { ...base, reaction: { messageId: request.reaction.message_id, emoji: request.reaction.emoji } };
			default: {
				const upload = request.media.id === undefined ? undefined : this.media.get(request.media.id);
				return { ...base, media: { type: request.type, ...request.media, ...(upload ? { upload: { mimeType: upload.mimeType, bytes: upload.bytes, sha256: upload.sha256 } } : {}) } };
			}
		}
	}

	/**
	 * Meta accepts a reaction and reports it failed (131009) when its message is not one the person sent in this
	 * chat, or is itself a reaction (Meta's reaction messages page).
	 */
	private misplacedReaction(message: ChatMessage, user: SandboxUser): boolean {
		if (!message.reaction) return false;
		const target = this.state.chat(user.waId).find((m) => m.id === message.reaction!.messageId);
		return !target || target.direction !== 'in' || target.reaction !== undefined;
	}

	private position(waId: string, messageId: string): number {
		return this.state.chat(waId).findIndex((m) => m.id === messageId);
	}

	private messageWithButton(waId: string, hasButton: (message: ChatMessage) => boolean | undefined): string | undefined {
		const chat = this.state.chat(waId);
		for (let i = chat.length - 1; i >= 0; i--) {
			if (chat[i].direction === 'out' && hasButton(chat[i])) return chat[i].id;
		}
		return undefined;
	}

	/** sent → delivered → read (a reaction: only sent), or sent → failed with `failure`, Meta's error. */
	private scheduleStatuses(message: ChatMessage, user: SandboxUser, category: string, pricingType: string, failure: GraphApiError | undefined, sentToNumber: boolean): void {
		const delays = this.config.statusDelaysMs;
		const conversation = { id: randomBytes(16).toString('hex'), origin: { type: category } };
		const pricing = { billable: pricingType === 'regular', pricing_model: 'PMP', category, type: pricingType };
		const report = (status: DeliveryStatus, extra: Record<string, unknown>): void => {
			message.status = status;
			this.webhooks.emit(
				statusEvent(this.business, {
					id: message.id,
					status,
					timestamp: String(this.state.unixNow()),
					// A username user's number is withheld unless the business sent to it.
					...(user.username && !sentToNumber ? {} : { recipient_id: user.waId }),
					recipient_user_id: user.userId,
					...extra,
				}),
			);
		};
		this.timers.after(delays.sent, () =>
			report('sent', {
				conversation: { ...conversation, expiration_timestamp: String(this.state.unixNow() + 24 * 3600) },
				pricing,
			}),
		);
		if (failure !== undefined) {
			this.timers.after(delays.delivered, () => {
				message.errorCode = failure.code;
				report('failed', { errors: [failure.toStatusError()] });
			});
			return;
		}
		// Meta sends only `sent` for a reaction: no delivered or read.
		if (message.reaction) return;
		this.timers.after(delays.delivered, () => report('delivered', { conversation, pricing }));
		if (delays.read !== null) this.timers.after(delays.read, () => report('read', {}));
	}
}

/**
 * What the Marketing Messages API asks before it looks at the message: the accepted terms (else 131055, as Meta
 * answers an account that is not onboarded), a template, and `recipient_type: "individual"`, which it requires.
 */
function checkMarketingRequest(request: SendRequest, onboarded: boolean): void {
	if (!onboarded) {
		throw new GraphApiError(131055, 'The business has not accepted the Marketing Messages API terms.', {
			message: '(#200) You must accept the Marketing Messages Lite API terms to use the API.',
		});
	}
	if (request.type !== 'template') throw new GraphApiError(100, 'Message must be a template message.', { message: '(#100) Invalid parameter' });
	if (request.recipient_type !== 'individual') {
		throw new GraphApiError(100, 'The parameter recipient_type is required.', { message: '(#100) The parameter recipient_type is required.' });
	}
}

/** An interactive message as the phone page shows it. */
function shownInteractive(interactive: InteractivePayload): NonNullable<ChatMessage['interactive']> {
	const body = interactive.body.text;
	const framing = (header?: { type: string; text?: string }, footer?: { text: string }) => ({
		...(header?.text ? { header: header.text } : header ? { header: `[${header.type}]` } : {}),
		...(footer ? { footer: footer.text } : {}),
	});
	switch (interactive.type) {
		case 'button':
			return { kind: 'button', ...framing(interactive.header, interactive.footer), body, buttons: interactive.action.buttons.map((button) => button.reply) };
		case 'list':
			return { kind: 'list', ...framing(interactive.header, interactive.footer), body, list: interactive.action };
		case 'cta_url':
			return {
				kind: 'cta_url',
				...framing(interactive.header as { type: string; text?: string } | undefined, interactive.footer),
				body,
				cta: { displayText: interactive.action.parameters.display_text, url: interactive.action.parameters.url },
			};
		case 'location_request_message':
			return { kind: 'location_request', body };
		case 'request_contact_info':
			// WhatsApp draws the button that shares the person's own number.
			return { kind: 'request_contact_info', body, requestsContactInfo: true };
	}
}
