/**
 * The Opt-In Trigger's callback at Meta, per WhatsApp Business Account (WABA): the app's alternate callback URL
 * (`override_callback_uri` on `POST /{waba-id}/subscribed_apps`), read back with `GET`, so that several workflows and
 * n8n instances sharing one Meta app each get their own account's webhooks instead of fighting over the app-wide one.
 *
 * What Meta documents (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/override, and
 * …/solution-providers/manage-webhooks):
 * - `POST /{waba-id}/subscribed_apps` subscribes the app to the account; with `{override_callback_uri (at most 200
 *   characters), verify_token}` it sets the account's alternate callback; both answer `{"success":true}`. Meta first
 *   verifies the URL with the usual `GET ?hub.mode=subscribe&hub.verify_token&hub.challenge`.
 * - The app must be subscribed to the account before an override is set.
 * - `GET /{waba-id}/subscribed_apps` lists `{whatsapp_business_api_data:{id,name,link}, override_callback_uri?}` per app.
 * - `DELETE /{waba-id}/subscribed_apps` unsubscribes the app from the account (`{"success":true}`).
 * - The override carries `messages` (statuses included) and a few other fields, not `user_preferences`, templates or
 *   account webhooks: those always go to the app's callback URL. Which fields the app receives at all is set on the
 *   app (App Dashboard, or `GET /{app-id}/subscriptions` with the app token `{app-id}|{app-secret}` to read them).
 * What Meta does not document, and this relies on: a plain `POST /{waba-id}/subscribed_apps` (no override) takes an
 * account's override away while keeping the subscription. It is used only where the app was subscribed before the
 * trigger came; where the trigger subscribed the app itself, it undoes exactly that with the documented `DELETE`.
 */
import { ConsentError } from '../errors';
import { errorFromResponse } from './errors';
import { nodeHttpFetch, type HttpFetch } from './http';

export interface MetaApp {
	/** Default https://graph.facebook.com; the sandbox's URL in tests. */
	baseUrl: string;
	graphVersion: string;
	/** A system user token with whatsapp_business_management. */
	accessToken: string;
	wabaId: string;
	appId: string;
	appSecret: string;
	fetch?: HttpFetch;
}

/** What the trigger changed at Meta, so that it undoes exactly that (kept in the node's static data). */
export interface CallbackRegistration {
	wabaId: string;
	url: string;
	/** The app was not subscribed to the account before: deregistering unsubscribes it again. */
	subscribedApp: boolean;
	/** The override this registration replaced (the same trigger's production URL, under a test listen): put back. */
	restore?: string;
}

/** The webhook field the trigger cannot work without; the override carries it. */
export const REQUIRED_FIELD = 'messages';
/** Subscribed fields the trigger handles that Meta sends to the app's callback URL even with an override. */
export const APP_CALLBACK_FIELDS = ['user_preferences'];
const PERMISSION = 'whatsapp_business_management';

export type CallbackErrorCode = 'missing_permission' | 'callback_not_verified' | 'callback_taken' | 'webhook_field_missing' | 'registration_settings';

export class CallbackRegistrationError extends ConsentError {
	constructor(code: CallbackErrorCode, message: string, hint: string, cause?: unknown) {
		super(code, message, { hint, cause });
	}
}

interface Envelope {
	error?: { message?: unknown; code?: unknown; error_subcode?: unknown; error_data?: { details?: unknown } };
}

interface SubscribedApp {
	whatsapp_business_api_data?: { id?: string; name?: string };
	override_callback_uri?: string;
}

