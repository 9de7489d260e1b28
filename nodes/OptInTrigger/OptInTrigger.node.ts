import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IHookFunctions,
	type INodeType,
	type INodeTypeDescription,
	type IWebhookFunctions,
	type IWebhookResponseData,
} from 'n8n-workflow';

import { toNodeError } from '../shared/errors';
import { ledgerFor } from '../shared/ledger';
import { consentLedgerConnectionTest } from '../shared/methods';
import { properties } from './description';
import { answerHandshake, receiveMetaEvents } from './meta';
import { deregisterMetaCallback, registerMetaCallback } from './registration';
import { receiveSignup, serveWidget } from './signup';
import { widgetConfigOf } from './widgetConfig';

/**
 * The double opt-in's front door: the sign-up widget (GET), sign-ups (POST from the widget) and Meta's webhooks
 * (GET handshake, signed POST events), all on one URL.
 */
export class OptInTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'WhatsApp Consent Opt-In Trigger',
		name: 'optInTrigger',
		icon: { light: 'file:optInTrigger.svg', dark: 'file:optInTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{ "/webhook/" + $parameter["path"] }}',
		description: 'Starts a workflow on WhatsApp sign-ups, confirmations, STOP and messages, with a double opt-in widget',
		defaults: { name: 'Opt-In Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'consentLedgerApi', required: true, testedBy: 'consentLedgerConnectionTest' }, { name: 'whatsAppCloudApi', required: true }],
		webhooks: [
			{ name: 'setup', httpMethod: 'GET', responseMode: 'onReceived', path: '={{$parameter["path"]}}', isFullPath: true },
			// n8n answers a POST with workflow data itself, once it stored the execution (meta.ts); with no body.
			{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', responseData: 'noData', path: '={{$parameter["path"]}}', isFullPath: true },
		],
		properties,
	};

	methods = { credentialTest: { consentLedgerConnectionTest } };

	webhookMethods = {
		default: {
			/** Always false: `create` declares the purposes on every activation, and registration reads Meta's state itself. */
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return false;
			},
			/**
			 * Checks the settings and declares the purposes before the first visitor arrives, then registers this URL as the
			 * business account's callback at Meta (registration.ts), whose handshake the `setup` webhook answers.
			 */
			async create(this: IHookFunctions): Promise<boolean> {
				let config;
				try {
					config = widgetConfigOf(this);
				} catch (error) {
					throw new NodeOperationError(this.getNode(), error as Error, { description: (error as { hint?: string }).hint });
				}
				try {
					const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
					await ledger.definePurposes(config.purposes);
				} catch (error) {
					// Activation is where a wrong store shows first (the embedded one in queue mode): with its fix.
					throw toNodeError(this.getNode(), error);
				}
				await registerMetaCallback.call(this);
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return await deregisterMetaCallback.call(this);
			},
		},
		setup: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return false;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const request = this.getRequestObject();
		if (this.getWebhookName() === 'setup') {
			const query = request.query as IDataObject;
			if (query['hub.mode'] !== undefined) return await answerHandshake.call(this);
			return await serveWidget.call(this);
		}
		const fromMeta = request.headers['x-hub-signature-256'] !== undefined || (request.body as IDataObject)?.object === 'whatsapp_business_account';
		return fromMeta ? await receiveMetaEvents.call(this) : await receiveSignup.call(this);
	}
}
