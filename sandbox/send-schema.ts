/**
 * Request validation of `POST /{version}/{phone-number-id}/messages`, with Meta's limits and Meta's way of
 * reporting a bad request: code 100 naming the parameter (`text['body']`), 131009 for values out of range.
 */
import { z } from 'zod';
import { GraphApiError } from './graph-errors';

const textParameter = z.object({ type: z.literal('text'), text: z.string().min(1), parameter_name: z.string().optional() });
const currencyParameter = z.object({
	type: z.literal('currency'),
	currency: z.object({ fallback_value: z.string(), code: z.string(), amount_1000: z.number() }),
	parameter_name: z.string().optional(),
});
const dateTimeParameter = z.object({
	type: z.literal('date_time'),
	date_time: z.object({ fallback_value: z.string() }),
	parameter_name: z.string().optional(),
});
const mediaObject = z.object({ id: z.string().optional(), link: z.string().url().optional() }).passthrough();
const imageParameter = z.object({ type: z.literal('image'), image: mediaObject });
const documentParameter = z.object({ type: z.literal('document'), document: mediaObject });
const videoParameter = z.object({ type: z.literal('video'), video: mediaObject });
const payloadParameter = z.object({ type: z.literal('payload'), payload: z.string().min(1) });
const couponCodeParameter = z.object({ type: z.literal('coupon_code'), coupon_code: z.string().min(1).max(15) });

const templateParameter = z.discriminatedUnion('type', [
	textParameter,
	currencyParameter,
	dateTimeParameter,
	imageParameter,
	documentParameter,
	videoParameter,
	payloadParameter,
	couponCodeParameter,
]);

const templateComponent = z.object({
	type: z.enum(['header', 'body', 'button']),
	sub_type: z.enum(['quick_reply', 'url', 'copy_code']).optional(),
	index: z.union([z.string(), z.number()]).optional(),
	parameters: z.array(templateParameter).optional(),
});

const templatePayload = z.object({
	name: z.string().min(1),
	language: z.object({ code: z.string().min(2), policy: z.literal('deterministic').optional() }),
	components: z.array(templateComponent).optional(),
});

const textPayload = z.object({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() });

/**
 * Text of at most `max` characters as Meta counts them, an emoji as one (zod's max counts UTF-16 units, which would
 * refuse 20 emoji as 40); `min` 1 where Meta wants the text.
 */
function upTo(max: number, message: string, min = 1) {
	return z
		.string()
		.min(min, message)
		.refine((value) => [...value].length <= max, message);
}

const replyButton = z.object({
	type: z.literal('reply'),
	reply: z.object({
		id: upTo(256, 'Button id length invalid. Min length: 1, Max length: 256'),
		title: upTo(20, 'Button title length invalid. Min length: 1, Max length: 20'),
	}),
});

const textHeader = z.object({ type: z.literal('text'), text: upTo(60, 'Header text length invalid. Min length: 1, Max length: 60', 0) });
const footer = z.object({ text: upTo(60, 'Footer text length invalid. Min length: 1, Max length: 60', 0) });
const interactiveBody = z.object({ text: upTo(1024, 'Body text length invalid. Min length: 1, Max length: 1024') });

const buttonsPayload = z.object({
	type: z.literal('button'),
	header: textHeader.optional(),
	body: interactiveBody,
	footer: footer.optional(),
	action: z.object({
		buttons: z.array(replyButton).min(1).max(3, 'Number of buttons invalid. Min: 1, Max: 3'),
	}),
});

/** Meta's interactive list limits (developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-list-messages). */
const listRow = z.object({
	id: upTo(200, 'Row id length invalid. Min length: 1, Max length: 200'),
	title: upTo(24, 'Row title length invalid. Min length: 1, Max length: 24'),
	description: upTo(72, 'Row description length invalid. Max length: 72', 0).optional(),
});

