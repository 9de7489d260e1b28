import type { INodeProperties } from 'n8n-workflow';
import * as erase from './erase.operation';
import * as exportPerson from './export.operation';
import * as get from './get.operation';
import * as recordWithdrawal from './recordWithdrawal.operation';

export { erase, exportPerson as export, get, recordWithdrawal };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['person'] } },
		options: [
			{ name: 'Erase', value: 'erase', description: 'Erase a person on request (Art. 17).', action: 'Erase a person' },
			{
				name: 'Export',
				value: 'export',
				description: 'Export a person\'s full history as JSON, CSV and a printable proof page (Art. 15, 20).',
				action: 'Export a person',
			},
			{ name: 'Get', value: 'get', description: "Get a person's consents with their proof", action: 'Get a person' },
			{
				name: 'Record Withdrawal',
				value: 'recordWithdrawal',
				description: 'Record a withdrawal received by e-mail, web form or support',
				action: 'Record a withdrawal',
			},
		],
		default: 'get',
	},
	...erase.description,
	...exportPerson.description,
	...get.description,
	...recordWithdrawal.description,
];
