/**
 * The request bodies of `POST /{phone-number-id}/messages`, built and checked here so that a mistake is named, with
 * the field and WhatsApp's limit, before the message reaches Meta and costs an attempt.
 */
import { ValidationError } from '../errors';
import { digitsOf, isBusinessScopedUserId, normalizeRecipient } from '../phone';

/** A value over one of WhatsApp's limits (characters, buttons). */
export class MessageLimitError extends ValidationError {
	readonly limit: number;
	readonly actual: number;

	constructor(field: string, message: string, limit: number, actual: number, hint: string) {
		super(field, message, hint);
		this.limit = limit;
		this.actual = actual;
	}
}

/** Who a message goes to: the digits of an E.164 number in `to`, or a business-scoped user id in `recipient`. */
type Address = { to: string; recipient?: never } | { recipient: string; to?: never };

interface Envelope {
	messaging_product: 'whatsapp';
	recipient_type: 'individual';
}

export interface TextParameter {
	type: 'text';
	text: string;
	parameter_name?: string;
}

export interface TemplateComponent {
	type: 'header' | 'body' | 'button';
	sub_type?: 'quick_reply' | 'url' | 'copy_code';
	index?: string;
	parameters: (
		| TextParameter
		| { type: 'payload'; payload: string }
		| { type: 'coupon_code'; coupon_code: string }
		| { type: 'image' | 'video' | 'document'; image?: MediaObject; video?: MediaObject; document?: MediaObject }
	)[];
}

export type MediaKind = 'image' | 'document' | 'audio' | 'video';

export interface MediaObject {
	id?: string;
	link?: string;
	caption?: string;
	filename?: string;
}

export type MessageRequest = Envelope &
	Address &
	(
		| { type: 'text'; text: { body: string; preview_url: boolean } }
		| { type: 'template'; template: { name: string; language: { code: string }; components?: TemplateComponent[] } }
		| {
				type: 'interactive';
				interactive: {
					type: 'button';
					header?: { type: 'text'; text: string };
					body: { text: string };
					footer?: { text: string };
					action: { buttons: { type: 'reply'; reply: { id: string; title: string } }[] };
				};
		  }
		| { type: 'interactive'; interactive: { type: 'request_contact_info'; body: { text: string }; action: { name: 'request_contact_info' } } }
		| ({ type: MediaKind } & { [kind in MediaKind]?: MediaObject })
	);

export interface MarkAsReadRequest {
	messaging_product: 'whatsapp';
	status: 'read';
	message_id: string;
}

/** Positional parameters ({{1}}, {{2}}) as a list, or named ones ({{first_name}}) as a record. */
export type TemplateParameters = string[] | Record<string, string>;

export interface TemplateButton {
	subType: 'quick_reply' | 'url' | 'copy_code';
	/** The button's position in the approved template, from 0. */
	index: number;
	/** The payload a quick reply sends back, the variable end of a URL button, or the code a copy-code button copies. */
	parameter: string;
}

/** The image, video or document of a template's media header: an uploaded media ID or a public link. */
export interface TemplateHeaderMedia {
	type: 'image' | 'video' | 'document';
	id?: string;
	link?: string;
}

/** What to send, as the Send node's parameters describe it; `buildMessage` turns it into the request body. */
export type OutgoingMessage =
	| ({ type: 'text' } & TextContent)
	| ({ type: 'template' } & TemplateContent)
	| ({ type: 'interactive' } & ReplyButtonsContent)
	| ({ type: 'contact_info_request' } & ContactInfoRequestContent)
	| ({ type: 'media' } & MediaContent);

/** The text above WhatsApp's own "share contact info" button. */
export interface ContactInfoRequestContent {
	body: string;
}

export interface TextContent {
	text: string;
	previewUrl?: boolean;
}

export interface TemplateContent {
	name: string;
	/** The language the template was approved in, e.g. `de` or `en_US`. */
	language: string;
	header?: TemplateParameters;
	/** For a template with an image, video or document header, instead of header parameters. */
	headerMedia?: TemplateHeaderMedia;
	body?: TemplateParameters;
	buttons?: TemplateButton[];
}

export interface ReplyButtonsContent {
	body: string;
	buttons: { id: string; title: string }[];
	header?: string;
	footer?: string;
}

export interface MediaContent {
	mediaType: MediaKind;
	id?: string;
	link?: string;
	caption?: string;
	filename?: string;
}

export const LIMITS = {
	textBody: 4096,
	buttons: 3,
	buttonId: 256,
	buttonTitle: 20,
	interactiveBody: 1024,
	interactiveHeader: 60,
	footer: 60,
	caption: 1024,
	templateButtonIndex: 9,
	copyCode: 15,
} as const;

/** Characters as WhatsApp counts them (code points, so an emoji is one). */
function length(value: string): number {
	return [...value].length;
}

function required(field: string, value: unknown, what: string, hint?: string): string {
	if (typeof value !== 'string' || value.trim() === '') throw new ValidationError(field, `${what} is empty`, hint);
	return value;
}

