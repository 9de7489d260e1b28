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
	kind: 'message' | 'status' | 'user_preferences' | 'template';
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

/** A user with a username shows it, and no number: Meta identifies them by the user id alone. */
function contactOf(user: SandboxUser): Record<string, unknown> {
	return {
		profile: { name: user.name, ...(user.username ? { username: user.username } : {}) },
		...(user.username ? {} : { wa_id: user.waId }),
		user_id: user.userId,
		...(user.parentUserId ? { parent_user_id: user.parentUserId } : {}),
	};
}

/** Who sent a message, as Meta writes it on the message: `from` (the number), or `from_user_id` for a username user. */
export function senderOf(user: SandboxUser): Record<string, unknown> {
	return user.username ? { from_user_id: user.userId } : { from: user.waId };
}

export function inboundMessageEvent(business: BusinessIdentity, user: SandboxUser, message: Record<string, unknown>): WebhookEvent {
	return {
		kind: 'message',
		summary: `message ${String(message.type)} ${String(message.id)} from ${user.username ? `@${user.username}` : user.waId}`,
		payload: envelope(business, 'messages', { contacts: [contactOf(user)], messages: [message] }),
	};
}

/**
 * `user_changed_user_id`: only the user id changed, so no number is shared. System messages carry no contacts;
 * the previous and the new ids are in `system`.
 */
export function userIdChangedEvent(business: BusinessIdentity, user: SandboxUser, previous: { userId: string; parentUserId?: string }, id: string, timestamp: number): WebhookEvent {
	return {
		kind: 'message',
		summary: `system user_changed_user_id ${previous.userId} → ${user.userId}`,
		payload: envelope(business, 'messages', {
			messages: [
				{
					from_user_id: user.userId,
					id,
					timestamp: String(timestamp),
					type: 'system',
					system: {
						body: `User ${user.name} changed their user id`,
						type: 'user_changed_user_id',
						user_id: user.userId,
						previous_user_id: previous.userId,
						...(user.parentUserId ? { parent_user_id: user.parentUserId } : {}),
						...(previous.parentUserId ? { previous_parent_user_id: previous.parentUserId } : {}),
					},
				},
			],
		}),
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

/** The account-level envelope of template notices: the entry names the account and the time, the value no number. */
function accountEnvelope(business: BusinessIdentity, field: string, time: number, value: Record<string, unknown>): unknown {
	return { object: 'whatsapp_business_account', entry: [{ id: business.wabaId, time, changes: [{ value, field }] }] };
}

export interface TemplateRef {
	id: string;
	name: string;
	language: string;
	category: string;
}

/** `message_template_status_update`: APPROVED, PAUSED, DISABLED, REJECTED, … with Meta's reason. */
export function templateStatusEvent(business: BusinessIdentity, template: TemplateRef, event: string, reason: string | null, time: number): WebhookEvent {
	return {
		kind: 'template',
		summary: `message_template_status_update ${event} ${template.name} (${template.language})`,
		payload: accountEnvelope(business, 'message_template_status_update', time, {
			event,
			message_template_id: Number(template.id),
			message_template_name: template.name,
			message_template_language: template.language,
			reason,
			message_template_category: template.category,
			...(event === 'DISABLED' ? { disable_info: { disable_date: time } } : {}),
		}),
	};
}

/**
 * `template_category_update`: the impending notice (the category Meta will apply, `correct_category`, and when) or
 * the completed one (`previous_category` and `new_category`).
 */
export function templateCategoryEvent(
	business: BusinessIdentity,
	template: TemplateRef,
	change: { stage: 'impending'; correctCategory: string; at: number } | { stage: 'completed'; previousCategory: string },
	time: number,
): WebhookEvent {
	const value =
		change.stage === 'impending'
			? { correct_category: change.correctCategory, new_category: template.category, category_update_timestamp: change.at }
			: { previous_category: change.previousCategory, new_category: template.category };
	return {
		kind: 'template',
		summary: `template_category_update ${change.stage} ${template.name} (${template.language})`,
		payload: accountEnvelope(business, 'template_category_update', time, {
			message_template_id: Number(template.id),
			message_template_name: template.name,
			message_template_language: template.language,
			...value,
		}),
	};
}
