import { NodeOperationError, updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { ChainCheckpoint } from '../../../../lib/consent/chain';
import type { Ledger } from '../../../../lib/consent/ledger';

const properties: INodeProperties[] = [
	{
		displayName: 'Earlier Checkpoint',
		name: 'checkpoint',
		type: 'json',
		default: '',
		description:
			'The checkpoint an earlier Verify output (<code>{"seq": …, "hash": "…"}</code>), kept outside this database. Verification then also fails when the chain no longer passes through it: events removed or rewritten since.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['ledger'], operation: ['verify'] } }, properties);

/**
 * Checklist 35: proves no event was changed, inserted or removed since it was written, and that the tables the gate
 * reads are what the events say. The output's checkpoint is for the operator to keep elsewhere (a ticket, a mail).
 */
export async function execute(this: IExecuteFunctions, ledger: Ledger, index: number): Promise<INodeExecutionData[]> {
	const checkpoint = checkpointOf(this.getNodeParameter('checkpoint', index, ''));
	if (checkpoint === null) {
		throw new NodeOperationError(this.getNode(), 'The Earlier Checkpoint is not JSON', {
			itemIndex: index,
			description: 'Paste the checkpoint of an earlier Verify output, e.g. {"seq": 12, "hash": "…"}',
		});
	}
	return [{ json: { ...(await ledger.verifyChain(checkpoint)) }, pairedItem: { item: index } }];
}

/** The parameter as typed (JSON text) or from an expression (an object), null when not JSON; the ledger checks its fields. */
function checkpointOf(given: unknown): ChainCheckpoint | undefined | null {
	if (typeof given !== 'string') return (given ?? undefined) as ChainCheckpoint | undefined;
	if (given.trim() === '') return undefined;
	try {
		return JSON.parse(given) as ChainCheckpoint;
	} catch {
		return null;
	}
}
