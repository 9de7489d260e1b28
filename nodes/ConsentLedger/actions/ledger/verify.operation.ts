import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';

export const description = updateDisplayOptions({ show: { resource: ['ledger'], operation: ['verify'] } }, []);

/** Checklist 35: proves no event was changed, inserted or removed since it was written. */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	return [{ json: { ...(await ledger.verifyChain()) }, pairedItem: { item: index } }];
}
