/**
 * The three ways of sending the same newsletter template that the send benchmark compares, as workflows for n8n's
 * engine: this package's Send WhatsApp node, n8n's WhatsApp Business Cloud node, and n8n's HTTP Request node with
 * its batching option. Each starts at a Manual Trigger whose items are the mailing list (`{ phone }`).
 */
import { join, dirname } from 'node:path';
import type { ExecuteContext } from 'n8n-core';
import { RoutingNode } from 'n8n-core';
import type { IExecuteFunctions, INode, INodeType } from 'n8n-workflow';
import type { WorkflowJson } from '../test/helpers/n8n-engine';
import { PURPOSE } from './send-recipients';

export const START = 'Start';
export const SENDER = 'Send';
export const LIMIT_PER_SECOND = 1000;
const PHONE_NUMBER_ID = '100000000000001';

/** The same message in every tool: the sandbox's `newsletter` template, German, all parameters fixed. */
const TEMPLATE = {
	name: 'newsletter',
	language: 'de',
	header: 'März',
	body: ['zusammen', 'unsere neuen Angebote sind da.'],
	buttonPayload: 'STOP_PROMOTIONS',
};

function workflow(name: string, sender: Omit<INode, 'id' | 'name' | 'position'>): WorkflowJson {
	return {
		name,
		nodes: [
			{ id: 'start', name: START, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'send', name: SENDER, position: [220, 0], ...sender },
		],
		connections: { [START]: { main: [[{ node: SENDER, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/** This package's node, as the newsletter sample uses it, paced at the business number's limit. */
export function sendWhatsAppWorkflow(options: { campaignKey: string; parallelRequests: number }): WorkflowJson {
	return workflow('Send WhatsApp (this package)', {
		type: 'n8n-nodes-whatsapp-consent.sendWhatsApp',
		typeVersion: 1,
		credentials: { whatsAppCloudApi: { id: 'wa', name: 'WhatsApp Cloud API' }, consentLedgerApi: { id: 'ledger', name: 'Consent Ledger' } },
		parameters: {
			operation: 'sendTemplate',
			templateName: TEMPLATE.name,
			language: TEMPLATE.language,
			parameterFormat: 'positional',
			headerParameters: { parameter: [{ value: TEMPLATE.header }] },
			bodyParameters: { parameter: TEMPLATE.body.map((value) => ({ value })) },
			buttons: { button: [{ subType: 'quick_reply', index: 0, parameter: TEMPLATE.buttonPayload }] },
			recipient: '={{ $json.phone }}',
			category: 'marketing',
			purpose: PURPOSE,
			options: { campaignKey: options.campaignKey, messagesPerSecond: LIMIT_PER_SECOND, parallelRequests: options.parallelRequests },
		},
	});
}

/** n8n's WhatsApp Business Cloud node (`n8n-nodes-base.whatsApp`), operation Send Template. */
export function builtInWhatsAppWorkflow(): WorkflowJson {
	return workflow("n8n's WhatsApp Business Cloud node", {
		type: 'n8n-nodes-base.whatsApp',
		typeVersion: 1.1,
		credentials: { whatsAppApi: { id: 'wa', name: 'WhatsApp account' } },
		parameters: {
			resource: 'message',
			operation: 'sendTemplate',
			phoneNumberId: PHONE_NUMBER_ID,
			recipientPhoneNumber: '={{ $json.phone }}',
			template: `${TEMPLATE.name}|${TEMPLATE.language}`,
			components: {
				component: [
					{ type: 'header', headerParameters: { parameter: [{ type: 'text', text: TEMPLATE.header }] } },
					{ type: 'body', bodyParameters: { parameter: TEMPLATE.body.map((text) => ({ type: 'text', text })) } },
					{ type: 'button', sub_type: 'quick_reply', index: 0, buttonParameters: { parameter: { type: 'payload', payload: TEMPLATE.buttonPayload } } },
				],
			},
		},
	});
}

/** The Cloud API's JSON for the template, written into the HTTP Request node's body as a user would type it. */
const HTTP_BODY = `={
  "messaging_product": "whatsapp",
  "to": "{{ $json.phone }}",
  "type": "template",
  "template": {
    "name": "${TEMPLATE.name}",
    "language": { "code": "${TEMPLATE.language}" },
    "components": [
      { "type": "header", "parameters": [{ "type": "text", "text": "${TEMPLATE.header}" }] },
      { "type": "body", "parameters": [${TEMPLATE.body.map((text) => `{ "type": "text", "text": "${text}" }`).join(', ')}] },
      { "type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{ "type": "payload", "payload": "${TEMPLATE.buttonPayload}" }] }
    ]
  }
}`;

/**
 * n8n's HTTP Request node posting to the messages endpoint, batched for a 1,000/s limit: 1,000 items, then a
 * one-second pause. A refused request becomes an output item instead of stopping the newsletter half-way.
 */
export function httpRequestWorkflow(graphBaseUrl: string, batch = { batchSize: LIMIT_PER_SECOND, batchInterval: 1000 }): WorkflowJson {
	return workflow('HTTP Request node with batching', {
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		onError: 'continueRegularOutput',
		credentials: { httpHeaderAuth: { id: 'header', name: 'Meta bearer token' } },
		parameters: {
			method: 'POST',
			url: `${graphBaseUrl}/v23.0/${PHONE_NUMBER_ID}/messages`,
			authentication: 'genericCredentialType',
			genericAuthType: 'httpHeaderAuth',
			sendBody: true,
			specifyBody: 'json',
			jsonBody: HTTP_BODY,
			options: { batching: { batch } },
		},
	});
}

/**
 * n8n's WhatsApp node as the n8n server runs it, sending to the sandbox. Two differences from loading its class as
 * is, both made on a subclass that replaces the one n8n-nodes-base exports, before the engine's node registry first
 * loads it (once per file, from the same module registry):
 * - the base URL: the node has no setting for it; its `requestDefaults.baseURL` is hard-coded as
 *   `https://graph.facebook.com/v13.0/`, and becomes the sandbox's `/v13.0/`;
 * - an `execute` that runs n8n-core's `RoutingNode`: the n8n server gives every declarative node this method when it
 *   loads it (`shouldAssignExecuteMethod` in packages/cli). Without it the bare engine treats the node as a webhook
 *   node (it has the send-and-wait webhook) and evaluates its expressions without input items.
 * Everything else (parameters, routing, pre-send hooks, the request engine) is n8n's own code.
 */
export function routeBuiltInWhatsAppTo(graphBaseUrl: string): void {
	const file = join(dirname(require.resolve('n8n-nodes-base/package.json')), 'dist', 'nodes', 'WhatsApp', 'WhatsApp.node.js');
	const exported = require(file) as { WhatsApp: new () => INodeType };
	const Original = exported.WhatsApp;
	exported.WhatsApp = class RoutedToSandbox extends Original {
		constructor() {
			super();
			this.description = { ...this.description, requestDefaults: { ...this.description.requestDefaults, baseURL: `${graphBaseUrl}/v13.0/` } };
			const nodeType: INodeType = this;
			this.execute = async function (this: IExecuteFunctions) {
				return (await new RoutingNode(this as ExecuteContext, nodeType).runNode()) ?? [];
			};
		}
	};
}
