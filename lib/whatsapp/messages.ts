/** The message bodies the Cloud API takes, built and checked here so a mistake is named before Meta sees it. */
import { ValidationError } from '../errors';
import { digitsOf, isBusinessScopedUserId } from '../phone';

export interface TemplateButton {
	subType: 'quick_reply' | 'url';
	index: number;
	/** The payload of a quick reply, or the variable part of a URL button. */
	parameter: string;
}

export type OutgoingMessage =
	| { type: 'text'; text: string; previewUrl?: boolean }
	| {
			type: 'template';
			name: string;
			language: string;
			/** Positional ({{1}}, {{2}}) as a list, or named ({{first_name}}) as a record. */
			body?: string[] | Record<string, string>;
			header?: string[] | Record<string, string>;
			buttons?: TemplateButton[];
	  }
	| { type: 'interactive'; body: string; buttons: { id: string; title: string }[]; header?: string; footer?: string }
	| { type: 'media'; mediaType: 'image' | 'document' | 'audio' | 'video'; id?: string; link?: string; caption?: string; filename?: string };

function limit(field: string, value: string, max: number): void {
	if ([...value].length > max) throw new ValidationError(field, `${field} has ${[...value].length} characters; WhatsApp allows at most ${max}`);
}

function parameters(values: string[] | Record<string, string>) {
	return Array.isArray(values)
		? values.map((text) => ({ type: 'text', text: String(text) }))
		: Object.entries(values).map(([name, text]) => ({ type: 'text', parameter_name: name, text: String(text) }));
}

function content(message: OutgoingMessage): Record<string, unknown> {
	switch (message.type) {
		case 'text':
			if (!message.text?.trim()) throw new ValidationError('text', 'The message text is empty');
			limit('text', message.text, 4096);
			return { type: 'text', text: { body: message.text, preview_url: message.previewUrl ?? false } };
		case 'template': {
			if (!message.name?.trim()) throw new ValidationError('templateName', 'The template name is empty', 'Use the name as approved in WhatsApp Manager, e.g. welcome');
			if (!/^[a-z]{2,3}(_[A-Z]{2})?$/.test(message.language ?? '')) {
				throw new ValidationError('language', `'${message.language}' is not a template language code`, 'Use the code the template was approved in, e.g. de or en_US');
			}
			const components: Record<string, unknown>[] = [];
			if (message.header && Object.keys(message.header).length > 0) components.push({ type: 'header', parameters: parameters(message.header) });
			if (message.body && Object.keys(message.body).length > 0) components.push({ type: 'body', parameters: parameters(message.body) });
			for (const button of message.buttons ?? []) {
				components.push({
					type: 'button',
					sub_type: button.subType,
					index: String(button.index),
					parameters: [button.subType === 'quick_reply' ? { type: 'payload', payload: button.parameter } : { type: 'text', text: button.parameter }],
				});
			}
			return { type: 'template', template: { name: message.name.trim(), language: { code: message.language }, ...(components.length ? { components } : {}) } };
		}
		case 'interactive': {
			if (!message.body?.trim()) throw new ValidationError('body', 'The message text of the buttons is empty');
			limit('body', message.body, 1024);
			if (message.footer) limit('footer', message.footer, 60);
			if (message.header) limit('header', message.header, 60);
			if (message.buttons.length < 1 || message.buttons.length > 3) {
				throw new ValidationError('buttons', `WhatsApp allows 1 to 3 reply buttons, got ${message.buttons.length}`);
			}
			message.buttons.forEach((button, index) => {
				limit(`buttons[${index}].title`, button.title, 20);
				limit(`buttons[${index}].id`, button.id, 256);
			});
			return {
				type: 'interactive',
				interactive: {
					type: 'button',
					...(message.header ? { header: { type: 'text', text: message.header } } : {}),
					body: { text: message.body },
					...(message.footer ? { footer: { text: message.footer } } : {}),
					action: { buttons: message.buttons.map((button) => ({ type: 'reply', reply: { id: button.id, title: button.title } })) },
				},
			};
		}
		case 'media': {
			if (!message.id === !message.link) throw new ValidationError('media', 'Give either a media ID or a link, not both and not neither');
			if (message.link && !/^https?:\/\//.test(message.link)) throw new ValidationError('link', `'${message.link}' is not a web address`);
			return {
				type: message.mediaType,
				[message.mediaType]: {
					...(message.id ? { id: message.id } : { link: message.link }),
					...(message.caption && message.mediaType !== 'audio' ? { caption: message.caption } : {}),
					...(message.filename && message.mediaType === 'document' ? { filename: message.filename } : {}),
				},
			};
		}
	}
}

/** The POST body for `to` (an E.164 number) or a business-scoped user id. */
export function messageBody(recipient: string, message: OutgoingMessage): Record<string, unknown> {
	const address = isBusinessScopedUserId(recipient) ? { recipient: recipient.trim() } : { to: digitsOf(recipient) };
	return { messaging_product: 'whatsapp', recipient_type: 'individual', ...address, ...content(message) };
}