function atMost(field: string, value: string, limit: number): void {
	const actual = length(value);
	if (actual > limit) {
		throw new MessageLimitError(field, `${field} has ${actual} characters; WhatsApp allows at most ${limit}`, limit, actual, `Shorten ${field} to ${limit} characters`);
	}
}

function address(recipient: string): Address {
	const normalized = normalizeRecipient(recipient, undefined, 'to');
	return isBusinessScopedUserId(normalized) ? { recipient: normalized } : { to: digitsOf(normalized) };
}

function envelope(recipient: string): Envelope & Address {
	return { messaging_product: 'whatsapp', recipient_type: 'individual', ...address(recipient) };
}

/** `recipient` is an E.164 number (`+4915112345678`) or a business-scoped user id (`BR.1502576394655843`). */
export function textMessage(recipient: string, content: TextContent): MessageRequest {
	const body = required('text', content.text, 'The message text');
	atMost('text', body, LIMITS.textBody);
	return { ...envelope(recipient), type: 'text', text: { body, preview_url: content.previewUrl ?? false } };
}

/** Meta refuses these in template parameters (132018). */
const FORBIDDEN_IN_PARAMETER = /[\n\t]| {5,}/;
const PARAMETER_NAME = /^[a-z0-9_]+$/;

function templateParameters(part: 'header' | 'body', values: TemplateParameters): TextParameter[] {
	const entries: [string | undefined, unknown][] = Array.isArray(values) ? values.map((value) => [undefined, value]) : Object.entries(values);
	return entries.map(([name, value], index) => {
		const field = name === undefined ? `${part} parameter ${index + 1}` : `${part} parameter '${name}'`;
		if (name !== undefined && !PARAMETER_NAME.test(name)) {
			throw new ValidationError(field, `'${name}' is not a template parameter name`, 'Use the name from the template, lowercase letters, digits and _ only, e.g. first_name');
		}
		const text = required(field, typeof value === 'number' ? String(value) : value, `The ${field}`, 'Every template parameter needs a value');
		if (FORBIDDEN_IN_PARAMETER.test(text)) {
			throw new ValidationError(field, `The ${field} contains a line break, a tab or more than four spaces in a row`, 'WhatsApp does not allow them in template parameters: remove them');
		}
		return name === undefined ? { type: 'text', text } : { type: 'text', parameter_name: name, text };
	});
}

function templateButton(button: TemplateButton, position: number): TemplateComponent {
	const field = `button ${position + 1}`;
	if (!Number.isInteger(button.index) || button.index < 0 || button.index > LIMITS.templateButtonIndex) {
		throw new MessageLimitError(field, `The ${field} index ${button.index} is not a button position`, LIMITS.templateButtonIndex, button.index, 'Use the position of the button in the template, counting from 0');
	}
	const what = { quick_reply: 'payload', url: 'URL parameter', copy_code: 'code to copy' }[button.subType];
	if (what === undefined) throw new ValidationError(field, `'${String(button.subType)}' is not a template button type`, 'Use quick_reply, url or copy_code');
	const parameter = required(field, button.parameter, `The ${field} ${what}`);
	if (button.subType === 'copy_code') atMost(`${field} code`, parameter, LIMITS.copyCode);
	return {
		type: 'button',
		sub_type: button.subType,
		index: String(button.index),
		parameters: [
			button.subType === 'quick_reply'
				? { type: 'payload', payload: parameter }
				: button.subType === 'copy_code'
					? { type: 'coupon_code', coupon_code: parameter }
					: { type: 'text', text: parameter },
		],
	};
}

function headerMedia(media: TemplateHeaderMedia): TemplateComponent {
	if (!['image', 'video', 'document'].includes(media.type)) {
		throw new ValidationError('headerMedia', `'${String(media.type)}' is not a template header media type`, 'Use image, video or document');
	}
	const source = (media.id ?? media.link ?? '').trim();
	if (source === '') throw new ValidationError('headerMedia', `The header ${media.type} is empty`, 'Give a public https link or the ID of uploaded media');
	return { type: 'header', parameters: [{ type: media.type, [media.type]: media.link ? { link: source } : { id: source } }] };
}

/** Meta's template language codes: `de`, `en_US`, `pt_BR`, `zh_HK`. */
const LANGUAGE_CODE = /^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$/;

export function templateMessage(recipient: string, content: TemplateContent): MessageRequest {
	const name = required('templateName', content.name, 'The template name', 'Use the name as approved in WhatsApp Manager, e.g. welcome').trim();
	const language = (content.language ?? '').trim();
	if (!LANGUAGE_CODE.test(language)) {
		throw new ValidationError('language', `'${content.language}' is not a template language code`, 'Use the code the template was approved in, e.g. de or en_US');
	}
	const components: TemplateComponent[] = [];
	if (content.headerMedia) components.push(headerMedia(content.headerMedia));
	else if (content.header && Object.keys(content.header).length > 0) components.push({ type: 'header', parameters: templateParameters('header', content.header) });
	if (content.body && Object.keys(content.body).length > 0) components.push({ type: 'body', parameters: templateParameters('body', content.body) });
	(content.buttons ?? []).forEach((button, position) => components.push(templateButton(button, position)));
	return { ...envelope(recipient), type: 'template', template: { name, language: { code: language }, ...(components.length > 0 ? { components } : {}) } };
}