/** Meta's answer to a registration call, as an error that names the fix. */
function registrationError(app: MetaApp, status: number, body: unknown, retryAfter: string | null, what: string): Error {
	const error = (body as Envelope | undefined)?.error;
	const code = typeof error?.code === 'number' ? error.code : undefined;
	const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
	// Meta's error table: 10 "Permission denied", 200-299 "API Permission" ("Permission is either not granted or has
	// been removed"); 100 with subcode 33 is Graph's "does not exist, cannot be loaded due to missing permissions".
	if (code === 10 || (code !== undefined && code >= 200 && code <= 299) || (code === 100 && error?.error_subcode === 33)) {
		return new CallbackRegistrationError(
			'missing_permission',
			`Meta refused to ${what} for WhatsApp Business Account ${app.wabaId}: the access token lacks the ${PERMISSION} permission for it (${message})`,
			`Give the system user the ${PERMISSION} permission and access to this WhatsApp Business Account (Business settings → System users → Assign assets), create a new token with ${PERMISSION} and whatsapp_business_messaging, and update the WhatsApp credential. Or turn off Register Webhook with Meta and set the callback URL in the App Dashboard yourself.`,
		);
	}
	if (code === 2200) {
		return new CallbackRegistrationError(
			'callback_not_verified',
			`Meta could not verify this trigger's URL for WhatsApp Business Account ${app.wabaId} (${message})`,
			"Meta calls the URL with hub.mode=subscribe and the credential's Webhook Verify Token before it accepts it: the URL must be reachable from the internet over HTTPS (n8n's WEBHOOK_URL), and the Verify Token must be set in the WhatsApp credential.",
		);
	}
	return errorFromResponse(status, body, retryAfter, app.baseUrl);
}

async function call(app: MetaApp, method: 'GET' | 'POST' | 'DELETE', path: string, what: string, body?: Record<string, string>, token = app.accessToken): Promise<unknown> {
	const url = `${app.baseUrl.replace(/\/+$/, '')}/${app.graphVersion}/${path}`;
	const response = await (app.fetch ?? nodeHttpFetch)(url, {
		method,
		headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: AbortSignal.timeout(20_000),
	});
	const text = await response.text();
	let parsed: unknown;
	try {
		parsed = text === '' ? undefined : JSON.parse(text);
	} catch {
		parsed = undefined;
	}
	if (!response.ok) throw registrationError(app, response.status, parsed, response.headers.get('retry-after'), what);
	return parsed;
}

/** This app's subscription to the account: whether it is subscribed, and its override if it has one. */
export async function readSubscription(app: MetaApp): Promise<{ subscribed: boolean; overrideUri?: string }> {
	const answer = (await call(app, 'GET', `${app.wabaId}/subscribed_apps`, 'read the webhook subscriptions')) as { data?: SubscribedApp[] };
	const own = (answer?.data ?? []).find((entry) => entry.whatsapp_business_api_data?.id === app.appId);
	return { subscribed: own !== undefined, overrideUri: own?.override_callback_uri || undefined };
}

/**
 * The app-level webhook fields (`GET /{app-id}/subscriptions`, app token): `messages` must be subscribed, or Meta
 * sends the override nothing. Returns the fields the trigger handles that go to the app's callback URL instead.
 */
export async function checkAppFields(app: MetaApp): Promise<{ appCallbackUrl?: string; appCallbackFields: string[] }> {
	const answer = (await call(app, 'GET', `${app.appId}/subscriptions`, "read the app's webhook fields", undefined, `${app.appId}|${app.appSecret}`)) as {
		data?: { object?: string; active?: boolean; callback_url?: string; fields?: ({ name?: string } | string)[] }[];
	};
	const subscription = (answer?.data ?? []).find((entry) => entry.object === 'whatsapp_business_account' && entry.active !== false);
	const fields = (subscription?.fields ?? []).map((field) => (typeof field === 'string' ? field : field.name));
	if (!fields.includes(REQUIRED_FIELD)) {
		throw new CallbackRegistrationError(
			'webhook_field_missing',
			`Meta app ${app.appId} is not subscribed to the "${REQUIRED_FIELD}" webhook field of WhatsApp Business Accounts, so Meta would send this trigger no messages and no statuses`,
			`In the Meta App Dashboard → WhatsApp → Configuration → Webhook fields, subscribe "${REQUIRED_FIELD}" (and "user_preferences"). The app's own callback URL there can stay as it is: this trigger registers its own for the business account.`,
		);
	}
	return { appCallbackUrl: subscription?.callback_url || undefined, appCallbackFields: APP_CALLBACK_FIELDS.filter((field) => fields.includes(field)) };
}

