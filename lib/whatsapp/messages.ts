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
		| {
				type: 'interactive';
				interactive: {
					type: 'list';
					header?: { type: 'text'; text: string };
					body: { text: string };
					footer?: { text: string };
					action: { button: string; sections: { title?: string; rows: ListRow[] }[] };
				};
		  }
		| {
				type: 'interactive';
				interactive: {
					type: 'cta_url';
					header?: { type: 'text'; text: string };
					body: { text: string };
					footer?: { text: string };
					action: { name: 'cta_url'; parameters: { display_text: string; url: string } };
				};
		  }
		| { type: 'interactive'; interactive: { type: 'location_request_message'; body: { text: string }; action: { name: 'send_location' } } }
		| { type: 'reaction'; reaction: { message_id: string; emoji: string } }
		| { type: 'interactive'; interactive: { type: 'request_contact_info'; body: { text: string }; action: { name: 'request_contact_info' } } }
		| ({ type: MediaKind } & { [kind in MediaKind]?: MediaObject })
	);

export interface MarkAsReadRequest {
	messaging_product: 'whatsapp';
	status: 'read';
	message_id: string;
	typing_indicator?: { type: 'text' };
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
	| ({ type: 'media' } & MediaContent)
	| ({ type: 'list' } & ListContent)
	| ({ type: 'cta_url' } & CtaUrlContent)
	| ({ type: 'location_request' } & LocationRequestContent)
	| ({ type: 'reaction' } & ReactionContent);

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
	/** A file to upload first (`POST /{phone-number-id}/media`); sent by the id Meta gives it. */
	file?: MediaFile;
	caption?: string;
	filename?: string;
}

/** The bytes of a file to upload, e.g. n8n binary data, with the MIME type Meta checks them against. */
export interface MediaFile {
	data: Uint8Array;
	mimeType: string;
	fileName?: string;
}

export interface ListRow {
	id: string;
	title: string;
	description?: string;
}

/** A list: a button that opens up to ten rows in up to ten sections; the chosen row comes back as a list reply. */
export interface ListContent {
	body: string;
	/** The text of the button that opens the list. */
	button: string;
	sections: { title?: string; rows: ListRow[] }[];
	header?: string;
	footer?: string;
}

/** A button that opens a web address, so the text need not show the raw URL. */
export interface CtaUrlContent {
	body: string;
	displayText: string;
	url: string;
	header?: string;
	footer?: string;
}

/** A text with a Send Location button; the shared location comes back as a location message. */
export interface LocationRequestContent {
	body: string;
}

/** An emoji on a message the person sent; an empty emoji removes the reaction. */
export interface ReactionContent {
	messageId: string;
	emoji: string;
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
	// Meta's pages under developers.facebook.com/documentation/business-messaging/whatsapp/messages/:
	// interactive-list-messages (10 sections, 10 rows in all), interactive-cta-url-messages, location-request-messages
	// (body 1,024); the per-field lengths of lists as WhatsApp's own Node.js SDK reference states them.
	listButton: 20,
	listSections: 10,
	listRows: 10,
	listSectionTitle: 24,
	listRowTitle: 24,
	listRowDescription: 72,
	listRowId: 200,
	ctaDisplayText: 20,
} as const;

const MB = 1024 * 1024;

/**
 * What Meta takes per media type ("Supported media types" of the Cloud API media reference, linked from
 * developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media): the MIME types and
 * the largest file, read as binary megabytes (Meta writes "5 MB" without saying which). Audio/ogg only with the OPUS codec, video only H.264 with AAC audio: Meta checks that, not we.
 */