/** Reply buttons: up to three buttons the customer taps; each comes back as an interactive reply with its id. */
export function replyButtonsMessage(recipient: string, content: ReplyButtonsContent): MessageRequest {
	const body = required('body', content.body, 'The text above the buttons');
	atMost('body', body, LIMITS.interactiveBody);
	if (content.header) atMost('header', content.header, LIMITS.interactiveHeader);
	if (content.footer) atMost('footer', content.footer, LIMITS.footer);
	const buttons = content.buttons ?? [];
	if (buttons.length < 1 || buttons.length > LIMITS.buttons) {
		throw new MessageLimitError('buttons', `WhatsApp allows 1 to ${LIMITS.buttons} reply buttons, got ${buttons.length}`, LIMITS.buttons, buttons.length, 'Use at most three buttons, or a template');
	}
	const ids = new Set<string>();
	buttons.forEach((button, index) => {
		const id = required(`buttons[${index}].id`, button.id, `The id of button ${index + 1}`);
		const title = required(`buttons[${index}].title`, button.title, `The title of button ${index + 1}`);
		atMost(`buttons[${index}].id`, id, LIMITS.buttonId);
		atMost(`buttons[${index}].title`, title, LIMITS.buttonTitle);
		if (ids.has(id)) throw new ValidationError(`buttons[${index}].id`, `Two buttons have the id '${id}'`, 'Give every button its own id');
		ids.add(id);
	});
	return {
		...envelope(recipient),
		type: 'interactive',
		interactive: {
			type: 'button',
			...(content.header ? { header: { type: 'text' as const, text: content.header } } : {}),
			body: { text: body },
			...(content.footer ? { footer: { text: content.footer } } : {}),
			action: { buttons: buttons.map((button) => ({ type: 'reply' as const, reply: { id: button.id, title: button.title } })) },
		},
	};
}

/** An image, document, audio or video, by the id of an uploaded media file or by a public https link. */
export function mediaMessage(recipient: string, content: MediaContent): MessageRequest {
	const kind = content.mediaType;
	if (!['image', 'document', 'audio', 'video'].includes(kind)) {
		throw new ValidationError('mediaType', `'${kind}' is not a media type`, 'Use image, document, audio or video');
	}
	if (!content.id === !content.link) throw new ValidationError('media', 'Give either a media ID or a link, not both and not neither');
	if (content.link) {
		let url: URL | undefined;
		try {
			url = new URL(content.link);
		} catch {
			url = undefined;
		}
		if (url?.protocol !== 'https:' && url?.protocol !== 'http:') {
			throw new ValidationError('link', `'${content.link}' is not a web address`, 'Use a public address starting with https://');
		}
	}
	if (content.caption) {
		if (kind === 'audio') throw new ValidationError('caption', 'Audio messages cannot have a caption', 'Send the text as a separate message');
		atMost('caption', content.caption, LIMITS.caption);
	}
	if (content.filename && kind !== 'document') throw new ValidationError('filename', `Only documents have a file name, not ${kind}`);
	const media: MediaObject = {
		...(content.id ? { id: content.id } : { link: content.link }),
		...(content.caption ? { caption: content.caption } : {}),
		...(content.filename ? { filename: content.filename } : {}),
	};
	return { ...envelope(recipient), type: kind, [kind]: media } as MessageRequest;
}

/**
 * Meta's contact info request (an interactive `request_contact_info` message): a button that shares the person's
 * own number, which arrives as a `contacts` message with `origin: contact_request`. How a business learns the number
 * of a username user, whose webhooks carry only the user id. WhatsApp writes the button; only the text is ours.
 */
export function contactInfoRequestMessage(recipient: string, content: ContactInfoRequestContent): MessageRequest {
	const body = required('body', content.body, 'The text above the button');
	atMost('body', body, LIMITS.interactiveBody);
	return { ...envelope(recipient), type: 'interactive', interactive: { type: 'request_contact_info', body: { text: body }, action: { name: 'request_contact_info' } } };
}

/** The request body for any outgoing message; `recipient` as for `textMessage`. */
export function buildMessage(recipient: string, content: OutgoingMessage): MessageRequest {
	switch (content.type) {
		case 'text':
			return textMessage(recipient, content);
		case 'template':
			return templateMessage(recipient, content);
		case 'interactive':
			return replyButtonsMessage(recipient, content);
		case 'contact_info_request':
			return contactInfoRequestMessage(recipient, content);
		case 'media':
			return mediaMessage(recipient, content);
	}
}

/** Blue ticks for an inbound message. */
export function markAsReadRequest(wamid: string): MarkAsReadRequest {
	return { messaging_product: 'whatsapp', status: 'read', message_id: required('messageId', wamid, 'The message id') };
}

/** The key Meta's pair rate counts by: the number's digits or the user id. */
export function recipientKey(message: MessageRequest): string {
	return message.to ?? message.recipient ?? '';
}
