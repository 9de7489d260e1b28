/** The Opt-In Trigger's parameters: the widget a visitor sees, what a STOP withdraws, and which events start the workflow. */
import type { INodeProperties } from 'n8n-workflow';
import { redactOutputOption } from '../shared/descriptions';

export const EVENT_OPTIONS = [
	{ name: 'Sign-Up Requested', value: 'optin.requested', description: 'Someone submitted the widget; the opt-in is pending' },
	{ name: 'Opt-In Confirmed', value: 'optin.confirmed', description: 'The code arrived from the number entered: send the welcome reply' },
	{ name: 'Opt-In Refused', value: 'optin.refused', description: 'A code came from another number, expired, or was wrong' },
	{
		name: 'Number Needed',
		value: 'optin.number_needed',
		description: 'A code came from a WhatsApp username whose number Meta withholds: send the reply with Send WhatsApp, Request Contact Info',
	},
	{ name: 'Withdrawal', value: 'consent.withdrawn', description: 'STOP or the "Stop promotions" button: already recorded, confirm it' },
	{ name: 'Other Message', value: 'message.received', description: 'Any other message: a question for the helpdesk, or START' },
	{ name: 'Delivery Status', value: 'status.updated', description: 'Sent, delivered, read or failed (recorded either way)' },
	{ name: 'In-App Marketing Preference', value: 'marketing.preference', description: 'The person switched marketing off or on in WhatsApp' },
	{ name: 'Template Updated', value: 'template.updated', description: 'Meta paused, disabled, rejected or approved a template, or changed its category: Send WhatsApp applies it at once' },
	{ name: 'Consent Incident', value: 'consent.incident', description: 'Meta priced as marketing a message the consent gate let through as utility or a reply: recorded in the ledger, check the template' },
	{ name: 'Rejected Event', value: 'event.rejected', description: 'An event from Meta that could not be understood: kept in the ledger with the reason, the rest was processed' },
];

