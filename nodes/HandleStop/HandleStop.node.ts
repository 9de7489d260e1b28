import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import type { Category } from '../../lib/consent/types';
import { applyPreference, inboundFromItem, interpret, replyLanguage, replyTo, withdrawByMessage } from '../../lib/inbound';
import { rejoinReply, withdrawalConfirmation } from '../../lib/replies';

import { toNodeError } from '../shared/errors';
import { ledgerFor } from '../shared/ledger';
import { consentLedgerConnectionTest } from '../shared/methods';

/**
 * Turns STOP, Meta's "Stop promotions" button and the in-app marketing switch into a durable withdrawal and one
 * non-promotional confirmation; START yields a fresh opt-in link, never a silent re-subscription.
 */
export class HandleStop implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Handle STOP',
		name: 'handleStop',
		icon: { light: 'file:handleStop.svg', dark: 'file:handleStop.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: 'STOP, Stop promotions and the in-app switch',
		description: 'Withdraw consent when someone writes STOP on WhatsApp, and write the confirmation',
		defaults: { name: 'Handle STOP' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Withdrawn', 'Wants to Rejoin', 'Other Message'],
		credentials: [{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' }],
		properties: [
			{
				displayName:
					'Takes messages from the WhatsApp Consent Opt-In Trigger or from n8n\'s WhatsApp Trigger. What STOP withdraws, and which words count as STOP, is set in the Consent Ledger credential, the same for the Opt-In Trigger. Send the "reply" field of the Withdrawn output with Send WhatsApp (its category is in reply.category: Withdrawal Confirmation); send the Other Message output to a person.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Business Name',
				name: 'businessName',
				type: 'string',
				default: '',
				required: true,
				placeholder: 'Beispiel GmbH',
				description: 'Named in the confirmation, so the person knows who confirms',
			},
			{
				displayName: 'Sign-Up Page URL',
				name: 'signupUrl',
				type: 'string',
				default: '',
				placeholder: 'https://example.com/whatsapp',
				description: 'Where someone who writes START signs up again (a new double opt-in)',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				options: [
					{
						displayName: 'Default Language',
						name: 'language',
						type: 'options',
						options: [
							{ name: 'German', value: 'de' },
							{ name: 'English', value: 'en' },
						],
						default: 'en',
						description: 'For replies when neither the keyword nor the number tells the language',
					},
				],
			},
		],
	};

	methods = { credentialTest: { consentLedgerConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
		const withdrawn: INodeExecutionData[] = [];
		const rejoin: INodeExecutionData[] = [];
		const other: INodeExecutionData[] = [];

		for (let index = 0; index < items.length; index++) {
			const json = items[index].json;
			const pairedItem = { item: index };
			try {
				const context = {
					business: this.getNodeParameter('businessName', index) as string,
					signupUrl: (this.getNodeParameter('signupUrl', index) as string) || undefined,
				};
				const options = this.getNodeParameter('options', index) as { language?: 'de' | 'en' };
				const inbound = inboundFromItem(json);
				if (!inbound) {
					other.push({ json: { ...json, meaning: 'not_a_message' }, pairedItem });
					continue;
				}
				if (inbound.kind === 'preference') {
					const result = await applyPreference(ledger, inbound);
					const target = inbound.value === 'stop' ? withdrawn : other;
					target.push({ json: { ...json, withdrawal: { via: 'in_app_preference', value: inbound.value, known: result.known } }, pairedItem });
					continue;
				}
				const meaning = interpret(inbound, ledger.withdrawalPolicy.keywords);
				const language = replyLanguage(meaning, inbound.from, options.language ?? 'en');
				const reply = (text: string, phone?: string, category: Category = 'service') => ({ to: replyTo(inbound, phone), text, language, category });
				if (meaning.kind === 'withdraw') {
					// A message the Opt-In Trigger already withdrew gets the recorded result: its scope, not a second one.
					const result = await withdrawByMessage(ledger, inbound, meaning.via);
					withdrawn.push({
						json: {
							...json,
							withdrawal: { via: meaning.via, keyword: meaning.keyword, scope: result.scope, withdrawn: result.withdrawn, known: result.known, phone: result.phone },
							reply: reply(withdrawalConfirmation(language, context, result.withdrawn.length === 0), result.phone, 'withdrawal_confirmation'),
						},
						pairedItem,
					});
				} else if (meaning.kind === 'rejoin') {
					rejoin.push({ json: { ...json, reply: reply(rejoinReply(language, context)) }, pairedItem });
				} else {
					other.push({ json: { ...json, meaning: 'other' }, pairedItem });
				}
			} catch (error) {
				if (this.continueOnFail()) {
					other.push({ json: { ...json, error: (error as Error).message }, pairedItem });
					continue;
				}
				throw toNodeError(this.getNode(), error, index);
			}
		}
		return [withdrawn, rejoin, other];
	}
}
