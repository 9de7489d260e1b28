import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';
import { rateCardOf } from '../../../shared/pricing';

const properties: INodeProperties[] = [
	{
		displayName: 'Campaign Key',
		name: 'campaignKey',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'newsletter-2026-12',
		description: 'The Campaign Key the Send WhatsApp node sent with (its option of that name)',
	},
	{
		displayName:
			"Costs use the prices of the WhatsApp Consent Cloud API credential, if one is selected; Meta's statuses say how each message was priced. Sends are kept for the ledger's operational retention (30 days by default).",
		name: 'reportNotice',
		type: 'notice',
		default: '',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['campaign'], operation: ['report'] } }, properties);

export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const campaign = this.getNodeParameter('campaignKey', index) as string;
	const prices = await this.getCredentials('whatsAppCloudApi', index).catch(() => undefined);
	const report = await ledger.campaignReport(campaign, rateCardOf(prices));
	return [{ json: report as unknown as IDataObject, pairedItem: { item: index } }];
}
