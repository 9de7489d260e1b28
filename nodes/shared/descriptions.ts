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
			description: 'An answer to someone who wrote in the last 24 hours: needs no marketing consent',
		},
	],
	default: 'marketing',
};


/** What a STOP withdraws; the Opt-In Trigger and Handle STOP offer the same choice. */
export const STOP_SCOPE_OPTIONS = [
	{ name: 'All Purposes', value: 'all', description: 'STOP ends every consent of the sender' },
	{ name: 'Marketing Only', value: 'marketing', description: 'Utility messages (e.g. order updates) still go out' },
];
