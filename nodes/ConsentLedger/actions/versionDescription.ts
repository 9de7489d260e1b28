import type { INodeProperties } from 'n8n-workflow';

import * as campaign from './campaign/Campaign.resource';
import * as ledger from './ledger/Ledger.resource';
import * as person from './person/Person.resource';
import * as subscriber from './subscriber/Subscriber.resource';

/** The node's parameters; the rest of its description is in ../ConsentLedger.node.ts, beside its icons. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Resource',
		name: 'resource',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Campaign', value: 'campaign' },
			{ name: 'Ledger', value: 'ledger' },
			{ name: 'Person', value: 'person' },
			{ name: 'Subscriber', value: 'subscriber' },
		],
		default: 'person',
	},
	...campaign.description,
	...ledger.description,
	...person.description,
	...subscriber.description,
];
