/**
 * Which of a node's parameters (Send WhatsApp, Verify Consent) can differ between items, and which are read straight
 * from the item.
 */
import fc from 'fast-check';
import type { IExecuteFunctions, INodeParameters } from 'n8n-workflow';
import { differsPerItem, itemField, parameterReader, sameForEveryItem } from '../../nodes/shared/parameters';

/** What reads the item, in the forms n8n's documentation gives, and a random draw. */
const READS_THE_ITEM = [
	'$json.name',
	"$json['first name']",
	'$binary.data',
	'$input.item.json.phone',
	"$('Get Subscribers').item.json.phone",
	'$("Get Subscribers").itemMatching(0).json.phone',
	"$('Get Subscribers').pairedItem().json",
	'$itemIndex',
	'$item(0).$node["Set"].json.x',
	'$node["Set"].json.x',
	'$position',
	"$ifEmpty($vars.greeting, 'Hallo')",
	'$jmespath($json, "a")',
	'Math.random()',
	"$('Settings').all().randomItem().json.x",
	'`${$now.year}`',
	"$ ('Settings').item.json.x",
];

/** What is the same for every item of a run. */
const SAME_FOR_ALL = [
	'$now.year',
	"$now.setLocale('de').toFormat('LLLL')",
	'$today.toISODate()',
	"$('Settings').first().json.campaignKey",
	'$("Settings").last().json.campaignKey',
	"$( 'Get Subscribers' ).all().length",
	"$('Send Newsletter').isExecuted",
	'$input.first().json.x',
	'$input.all().length',
	'$vars.greeting',
	'$env.TZ',
	'$workflow.name',
	'$execution.id',
	'$runIndex',
	"'Preis: $5'",
	'1 + 1',
];

describe('node parameters', () => {
	test('a parameter differs per item only if an expression in it reads the item', () => {
		expect(differsPerItem('welcome')).toBe(false);
		expect(differsPerItem(42)).toBe(false);
		expect(differsPerItem({ parameter: [{ value: 'März' }, { value: 'x = y' }] })).toBe(false);
		expect(differsPerItem('={{ $json.phone }}')).toBe(true);
		expect(differsPerItem({ parameter: [{ value: 'März' }, { value: '={{ $json.name }}' }] })).toBe(true);
		expect(differsPerItem({ campaignKey: '=spring-{{ $now.year }}' })).toBe(false);
		expect(differsPerItem({ parameter: [{ value: "={{ $now.setLocale('de').toFormat('LLLL') }}" }, { value: '=Hallo {{ $json.name }}' }] })).toBe(true);
		expect(differsPerItem("={{ $('Settings').first().json.campaignKey }}")).toBe(false);
	});

	test.each(READS_THE_ITEM)('%s is resolved per item', (expression) => {
		expect(sameForEveryItem(`={{ ${expression} }}`)).toBe(false);
	});

	test.each(SAME_FOR_ALL)('%s is resolved once per run', (expression) => {
		expect(sameForEveryItem(`={{ ${expression} }}`)).toBe(true);
	});

	test('any expression with one read of the item in it, wherever it stands, is resolved per item', () => {
		const text = fc.stringMatching(/^[A-Za-z0-9 ,.:!-]{0,12}$/).filter((words) => !/random/i.test(words));
		const part = fc.oneof(text, fc.constantFrom(...SAME_FOR_ALL).map((expression) => `{{ ${expression} }}`));
		fc.assert(
			fc.property(fc.array(part, { maxLength: 5 }), fc.array(part, { maxLength: 5 }), fc.constantFrom(...READS_THE_ITEM), fc.boolean(), (before, after, read, braced) => {
				const expression = `=${before.join('')}${braced ? `{{ ${read} }}` : `{{ ${SAME_FOR_ALL[0]} + ${read} }}`}${after.join('')}`;
				expect(sameForEveryItem(expression)).toBe(false);
				expect(sameForEveryItem(`=${[...before, ...after].join('')}`)).toBe(true);
			}),
			{ numRuns: 500 },
		);
	});

	test('only a bare item field is read from the item; anything else goes to n8n', () => {
		expect(itemField('={{ $json.phone }}')).toBe('phone');
		expect(itemField('={{$json["phone number"]}}')).toBe('phone number');
		expect(itemField("={{ $json['phone'] }}")).toBe('phone');
		expect(itemField('={{ $json.contact.phone }}')).toBeUndefined();
		expect(itemField('={{ $json.phone }} ')).toBeUndefined();
		expect(itemField('=+49{{ $json.phone }}')).toBeUndefined();
		expect(itemField('={{ $json.phone.trim() }}')).toBeUndefined();
		expect(itemField('$json.phone')).toBeUndefined();
		expect(itemField(undefined)).toBeUndefined();
	});

	test('n8n resolves a parameter the same for every item once per run, one that reads the item once per item', () => {
		const parameters: INodeParameters = {
			text: '=Hallo {{ $json.name }}',
			headerParameters: { parameter: [{ value: "={{ $now.setLocale('de').toFormat('LLLL') }}" }] },
			options: { campaignKey: "={{ $('Settings').first().json.campaignKey }}", parallelRequests: 50 },
		};
		const items = Array.from({ length: 20 }, (_, index) => ({ json: { name: `Person ${index}` } }));
		const asked: string[] = [];
		const context = {
			getNode: () => ({ parameters }),
			getInputData: () => items,
			getNodeParameter: (name: string, index: number) => {
				asked.push(`${name}@${index}`);
				if (name === 'text') return `Hallo ${items[index].json.name}`;
				return name === 'options.campaignKey' ? 'spring' : name === 'headerParameters' ? { parameter: [{ value: 'Dezember' }] } : 50;
			},
		} as unknown as IExecuteFunctions;
		const read = parameterReader(context);
		const seen = items.map((_, index) => [read('text', index), read('headerParameters', index), read('options.campaignKey', index), read('options.parallelRequests', index)]);
		expect(seen[7]).toEqual(['Hallo Person 7', { parameter: [{ value: 'Dezember' }] }, 'spring', 50]);
		expect(asked.filter((call) => call.startsWith('text@'))).toHaveLength(20);
		expect(asked.filter((call) => !call.startsWith('text@'))).toEqual(['headerParameters@0', 'options.campaignKey@0', 'options.parallelRequests@0']);
	});
});