const listPayload = z.object({
	type: z.literal('list'),
	header: textHeader.optional(),
	body: interactiveBody,
	footer: footer.optional(),
	action: z
		.object({
			button: upTo(20, 'Button text length invalid. Min length: 1, Max length: 20'),
			sections: z
				.array(z.object({ title: upTo(24, 'Section title length invalid. Max length: 24', 0).optional(), rows: z.array(listRow).min(1) }))
				.min(1)
				.max(10, 'Number of sections invalid. Min: 1, Max: 10'),
		})
		.superRefine((action, context) => {
			const rows = action.sections.flatMap((section) => section.rows);
			if (rows.length > 10) context.addIssue({ code: 'custom', path: ['sections'], message: `Total number of rows invalid. Max: 10, got ${rows.length}` });
			if (new Set(rows.map((row) => row.id)).size !== rows.length) context.addIssue({ code: 'custom', path: ['sections'], message: 'Row ids must be unique' });
			if (action.sections.length > 1 && action.sections.some((section) => !section.title)) {
				context.addIssue({ code: 'custom', path: ['sections'], message: 'Section title is required when there is more than one section' });
			}
		}),
});

const mediaHeader = z.object({ type: z.enum(['image', 'video', 'document']) }).passthrough();

const ctaUrlPayload = z.object({
	type: z.literal('cta_url'),
	header: z.union([textHeader, mediaHeader]).optional(),
	body: interactiveBody,
	footer: footer.optional(),
	action: z.object({
		name: z.literal('cta_url'),
		parameters: z.object({
			display_text: upTo(20, 'Display text length invalid. Min length: 1, Max length: 20'),
			url: z.string().url(),
		}),
	}),
});

const locationRequestPayload = z.object({
	type: z.literal('location_request_message'),
	body: interactiveBody,
	action: z.object({ name: z.literal('send_location') }),
});

/** Meta's contact info request: WhatsApp draws the button that shares the user's number; only the text is the business's. */
const contactInfoRequestPayload = z.object({
	type: z.literal('request_contact_info'),
	body: z.object({ text: z.string().min(1).max(1024, 'Body text length invalid. Min length: 1, Max length: 1024') }),
	action: z.object({ name: z.literal('request_contact_info') }),
});

const interactivePayload = z.discriminatedUnion('type', [buttonsPayload, listPayload, ctaUrlPayload, locationRequestPayload, contactInfoRequestPayload]);

const mediaPayload = z
	.object({
		id: z.string().min(1).optional(),
		link: z.string().url().optional(),
		caption: z.string().max(1024).optional(),
		filename: z.string().optional(),
	})
	.refine((media) => (media.id === undefined) !== (media.link === undefined), {
		message: 'Exactly one of id or link is required',
	});

const reactionPayload = z.object({ message_id: z.string().min(1), emoji: z.string() });

const envelope = z.object({
	messaging_product: z.literal('whatsapp'),
	recipient_type: z.literal('individual').optional(),
	to: z.string().min(1).optional(),
	recipient: z.string().min(1).optional(),
	type: z.enum(['text', 'template', 'interactive', 'image', 'document', 'audio', 'video', 'reaction']).default('text'),
	context: z.object({ message_id: z.string().min(1) }).optional(),
});

const markAsRead = z.object({
	messaging_product: z.literal('whatsapp'),
	status: z.literal('read'),
	message_id: z.string().min(1),
	typing_indicator: z.object({ type: z.literal('text') }).optional(),
});

export type TemplateParameterInput = z.infer<typeof templateParameter>;
export type TemplateComponentInput = z.infer<typeof templateComponent>;
export type TemplatePayload = z.infer<typeof templatePayload>;
export type InteractivePayload = z.infer<typeof interactivePayload>;
export type MediaPayload = z.infer<typeof mediaPayload>;

type Envelope = z.infer<typeof envelope>;
export type MediaType = 'image' | 'document' | 'audio' | 'video';

