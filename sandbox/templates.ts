/**
 * The approved message templates of the sandbox's business account, and the checks Meta runs when a template
 * message is sent: the template must exist in the language (132001), every part must get as many parameters as
 * it has placeholders (132000), named-parameter templates need `parameter_name` on every parameter.
 * The file has the shape of Meta's `GET /{waba-id}/message_templates` answer: `{"data":[template, …]}`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { GraphApiError } from './graph-errors';
import type { TemplateParameterInput, TemplatePayload } from './send-schema';

const templateButtonSchema = z.discriminatedUnion('type', [
	z.object({ type: z.literal('QUICK_REPLY'), text: z.string() }),
	z.object({ type: z.literal('URL'), text: z.string(), url: z.string() }),
	z.object({ type: z.literal('PHONE_NUMBER'), text: z.string(), phone_number: z.string() }),
	z.object({ type: z.literal('COPY_CODE'), example: z.string().optional(), text: z.string().default('Copy offer code') }),
]);

const templateComponentSchema = z.discriminatedUnion('type', [
	z.object({
		type: z.literal('HEADER'),
		format: z.enum(['TEXT', 'IMAGE', 'DOCUMENT', 'VIDEO']),
		text: z.string().optional(),
		example: z.unknown().optional(),
	}),
	z.object({ type: z.literal('BODY'), text: z.string(), example: z.unknown().optional() }),
	z.object({ type: z.literal('FOOTER'), text: z.string() }),
	z.object({ type: z.literal('BUTTONS'), buttons: z.array(templateButtonSchema).max(10) }),
]);

const templateSchema = z.object({
	name: z.string().min(1),
	language: z.string().min(2),
	status: z.enum(['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED']).default('APPROVED'),
	category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']),
	parameter_format: z.enum(['POSITIONAL', 'NAMED']).default('POSITIONAL'),
	components: z.array(templateComponentSchema),
	id: z.string().optional(),
});

const templatesFileSchema = z.object({ data: z.array(templateSchema) });

export type TemplateDefinition = z.infer<typeof templateSchema>;
export type TemplateCategory = TemplateDefinition['category'];

export interface RenderedButton {
	type: 'quick_reply' | 'url' | 'phone_number' | 'copy_code';
	text: string;
	/** What arrives as `button.payload` when the user taps a quick reply: the send's payload, else the button text. */
	payload?: string;
	url?: string;
	/** What a copy-code button copies. */
	code?: string;
}

/** A template message as the user's phone shows it. */
export interface RenderedTemplate {
	name: string;
	language: string;
	category: TemplateCategory;
	header?: string;
	headerMedia?: string;
	body: string;
	footer?: string;
	buttons: RenderedButton[];
}

export class TemplateFileError extends Error {
	constructor(file: string, reason: string) {
		super(`The sandbox templates file ${file} cannot be used: ${reason}. It must look like {"data":[{"name":"welcome","language":"de","category":"UTILITY","components":[…]}]}`);
		this.name = 'TemplateFileError';
	}
}

export function loadTemplates(file: string): TemplateDefinition[] {
	let raw: unknown;
	try {
		raw = JSON.parse(readFileSync(file, 'utf8'));
	} catch (error) {
		throw new TemplateFileError(file, (error as Error).message);
	}
	const parsed = templatesFileSchema.safeParse(raw);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new TemplateFileError(file, `${issue.path.join('.')}: ${issue.message}`);
	}
	return parsed.data.data;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function placeholdersOf(text: string | undefined): string[] {
	if (text === undefined) return [];
	return [...text.matchAll(PLACEHOLDER)].map((match) => match[1]);
}

function parameterText(parameter: TemplateParameterInput): string {
	switch (parameter.type) {
		case 'text':
			return parameter.text;
		case 'currency':
			return parameter.currency.fallback_value;
		case 'date_time':
			return parameter.date_time.fallback_value;
		case 'payload':
			return parameter.payload;
		case 'coupon_code':
			return parameter.coupon_code;
		default:
			return `[${parameter.type}]`;
	}
}