export const MEDIA_FILE_LIMITS: Record<MediaKind, { mimeTypes: readonly string[]; maxBytes: number }> = {
	audio: { mimeTypes: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'], maxBytes: 16 * MB },
	document: {
		mimeTypes: [
			'text/plain',
			'application/pdf',
			'application/msword',
			'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
			'application/vnd.ms-excel',
			'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
			'application/vnd.ms-powerpoint',
			'application/vnd.openxmlformats-officedocument.presentationml.presentation',
		],
		maxBytes: 100 * MB,
	},
	image: { mimeTypes: ['image/jpeg', 'image/png'], maxBytes: 5 * MB },
	video: { mimeTypes: ['video/mp4', 'video/3gpp'], maxBytes: 16 * MB },
};

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

function webAddress(field: string, value: string): void {
	let url: URL | undefined;
	try {
		url = new URL(value);
	} catch {
		url = undefined;
	}
	if (url?.protocol !== 'https:' && url?.protocol !== 'http:') {
		throw new ValidationError(field, `'${value}' is not a web address`, 'Use a public address starting with https://');
	}
}

/** The optional text header and footer of an interactive message, checked against Meta's 60 characters. */
function headerAndFooter(content: { header?: string; footer?: string }) {
	if (content.header) atMost('header', content.header, LIMITS.interactiveHeader);
	if (content.footer) atMost('footer', content.footer, LIMITS.footer);
	return {
		...(content.header ? { header: { type: 'text' as const, text: content.header } } : {}),
		...(content.footer ? { footer: { text: content.footer } } : {}),
	};
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
	const framing = headerAndFooter(content);
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
			...framing,
			body: { text: body },
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
	const sources = [content.id, content.link, content.file].filter((source) => source !== undefined && source !== '').length;
	if (sources !== 1) throw new ValidationError('media', 'Give one of a media ID, a link or a file, not several and not none');
	if (content.file) checkMediaFile(kind, content.file);
	if (content.link) webAddress('link', content.link);
	if (content.caption) {
		if (kind === 'audio') throw new ValidationError('caption', 'Audio messages cannot have a caption', 'Send the text as a separate message');
		atMost('caption', content.caption, LIMITS.caption);
	}
	if (content.filename && kind !== 'document') throw new ValidationError('filename', `Only documents have a file name, not ${kind}`);
	const media: MediaObject = {
		// A file's id exists only once it is uploaded, right before the send (`sendWithConsent`); a dry run shows this.
		...(content.file ? { id: MEDIA_UPLOAD_PENDING } : content.id ? { id: content.id } : { link: content.link }),
		...(content.caption ? { caption: content.caption } : {}),
		...(content.filename ? { filename: content.filename } : {}),
	};
	return { ...envelope(recipient), type: kind, [kind]: media } as MessageRequest;
}

/** The id an uploaded file gets stands in the request as this until the upload (a dry run shows it). */
export const MEDIA_UPLOAD_PENDING = '(the id of the uploaded file)';

/** A file for `POST /{phone-number-id}/media`, checked against Meta's MIME types and size for its media type. */
export function checkMediaFile(kind: MediaKind, file: MediaFile): void {
	const limits = MEDIA_FILE_LIMITS[kind];
	const mimeType = (file.mimeType ?? '').split(';')[0].trim().toLowerCase();
	if (!limits.mimeTypes.includes(mimeType)) {
		throw new ValidationError('file', `WhatsApp does not take '${file.mimeType || 'a file without a MIME type'}' as ${kind}`, `Send ${kind} as one of ${limits.mimeTypes.join(', ')}, or choose the media type that fits the file`);
	}
	const size = file.data.byteLength;
	if (size === 0) throw new ValidationError('file', 'The file is empty', 'Check the binary property the file is read from');
	if (size > limits.maxBytes) {
		const mb = (bytes: number) => `${Math.round((bytes / MB) * 10) / 10} MB`;
		throw new MessageLimitError('file', `A ${kind} file may have at most ${mb(limits.maxBytes)}; this one has ${mb(size)}`, limits.maxBytes, size, `Compress the file below ${mb(limits.maxBytes)}, or send it as a link`);
	}
}

/** A list message: Meta's limits checked per row, numbered across sections as the person sees them. */
export function listMessage(recipient: string, content: ListContent): MessageRequest {
	const body = required('body', content.body, 'The text above the list button');
	atMost('body', body, LIMITS.interactiveBody);
	const button = required('button', content.button, 'The text of the list button', 'Name the button that opens the list, e.g. Choose a time');
	atMost('button', button, LIMITS.listButton);
	const framing = headerAndFooter(content);
	const sections = content.sections ?? [];
	if (sections.length < 1 || sections.length > LIMITS.listSections) {
		throw new MessageLimitError('sections', `A list may have 1 to ${LIMITS.listSections} sections; this one has ${sections.length}`, LIMITS.listSections, sections.length, 'Put the rows into at most ten sections');
	}
	const rowCount = sections.reduce((count, section) => count + (section.rows ?? []).length, 0);
	if (rowCount < 1 || rowCount > LIMITS.listRows) {
		throw new MessageLimitError('rows', `A list may have 1 to ${LIMITS.listRows} rows in all its sections together; this one has ${rowCount}`, LIMITS.listRows, rowCount, 'Offer at most ten choices, or send a second list');
	}
	const ids = new Set<string>();
	let number = 0;
	const checked = sections.map((section, s) => {
		if (sections.length > 1 && !section.title?.trim()) {
			throw new ValidationError(`sections[${s}].title`, `Section ${s + 1} has no title`, 'A list with more than one section needs a title for every section');
		}
		if (section.title) limited(`sections[${s}].title`, section.title, LIMITS.listSectionTitle, `Section titles may have at most ${LIMITS.listSectionTitle} characters; section ${s + 1}`);
		const rows = (section.rows ?? []).map((row, r) => {
			number += 1;
			const field = `sections[${s}].rows[${r}]`;
			const title = required(`${field}.title`, row.title, `The title of row ${number}`);
			limited(`${field}.title`, title, LIMITS.listRowTitle, `List row titles may have at most ${LIMITS.listRowTitle} characters; row ${number}`);
			if (row.description) limited(`${field}.description`, row.description, LIMITS.listRowDescription, `List row descriptions may have at most ${LIMITS.listRowDescription} characters; row ${number}`);
			const id = row.id || title;
			limited(`${field}.id`, id, LIMITS.listRowId, `List row ids may have at most ${LIMITS.listRowId} characters; row ${number}`);
			if (ids.has(id)) throw new ValidationError(`${field}.id`, `Two rows have the id '${id}' (row ${number} and one before it)`, 'Give every row its own id: it tells which row the person chose');
			ids.add(id);
			return { id, title, ...(row.description ? { description: row.description } : {}) };
		});
		return { ...(section.title ? { title: section.title } : {}), rows };
	});
	return { ...envelope(recipient), type: 'interactive', interactive: { type: 'list', ...framing, body: { text: body }, action: { button, sections: checked } } };
}

/** `what` starts the message, e.g. "List row titles may have at most 24 characters; row 3"; " has 31" is added. */
function limited(field: string, value: string, limit: number, what: string): void {
	const actual = length(value);
	if (actual > limit) throw new MessageLimitError(field, `${what} has ${actual}`, limit, actual, `Shorten it to ${limit} characters`);
}

/** A call-to-action button that opens `url`. */
export function ctaUrlMessage(recipient: string, content: CtaUrlContent): MessageRequest {
	const body = required('body', content.body, 'The text above the button');
	atMost('body', body, LIMITS.interactiveBody);
	const displayText = required('displayText', content.displayText, 'The button text');
	limited('displayText', displayText, LIMITS.ctaDisplayText, `The button text may have at most ${LIMITS.ctaDisplayText} characters; it`);
	const url = required('url', content.url, 'The button\'s web address').trim();
	webAddress('url', url);
	const framing = headerAndFooter(content);
	return {
		...envelope(recipient),
		type: 'interactive',
		interactive: { type: 'cta_url', ...framing, body: { text: body }, action: { name: 'cta_url', parameters: { display_text: displayText, url } } },
	};
}

/** A text with Meta's Send Location button. */
export function locationRequestMessage(recipient: string, content: LocationRequestContent): MessageRequest {
	const body = required('body', content.body, 'The text above the Send Location button');
	atMost('body', body, LIMITS.interactiveBody);
	return { ...envelope(recipient), type: 'interactive', interactive: { type: 'location_request_message', body: { text: body }, action: { name: 'send_location' } } };
}

/** One emoji as WhatsApp shows it: a single grapheme that is a pictograph, a flag or a keycap. */
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** An emoji on a message of the person's; `emoji: ''` takes a reaction back. */
export function reactionMessage(recipient: string, content: ReactionContent): MessageRequest {
	const messageId = required('messageId', content.messageId, 'The id of the message to react to', "Use the wamid of the person's message, e.g. {{ $json.messageId }} from the Opt-In Trigger").trim();
	const emoji = (content.emoji ?? '').trim();
	if (emoji !== '' && ([...graphemes.segment(emoji)].length !== 1 || !EMOJI.test(emoji))) {
		throw new ValidationError('emoji', `'${emoji}' is not a single emoji`, 'Use one emoji such as 👍, or leave it empty to remove the reaction');
	}
	return { ...envelope(recipient), type: 'reaction', reaction: { message_id: messageId, emoji } };
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
		case 'list':
			return listMessage(recipient, content);
		case 'cta_url':
			return ctaUrlMessage(recipient, content);
		case 'location_request':
			return locationRequestMessage(recipient, content);
		case 'reaction':
			return reactionMessage(recipient, content);
	}
}

/**
 * Blue ticks for an inbound message, and with `typingIndicator` the typing dots until the reply (at most 25 s).
 * Only a message the business received has blue ticks to give: Meta refuses any other id.
 */
export function markAsReadRequest(wamid: string, typingIndicator = false): MarkAsReadRequest {
	const messageId = required('messageId', wamid, 'The message id', "Use the wamid of a message the person sent, e.g. {{ $json.messageId }} from the Opt-In Trigger").trim();
	return { messaging_product: 'whatsapp', status: 'read', message_id: messageId, ...(typingIndicator ? { typing_indicator: { type: 'text' as const } } : {}) };
}

/** The key Meta's pair rate counts by: the number's digits or the user id. */
export function recipientKey(message: MessageRequest): string {
	return message.to ?? message.recipient ?? '';
}
