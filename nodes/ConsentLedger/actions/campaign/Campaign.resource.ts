import type { INodeProperties } from 'n8n-workflow';
import * as report from './report.operation';

export { report };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['campaign'] } },
		options: [
			{
				name: 'Get Report',
				value: 'report',
				description: "The sends under a Campaign Key: where each got to, why some failed, and Meta's pricing and cost",
				action: 'Get a campaign report',
			},
		],
		default: 'report',
	},
	...report.description,
];
