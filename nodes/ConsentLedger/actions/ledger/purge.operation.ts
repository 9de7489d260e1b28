import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import type { Ledger } from '../../../../lib/consent/ledger';

export const description = updateDisplayOptions({ show: { resource: ['ledger'], operation: ['purge'] } }, []);

/** Retention (checklist 14, 28): run it daily from a Schedule Trigger. The periods come from the credential. */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	return [{ json: { ...(await ledger.purge()) }, pairedItem: { item: index } }];
}
