import type { INodeProperties } from 'n8n-workflow';
import * as requestContactInfo from './requestContactInfo.operation';
import * as sendButtons from './sendButtons.operation';
import * as sendMedia from './sendMedia.operation';
import * as sendTemplate from './sendTemplate.operation';
import * as sendText from './sendText.operation';

export { requestContactInfo, sendButtons, sendMedia, sendTemplate, sendText };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['message'] } },
		options: [
			{
				name: 'Request Contact Info',
				value: 'requestContactInfo',
				description: 'Ask a person who has a WhatsApp username to share their number, within 24 hours after they wrote',
				action: 'Request contact info',
			},
			{ name: 'Send Buttons', value: 'sendButtons', description: 'Send a text with up to three reply buttons', action: 'Send buttons' },
			{ name: 'Send Media', value: 'sendMedia', description: 'Send an image, document, audio or video', action: 'Send media' },
			{ name: 'Send Template', value: 'sendTemplate', description: 'Send an approved template, also outside the 24-hour window', action: 'Send a template' },
			{ name: 'Send Text', value: 'sendText', description: 'Send a text within 24 hours after the person wrote', action: 'Send a text' },
		],
		default: 'sendTemplate',
	},
	...requestContactInfo.description,
	...sendButtons.description,
	...sendMedia.description,
	...sendTemplate.description,
	...sendText.description,
];
