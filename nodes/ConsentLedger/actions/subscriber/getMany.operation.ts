import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger, ListPart } from '../../../../lib/consent/ledger';
import { purposeParameter } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	purposeParameter,
	{
		displayName: 'Category',
		name: 'category',
		type: 'options',
		options: [
			{ name: 'Marketing', value: 'marketing' },
			{ name: 'Utility', value: 'utility' },
		],
		default: 'marketing',
		description: 'Only people the consent gate would let a message of this category reach now',
	},
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: true,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: { show: { returnAll: [false] } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Part of the List',
				name: 'listPart',
				type: 'fixedCollection',
				default: { part: { part: 1, of: 2 } },
				description:
					'Only one part of the list, to spread a big newsletter over several workers in queue mode: copy the workflow once per part and give each copy its own part. Together the parts hold every subscriber once.',
				options: [
					{
						displayName: 'Part',
						name: 'part',
						values: [
							{ displayName: 'Part', name: 'part', type: 'number', typeOptions: { minValue: 1 }, default: 1, description: 'Which part this workflow sends to, from 1' },
							{ displayName: 'Of Parts', name: 'of', type: 'number', typeOptions: { minValue: 1, maxValue: 1000 }, default: 2, description: 'How many parts the list is split into' },
						],
					},
				],
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['subscriber'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const purpose = this.getNodeParameter('purpose', index) as string;
	const category = this.getNodeParameter('category', index) as 'marketing' | 'utility';
	const returnAll = this.getNodeParameter('returnAll', index) as boolean;
	const limit = returnAll ? Infinity : (this.getNodeParameter('limit', index) as number);
	const { listPart } = this.getNodeParameter('options', index, {}) as { listPart?: { part?: ListPart } };
	const found: INodeExecutionData[] = [];
	let after: string | undefined;
	do {
		const page = await ledger.subscribers(purpose, category, { after, limit: Math.min(1000, limit - found.length), part: listPart?.part });
		for (const subscriber of page.subscribers) found.push({ json: { ...subscriber, purpose }, pairedItem: { item: index } });
		after = page.next;
	} while (after && found.length < limit);
	return found.slice(0, limit);
}