export type SendRequest =
	| (Envelope & { type: 'text'; text: z.infer<typeof textPayload> })
	| (Envelope & { type: 'template'; template: TemplatePayload })
	| (Envelope & { type: 'interactive'; interactive: InteractivePayload })
	| (Envelope & { type: MediaType; media: MediaPayload })
	| (Envelope & { type: 'reaction'; reaction: z.infer<typeof reactionPayload> });

export type ParsedRequest = { kind: 'read'; messageId: string; typing: boolean } | { kind: 'send'; request: SendRequest };

const PAYLOAD_SCHEMAS = {
	text: textPayload,
	template: templatePayload,
	interactive: interactivePayload,
	image: mediaPayload,
	document: mediaPayload,
	audio: mediaPayload,
	video: mediaPayload,
	reaction: reactionPayload,
} as const;

/** Parses a messages request body or throws the GraphApiError Meta would answer. */
export function parseSendRequest(body: unknown): ParsedRequest {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		throw new GraphApiError(100, 'The request body must be a JSON object', { message: '(#100) Invalid parameter' });
	}
	if ((body as Record<string, unknown>).status !== undefined) {
		const read = check(markAsRead, body, []);
		return { kind: 'read', messageId: read.message_id, typing: read.typing_indicator !== undefined };
	}
	const head = check(envelope, body, []);
	if (head.to === undefined && head.recipient === undefined) {
		throw new GraphApiError(100, 'Either to (the phone number) or recipient (the business-scoped user id) is required', {
			message: '(#100) The parameter to is required.',
		});
	}
	const type = head.type;
	const payload = check(PAYLOAD_SCHEMAS[type], (body as Record<string, unknown>)[type], [type]);
	if (type === 'image' || type === 'document' || type === 'audio' || type === 'video') {
		return { kind: 'send', request: { ...head, type, media: payload as MediaPayload } };
	}
	return { kind: 'send', request: { ...head, [type]: payload } as SendRequest };
}

function check<S extends z.ZodTypeAny>(schema: S, value: unknown, prefix: (string | number)[]): z.output<S> {
	const result = schema.safeParse(value);
	if (result.success) return result.data;
	const issue = result.error.issues[0];
	const path = metaPath([...prefix, ...issue.path]);
	const missing =
		(issue.code === 'invalid_type' && issue.received === 'undefined') || (issue.code === 'invalid_literal' && issue.received === undefined);
	if (missing) {
		throw new GraphApiError(100, `The parameter ${path} is required.`, { message: `(#100) The parameter ${path} is required.` });
	}
	const outOfRange = (issue.code === 'too_big' || issue.code === 'too_small' || issue.code === 'custom') && prefix[0] === 'interactive';
	if (outOfRange) throw new GraphApiError(131009, issue.message);
	if (issue.code === 'invalid_union_discriminator') {
		throw new GraphApiError(100, `Param ${path} must be one of {${issue.options.join(', ')}}.`, { message: `(#100) Param ${path} must be one of {${issue.options.join(', ')}}.` });
	}
	if (issue.code === 'invalid_literal' || issue.code === 'invalid_enum_value') {
		const got = JSON.stringify(issue.received);
		throw new GraphApiError(100, `Param ${path} must be ${expectedOf(issue)} - got ${got}.`, {
			message: `(#100) Param ${path} must be ${expectedOf(issue)} - got ${got}.`,
		});
	}
	throw new GraphApiError(100, `Param ${path} is invalid: ${issue.message}`);
}

function expectedOf(issue: z.ZodIssue): string {
	if (issue.code === 'invalid_literal') return `"${String(issue.expected)}"`;
	if (issue.code === 'invalid_enum_value') return `one of {${issue.options.join(', ')}}`;
	return 'valid';
}

/** Meta names nested parameters PHP-style: `interactive['action']['buttons'][0]['reply']['title']`. */
function metaPath(path: (string | number)[]): string {
	if (path.length === 0) return 'body';
	const [first, ...rest] = path;
	return `${first}${rest.map((part) => (typeof part === 'number' ? `[${part}]` : `['${part}']`)).join('')}`;
}
