import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';
import { recipientParameter } from '../../../shared/descriptions';

export const description = updateDisplayOptions({ show: { resource: ['person'], operation: ['get'] } }, [
	recipientParameter,
] as INodeProperties[]);

export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const recipient = this.getNodeParameter('recipient', index) as string;
	const person = await ledger.getConsent(recipient);
	return [{ json: person ? { found: true, ...person } : { found: false, recipient }, pairedItem: { item: index } }];
}
