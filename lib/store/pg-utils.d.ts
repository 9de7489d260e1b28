/** pg's own conversion of a JavaScript value to PostgreSQL's text form (arrays, dates), as its queries use it. */
declare module 'pg/lib/utils' {
	export function prepareValue(value: unknown): string | Buffer | null;
}
