/** The embedded store's shared transaction sends parameters as literals (lib/store/shared-transaction.ts). */
import fc from 'fast-check';
import { inlineParameters } from '../../lib/store/shared-transaction';

describe('inlineParameters', () => {
	test('replaces $n outside quotes, quoted identifiers, dollar-quoted bodies and comments', () => {
		const sql = `SELECT $1, '$2', "a$2", $$ $1 $$, $fn$ $2 $fn$ -- $1\n, $2::text[] /* $1 */ FROM t WHERE x = $10`;
		const literals = Array.from({ length: 10 }, (_, index) => `'v${index + 1}'`);
		expect(inlineParameters(sql, literals)).toBe(`SELECT 'v1', '$2', "a$2", $$ $1 $$, $fn$ $2 $fn$ -- $1\n, 'v2'::text[] /* $1 */ FROM t WHERE x = 'v10'`);
	});

	test('a placeholder without its parameter is an error, not a statement that means something else', () => {
		expect(() => inlineParameters('SELECT $2', ["'a'"])).toThrow(/uses \$2 but has 1 parameter/);
	});

	test('property: a literal holding placeholders, quotes or comment marks stays as given', () => {
		fc.assert(
			fc.property(fc.array(fc.constantFrom('$1', "'", "''", '"', '--', '/*', '$$', 'x', ' '), { maxLength: 12 }), (parts) => {
				const literal = `'${parts.join('').replace(/'/g, "''")}'`;
				expect(inlineParameters('SELECT $1, $2', [literal, literal])).toBe(`SELECT ${literal}, ${literal}`);
			}),
		);
	});
});
