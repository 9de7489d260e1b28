import type { INodeProperties } from 'n8n-workflow';
import * as getAll from './getMany.operation';

export { getAll };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['subscriber'] } },
		options: [
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List everyone who may receive messages of a purpose now',
				action: 'Get many subscribers',
			},
		],
		default: 'getAll',
	},
	...getAll.description,
];
