import type { IExecuteFunctions, INodeExecutionData, INodeType } from 'n8n-workflow';
import { consentLedgerConnectionTest, getPurposes } from '../shared/methods';
import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';

export class SendWhatsApp implements INodeType {
	description = versionDescription;

	methods = { loadOptions: { getPurposes }, credentialTest: { consentLedgerConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
