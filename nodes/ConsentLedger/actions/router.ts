import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import type { Ledger } from '../../../lib/consent/ledger';
import { toNodeError } from '../../shared/errors';
import { ledgerFor } from '../../shared/ledger';
import * as campaign from './campaign/Campaign.resource';
import * as ledgerResource from './ledger/Ledger.resource';
import * as person from './person/Person.resource';
import * as subscriber from './subscriber/Subscriber.resource';

type Operation = (this: IExecuteFunctions, ledger: Ledger, index: number) => Promise<INodeExecutionData[]>;

const operations: Record<string, Record<string, { execute: Operation }>> = {
	campaign: { report: campaign.report },
	ledger: { purge: ledgerResource.purge, verify: ledgerResource.verify },
	person: { erase: person.erase, export: person.export, get: person.get, recordWithdrawal: person.recordWithdrawal },
	subscriber: { getAll: subscriber.getAll },
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
	const returnData: INodeExecutionData[] = [];
	for (let index = 0; index < items.length; index++) {
		const resource = this.getNodeParameter('resource', index) as string;
		const operation = this.getNodeParameter('operation', index) as string;
		const handler = operations[resource]?.[operation];
		try {
			if (!handler) throw new Error(`The operation "${operation}" of "${resource}" is not supported`);
			returnData.push(...(await handler.execute.call(this, ledger, index)));
		} catch (error) {
			if (this.continueOnFail()) {
				returnData.push({ json: { error: (error as Error).message, hint: (error as { hint?: string }).hint }, pairedItem: { item: index } });
				continue;
			}
			throw toNodeError(this.getNode(), error, index);
		}
	}
	return [returnData];
}