/** Meta refuses text parameters with line breaks, tabs or more than four spaces in a row. */
const FORBIDDEN_PARAMETER_TEXT = /[\n\t]| {5,}/;

/** Meta's default page size of the template list. */
const PAGE_SIZE = 25;

export class TemplateCatalog {
	private templates: TemplateDefinition[];

	constructor(private readonly initial: TemplateDefinition[]) {
		this.templates = structuredClone(initial);
	}

	list(): TemplateDefinition[] {
		return this.templates;
	}

	/** Back to the templates file (the sandbox's reset). */
	reset(): void {
		this.templates = structuredClone(this.initial);
	}

	/**
	 * One page of `GET /{waba-id}/message_templates`, as Meta pages it: `limit` (default 25), an opaque `after` cursor,
	 * `paging.next` only while there is more. Every template has an id, as in Meta's answer.
	 */
	page(limit: number | undefined, after: string | undefined, nextUrl: (after: string) => string): unknown {
		const size = Math.min(Math.max(1, Number.isInteger(limit) ? limit! : PAGE_SIZE), 1000);
		const start = after === undefined ? 0 : Number(Buffer.from(after, 'base64url').toString('utf8').replace(/^offset:/, ''));
		if (!Number.isInteger(start) || start < 0) throw new GraphApiError(100, `Invalid parameter: after '${after}' is not a cursor of this list`);
		const data = this.templates.slice(start, start + size).map((template, index) => ({ id: template.id ?? String(900_000_000_000_000 + start + index), ...template }));
		const cursor = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');
		const more = start + size < this.templates.length;
		return {
			data,
			paging: { cursors: { before: cursor(start), after: cursor(start + data.length) }, ...(more ? { next: nextUrl(cursor(start + data.length)) } : {}) },
		};
	}

	/** Meta changes a template: its status (paused, disabled, approved again) or its category. */
	update(name: string, language: string, change: { status?: TemplateDefinition['status']; category?: TemplateCategory }): TemplateDefinition {
		const template = this.templates.find((t) => t.name === name && t.language === language);
		if (!template) throw new GraphApiError(100, `There is no template '${name}' in '${language}'`);
		if (change.status) template.status = change.status;
		if (change.category) template.category = change.category;
		return template;
	}