async function subscribe(app: MetaApp, override?: { url: string; verifyToken: string }): Promise<void> {
	const body = override ? { override_callback_uri: override.url, verify_token: override.verifyToken } : undefined;
	await call(app, 'POST', `${app.wabaId}/subscribed_apps`, override ? 'set the callback URL' : 'subscribe the app', body);
}

/**
 * Makes `url` the account's callback for this app. An override someone else set is never replaced: `claim` says
 * which ones are the caller's own, to be put back afterwards (`restore`: its production URL, while a test listen
 * runs) or simply replaced (`replace`: a test URL an interrupted listen left). Returns what was changed; `previous`
 * (the last registration) is kept when nothing needed changing.
 */
export async function registerCallback(
	app: MetaApp,
	request: { url: string; verifyToken: string; previous?: CallbackRegistration; claim?: (current: string) => 'restore' | 'replace' | undefined },
): Promise<CallbackRegistration> {
	const { url, verifyToken, previous } = request;
	if (url.length > 200) {
		throw new CallbackRegistrationError('registration_settings', `This trigger's URL is ${url.length} characters long; Meta takes callback URLs of at most 200`, 'Use a shorter Path, or a shorter WEBHOOK_URL for n8n.');
	}
	const current = await readSubscription(app);
	if (current.overrideUri === url) return previous?.url === url && previous.wabaId === app.wabaId ? previous : { wabaId: app.wabaId, url, subscribedApp: false };
	let restore: string | undefined;
	if (current.overrideUri !== undefined) {
		const claim = request.claim?.(current.overrideUri);
		if (claim === undefined) {
			throw new CallbackRegistrationError(
				'callback_taken',
				`WhatsApp Business Account ${app.wabaId} already sends this app's webhooks to ${current.overrideUri}, registered by another workflow or n8n instance`,
				'Give this trigger a WhatsApp credential with another business account, deactivate the trigger that registered that URL, or turn off Register Webhook with Meta.',
			);
		}
		if (claim === 'restore') restore = current.overrideUri;
	}
	if (!current.subscribed) await subscribe(app);
	try {
		await subscribe(app, { url, verifyToken });
	} catch (error) {
		// Leave the account as it was: a subscription made only for this override goes again.
		if (!current.subscribed) await call(app, 'DELETE', `${app.wabaId}/subscribed_apps`, 'unsubscribe the app').catch(() => undefined);
		throw error;
	}
	return { wabaId: app.wabaId, url, subscribedApp: !current.subscribed, ...(restore ? { restore } : {}) };
}

/**
 * Undoes a registration, and only that: when the account's override is no longer `registration.url` (someone else
 * registered since, or removed it), nothing is touched.
 */
export async function deregisterCallback(app: MetaApp, registration: CallbackRegistration, verifyToken: string): Promise<'restored' | 'removed' | 'left'> {
	const current = await readSubscription(app);
	if (current.overrideUri !== registration.url) return 'left';
	if (registration.restore) {
		try {
			await subscribe(app, { url: registration.restore, verifyToken });
			return 'restored';
		} catch (error) {
			// The production URL no longer answers (deactivated meanwhile): better the app's callback than a dead test URL.
			if (!(error instanceof CallbackRegistrationError && error.code === 'callback_not_verified')) throw error;
		}
	}
	if (registration.subscribedApp) await call(app, 'DELETE', `${app.wabaId}/subscribed_apps`, 'unsubscribe the app');
	else await subscribe(app);
	return 'removed';
}
