import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { consentLedgerConnectionTest, getPurposes } from '../shared/methods';
import { router } from './actions/router';
import { getTemplateVariables, searchTemplates } from './methods/templates';
import { properties } from './actions/versionDescription';

export class SendWhatsApp implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Send WhatsApp',
		name: 'sendWhatsApp',
		icon: { light: 'file:whatsAppConsent.svg', dark: 'file:whatsAppConsent.dark.svg' },
		group: ['output'],
		// 2: the template from the business account's list, one field per template variable (1 keeps name and lists).
		version: [1, 2],
		defaultVersion: 2,
		subtitle: '={{ $parameter["operation"] + " · " + $parameter["category"] }}',
		description: 'Send WhatsApp messages through the official Cloud API, only to people who consented',
		defaults: { name: 'Send WhatsApp' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Sent', 'Not Sent'],
		credentials: [
			{ name: 'whatsAppCloudApi', required: true },
			{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' },
		],
		properties,
	};

	methods = {
		loadOptions: { getPurposes },
		listSearch: { searchTemplates },
		resourceMapping: { getTemplateVariables },
		credentialTest: { consentLedgerConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