	/** Checks a template send like Meta does and returns what the user's phone would show. */
	render(payload: TemplatePayload): RenderedTemplate {
		const language = payload.language.code;
		const found = this.templates.find((t) => t.name === payload.name && t.language === language);
		if (found?.status === 'PAUSED') throw new GraphApiError(132015);
		if (found?.status === 'DISABLED') throw new GraphApiError(132016);
		const template = found?.status === 'APPROVED' ? found : undefined;
		if (!template) {
			throw new GraphApiError(132001, `template name (${payload.name}) does not exist in ${language}`);
		}
		const components = payload.components ?? [];
		const named = template.parameter_format === 'NAMED';
		const header = template.components.find((c) => c.type === 'HEADER');
		const body = template.components.find((c) => c.type === 'BODY');
		const footer = template.components.find((c) => c.type === 'FOOTER');
		const buttons = template.components.find((c) => c.type === 'BUTTONS')?.buttons ?? [];

		const sentHeader = components.filter((c) => c.type === 'header').flatMap((c) => c.parameters ?? []);
		const sentBody = components.filter((c) => c.type === 'body').flatMap((c) => c.parameters ?? []);

		let renderedHeader: string | undefined;
		let headerMedia: string | undefined;
		if (header && header.format !== 'TEXT') {
			expectCount('header', 1, sentHeader.length);
			headerMedia = `[${header.format.toLowerCase()}]`;
		} else {
			renderedHeader = header ? fill('header', header.text ?? '', sentHeader, named, template.name) : undefined;
			if (!header) expectCount('header', 0, sentHeader.length);
		}
		const renderedBody = fill('body', body?.text ?? '', sentBody, named, template.name);

		const renderedButtons = buttons.map((button, index): RenderedButton => {
			const sent = components.find((c) => c.type === 'button' && Number(c.index ?? 0) === index);
			if (button.type === 'QUICK_REPLY') {
				const payloadParameter = sent?.parameters?.find((p) => p.type === 'payload');
				return { type: 'quick_reply', text: button.text, payload: payloadParameter ? parameterText(payloadParameter) : button.text };
			}
			if (button.type === 'COPY_CODE') {
				const parameter = sent?.parameters?.find((p) => p.type === 'coupon_code');
				if (!parameter || sent?.sub_type !== 'copy_code') throw new GraphApiError(132000, `button at index ${index}: a copy_code button needs a coupon_code parameter`);
				return { type: 'copy_code', text: button.text, code: parameterText(parameter) };
			}
			if (button.type === 'URL') {
				const expected = placeholdersOf(button.url).length;
				const parameters = sent?.parameters ?? [];
				expectCount(`button at index ${index}`, expected, parameters.length);
				const url = expected === 0 ? button.url : button.url.replace(PLACEHOLDER, () => parameterText(parameters[0]));
				return { type: 'url', text: button.text, url };
			}
			return { type: 'phone_number', text: button.text };
		});
		for (const component of components) {
			if (component.type === 'button' && Number(component.index ?? 0) >= buttons.length) {
				throw new GraphApiError(132000, `button at index ${component.index ?? 0}: template '${template.name}' has ${buttons.length} button(s)`);
			}
		}

		return {
			name: template.name,
			language: template.language,
			category: template.category,
			...(renderedHeader === undefined ? {} : { header: renderedHeader }),
			...(headerMedia === undefined ? {} : { headerMedia }),
			body: renderedBody,
			...(footer ? { footer: footer.text } : {}),
			buttons: renderedButtons,
		};
	}
}

function expectCount(part: string, expected: number, got: number): void {
	if (expected !== got) {
		throw new GraphApiError(
			132000,
			`${part}: number of localizable_params (${got}) does not match the expected number of params (${expected})`,
		);
	}
}

function fill(part: string, text: string, parameters: TemplateParameterInput[], named: boolean, templateName: string): string {
	const placeholders = [...new Set(placeholdersOf(text))];
	expectCount(part, placeholders.length, parameters.length);
	for (const parameter of parameters) {
		if (parameter.type === 'text' && FORBIDDEN_PARAMETER_TEXT.test(parameter.text)) {
			throw new GraphApiError(132018, `${part}: Param text cannot have new-line/tab characters or more than 4 consecutive spaces`);
		}
	}
	if (!named) {
		return text.replace(PLACEHOLDER, (whole, key: string) => {
			const parameter = parameters[Number(key) - 1];
			return parameter ? parameterText(parameter) : whole;
		});
	}
	const byName = new Map<string, TemplateParameterInput>();
	parameters.forEach((parameter, index) => {
		const name = 'parameter_name' in parameter ? parameter.parameter_name : undefined;
		if (name === undefined || name === '') {
			throw new GraphApiError(
				132000,
				`${part}: parameter ${index + 1} has no parameter_name; template '${templateName}' uses named parameters (${placeholders.join(', ')})`,
			);
		}
		if (!placeholders.includes(name)) {
			throw new GraphApiError(
				132000,
				`${part}: parameter_name '${name}' is not in template '${templateName}', which expects ${placeholders.join(', ')}`,
			);
		}
		byName.set(name, parameter);
	});
	return text.replace(PLACEHOLDER, (whole, key: string) => {
		const parameter = byName.get(key);
		return parameter ? parameterText(parameter) : whole;
	});
}
