import { createHash } from 'node:crypto';
import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import type { Category } from '../../lib/consent/types';
import { applyPreference, inboundFromItem, interpret, replyLanguage, replyTo, withdrawByMessage } from '../../lib/inbound';
import { helpReply, rejoinReply, withdrawalConfirmation, type ReplyLanguage } from '../../lib/replies';

import { REPLY_LANGUAGE_OPTIONS } from '../shared/descriptions';
import { toNodeError } from '../shared/errors';
import { ledgerFor } from '../shared/ledger';
import { consentLedgerConnectionTest } from '../shared/methods';

const OUTPUTS_V1 = ['Withdrawn', 'Wants to Rejoin', 'Other Message'];
/** Version 2 adds its outputs after version 1's, so a connection made to an output keeps its index. */
const OUTPUTS_V2 = [...OUTPUTS_V1, 'Help', 'Probably a Withdrawal'];
const outputsOf = (names: string[]) => JSON.stringify(names.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName })));

/**
 * The Send WhatsApp campaign key of a help answer: one per inbound message, so a redelivered message (or a re-run)
 * is answered once and a second HELP is answered again. A hash, so the key does not carry the wamid.
 */
function helpCampaignKey(messageId: string): string {
	return `help-${createHash('sha256').update(messageId).digest('hex').slice(0, 24)}`;
}

/**
 * Turns STOP, Meta's "Stop promotions" button and the in-app marketing switch into a durable withdrawal and one
 * non-promotional confirmation; START yields a fresh opt-in link, never a silent re-subscription. Version 2 answers
 * HELP with the help text and sends sentences that probably withdraw to a person, each on an output of its own;
 * version 1 (workflows made before) sends both to Other Message, as it did.
 */
