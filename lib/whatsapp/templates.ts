/**
 * The message templates of a WhatsApp Business Account as `GET /{waba-id}/message_templates` lists them, the
 * variables each one expects (one field per placeholder, media header and button parameter), and the check of a
 * template message against its template before it costs an attempt: a wrong count is Meta's 132000 otherwise.
 */
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { TemplateButton, TemplateContent, TemplateHeaderMedia } from './messages';

/** One template in one language, as Meta approved (or paused, disabled, rejected) it. */
export interface TemplateInfo {
	id?: string;
	name: string;
	language: string;
	/** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, … (Meta adds states: kept as sent). */
	status: string;
	/** MARKETING, UTILITY or AUTHENTICATION: what Meta approved, the category the consent gate asks about. */
	category: string;
	parameterFormat: 'POSITIONAL' | 'NAMED';
	header?: { format: string; text?: string };
	body?: string;
	buttons: { type: string; text?: string; url?: string }[];
	/** Why it is not approved, when a status update said so (e.g. `LOW_QUALITY` for a pause). */
	reason?: string;
}

const component = z
	.object({
		type: z.string(),
		format: z.string().optional(),
		text: z.string().optional(),
		buttons: z.array(z.object({ type: z.string(), text: z.string().optional(), url: z.string().optional() }).passthrough()).optional(),
	})
	.passthrough();

const template = z
	.object({
		id: z.string().optional(),
		name: z.string().min(1),
		language: z.string().min(2),
		status: z.string(),
		category: z.string(),
		parameter_format: z.string().optional(),
		components: z.array(component).default([]),
	})
	.passthrough();

/** A template from Meta's list, or undefined for an entry this package cannot read (it is left out of the list). */
export function parseTemplate(raw: unknown): TemplateInfo | undefined {
	const parsed = template.safeParse(raw);
	if (!parsed.success) return undefined;
	const { data } = parsed;
	const find = (type: string) => data.components.find((part) => part.type.toUpperCase() === type);
	const header = find('HEADER');
	return {
		...(data.id ? { id: data.id } : {}),
		name: data.name,
		language: data.language,
		status: data.status.toUpperCase(),
		category: data.category.toUpperCase(),
		parameterFormat: data.parameter_format?.toUpperCase() === 'NAMED' ? 'NAMED' : 'POSITIONAL',
		...(header ? { header: { format: (header.format ?? 'TEXT').toUpperCase(), ...(header.text === undefined ? {} : { text: header.text }) } } : {}),
		...(find('BODY')?.text === undefined ? {} : { body: find('BODY')!.text }),
		buttons: (find('BUTTONS')?.buttons ?? []).map((button) => ({ type: button.type.toUpperCase(), text: button.text, url: button.url })),
	};
}

