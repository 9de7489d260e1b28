/**
 * What the sandbox remembers between requests: the users it has seen (their service window, their in-app
 * marketing switch, their business-scoped id), the chat with each, and every Graph request with its outcome.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { derivedUserId } from './ids';
import type { RenderedTemplate } from './templates';

export interface SandboxUser {
	waId: string;
	userId: string;
	/** The parent user id Meta gives linked business portfolios, when this business has one for the user. */
	parentUserId?: string;
	name: string;
	/** A WhatsApp username: Meta then withholds the number from webhooks (they carry the user id only). */
	username?: string;
	/** Sandbox clock (ms) of the user's last message: the service window runs from here. */
	lastInboundAt?: number;
	marketing: 'stop' | 'resume';
	/** Sandbox clock (ms) until which the business's typing indicator shows (Meta: 25 s, or until it replies). */
	typingUntil?: number;
}

export type DeliveryStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ChatMessage {
	direction: 'in' | 'out';
	id: string;
	/** ISO time on the sandbox clock. */
	at: string;
	type: string;
	text?: string;
	template?: RenderedTemplate;
	/** Reply buttons, a list (its button and rows), a call-to-action URL, a location request, or a contact info request. */
	interactive?: {
		kind: 'button' | 'list' | 'cta_url' | 'location_request' | 'request_contact_info';
		header?: string;
		body: string;
		footer?: string;
		buttons?: { id: string; title: string }[];
		list?: { button: string; sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[] };
		cta?: { displayText: string; url: string };
		requestsContactInfo?: true;
	};
	/** `upload`: what the sandbox knows of a file uploaded to `/{phone-number-id}/media`. */
	media?: { type: string; id?: string; link?: string; caption?: string; filename?: string; upload?: { mimeType: string; bytes: number; sha256: string } };
	reaction?: { messageId: string; emoji: string };
	button?: { payload: string; text: string };
	buttonReply?: { id: string; title: string };
	listReply?: { id: string; title: string; description?: string };
	location?: { latitude: number; longitude: number; name?: string; address?: string };
	/** The message this one answers (a tapped button's message). */
	contextId?: string;
	status?: DeliveryStatus;
	errorCode?: number;
}

export type RequestOutcome =
	| { status: 'accepted'; httpStatus: 200; wamid: string }
	| { status: 'ok'; httpStatus: number }
	| { status: 'error'; httpStatus: number; code: number; fault?: true; processed?: RequestOutcome }
	| { status: 'timeout'; fault: true; processed?: RequestOutcome }
	| { status: 'reset'; fault: true; processed?: RequestOutcome }
	| { status: 'http5xx'; httpStatus: number; fault: true; processed?: RequestOutcome };

export interface LoggedRequest {
	seq: number;
	at: string;
	method: string;
	path: string;
	body?: unknown;
	outcome: RequestOutcome;
}

/** One app's subscription to a WABA's webhooks (`POST /{waba-id}/subscribed_apps`). */
export interface AppSubscription {
	/** The alternate callback URL for this WABA: Meta sends the overridable fields there instead of the app's. */
	overrideCallbackUri?: string;
}

export class SandboxState {
	readonly users = new Map<string, SandboxUser>();
	/** Per WABA id, per app id. */
	readonly subscriptions = new Map<string, Map<string, AppSubscription>>();
	readonly chats = new Map<string, ChatMessage[]>();
	readonly requests: LoggedRequest[] = [];
	/** Moves the sandbox clock forward (`POST /_sandbox/clock`), so a test can let a service window expire. */
	clockOffsetMs = 0;
	/** Service (free-form) messages sent since the start or the last reset: Meta prices them by a monthly allowance. */
	serviceMessages = 0;

	now(): number {
		return Date.now() + this.clockOffsetMs;
	}

	isoNow(): string {
		return new Date(this.now()).toISOString();
	}

	/** Unix seconds as Meta writes them in webhooks. */
	unixNow(): number {
		return Math.floor(this.now() / 1000);
	}

	user(waId: string, details: { name?: string; userId?: string; username?: string; parentUserId?: string } = {}): SandboxUser {
		let user = this.users.get(waId);
		if (!user) {
			const region = parsePhoneNumberFromString(`+${waId}`)?.country ?? 'ZZ';
			user = { waId, userId: derivedUserId(waId, region), name: `Customer ${waId.slice(-4)}`, marketing: 'resume' };
			this.users.set(waId, user);
		}
		if (details.name) user.name = details.name;
		if (details.userId) user.userId = details.userId;
		if (details.username) user.username = details.username;
		if (details.parentUserId) user.parentUserId = details.parentUserId;
		return user;
	}

	userByUserId(userId: string): SandboxUser | undefined {
		return [...this.users.values()].find((user) => user.userId === userId);
	}

	chat(waId: string): ChatMessage[] {
		let chat = this.chats.get(waId);
		if (!chat) {
			chat = [];
			this.chats.set(waId, chat);
		}
		return chat;
	}

	findMessage(id: string): { waId: string; message: ChatMessage } | undefined {
		for (const [waId, chat] of this.chats) {
			const message = chat.find((m) => m.id === id);
			if (message) return { waId, message };
		}
		return undefined;
	}

	logRequest(method: string, path: string, body: unknown, outcome: RequestOutcome): void {
		this.requests.push({ seq: this.requests.length + 1, at: this.isoNow(), method, path, body, outcome });
	}

	clear(): void {
		this.users.clear();
		this.subscriptions.clear();
		this.chats.clear();
		this.requests.length = 0;
		this.clockOffsetMs = 0;
		this.serviceMessages = 0;
	}
}
