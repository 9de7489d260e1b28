/**
 * A node's parameters per item (Send WhatsApp, Verify Consent), each read from n8n only as often as it can differ.
 * Resolving a parameter costs n8n about a tenth of a millisecond even when it is a fixed value (expression set-up,
 * copying, validation); a newsletter reads about ten per item, which alone capped the node far below a 1,000/s
 * business number. A parameter can differ between items only if its stored value holds an expression (a string
 * starting with '=', anywhere inside it) that reads the item; every other parameter is read once per run and its
 * value reused for every item.
 */
import type { IExecuteFunctions } from 'n8n-workflow';

export type ParameterReader = (name: string, index: number, fallback?: unknown) => unknown;

/**
 * The `$` names whose value is the same for every item of a run. `$now` and `$today` included: a run's items then
 * share one instant (a 5,000-message run lasts seconds), so a campaign key or a month name taken from the clock
 * cannot change halfway through the list.
 */
const SAME_FOR_EVERY_ITEM = new Set(['$now', '$today', '$vars', '$env', '$workflow', '$execution', '$runIndex']);

/**
 * After a `$`: another node's, or the input's, whole output, first or last item (`$('Settings').first()`,
 * `$input.all()`), or whether a node ran. Not `.item`, `.itemMatching()` or `.pairedItem()`: those follow the item.
 */
const WHOLE_OUTPUT = /^(?:\(\s*(?:'[^'\\]*'|"[^"\\]*")\s*\)\s*\.\s*(?:(?:first|last|all)\s*\(|isExecuted\b)|input\s*\.\s*(?:first|last|all)\s*\()/;

/**
 * Whether an expression gives every item of a run the same value: every `$` in it names only what
 * SAME_FOR_EVERY_ITEM or WHOLE_OUTPUT allow, and it draws no random number. Anything else, `$json`, `$binary`,
 * `$input.item`, `$('Node').item`, `$itemIndex`, a function such as `$ifEmpty`, or any other `$` (one in a text
 * too, unless a digit follows it), counts as reading the item: n8n then resolves it per item, as it always does. n8n 2.41's expression engine costs about half
 * a millisecond per evaluation (an isolate call, a data proxy, a fresh luxon clock), half a core at 1,000
 * messages/s for each such parameter, so these are resolved once per run.
 */
export function sameForEveryItem(expression: string): boolean {
	if (/random/i.test(expression)) return false;
	for (let at = expression.indexOf('$'); at !== -1; at = expression.indexOf('$', at + 1)) {
		const after = expression.slice(at);
		if (/^\$\d/.test(after)) continue;
		const name = /^\$[A-Za-z_]\w*/.exec(after)?.[0];
		if (name !== undefined && SAME_FOR_EVERY_ITEM.has(name)) continue;
		if (WHOLE_OUTPUT.test(after.slice(1))) continue;
		return false;
	}
	return true;
}

/** Whether a stored parameter value can differ between items: an expression somewhere in it reads the item. */
export function differsPerItem(value: unknown): boolean {
	if (typeof value === 'string') return value.startsWith('=') && !sameForEveryItem(value);
	if (Array.isArray(value)) return value.some(differsPerItem);
	if (value !== null && typeof value === 'object') return Object.values(value).some(differsPerItem);
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
	/** Per parameter, looked at once: the item field it names, and whether it can differ between items. */
	const shapes = new Map<string, { field: string | undefined; perItem: boolean }>();
	return (name, index, fallback) => {
		if (fixed.has(name)) return fixed.get(name);
		let shape = shapes.get(name);
		if (!shape) {
			const value = storedValue(stored, name, fallback);
			shapes.set(name, (shape = { field: itemField(value), perItem: differsPerItem(value) }));
		}
		const json = items[index]?.json;
		if (shape.field !== undefined && json && Object.hasOwn(json, shape.field) && typeof json[shape.field] === 'string') return json[shape.field];
		const value = context.getNodeParameter(name, index, fallback);
		if (!shape.perItem) fixed.set(name, value);
		return value;
	};
}
