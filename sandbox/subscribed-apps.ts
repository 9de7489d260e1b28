/**
 * Webhook registration as Meta does it: `GET|POST|DELETE /{waba-id}/subscribed_apps` (the app's subscription to the
 * WABA and its alternate callback URL, which Meta verifies with the hub.challenge handshake before it takes it), and
 * `GET /{app-id}/subscriptions` (the app-level webhook fields, read with the app token `{app-id}|{app-secret}`).
 * The WABA edge needs the token's whatsapp_business_management permission (`tokenPermissions`).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GraphApiError } from './graph-errors';
import type { CloudApiSimulator } from './simulator';

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Meta's limit on `override_callback_uri`. */
const MAX_CALLBACK_LENGTH = 200;

function permissionError(): GraphApiError {
	return new GraphApiError(200, 'Permission is either not granted or has been removed.', {
		message: '(#200) Permissions error: the access token needs the whatsapp_business_management permission for this WhatsApp Business Account',
	});
}

/** GET url?hub.mode=subscribe…: resolves with a reason when the answer is not 200 with the challenge as its body. */
function handshake(url: string, verifyToken: string): Promise<string | undefined> {
	const challenge = String(randomBytes(6).readUIntBE(0, 6));
	const target = new URL(url);
	target.searchParams.set('hub.mode', 'subscribe');
	target.searchParams.set('hub.challenge', challenge);
	target.searchParams.set('hub.verify_token', verifyToken);
	return new Promise((resolve) => {
		const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
		const request = send(target, { method: 'GET', agent: false, timeout: HANDSHAKE_TIMEOUT_MS, headers: { 'User-Agent': 'facebookplatform/1.0 (+http://developers.facebook.com)' } }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => {
				const body = Buffer.concat(chunks).toString('utf8');
				if (response.statusCode !== 200) resolve(`HTTP Status Code = ${response.statusCode}; HTTP Message = ${response.statusMessage ?? ''}`);
				else if (body !== challenge) resolve('The URL couldn\'t be validated. Response does not match challenge');
				else resolve(undefined);
			});
		});
		request.on('timeout', () => request.destroy(new Error('Operation timed out')));
		request.on('error', (error) => resolve(`curl_errno = 28; curl_error = ${error.message}`));
		request.end();
	});
}

export async function answerSubscribedApps(simulator: CloudApiSimulator, method: string, body: Record<string, unknown>): Promise<unknown> {
	const { config, state } = simulator;
	if (!config.tokenPermissions.includes('whatsapp_business_management')) throw permissionError();
	const apps = state.subscriptions.get(config.wabaId) ?? new Map();
	state.subscriptions.set(config.wabaId, apps);
	if (method === 'GET') {
		return {
			data: [...apps].map(([id, subscription]) => ({
				whatsapp_business_api_data: { id, link: `https://www.facebook.com/games/?app_id=${id}`, name: 'Sandbox App' },
				...(subscription.overrideCallbackUri ? { override_callback_uri: subscription.overrideCallbackUri } : {}),
			})),
		};
	}
	if (method === 'DELETE') {
		apps.delete(config.appId);
		return { success: true };
	}
	if (method !== 'POST') throw new GraphApiError(100, `${method} is not supported on subscribed_apps`, { message: `Unsupported ${method.toLowerCase()} request.` });
	const override = body.override_callback_uri;
	if (override === undefined) {
		// A plain subscription: the app's callback URL applies again.
		apps.set(config.appId, {});
		return { success: true };
	}
	const verifyToken = body.verify_token;
	if (typeof override !== 'string' || !/^https?:\/\//.test(override) || override.length > MAX_CALLBACK_LENGTH) {
		throw new GraphApiError(100, `override_callback_uri must be a URL of at most ${MAX_CALLBACK_LENGTH} characters`, { message: '(#100) Invalid parameter' });
	}
	if (typeof verifyToken !== 'string' || verifyToken === '') {
		throw new GraphApiError(100, 'verify_token is required with override_callback_uri', { message: '(#100) The parameter verify_token is required' });
	}
	if (!apps.has(config.appId)) {
		throw new GraphApiError(100, 'Subscribe the app to the WhatsApp Business Account first', {
			message: '(#100) Before override the current callback uri, your app must be subscribed to receive messages for WhatsApp Business Account',
		});
	}
	const failure = await handshake(override, verifyToken);
	if (failure) {
		throw new GraphApiError(2200, failure, { message: `(#2200) Callback verification failed with the following errors: ${failure}` });
	}
	apps.set(config.appId, { overrideCallbackUri: override });
	return { success: true };
}

/** The app-level fields; only the app token (`{app-id}|{app-secret}`) may read them. */
export function answerAppSubscriptions(simulator: CloudApiSimulator, token: string | null): unknown {
	const { config } = simulator;
	if (token !== `${config.appId}|${config.appSecret}`) {
		throw new GraphApiError(190, 'Reading an app\'s subscriptions needs the app access token {app-id}|{app-secret}', { message: 'Invalid OAuth access token - Cannot parse access token' });
	}
	if (config.appFields.length === 0) return { data: [] };
	return {
		data: [
			{
				object: 'whatsapp_business_account',
				callback_url: config.webhookUrl ?? '',
				active: true,
				fields: config.appFields.map((name) => ({ name, version: 'v26.0' })),
			},
		],
	};
}

/** Where a webhook of this field goes: the WABA's alternate callback for the overridable `messages`, else the app's. */
export function callbackFor(simulator: CloudApiSimulator, field: 'messages' | 'user_preferences'): string | undefined {
	const { config, state } = simulator;
	const override = field === 'messages' ? state.subscriptions.get(config.wabaId)?.get(config.appId)?.overrideCallbackUri : undefined;
	return override ?? config.webhookUrl;
}
