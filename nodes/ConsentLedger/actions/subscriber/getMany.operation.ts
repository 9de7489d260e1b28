import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';
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
];

export const description = updateDisplayOptions({ show: { resource: ['subscriber'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const purpose = this.getNodeParameter('purpose', index) as string;
	const category = this.getNodeParameter('category', index) as 'marketing' | 'utility';
	const returnAll = this.getNodeParameter('returnAll', index) as boolean;
	const limit = returnAll ? Infinity : (this.getNodeParameter('limit', index) as number);
	const found: INodeExecutionData[] = [];
	let after: string | undefined;
	do {
		const page = await ledger.subscribers(purpose, category, { after, limit: Math.min(1000, limit - found.length) });
		for (const subscriber of page.subscribers) found.push({ json: { ...subscriber, purpose }, pairedItem: { item: index } });
		after = page.next;
	} while (after && found.length < limit);
	return found.slice(0, limit);
}
