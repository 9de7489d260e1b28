import type { INodeProperties } from 'n8n-workflow';
import * as markAsRead from './markAsRead.operation';
import * as requestContactInfo from './requestContactInfo.operation';
import * as sendButtons from './sendButtons.operation';
import * as sendCtaUrl from './sendCtaUrl.operation';
import * as sendList from './sendList.operation';
import * as sendLocationRequest from './sendLocationRequest.operation';
import * as sendMedia from './sendMedia.operation';
import * as sendReaction from './sendReaction.operation';
import * as sendTemplate from './sendTemplate.operation';
import * as sendText from './sendText.operation';

export { markAsRead, requestContactInfo, sendButtons, sendCtaUrl, sendList, sendLocationRequest, sendMedia, sendReaction, sendTemplate, sendText };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['message'] } },
		options: [
			{ name: 'Mark as Read', value: 'markAsRead', description: 'Blue ticks for a message the person sent, optionally with the typing indicator; needs no consent', action: 'Mark a message as read' },
			{
				name: 'Request Contact Info',
				value: 'requestContactInfo',
				description: 'Ask a person who has a WhatsApp username to share their number, within 24 hours after they wrote',
				action: 'Request contact info',
			},
			{ name: 'Send Buttons', value: 'sendButtons', description: 'Send a text with up to three reply buttons', action: 'Send buttons' },
			{ name: 'Send Call-to-Action URL', value: 'sendCtaUrl', description: 'Send a text with a button that opens a web address', action: 'Send a call to action URL button' },
			{ name: 'Send List', value: 'sendList', description: 'Send a text with a button that opens up to ten choices', action: 'Send a list' },
			{ name: 'Send Location Request', value: 'sendLocationRequest', description: 'Ask the person to share their location', action: 'Send a location request' },
			{ name: 'Send Media', value: 'sendMedia', description: 'Send an image, document, audio or video', action: 'Send media' },
			{ name: 'Send Reaction', value: 'sendReaction', description: "React to the person's message with an emoji, or remove the reaction", action: 'Send a reaction' },
			{ name: 'Send Template', value: 'sendTemplate', description: 'Send an approved template, also outside the 24-hour window', action: 'Send a template' },
			{ name: 'Send Text', value: 'sendText', description: 'Send a text within 24 hours after the person last wrote', action: 'Send a text' },
		],
		default: 'sendTemplate',
	},
	...markAsRead.description,
	...requestContactInfo.description,
	...sendButtons.description,
	...sendCtaUrl.description,
	...sendList.description,
	...sendLocationRequest.description,
	...sendMedia.description,
	...sendReaction.description,
	...sendTemplate.description,
	...sendText.description,
];
