import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';
import type { WithdrawalChannel } from '../../../../lib/consent/types';
import { recipientParameter } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	recipientParameter,
	{
		displayName: 'Received Via',
		name: 'channel',
		type: 'options',
		options: [
			{ name: 'E-Mail', value: 'email' },
			{ name: 'Web Form', value: 'web_form' },
			{ name: 'Support Desk', value: 'support' },
			{ name: 'WhatsApp', value: 'whatsapp' },
		],
		default: 'email',
	},
	{
		displayName: 'Scope',
		name: 'scope',
		type: 'options',
		options: [
			{ name: 'All Purposes', value: 'all' },
			{ name: 'Marketing Only', value: 'marketing', description: 'Utility messages for confirmed purposes still go out' },
			{ name: 'Selected Purposes', value: 'selected' },
		],
		default: 'all',
	},
	{
		displayName: 'Purpose Names or IDs',
		name: 'purposes',
		type: 'multiOptions',
		typeOptions: { loadOptionsMethod: 'getPurposes' },
		default: [],
		description: 'Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
		displayOptions: { show: { scope: ['selected'] } },
	},
	{
		displayName: 'Evidence',
		name: 'evidence',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		placeholder: 'Subject and date of the e-mail, ticket number…',
		description: 'Kept with the withdrawal as proof of when and how it arrived',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['person'], operation: ['recordWithdrawal'] } }, properties);

/** Art. 7(3): a withdrawal that arrived outside WhatsApp counts the same (checklist 24). */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const recipient = this.getNodeParameter('recipient', index) as string;
	const scope = this.getNodeParameter('scope', index) as 'all' | 'marketing' | 'selected';
	const evidence = this.getNodeParameter('evidence', index) as string;
	const result = await ledger.revoke({
		recipient,
		purposes: scope === 'selected' ? (this.getNodeParameter('purposes', index) as string[]) : scope,
		channel: this.getNodeParameter('channel', index) as WithdrawalChannel,
		evidence: evidence ? { note: evidence } : undefined,
	});
	return [{ json: { recipient, ...result }, pairedItem: { item: index } }];
}
