import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as ledger from './ledger/Ledger.resource';
import * as person from './person/Person.resource';
import * as subscriber from './subscriber/Subscriber.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'Consent Ledger',
	name: 'consentLedger',
	icon: 'file:consentLedger.svg',
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
	description: 'Subscribers, proof, data-subject requests and retention for WhatsApp consent',
	defaults: { name: 'Consent Ledger' },
	usableAsTool: true,
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	credentials: [{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' }],
	properties: [
		{
			displayName: 'Resource',
			name: 'resource',
			type: 'options',
			noDataExpression: true,
			options: [
				{ name: 'Ledger', value: 'ledger' },
				{ name: 'Person', value: 'person' },
				{ name: 'Subscriber', value: 'subscriber' },
			],
			default: 'person',
		},
		...ledger.description,
		...person.description,
		...subscriber.description,
	],
};
