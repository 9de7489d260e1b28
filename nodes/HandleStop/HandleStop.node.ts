import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { applyPreference, inboundFromItem, interpret, replyLanguage, replyTo, withdrawByMessage } from '../../lib/inbound';
import type { KeywordOptions } from '../../lib/keywords';
import { rejoinReply, withdrawalConfirmation } from '../../lib/replies';

import { STOP_SCOPE_OPTIONS } from '../shared/descriptions';
import { toNodeError } from '../shared/errors';
import { ledgerFor } from '../shared/ledger';
import { consentLedgerConnectionTest } from '../shared/methods';

const words = (text: string) =>
	text
		.split(/[,\n]/)
		.map((word) => word.trim())
		.filter(Boolean);

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
		subtitle: '={{ $parameter["scope"] === "all" ? "withdraws all purposes" : "withdraws marketing" }}',
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
					'Takes messages from the WhatsApp Consent Opt-In Trigger or from n8n\'s WhatsApp Trigger. Send the "reply" field of the Withdrawn output with Send WhatsApp (category Service Reply); send the Other Message output to a person.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Withdraw',
				name: 'scope',
				type: 'options',
				options: STOP_SCOPE_OPTIONS,
				default: 'all',
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
						displayName: 'Match',
						name: 'mode',
						type: 'options',
						options: [
							{
								name: 'Keyword Alone or With One Word',
								value: 'first-word',
								description: '"STOP", "stop bitte", "please unsubscribe"; "stop it please" goes to a person',
							},
							{ name: 'Keyword Alone', value: 'whole-message', description: 'Only "STOP", "STOPP!!", "Abmelden."' },
						],
						default: 'first-word',
					},
					{
						displayName: 'More STOP Words',
						name: 'stopWords',
						type: 'string',
						default: '',
						placeholder: 'KÜNDIGEN, NO MORE',
						description: 'Comma-separated, added to STOP, STOPP, ABMELDEN, ABBESTELLEN, STORNIEREN, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, STOPALL',
					},
					{
						displayName: 'More START Words',
						name: 'startWords',
						type: 'string',
						default: '',
						description: 'Comma-separated, added to START, ANMELDEN, UNSTOP',
					},
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
				const scope = this.getNodeParameter('scope', index) as 'all' | 'marketing';
				const context = {
					business: this.getNodeParameter('businessName', index) as string,
					signupUrl: (this.getNodeParameter('signupUrl', index) as string) || undefined,
				};
				const options = this.getNodeParameter('options', index) as {
					mode?: KeywordOptions['mode'];
					stopWords?: string;
					startWords?: string;
					language?: 'de' | 'en';
				};
				const keywords: KeywordOptions = {
					mode: options.mode,
					stopWords: words(options.stopWords ?? ''),
					startWords: words(options.startWords ?? ''),
				};
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
				const meaning = interpret(inbound, keywords);
				const language = replyLanguage(meaning, inbound.from, options.language ?? 'en');
				const reply = (text: string, phone?: string) => ({ to: replyTo(inbound, phone), text, language });
				if (meaning.kind === 'withdraw') {
					const result = await withdrawByMessage(ledger, inbound, meaning.via, scope);
					withdrawn.push({
						json: {
							...json,
							withdrawal: { via: meaning.via, keyword: meaning.keyword, scope, withdrawn: result.withdrawn, known: result.known, phone: result.phone },
							reply: reply(withdrawalConfirmation(language, context, result.withdrawn.length === 0), result.phone),
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
