/**
 * The trigger's own callback at Meta (lib/whatsapp/callback.ts), through n8n's webhook lifecycle: `create` registers
 * on activation and on "listen for test event", `delete` undoes what that `create` did. What was done is kept in the
 * node's static data, which n8n saves with the workflow for the production URL and keeps with the test registration
 * for the test URL (n8n 2.41: active-workflow-manager.js saves it after addWebhooks and deregisterWebhooks,
 * test-webhooks.js caches it with the registration and hands it back to deactivateWebhooks).
 *
 * Which URL wins: a test listen takes the account's callback over from this trigger's own production URL and puts it
 * back when the listen ends (n8n deletes test webhooks after the first event or after two minutes). Events of that
 * span reach the test execution; Meta redelivers what arrives while n8n has already dropped the test URL.
 */
import { NodeOperationError, type ICredentialDataDecryptedObject, type IHookFunctions } from 'n8n-workflow';
import { ConsentError } from '../../lib/errors';
import { checkAppFields, deregisterCallback, registerCallback, type CallbackRegistration, type MetaApp } from '../../lib/whatsapp/callback';
import { DEFAULT_GRAPH_VERSION } from '../../lib/whatsapp/graph-version';
import { triggerOptions } from './widgetConfig';

interface StaticData {
	metaCallback?: CallbackRegistration;
}

function metaAppOf(credentials: ICredentialDataDecryptedObject): MetaApp {
	return {
		baseUrl: String(credentials.baseUrl || 'https://graph.facebook.com'),
		graphVersion: String(credentials.graphApiVersion || DEFAULT_GRAPH_VERSION),
		accessToken: String(credentials.accessToken ?? ''),
		wabaId: String(credentials.businessAccountId ?? '').trim(),
		appId: String(credentials.appId ?? '').trim(),
		appSecret: String(credentials.appSecret ?? ''),
	};
}

/** The URL without its last `/{endpoint}/{path}`: what the production and the test URL of one trigger share. */
function instanceBase(url: string, path: string): string | undefined {
	const tail = `/${path.replace(/^\/+/, '')}`;
	if (!url.endsWith(tail)) return undefined;
	return url.slice(0, -tail.length).replace(/\/[^/]*$/, '');
}

function nodeError(context: IHookFunctions, error: unknown): Error {
	if (error instanceof ConsentError) return new NodeOperationError(context.getNode(), error.message, { description: error.hint });
	return new NodeOperationError(context.getNode(), error as Error);
}

/** Registers this trigger's URL as the business account's callback, when the option and the credential ask for it. */
export async function registerMetaCallback(this: IHookFunctions): Promise<void> {
	const option = triggerOptions(this).registerWebhook;
	if (option === false) return;
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const app = metaAppOf(credentials);
	if (option === undefined && (app.wabaId === '' || app.appId === '')) return;
	const verifyToken = String(credentials.verifyToken ?? '');
	const missing = [!app.wabaId && 'Business Account ID', !app.appId && 'App ID', !app.appSecret && 'App Secret', !verifyToken && 'Webhook Verify Token'].filter(Boolean);
	if (missing.length > 0) {
		throw new NodeOperationError(this.getNode(), `Register Webhook with Meta needs ${missing.join(', ')} in the WhatsApp credential`, {
			description: 'Fill them in (App Dashboard → App settings → Basic for the App ID and App Secret; WhatsApp Manager for the Business Account ID), or turn off Register Webhook with Meta in the Options.',
		});
	}
	const url = this.getNodeWebhookUrl('default') as string;
	const path = String(this.getNodeParameter('path', ''));
	const own = instanceBase(url, path);
	const sibling = (current: string) => own !== undefined && instanceBase(current, path) === own;
	// Under "listen for test event" the production URL of this very trigger is kept and put back; on activation, a
	// test URL of this trigger left over from an interrupted listen is simply replaced.
	const testListen = this.getActivationMode() === 'manual';
	const data = this.getWorkflowStaticData('node') as StaticData;
	// n8n starting up activates again what was active, and Meta kept what this trigger registered. Asking again would
	// need Meta's handshake to reach this URL now, which in queue mode is a webhook process that may not be up yet.
	if (this.getActivationMode() === 'init' && data.metaCallback?.url === url) return;
	try {
		const fields = await checkAppFields(app);
		if (fields.appCallbackFields.length > 0 && fields.appCallbackUrl !== url) {
			this.logger.warn(
				`Meta sends ${fields.appCallbackFields.join(', ')} webhooks (the in-app marketing switch) to the app's callback URL ${fields.appCallbackUrl ?? '(none set)'}, never to a business account's registered URL: point the app's callback URL at this trigger too to record them here.`,
			);
		}
		data.metaCallback = await registerCallback(app, {
			url,
			verifyToken,
			previous: data.metaCallback,
			claim: (current) => (sibling(current) ? (testListen ? 'restore' : 'replace') : undefined),
		});
	} catch (error) {
		throw nodeError(this, error);
	}
}

/** Undoes what `registerMetaCallback` did; someone else's callback is left alone. Never blocks a deactivation. */
export async function deregisterMetaCallback(this: IHookFunctions): Promise<boolean> {
	const data = this.getWorkflowStaticData('node') as StaticData;
	const registration = data.metaCallback;
	if (!registration) return true;
	const credentials = await this.getCredentials('whatsAppCloudApi');
	const app = { ...metaAppOf(credentials), wabaId: registration.wabaId };
	try {
		const outcome = await deregisterCallback(app, registration, String(credentials.verifyToken ?? ''));
		if (outcome === 'left') this.logger.info(`The webhook callback of WhatsApp Business Account ${registration.wabaId} is no longer ${registration.url}: left as it is`);
		delete data.metaCallback;
		return true;
	} catch (error) {
		const reason = error instanceof ConsentError && error.hint ? `${error.message}. ${error.hint}` : (error as Error).message;
		this.logger.warn(`Could not remove this trigger's webhook callback ${registration.url} from WhatsApp Business Account ${registration.wabaId}: ${reason}`);
		return false;
	}
}
