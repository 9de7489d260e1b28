import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';
import { DEFAULT_GRAPH_VERSION } from '../lib/whatsapp/graph-version';

/** Meta's WhatsApp Cloud API, or the local sandbox that imitates it (change the Base URL). */
export class WhatsAppCloudApi implements ICredentialType {
	name = 'whatsAppCloudApi';

	displayName = 'WhatsApp Consent Cloud API';

	icon = { light: 'file:whatsAppConsent.svg', dark: 'file:whatsAppConsent.dark.svg' } as const;

	documentationUrl = 'https://developers.facebook.com/docs/whatsapp/cloud-api/get-started';

	properties: INodeProperties[] = [
		{
			displayName: 'Access Token',
			name: 'accessToken',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			description:
				'A permanent System User token with the whatsapp_business_messaging permission, and whatsapp_business_management for templates and for the Opt-In Trigger to register its webhook URL',
		},
		{
			displayName: 'Phone Number ID',
			name: 'phoneNumberId',
			type: 'string',
			required: true,
			default: '',
			description: 'The ID of the business phone number (WhatsApp Manager → Phone numbers), not the number itself',
		},
		{
			displayName: 'Business Account ID',
			name: 'businessAccountId',
			type: 'string',
			default: '',
			description: 'The WhatsApp Business Account (WABA) ID, used to list templates and to register the Opt-In Trigger\'s webhook URL for this account',
		},
		{
			displayName: 'App ID',
			name: 'appId',
			type: 'string',
			default: '',
			description:
				"The Meta app's ID (App Dashboard → App settings → Basic). With it and the Business Account ID, the Opt-In Trigger registers its own webhook URL for this business account when it is activated.",
		},
		{
			displayName: 'App Secret',
			name: 'appSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: "The Meta app's secret. Webhooks are accepted only with a valid signature made with it.",
		},
		{
			displayName: 'Webhook Verify Token',
			name: 'verifyToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'Any secret text. Meta sends it back when it verifies a webhook URL: the Opt-In Trigger registers its URL with it, or enter the same text in the Meta app webhook settings.',
		},
		{
			displayName: 'Graph API Version',
			name: 'graphApiVersion',
			type: 'string',
			default: DEFAULT_GRAPH_VERSION,
			description: `Meta's current version is ${DEFAULT_GRAPH_VERSION}. An older one keeps working for as long as Meta serves it (see Meta's Graph API changelog).`,
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://graph.facebook.com',
			description: 'Change to the local sandbox URL (e.g. http://localhost:8787) to try everything without a Meta account',
		},
		{
			displayName:
				"Prices per message, from Meta's rate card for the market you send to (Meta charges per delivered template by category and the recipient's country). Send WhatsApp and the campaign report show costs with them; leave 0 to show none.",
			name: 'pricesNotice',
			type: 'notice',
			default: '',
		},
		{
			displayName: 'Currency',
			name: 'priceCurrency',
			type: 'string',
			default: 'EUR',
			placeholder: 'EUR',
		},
		{
			displayName: 'Price per Marketing Message',
			name: 'priceMarketing',
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 4 },
			default: 0,
		},
		{
			displayName: 'Price per Utility Message',
			name: 'priceUtility',
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 4 },
			default: 0,
			description: 'Charged outside the 24 h window only; free inside it',
		},
		{
			displayName: 'Price per Authentication Message',
			name: 'priceAuthentication',
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 4 },
			default: 0,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { headers: { Authorization: '=Bearer {{$credentials.accessToken}}' } },
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/$/, "")}}/{{$credentials.graphApiVersion}}',
			url: '=/{{$credentials.phoneNumberId}}',
		},
	};
}
