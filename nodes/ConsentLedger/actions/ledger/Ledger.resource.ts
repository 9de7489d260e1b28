import type { INodeProperties } from 'n8n-workflow';
import * as purge from './purge.operation';
import * as verify from './verify.operation';

export { purge, verify };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['ledger'] } },
		options: [
			{
				name: 'Purge Expired Data',
				value: 'purge',
				description: 'Delete unconfirmed sign-ups, proof past its retention period and old operational records',
				action: 'Purge expired data',
			},
			{
				name: 'Verify Audit Chain',
				value: 'verify',
				description: 'Prove that no consent event was changed or removed',
				action: 'Verify the audit chain',
			},
		],
		default: 'verify',
	},
	...purge.description,
	...verify.description,
];
