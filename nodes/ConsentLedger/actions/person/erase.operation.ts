import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';
import { recipientParameter } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	recipientParameter,
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '',
		placeholder: 'Erasure request by e-mail of 28 Nov 2026',
		description: 'Recorded with the erasure',
	},
	{
		displayName: 'Keep Proof for Legal Claims',
		name: 'retainProofForLegalClaims',
		type: 'boolean',
		default: false,
		description:
			'Whether to keep the consent proof, restricted, to defend legal claims (Art. 17(3)(e) GDPR) until the retention period ends. Every consent is withdrawn either way.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['person'], operation: ['erase'] } }, properties);

/** Art. 17. The output lists the processors to tell (Art. 19): connect the CRM, newsletter and helpdesk after it. */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const recipient = this.getNodeParameter('recipient', index) as string;
	const result = await ledger.erase(recipient, {
		reason: (this.getNodeParameter('reason', index) as string) || undefined,
		retainProofForLegalClaims: this.getNodeParameter('retainProofForLegalClaims', index) as boolean,
	});
	return [{ json: { recipient, ...result }, pairedItem: { item: index } }];
}