/** One field the template needs filled in a send. */
export interface TemplateVariable {
	/** The field's key: `header_first_name`, `body_1`, `header_image`, `button_0_url`, `button_1_copy_code`. */
	id: string;
	displayName: string;
	part: 'header' | 'body' | 'button';
	kind: 'text' | 'media' | 'url' | 'copy_code' | 'quick_reply';
	/** The placeholder's name or number for header and body texts. */
	placeholder?: string;
	buttonIndex?: number;
	/** A quick-reply payload is optional (Meta sends the button's text back without one); everything else is required. */
	required: boolean;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** The distinct placeholders of a text, in order of first appearance. */
export function placeholdersOf(text: string | undefined): string[] {
	return [...new Set([...(text ?? '').matchAll(PLACEHOLDER)].map((match) => match[1]))];
}

const MEDIA_FORMATS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT']);

/** The fields a send of this template fills, in the order WhatsApp shows the parts: header, body, buttons. */
export function templateVariables(info: TemplateInfo): TemplateVariable[] {
	const variables: TemplateVariable[] = [];
	const texts = (part: 'header' | 'body', text: string | undefined) => {
		for (const placeholder of placeholdersOf(text)) {
			const label = part === 'header' ? 'Header' : 'Body';
			variables.push({ id: `${part}_${placeholder}`, displayName: `${label} {{${placeholder}}}`, part, kind: 'text', placeholder, required: true });
		}
	};
	if (info.header && MEDIA_FORMATS.has(info.header.format)) {
		const format = info.header.format.toLowerCase();
		variables.push({ id: `header_${format}`, displayName: `Header ${info.header.format[0]}${format.slice(1)} (Link or Media ID)`, part: 'header', kind: 'media', required: true });
	} else {
		texts('header', info.header?.text);
	}
	texts('body', info.body);
	info.buttons.forEach((button, index) => {
		const label = `Button ${index + 1}${button.text ? ` "${button.text}"` : ''}`;
		if (button.type === 'URL' && placeholdersOf(button.url).length > 0) {
			variables.push({ id: `button_${index}_url`, displayName: `${label}: URL Suffix`, part: 'button', kind: 'url', buttonIndex: index, required: true });
		} else if (button.type === 'COPY_CODE') {
			variables.push({ id: `button_${index}_copy_code`, displayName: `${label}: Code to Copy`, part: 'button', kind: 'copy_code', buttonIndex: index, required: true });
		} else if (button.type === 'QUICK_REPLY') {
			variables.push({ id: `button_${index}_payload`, displayName: `${label}: Payload`, part: 'button', kind: 'quick_reply', buttonIndex: index, required: false });
		}
	});
	return variables;
}

const label = (info: TemplateInfo) => `Template '${info.name}' (${info.language})`;

function mediaOf(format: string, value: string): TemplateHeaderMedia {
	const type = format.toLowerCase() as TemplateHeaderMedia['type'];
	return /^https?:\/\//i.test(value) ? { type, link: value } : { type, id: value };
}

/**
 * The message for this template from one value per variable (the Send node's fields): named placeholders by name,
 * positional ones in their order. A required field left empty is named, with the template's part it belongs to.
 */
export function templateContentOf(info: TemplateInfo, values: Record<string, unknown>): TemplateContent {
	const text = (variable: TemplateVariable) => {
		const value = values[variable.id];
		return value === undefined || value === null ? '' : String(value);
	};
	const missing = templateVariables(info).filter((variable) => variable.required && text(variable).trim() === '');
	if (missing.length > 0) {
		throw new ValidationError(
			missing[0].id,
			`${label(info)} needs ${missing.map((variable) => variable.displayName).join(', ')}, left empty`,
			'Fill in every field of the template, or map them from the input',
		);
	}
	const variables = templateVariables(info);
	const part = (name: 'header' | 'body') => {
		const texts = variables.filter((variable) => variable.part === name && variable.kind === 'text');
		if (info.parameterFormat === 'NAMED') return Object.fromEntries(texts.map((variable) => [variable.placeholder!, text(variable)]));
		return texts.sort((a, b) => Number(a.placeholder) - Number(b.placeholder)).map(text);
	};
	const media = variables.find((variable) => variable.kind === 'media');
	const buttons: TemplateButton[] = variables
		.filter((variable) => variable.part === 'button' && text(variable) !== '')
		.map((variable) => ({ subType: variable.kind === 'quick_reply' ? 'quick_reply' : (variable.kind as 'url' | 'copy_code'), index: variable.buttonIndex!, parameter: text(variable) }));
	return {
		name: info.name,
		language: info.language,
		header: part('header'),
		body: part('body'),
		...(media ? { headerMedia: mediaOf(info.header!.format, text(media).trim()) } : {}),
		buttons,
	};
}

function countOf(parameters: TemplateContent['body']): number {
	if (!parameters) return 0;
	return Array.isArray(parameters) ? parameters.length : Object.keys(parameters).length;
}

function checkPart(info: TemplateInfo, part: 'header' | 'body', parameters: TemplateContent['body'], expected: string[]): void {
	const got = countOf(parameters);
	const plural = (count: number) => `${count} ${part} parameter${count === 1 ? '' : 's'}`;
	if (got !== expected.length) {
		throw new ValidationError(
			`${part}Parameters`,
			`Template '${info.name}' expects ${plural(expected.length)}, got ${got}`,
			expected.length === 0 ? `Remove the ${part} parameters` : `Give ${expected.map((name) => `{{${name}}}`).join(', ')}`,
		);
	}
	if (info.parameterFormat === 'NAMED') {
		if (Array.isArray(parameters) && got > 0) {
			throw new ValidationError(`${part}Parameters`, `Template '${info.name}' uses named parameters (${expected.join(', ')})`, 'Give each value the name between the braces, e.g. first_name');
		}
		const unknown = Object.keys(parameters ?? {}).filter((name) => !expected.includes(name));
		if (unknown.length > 0) {
			throw new ValidationError(`${part}Parameters`, `Template '${info.name}' has no ${part} parameter '${unknown[0]}'`, `Its ${part} parameters are ${expected.join(', ')}`);
		}
	}
}

/**
 * Checks a template message against the template Meta approved, as Meta would: as many header and body values as
 * placeholders (by name for named templates), a media header where the template has one, and button values only
 * for buttons that take one.
 */
export function checkTemplateContent(info: TemplateInfo, content: TemplateContent): void {
	const mediaHeader = info.header && MEDIA_FORMATS.has(info.header.format) ? info.header.format : undefined;
	checkPart(info, 'header', content.header, mediaHeader ? [] : placeholdersOf(info.header?.text));
	checkPart(info, 'body', content.body, placeholdersOf(info.body));
	if (mediaHeader && !content.headerMedia) {
		const media = mediaHeader.toLowerCase();
		throw new ValidationError('headerMedia', `Template '${info.name}' has ${media === 'image' ? 'an' : 'a'} ${media} header`, `Give the ${media}'s link or media ID`);
	}
	if (!mediaHeader && content.headerMedia) {
		throw new ValidationError('headerMedia', `Template '${info.name}' has no media header`, 'Remove the header media');
	}
	const variables = templateVariables(info);
	for (const button of content.buttons ?? []) {
		const expected = variables.find((variable) => variable.buttonIndex === button.index);
		const kind = button.subType === 'quick_reply' ? 'quick_reply' : button.subType;
		if (!expected || expected.kind !== kind) {
			const actual = info.buttons[button.index];
			throw new ValidationError(
				'buttons',
				`Template '${info.name}' has no ${kind.replace('_', ' ')} button at position ${button.index}${actual ? ` (it is a ${actual.type.toLowerCase()} button without a parameter)` : ''}`,
				`Its buttons that take a value: ${variables.filter((variable) => variable.part === 'button').map((variable) => `${variable.buttonIndex} (${variable.kind})`).join(', ') || 'none'}`,
			);
		}
	}
	const missing = variables.filter((variable) => variable.required && variable.part === 'button' && !(content.buttons ?? []).some((button) => button.index === variable.buttonIndex));
	if (missing.length > 0) {
		throw new ValidationError('buttons', `Template '${info.name}' expects a value for ${missing.map((variable) => variable.displayName).join(', ')}`, 'Add the button parameter');
	}
}

/** One page of Meta's template list. */
export interface TemplatePage {
	templates: TemplateInfo[];
	/** The cursor of the next page, when Meta says there is one. */
	after?: string;
}

const page = z
	.object({
		data: z.array(z.unknown()),
		paging: z.object({ cursors: z.object({ after: z.string().optional() }).passthrough().optional(), next: z.string().optional() }).passthrough().optional(),
	})
	.passthrough();

/** Meta's answer to `GET /{waba-id}/message_templates`: `after` only with a `next` page (the last page has a cursor too). */
export function parseTemplatePage(body: unknown): TemplatePage {
	const parsed = page.safeParse(body);
	if (!parsed.success) throw new ValidationError('message_templates', 'Meta\'s template list has an unexpected shape', 'Check the Base URL of the WhatsApp credential');
	const after = parsed.data.paging?.next ? parsed.data.paging.cursors?.after : undefined;
	return { templates: parsed.data.data.flatMap((raw) => parseTemplate(raw) ?? []), ...(after ? { after } : {}) };
}
