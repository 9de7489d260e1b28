import type { INodeProperties } from 'n8n-workflow';
import { categoryParameter, purposeParameter, recipientParameter, redactOutputOption, REPLY_LANGUAGE_OPTIONS } from '../../shared/descriptions';
import * as message from './message/Message.resource';

/** The node's parameters; the rest of its description is in ../SendWhatsApp.node.ts, beside its icons. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Resource',
		name: 'resource',
		type: 'hidden',
		noDataExpression: true,
		default: 'message',
	},
	...message.description,
	// Mark as Read answers a message by its id: no recipient, and no consent question (it is not a message).
	{ ...recipientParameter, displayOptions: { hide: { operation: ['markAsRead'] } } },
	{ ...categoryParameter, displayOptions: { hide: { operation: ['markAsRead'] } } },
	{ ...purposeParameter, displayOptions: { hide: { category: ['service', 'withdrawal_confirmation'], operation: ['markAsRead'] } } },
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Campaign Key',
				name: 'campaignKey',
				type: 'string',
				default: '',
				placeholder: 'newsletter-2026-11',
				description:
					'A message is sent once per recipient, node, campaign key and content: re-running the workflow sends nothing twice. Set a new key to send the same content again. Any text works (spaces, umlauts); it is kept as a hash unless it is plain ASCII without spaces. An expression that does not read the item, such as {{ $now.toFormat(\'yyyy-MM\') }}, is worked out once per run, so the whole list is one campaign.',
			},
			{
				displayName: 'Dry Run',
				name: 'dryRun',
				type: 'boolean',
				default: false,
				description:
					'Whether to only check: each item is validated and asked at the consent gate, and its output says what would have been sent (the request for Meta) or why not. Nothing is sent or reserved.',
			},
			{
				displayName: 'Marketing Messages API',
				name: 'marketingMessages',
				type: 'boolean',
				default: false,
				displayOptions: { show: { '/operation': ['sendTemplate'] } },
				description:
					"Whether to send templates Meta approved as MARKETING through Meta's Marketing Messages API (POST /marketing_messages), as Meta asks. While the business has not accepted that API's terms, they go through /messages (remembered per business number until n8n restarts). Other templates always go through /messages. Needs the Business Account ID in the credential.",
			},
			{
				displayName: 'Messages Per Second',
				name: 'messagesPerSecond',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 1000 },
				default: 80,
				description: "The business number's throughput limit: 80 by default, 1,000 after Meta's upgrade",
			},
			{
				displayName: 'Objection Notice (Art. 21(4) GDPR)',
				name: 'objectionNotice',
				type: 'options',
				options: [
					{ name: 'Off', value: 'off', description: 'Nothing is added or recorded' },
					{
						name: 'Add to the First Marketing Text',
						value: 'append',
						description:
							"A person's first marketing message gets the notice as a paragraph of its own, once. A template cannot be added to: a first marketing template is refused, with the fix.",
					},
					{
						name: 'The Message Includes It',
						value: 'included',
						description: "The message says it itself (e.g. the template's footer: 'Reply STOP to opt out'); the ledger records that the person had it",
					},
				],
				default: 'off',
				description: 'Whether the first marketing message to a person carries the notice of the right to object to advertising. Recorded in the ledger, so it is first exactly once.',
			},
			{
				displayName: 'Objection Notice Language',
				name: 'objectionNoticeLanguage',
				type: 'options',
				options: REPLY_LANGUAGE_OPTIONS,
				default: 'en',
				description: 'The language of the default notice text',
				displayOptions: { show: { objectionNotice: ['append'] } },
			},
			{
				displayName: 'Objection Notice Text',
				name: 'objectionNoticeText',
				type: 'string',
				typeOptions: { rows: 2 },
				default: '',
				placeholder: 'Your right to object: you can object to advertising at any time, free of charge. Just write STOP.',
				description: 'Your own wording; empty: the default text in the language above',
				displayOptions: { show: { objectionNotice: ['append'] } },
			},
			{
				displayName: 'Parallel Requests',
				name: 'parallelRequests',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 500 },
				default: 100,
				description: 'How many messages may wait for Meta\'s answer at once',
			},
			{
				displayName: 'Seconds Between Messages to One Person',
				name: 'pairRateSeconds',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 6,
				description: "Meta's pair rate limit: about one message every 6 seconds to the same person",
			},
			{
				displayName: 'Send From (Phone Number ID)',
				name: 'phoneNumberId',
				type: 'string',
				default: '',
				placeholder: '100000000000001',
				description:
					"Another business number of the credential's account to send from, e.g. an expression per item; empty: the credential's Phone Number ID. Each number has its own throughput limit.",
			},
			redactOutputOption,
		],
	},
];