export class HandleStop implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Handle STOP',
		name: 'handleStop',
		icon: { light: 'file:handleStop.svg', dark: 'file:handleStop.dark.svg' },
		group: ['transform'],
		version: [1, 2],
		defaultVersion: 2,
		subtitle: 'STOP, Stop promotions and the in-app switch',
		description: 'Withdraw consent when someone writes STOP on WhatsApp, and write the confirmation',
		defaults: { name: 'Handle STOP' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: `={{ $nodeVersion >= 2 ? ${outputsOf(OUTPUTS_V2)} : ${outputsOf(OUTPUTS_V1)} }}`,
		credentials: [{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' }],
		properties: [
			{
				displayName:
					'Takes messages from the WhatsApp Consent Opt-In Trigger or from n8n\'s WhatsApp Trigger. What STOP withdraws, and which words count as STOP, is set in the Consent Ledger credential, the same for the Opt-In Trigger. Send the "reply" field of the Withdrawn output with Send WhatsApp (its category is in reply.category: Withdrawal Confirmation); send the Other Message output to a person.',
				name: 'notice',
				type: 'notice',
				default: '',
				displayOptions: { show: { '@version': [1] } },
			},
			{
				displayName:
					'Takes messages from the WhatsApp Consent Opt-In Trigger or from n8n\'s WhatsApp Trigger. What STOP withdraws, and which words count as STOP, is set in the Consent Ledger credential, the same for the Opt-In Trigger. Send the "reply" of Withdrawn, Wants to Rejoin and Help with Send WhatsApp (category in reply.category; for Help set Campaign Key to reply.campaignKey, so each HELP is answered once). Probably a Withdrawal is a sentence such as "please stop sending me messages": a person confirms it at once with Consent Ledger → Record Withdrawal. Other Message goes to a person.',
				name: 'noticeV2',
				type: 'notice',
				default: '',
				displayOptions: { show: { '@version': [{ _cnd: { gte: 2 } }] } },
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
						options: REPLY_LANGUAGE_OPTIONS,
						default: 'en',
						description: "For replies when neither the keyword nor the number's country tells the language",
					},
					{
						displayName: 'Help Text',
						name: 'helpText',
						type: 'string',
						typeOptions: { rows: 3 },
						default: '',
						placeholder: 'Beispiel GmbH on WhatsApp: offers at most once a week. To unsubscribe, write STOP.',
						description:
							'The answer to HELP, INFO, HILFE, AIDE…, in every language. Empty: a text in the person\'s language that names the business, what they receive here and that STOP unsubscribes.',
						displayOptions: { show: { '@version': [{ _cnd: { gte: 2 } }] } },
					},
					{
						displayName: 'What People Receive',
						name: 'receives',
						type: 'string',
						default: '',
						placeholder: 'offers and news, at most one message a week',
						description: 'Named in the default help text. Empty: "the messages you signed up for".',
						displayOptions: { show: { '@version': [{ _cnd: { gte: 2 } }] } },
					},
				],
			},
		],
	};

	methods = { credentialTest: { consentLedgerConnectionTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
		const version = this.getNode().typeVersion;
		const withdrawn: INodeExecutionData[] = [];
		const rejoin: INodeExecutionData[] = [];
		const other: INodeExecutionData[] = [];
		const help: INodeExecutionData[] = [];
		const probable: INodeExecutionData[] = [];

		for (let index = 0; index < items.length; index++) {
			const json = items[index].json;
			const pairedItem = { item: index };
			try {
				const context = {
					business: this.getNodeParameter('businessName', index) as string,
					signupUrl: (this.getNodeParameter('signupUrl', index) as string) || undefined,
				};
				const options = this.getNodeParameter('options', index) as { language?: ReplyLanguage; helpText?: string; receives?: string };
				const inbound = inboundFromItem(json);
				if (!inbound) {
					other.push({ json: { ...json, meaning: 'not_a_message' }, pairedItem });
					continue;
				}
				if (inbound.kind === 'preference') {
					const result = await applyPreference(ledger, inbound);
					const target = inbound.value === 'stop' ? withdrawn : other;
					// No confirmation: the person switched it in WhatsApp itself, which shows the change.
					target.push({ json: { ...json, withdrawal: { via: 'in_app_preference', value: inbound.value, known: result.known, recipient: replyTo({ from: inbound.waId, userId: inbound.userId }) } }, pairedItem });
					continue;
				}
				const interpreted = interpret(inbound, ledger.withdrawalPolicy.keywords);
				// Version 1 knew neither: its workflows get these messages where they always did.
				const meaning = version < 2 && (interpreted.kind === 'help' || interpreted.kind === 'probable_withdrawal') ? ({ kind: 'other' } as const) : interpreted;
				const language = replyLanguage(meaning, inbound.from, options.language ?? 'en');
				const reply = (text: string, phone?: string, category: Category = 'service') => ({ to: replyTo(inbound, phone), text, language, category });
				if (meaning.kind === 'withdraw') {
					// A message the Opt-In Trigger already withdrew gets the recorded result: its scope, not a second one.
					const result = await withdrawByMessage(ledger, inbound, meaning.via);
					withdrawn.push({
						json: {
							...json,
							withdrawal: {
								via: meaning.via,
								keyword: meaning.keyword,
								scope: result.scope,
								withdrawn: result.withdrawn,
								known: result.known,
								phone: result.phone,
								recipient: replyTo(inbound, result.phone),
							},
							reply: reply(withdrawalConfirmation(language, context, result.withdrawn.length === 0), result.phone, 'withdrawal_confirmation'),
						},
						pairedItem,
					});
				} else if (meaning.kind === 'rejoin') {
					rejoin.push({ json: { ...json, reply: reply(rejoinReply(language, context)) }, pairedItem });
				} else if (meaning.kind === 'help') {
					const text = options.helpText?.trim() || helpReply(language, { ...context, receives: options.receives });
					help.push({ json: { ...json, meaning: 'help', keyword: meaning.keyword, reply: { ...reply(text), campaignKey: helpCampaignKey(inbound.messageId) } }, pairedItem });
				} else if (meaning.kind === 'probable_withdrawal') {
					probable.push({
						json: {
							...json,
							meaning: 'probable_withdrawal',
							withdrawal: {
								probable: true,
								pattern: meaning.pattern,
								language: meaning.language,
								from: replyTo(inbound),
								text: inbound.text,
								at: inbound.at.toISOString(),
								todo: 'Read it now; if it withdraws, record it with Consent Ledger → Record Withdrawal (channel WhatsApp) and confirm it',
							},
						},
						pairedItem,
					});
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
		return version < 2 ? [withdrawn, rejoin, other] : [withdrawn, rejoin, other, help, probable];
	}
}
