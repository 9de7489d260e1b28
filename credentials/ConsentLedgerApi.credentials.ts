import type { ICredentialType, INodeProperties } from 'n8n-workflow';
import { DEFAULT_START_WORD_LIST, DEFAULT_STOP_WORD_LIST } from '../lib/keywords';
import { STOP_SCOPE_OPTIONS } from '../nodes/shared/descriptions';

/**
 * Where the consent ledger lives and the key that protects it. No HTTP test: the nodes test it by connecting and
 * migrating (`consentLedgerConnectionTest`).
 */
export class ConsentLedgerApi implements ICredentialType {
	name = 'consentLedgerApi';

	displayName = 'Consent Ledger API';

	icon = { light: 'file:consentLedger.svg', dark: 'file:consentLedger.dark.svg' } as const;

	documentationUrl = 'https://github.com/n8n-nodes-whatsapp-consent/n8n-nodes-whatsapp-consent#credential-consent-ledger';

	properties: INodeProperties[] = [
		{
			displayName: 'Store',
			name: 'store',
			type: 'options',
			options: [
				{
					name: 'Embedded (No Server Needed)',
					value: 'embedded',
					description: 'A database in a folder under the n8n user folder. For one n8n process.',
				},
				{
					name: 'PostgreSQL',
					value: 'postgres',
					description: 'For n8n in queue mode or on several machines. Can share the database n8n uses.',
				},
			],
			default: 'embedded',
		},
		{
			displayName: 'Folder',
			name: 'folder',
			type: 'string',
			default: '',
			placeholder: '/home/node/.n8n/whatsapp-consent-ledger',
			description: 'Where the embedded ledger keeps its files. Leave empty for "whatsapp-consent-ledger" in the n8n user folder. Back this folder up.',
			displayOptions: { show: { store: ['embedded'] } },
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: 'localhost',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: 'n8n',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{ name: 'Off', value: 'off' },
				{ name: 'On', value: 'on' },
				{ name: 'On, Allow Self-Signed Certificates', value: 'allowSelfSigned' },
			],
			default: 'off',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'Schema',
			name: 'schema',
			type: 'string',
			default: 'whatsapp_consent',
			description: 'The ledger creates its tables in this schema, so it can live in the database n8n already uses',
			displayOptions: { show: { store: ['postgres'] } },
		},
		{
			displayName: 'Secret Key',
			name: 'secretKey',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			description:
				'At least 16 characters. Encrypts the phone numbers and keys the lookups in the ledger. Keep a copy in a safe place: if it is lost, the stored numbers cannot be read any more; if it changes, nobody is found.',
		},
		{
			displayName: 'Default Country',
			name: 'defaultCountry',
			type: 'string',
			default: 'DE',
			placeholder: 'DE',
			description: 'Two-letter country code used for numbers entered without +, e.g. DE reads 0151 1234567 as +49 151 1234567',
		},
		{
			displayName: 'Maximum Consent Age (Days)',
			name: 'maxConsentAgeDays',
			type: 'number',
			default: 0,
			description: 'Consent older than this must be renewed before marketing. 0 means no limit.',
		},
		{
			displayName: 'Keep Proof For (Years)',
			name: 'proofRetentionYears',
			type: 'number',
			default: 3,
			description:
				'After a withdrawal, proof is kept until the end of the year plus this many years after the last message (German limitation period: 3)',
		},
		{
			displayName: 'Delete Unconfirmed Sign-Ups After (Hours)',
			name: 'pendingRetentionHours',
			type: 'number',
			default: 72,
		},
		{
			displayName: 'Keep Operational Records For (Days)',
			name: 'operationalRetentionDays',
			type: 'number',
			default: 30,
			description:
				"Handled webhook deliveries, finished sends' records, early statuses and rejected events are deleted by Purge after this many days. Meta redelivers a webhook for up to 7 days; keep this at least the replay window.",
		},
		{
			displayName: 'Replay Window (Days)',
			name: 'replayWindowDays',
			type: 'number',
			default: 14,
			description:
				"A signed webhook event whose Meta timestamp is older than this is a replay: answered 200 and logged, without effect. At most Keep Operational Records For.",
		},
		{
			displayName: 'STOP Withdraws',
			name: 'stopScope',
			type: 'options',
			options: STOP_SCOPE_OPTIONS,
			default: 'all',
			description:
				'What a STOP on WhatsApp withdraws. The Opt-In Trigger records it before it answers Meta, and Handle STOP reports what was recorded, so every workflow with this credential treats STOP alike.',
		},
		{
			displayName: 'More STOP Words',
			name: 'stopWords',
			type: 'string',
			default: '',
			placeholder: 'KÜNDIGEN, NO MORE',
			description: `Comma-separated, added to ${DEFAULT_STOP_WORD_LIST}`,
		},
		{
			displayName: 'More START Words',
			name: 'startWords',
			type: 'string',
			default: '',
			description: `Comma-separated, added to ${DEFAULT_START_WORD_LIST}`,
		},
		{
			displayName: 'STOP Word Match',
			name: 'stopWordMatch',
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
	];
}