export const properties: INodeProperties[] = [
	{
		displayName:
			'With the Business Account ID and App ID in the WhatsApp credential, this trigger registers its URL with Meta for that business account when activated. Otherwise set the webhook Callback URL in your Meta app to this trigger\'s Production URL and the Verify Token to the one in the credential. Either way, subscribe the app to "messages" (and "user_preferences", "message_template_status_update" and "template_category_update", so Send WhatsApp knows paused and recategorised templates at once). The sign-up page is the same URL opened in a browser; embed it with &lt;script src="…URL…?asset=widget.js" async&gt;&lt;/script&gt;.',
		name: 'setupNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Path',
		name: 'path',
		type: 'string',
		default: 'whatsapp-consent',
		required: true,
		description: 'The last part of the URL for the widget and for Meta\'s webhooks',
	},
	{
		displayName: 'Start the Workflow On',
		name: 'events',
		type: 'multiOptions',
		options: EVENT_OPTIONS,
		default: ['optin.requested', 'optin.confirmed', 'optin.refused', 'optin.number_needed', 'consent.withdrawn', 'message.received', 'marketing.preference'],
		description: 'Everything is recorded in the consent ledger before Meta gets its answer; these events also start the workflow',
	},
	{
		displayName: 'Business Name',
		name: 'businessName',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Beispiel GmbH',
		description: 'Named in the consent text and in every confirmation',
	},
	{
		displayName: 'Business WhatsApp Number',
		name: 'businessNumber',
		type: 'string',
		default: '',
		required: true,
		placeholder: '+49 30 1234567',
		description: 'The number people send their code to, with country code',
	},
	{
		displayName: 'Purposes',
		name: 'purposes',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		default: { purpose: [{ id: 'offers', label: 'Offers and news' }] },
		placeholder: 'Add Purpose',
		description: 'One unticked box each. People consent per purpose, and every send names its purpose.',
		options: [
			{
				name: 'purpose',
				displayName: 'Purpose',
				values: [
					{ displayName: 'ID', name: 'id', type: 'string', default: '', placeholder: 'offers', description: 'Lower-case, used in workflows, e.g. offers or order-updates' },
					{ displayName: 'Label', name: 'label', type: 'string', default: '', placeholder: 'Offers and news', description: 'The text next to the box' },
					{ displayName: 'Description', name: 'description', type: 'string', default: '', description: 'A line under the label, e.g. how often' },
				],
			},
		],
	},
	{
		displayName: 'Privacy Notice URL',
		name: 'privacyUrl',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'https://example.com/privacy',
		description: 'Linked next to the boxes (Art. 13 GDPR): controller, purposes, recipients including Meta, retention, rights.',
	},
	{
		displayName:
			'What STOP withdraws, and which words count as STOP, is set in the Consent Ledger credential: Handle STOP uses the same setting.',
		name: 'stopNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{ displayName: 'Allowed Websites', name: 'siteOrigins', type: 'string', default: '', placeholder: 'https://shop.example.com, https://www.example.com', description: 'Comma-separated sites that may embed the widget. Empty: only the hosted page.' },
			{ displayName: 'Consent Text (English)', name: 'textEn', type: 'string', typeOptions: { rows: 4 }, default: '', description: 'Replaces the built-in text. Must name {business}, WhatsApp and STOP.' },
			{ displayName: 'Consent Text (German)', name: 'textDe', type: 'string', typeOptions: { rows: 4 }, default: '', description: 'Replaces the built-in text. Must name {business}, WhatsApp and STOP.' },
			{ displayName: 'Consent Text Version', name: 'textVersion', type: 'string', default: '', placeholder: '2026-11', description: 'Change it whenever you change your own consent text: proof records which version each person saw' },
			{ displayName: 'Default Country', name: 'defaultCountry', type: 'string', default: 'DE', description: 'For numbers entered without +' },
			{ displayName: 'Imprint URL', name: 'imprintUrl', type: 'string', default: '' },
			{
				displayName: 'Keep Visitor IP Address',
				name: 'ipMode',
				type: 'options',
				options: [
					{ name: 'No', value: 'off' },
					{ name: 'Truncated (Last Part Removed)', value: 'truncated' },
					{ name: 'As Keyed Hash', value: 'hashed' },
				],
				default: 'off',
			},
			{
				displayName: 'Languages',
				name: 'languages',
				type: 'multiOptions',
				options: [
					{ name: 'German', value: 'de' },
					{ name: 'English', value: 'en' },
				],
				default: ['de', 'en'],
				description: 'Chosen from the visitor\'s browser; the first is the fallback',
			},
			{ displayName: 'Main Colour', name: 'primaryColour', type: 'color', default: '#075E54' },
			{ displayName: 'Minimum Age', name: 'minimumAge', type: 'number', default: 16 },
			{
				displayName: 'Public URL',
				name: 'publicUrl',
				type: 'string',
				default: '',
				placeholder: 'https://n8n.example.com/webhook/whatsapp-optin',
				description:
					"This trigger's address as visitors reach it, when n8n sits behind a proxy or CDN under another address than n8n's webhook URL. Empty: n8n's webhook URL, or the address the visitor used when it is n8n's own host or an allowed website.",
			},
			redactOutputOption,
			{
				displayName: 'Register Webhook with Meta',
				name: 'registerWebhook',
				type: 'boolean',
				default: true,
				description:
					"Whether this trigger sets its URL as the business account's webhook callback at Meta when it is activated, and removes it again when deactivated (needs Business Account ID and App ID in the WhatsApp credential, and a token with whatsapp_business_management). Off: set the callback URL in the Meta App Dashboard yourself. Without this option: on when the credential has both IDs.",
			},
			{ displayName: 'Sign-Up Page URL for Replies', name: 'signupUrl', type: 'string', default: '', description: 'Linked in replies to START and to expired codes. Empty: this trigger\'s page.' },
		],
	},
];
