/**
 * Webhook events in Meta's envelope:
 * `{"object":"whatsapp_business_account","entry":[{"id":wabaId,"changes":[{"field","value"}]}]}`.
 */
import type { SandboxUser } from './state';

export interface BusinessIdentity {
	wabaId: string;
	phoneNumberId: string;
	displayPhoneNumber: string;
}

export interface WebhookEvent {
	kind: 'message' | 'status' | 'user_preferences';
	/** A line for the delivery log, e.g. "status delivered wamid.…". */
	summary: string;
	payload: unknown;
}

function envelope(business: BusinessIdentity, field: string, value: Record<string, unknown>): unknown {
	return {
		object: 'whatsapp_business_account',
		entry: [
			{
				id: business.wabaId,
				changes: [
					{
						value: {
							messaging_product: 'whatsapp',
							metadata: {
								display_phone_number: business.displayPhoneNumber.replace(/\D/g, ''),
								phone_number_id: business.phoneNumberId,
							},
							...value,
						},
						field,
					},
				],
			},
		],
	};
}

function contactOf(user: SandboxUser): Record<string, unknown> {
	return { profile: { name: user.name }, wa_id: user.waId, user_id: user.userId };
}

export function inboundMessageEvent(business: BusinessIdentity, user: SandboxUser, message: Record<string, unknown>): WebhookEvent {
	return {
		kind: 'message',
		summary: `message ${String(message.type)} ${String(message.id)} from ${user.waId}`,
		payload: envelope(business, 'messages', { contacts: [contactOf(user)], messages: [message] }),
	};
}

/** Statuses come without contacts, as Meta sends them. */
export function statusEvent(business: BusinessIdentity, status: Record<string, unknown>): WebhookEvent {
	return {
		kind: 'status',
		summary: `status ${String(status.status)} ${String(status.id)}`,
		payload: envelope(business, 'messages', { statuses: [status] }),
	};
}

export function userPreferenceEvent(
	business: BusinessIdentity,
	user: SandboxUser,
	value: 'stop' | 'resume',
	timestamp: number,
): WebhookEvent {
	return {
		kind: 'user_preferences',
		summary: `user_preferences ${value} from ${user.waId}`,
		payload: envelope(business, 'user_preferences', {
			contacts: [contactOf(user)],
			user_preferences: [
				{
					wa_id: user.waId,
					detail: value === 'stop' ? 'User requested to stop marketing messages' : 'User requested to resume marketing messages',
					category: 'marketing_messages',
					value,
					timestamp,
				},
			],
		}),
	};
}
