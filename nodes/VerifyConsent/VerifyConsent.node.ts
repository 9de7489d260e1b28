import {
	NodeConnectionTypes,
	NodeOperationError,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import type { Category, GateDecision } from '../../lib/consent/types';
import { ValidationError } from '../../lib/errors';
import { normalizeRecipient } from '../../lib/phone';
import { categoryParameter, purposeParameter, recipientParameter } from '../shared/descriptions';
import { toNodeError } from '../shared/errors';
import { ledgerFor } from '../shared/ledger';
import { parameterReader } from '../shared/parameters';
import { consentLedgerConnectionTest, getPurposes } from '../shared/methods';

/** Splits items into those the consent gate allows and those it refuses, with the reason. */
export class VerifyConsent implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Verify Consent',
		name: 'verifyConsent',
		icon: { light: 'file:verifyConsent.svg', dark: 'file:verifyConsent.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["purpose"] + " · " + $parameter["category"] }}',
		description: 'Route people by their WhatsApp consent: consented or not, with the reason',
		defaults: { name: 'Verify Consent' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Consented', 'Not Consented'],
		credentials: [{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' }],
		properties: [
			recipientParameter,
			purposeParameter,
			categoryParameter,
			{
				displayName: 'Put Decision In Field',
				name: 'decisionField',
				type: 'string',
				default: 'consent',
				description: 'The field of each item that receives the decision: allowed, reason and message',
			},
		],
	};

	methods = { loadOptions: { getPurposes }, credentialTest: { consentLedgerConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
		const decisionField = this.getNodeParameter('decisionField', 0) as string;
		// A purpose or category the same for every item is read once, and `{{ $json.phone }}` from the item itself:
		// n8n 2.41's expression engine would spend about half a millisecond on each, per item of a large list.
		const read = parameterReader(this);

		// One batch query for every valid recipient; a malformed number is a refusal of its own item, not of the run.
		const decisions: (GateDecision | undefined)[] = new Array(items.length);
		const questions: { index: number; recipient: string; purpose: string; category: Category }[] = [];
		for (let index = 0; index < items.length; index++) {
			const purpose = read('purpose', index) as string;
			const category = read('category', index) as Category;
			const raw = read('recipient', index);
			try {
				questions.push({ index, recipient: normalizeRecipient(raw, ledger.defaultCountry), purpose, category });
			} catch (error) {
				if (!(error instanceof ValidationError)) throw toNodeError(this.getNode(), error, index);
				decisions[index] = {
					allowed: false,
					reason: 'invalid_recipient',
					message: `${error.message}${error.hint ? `. ${error.hint}` : ''}`,
				};
			}
		}
		try {
			const answers = await ledger.mayMessageBatch(questions);
			answers.forEach((decision, n) => (decisions[questions[n].index] = decision));
		} catch (error) {
			throw toNodeError(this.getNode(), error);
		}

		const consented: INodeExecutionData[] = [];
		const refused: INodeExecutionData[] = [];
		items.forEach((item, index) => {
			const decision = decisions[index];
			if (!decision) throw new NodeOperationError(this.getNode(), 'No decision for item', { itemIndex: index });
			const { allowed, reason } = decision;
			const message = decision.allowed ? undefined : decision.message;
			const output = { json: { ...item.json, [decisionField]: { allowed, reason, message } }, pairedItem: { item: index } };
			(allowed ? consented : refused).push(output);
		});
		return [consented, refused];
	}
}
