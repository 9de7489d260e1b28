/**
 * The templates of a business account as the Send node uses them: Meta's list, cached per account for
 * `TEMPLATE_LIST_TTL_MS`, with what Meta's webhooks said since (a category Meta changed, a template paused or
 * disabled), which the ledger keeps so that every process sees it (the trigger may run in another one).
 */
import { ValidationError } from './errors';
import type { TemplateInfo, TemplatePage } from './whatsapp/templates';

/**
 * How long a fetched list is used: Meta changes categories and pauses templates rarely and says so by webhook,
 * which applies at once; the TTL bounds how stale the list is for an account whose webhooks do not reach this n8n.
 */
export const TEMPLATE_LIST_TTL_MS = 10 * 60_000;

/** A bound on the pages of one list (100 templates each), should a cursor never end. */
const MAX_PAGES = 100;

export interface TemplateSource {
	listTemplates(wabaId: string, page: { after?: string; limit?: number }, signal?: AbortSignal): Promise<TemplatePage>;
}

/** What a `message_template_status_update` or a completed `template_category_update` said about one template. */
export interface TemplateUpdate {
	wabaId: string;
	name: string;
	language: string;
	templateId?: string;
	status?: string;
	category?: string;
	reason?: string;
	/** Meta's time of the notice. */
	at: Date;
}

interface Fetched {
	templates: TemplateInfo[];
	fetchedAt: Date;
}

/** One business account's templates, fetched page by page, shared by every execution in this process. */
export class TemplateDirectory {
	private fetched?: Promise<Fetched>;
	private fetchedUntil = 0;

	constructor(
		private readonly source: TemplateSource,
		readonly wabaId: string,
		private readonly now: () => Date = () => new Date(),
		private readonly ttlMs = TEMPLATE_LIST_TTL_MS,
	) {}

	/** One page straight from Meta (the editor's list, which pages on its own). */
	page(after?: string, limit?: number, signal?: AbortSignal): Promise<TemplatePage> {
		return this.source.listTemplates(this.wabaId, { after, limit }, signal);
	}

	/** Every template of the account, from the cache while it is fresh; concurrent callers share one fetch. */
	async all(): Promise<Fetched> {
		if (!this.fetched || this.now().getTime() >= this.fetchedUntil) {
			const fetchedAt = this.now();
			this.fetchedUntil = fetchedAt.getTime() + this.ttlMs;
			this.fetched = this.fetchAll(fetchedAt);
			// A failed fetch is not cached: the next send asks Meta again.
			this.fetched.catch(() => {
				this.fetchedUntil = 0;
			});
		}
		return this.fetched;
	}

	/** Forget the list: a webhook in this process said something changed. */
	invalidate(): void {
		this.fetchedUntil = 0;
	}

	private async fetchAll(fetchedAt: Date): Promise<Fetched> {
		const templates: TemplateInfo[] = [];
		let after: string | undefined;
		for (let pages = 0; pages < MAX_PAGES; pages++) {
			const page = await this.source.listTemplates(this.wabaId, { after });
			templates.push(...page.templates);
			if (!page.after || page.after === after) break;
			after = page.after;
		}
		return { templates, fetchedAt };
	}
}

const directories = new Map<string, TemplateDirectory>();

/** The process's directory for an account; `key` tells apart accounts reached with other credentials or hosts. */
export function templateDirectoryFor(key: string, source: TemplateSource, wabaId: string): TemplateDirectory {
	let directory = directories.get(key);
	if (!directory) directories.set(key, (directory = new TemplateDirectory(source, wabaId)));
	return directory;
}

/** A webhook said a template of this account changed: every directory of the account fetches its list again. */
export function invalidateTemplates(wabaId: string): void {
	for (const directory of directories.values()) if (directory.wabaId === wabaId) directory.invalidate();
}

/**
 * The template as it stands: Meta's list, with each webhook notice that came after the list was fetched applied in
 * order (a notice older than the list is in it already).
 */
export function currentTemplate(info: TemplateInfo, updates: TemplateUpdate[], fetchedAt: Date): TemplateInfo {
	return updates
		.filter((update) => update.name === info.name && update.language === info.language && update.at.getTime() >= fetchedAt.getTime() - 1000)
		.sort((a, b) => a.at.getTime() - b.at.getTime())
		.reduce<TemplateInfo>(
			(current, update) => ({
				...current,
				...(update.status ? { status: update.status, reason: update.reason } : {}),
				...(update.category ? { category: update.category } : {}),
			}),
			info,
		);
}

/**
 * The template a send names, as it stands now; `language` may be left out when the account has the name in one
 * language only. A name the account does not have is an error that lists what it has.
 */
export async function findTemplate(
	directory: TemplateDirectory,
	updates: () => Promise<TemplateUpdate[]>,
	name: string,
	language: string | undefined,
): Promise<TemplateInfo> {
	const [{ templates, fetchedAt }, known] = await Promise.all([directory.all(), updates()]);
	const named = templates.filter((info) => info.name === name);
	if (named.length === 0) {
		const names = [...new Set(templates.map((info) => info.name))];
		throw new ValidationError(
			'templateName',
			`The business account has no template '${name}'`,
			names.length > 0 ? `Its templates: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}` : 'Create and approve it in WhatsApp Manager first',
		);
	}
	const found = language ? named.find((info) => info.language === language) : named.length === 1 ? named[0] : undefined;
	if (!found) {
		const languages = named.map((info) => info.language).join(', ');
		throw new ValidationError(
			'templateName',
			language ? `Template '${name}' has no version in '${language}'` : `Template '${name}' exists in ${languages}`,
			`Name the language after a |, e.g. ${name}|${named[0].language}`,
		);
	}
	return currentTemplate(found, known, fetchedAt);
}
