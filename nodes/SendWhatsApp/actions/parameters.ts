/**
 * The node's parameters per item, each read from n8n only as often as it can differ. Resolving a parameter costs
 * n8n about a tenth of a millisecond even when it is a fixed value (expression set-up, copying, validation); a
 * newsletter reads about ten per item, which alone capped the node far below a 1,000/s business number. A
 * parameter can differ between items only if its stored value holds an expression (a string starting with '=',
 * anywhere inside it); every other parameter is read once per run and its value reused for every item.
 */
import type { IExecuteFunctions } from 'n8n-workflow';
import type { TemplateInfo } from '../../../lib/whatsapp/templates';
import type { MediaFile } from '../../../lib/whatsapp';

export type ParameterReader = (name: string, index: number, fallback?: unknown) => unknown;

/** What an operation may need besides its parameters to build its message. */
export interface BuildContext {
	/** The node's version (2 has the template list and one field per template variable). */
	version: number;
	/** The business account's template as it stands now, once per template and run. */
	template(name: string, language?: string): Promise<TemplateInfo>;
	/** The file in an item's binary field, for Send Media from binary data. */
	binary(index: number, property: string): Promise<MediaFile>;
}

/** Whether a stored parameter value holds an expression anywhere, e.g. in one row of a fixed collection. */
export function holdsExpression(value: unknown): boolean {
	if (typeof value === 'string') return value.startsWith('=');
	if (Array.isArray(value)) return value.some(holdsExpression);
	if (value !== null && typeof value === 'object') return Object.values(value).some(holdsExpression);
	return false;
}

/** The stored value at a dotted path ('options.campaignKey'), or the fallback n8n would use when it is missing. */
function storedValue(parameters: object, path: string, fallback: unknown): unknown {
	let value: unknown = parameters;
	for (const part of path.split('.')) {
		if (value === null || typeof value !== 'object') return fallback;
		value = (value as Record<string, unknown>)[part];
	}
	return value === undefined ? fallback : value;
}

/**
 * `={{ $json.phone }}` or `={{ $json["phone"] }}`: one field of the item, the node's default recipient and the
 * usual way to map a column. n8n spends about half a millisecond on each evaluation (a data proxy and a fresh
 * luxon clock for $now), so such a parameter is read from the item directly when the field holds a string, which
 * is what n8n would return for it. Anything else, a missing field included, goes to n8n's expression engine.
 */
const ITEM_FIELD = /^=\{\{\s*\$json(?:\.([A-Za-z_$][\w$]*)|\[\s*(['"])([^'"\\]*)\2\s*\])\s*\}\}$/;

export function itemField(stored: unknown): string | undefined {
	if (typeof stored !== 'string') return undefined;
	const match = ITEM_FIELD.exec(stored);
	return match ? (match[1] ?? match[3]) : undefined;
}

export function parameterReader(context: IExecuteFunctions): ParameterReader {
	const stored = context.getNode().parameters;
	const items = context.getInputData();
	const fixed = new Map<string, unknown>();
	const fields = new Map<string, string | undefined>();
	return (name, index, fallback) => {
		if (fixed.has(name)) return fixed.get(name);
		if (!fields.has(name)) fields.set(name, itemField(storedValue(stored, name, fallback)));
		const field = fields.get(name);
		const json = items[index]?.json;
		if (field !== undefined && json && Object.hasOwn(json, field) && typeof json[field] === 'string') return json[field];
		const value = context.getNodeParameter(name, index, fallback);
		if (!holdsExpression(storedValue(stored, name, fallback))) fixed.set(name, value);
		return value;
	};
}
