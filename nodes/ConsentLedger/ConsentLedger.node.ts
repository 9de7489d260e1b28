import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { consentLedgerConnectionTest, getPurposes } from '../shared/methods';
import { router } from './actions/router';
import { properties } from './actions/versionDescription';

export class ConsentLedger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Consent Ledger',
		name: 'consentLedger',
		icon: { light: 'file:consentLedger.svg', dark: 'file:consentLedger.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
		description: 'Subscribers, proof, data-subject requests and retention for WhatsApp consent',
		defaults: { name: 'Consent Ledger' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' },
			// Only for the prices in a campaign report.
			{ name: 'whatsAppCloudApi', required: false, displayOptions: { show: { resource: ['campaign'] } } },
		],
		properties,
	};

	methods = { loadOptions: { getPurposes }, credentialTest: { consentLedgerConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
