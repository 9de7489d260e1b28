/** Parameters several nodes share, worded once. */
import type { INodeProperties } from 'n8n-workflow';

export const recipientParameter: INodeProperties = {
	displayName: 'Recipient',
	name: 'recipient',
	type: 'string',
	default: '={{ $json.phone }}',
	required: true,
	placeholder: '+49 151 12345678',
	description: "The person's mobile number (any format; numbers without + are read in the credential's default country) or their WhatsApp business-scoped user ID",
};

export const purposeParameter: INodeProperties = {
	displayName: 'Purpose Name or ID',
	name: 'purpose',
	type: 'options',
	typeOptions: { loadOptionsMethod: 'getPurposes' },
	default: '',
	required: true,
	description: 'What the message is for, as defined in the Opt-In Trigger. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
};

export const categoryParameter: INodeProperties = {
	displayName: 'Category',
	name: 'category',
	type: 'options',
	options: [
		{ name: 'Marketing', value: 'marketing', description: 'Offers and news: needs confirmed consent for the purpose' },
		{ name: 'Utility', value: 'utility', description: 'Updates the person asked for, e.g. order status: needs confirmed consent' },
		{
			name: 'Service Reply',
			value: 'service',
			description: 'An answer to someone who wrote in the last 24 hours and has not withdrawn since: needs no marketing consent',
		},
		{
			name: 'Withdrawal Confirmation',
			value: 'withdrawal_confirmation',
			description: 'The one reply to a STOP, within 24 hours of it (Handle STOP writes it): nothing else may go out after a STOP',
		},
	],
	default: 'marketing',
};


/** What a STOP withdraws: the Consent Ledger credential's choice, which the Opt-In Trigger and Handle STOP both use. */
export const STOP_SCOPE_OPTIONS = [
	{ name: 'All Purposes', value: 'all', description: 'STOP ends every consent of the sender' },
	{ name: 'Marketing Only', value: 'marketing', description: 'Utility messages (e.g. order updates) still go out' },
];

/** "Redact Personal Data in Output": what a node outputs is what n8n keeps in its execution data. */
export const redactOutputOption: INodeProperties = {
	displayName: 'Redact Personal Data in Output',
	name: 'redactOutput',
	type: 'boolean',
	default: false,
	description:
		"Whether to mask phone numbers, WhatsApp IDs and user IDs (last 2 characters kept), shorten message IDs and drop message texts and profile names in this node's output, which n8n keeps in its execution data. The consent ledger still records everything. Later nodes then cannot use the number.",
};

/** The languages of replies and notices (lib/replies.ts), by name in alphabetical order as n8n's scanner asks. */
export const REPLY_LANGUAGE_OPTIONS = [
	{ name: 'Dutch', value: 'nl' },
	{ name: 'English', value: 'en' },
	{ name: 'French', value: 'fr' },
	{ name: 'German', value: 'de' },
	{ name: 'Italian', value: 'it' },
	{ name: 'Polish', value: 'pl' },
	{ name: 'Portuguese', value: 'pt' },
	{ name: 'Spanish', value: 'es' },
];
