/**
 * Issue 12, "The trigger sets itself up": the Opt-In Trigger registers its URL as the business account's callback at
 * the sandbox's Graph API over HTTP (`POST /{waba-id}/subscribed_apps` with `override_callback_uri`), answers the
 * handshake that registration triggers, gets that account's events, and undoes only what it did. The webhook
 * methods run in the context n8n gives them (test/helpers/trigger-host.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { ICredentialDataDecryptedObject, IHookFunctions } from 'n8n-workflow';
import { readSubscription, type MetaApp } from '../../lib/whatsapp/callback';
import { OptInTrigger } from '../../nodes/OptInTrigger/OptInTrigger.node';
import { closeLedgers } from '../../nodes/shared/ledger';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { outboxCredentials } from '../helpers/outbox-world';
import { startTriggerHost, type TriggerHost } from '../helpers/trigger-host';

const VERIFY_TOKEN = 'verify-token-for-registration';
const ANNA = '4915112345678';

let sandbox: Sandbox;
const hosts: TriggerHost[] = [];
const trigger = new OptInTrigger();
const create = (hooks: IHookFunctions) => trigger.webhookMethods.default.create.call(hooks);
const remove = (hooks: IHookFunctions) => trigger.webhookMethods.default.delete.call(hooks);

/** One embedded ledger for the file: what these tests look at is Meta's side. */
let consentLedgerApi: ICredentialDataDecryptedObject;

function credentialsFor(overrides: ICredentialDataDecryptedObject = {}): Record<string, ICredentialDataDecryptedObject> {
	const { options } = sandbox;
	return {
		consentLedgerApi,
		whatsAppCloudApi: {
			baseUrl: sandbox.url,
			graphApiVersion: 'v26.0',
			accessToken: options.accessToken,
			phoneNumberId: options.phoneNumberId,
			businessAccountId: options.wabaId,
			appId: options.appId,
			appSecret: options.appSecret,
			verifyToken: VERIFY_TOKEN,
			...overrides,
		},
	};
}

async function host(overrides: ICredentialDataDecryptedObject = {}, options: Record<string, unknown> = {}): Promise<TriggerHost> {
	const started = await startTriggerHost({ credentials: credentialsFor(overrides), parameters: { options } });
	hosts.push(started);
	return started;
}

const app = (): MetaApp => ({ ...sandbox.options, baseUrl: sandbox.url, graphVersion: 'v26.0', accessToken: sandbox.options.accessToken, wabaId: sandbox.options.wabaId });

async function control(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
	const response = await fetch(`${sandbox.url}/_sandbox/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
	return (await response.json()) as Record<string, unknown>;
}

/** `POST /{waba-id}/subscribed_apps` as anyone holding the token may call it. */
async function graph(method: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
	const response = await fetch(`${sandbox.url}/v26.0/${sandbox.options.wabaId}/subscribed_apps`, {
		method,
		headers: { authorization: `Bearer ${sandbox.options.accessToken}`, 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const subscriptions = async () => (await control('GET', 'subscriptions')).subscriptions as { appId: string; overrideCallbackUri?: string }[];

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
	const deadline = Date.now() + 10_000;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

const eventsOf = (trigger: TriggerHost) => trigger.executions.flat().map((item) => `${String(item.event)}:${String((item.message as { text?: string } | undefined)?.text ?? '')}`);

beforeAll(async () => {
	sandbox = await startSandbox({ pairRateSeconds: 0, statusDelaysMs: { sent: 5, delivered: 10, read: null } });
	({ consentLedgerApi } = outboxCredentials('embedded'));
});

afterEach(async () => {
	await Promise.all(hosts.splice(0).map((started) => started.close()));
	await control('POST', 'reset');
});

afterAll(async () => {
	await closeLedgers();
	await sandbox.close();
});

describe('registering the trigger with Meta', () => {
	test('activation registers the URL after Meta\'s handshake; the account\'s events reach it; deactivation unsubscribes what it subscribed', async () => {
		const production = await host();
		expect(await readSubscription(app())).toEqual({ subscribed: false });

		await create(production.hooks('activate'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: production.url });
		expect(production.answers).toEqual([200]); // the handshake, answered with the challenge

		await control('POST', 'inbound', { from: ANNA, text: 'Hallo, habt ihr offen?' });
		await until(() => production.executions.length === 1, 'the message at the registered URL');
		expect(eventsOf(production)).toEqual(['message.received:Hallo, habt ihr offen?']);

		// Meta's in-app marketing switch is not carried by overrides: it goes to the app's callback URL (none here).
		await control('POST', 'preferences', { waId: ANNA, value: 'stop' });
		const deliveries = (await control('GET', 'webhooks')).deliveries as { kind: string; state: string; attempts: { url: string }[] }[];
		expect(deliveries.find((d) => d.kind === 'message')?.attempts.map((a) => a.url)).toEqual([production.url]);
		expect(deliveries.find((d) => d.kind === 'user_preferences')?.state).toBe('not_delivered');

		await expect(remove(production.hooks('update'))).resolves.toBe(true);
		expect(await subscriptions()).toEqual([]);
	});

	test('an app that was subscribed before keeps its subscription: only the override goes', async () => {
		expect((await graph('POST')).body).toEqual({ success: true });
		const production = await host();
		await create(production.hooks('activate'));
		await create(production.hooks('activate')); // n8n restarts: already registered, nothing changes
		expect(await subscriptions()).toEqual([{ wabaId: sandbox.options.wabaId, appId: sandbox.options.appId, overrideCallbackUri: production.url }]);
		expect(production.answers).toEqual([200]);
		await remove(production.hooks('update'));
		expect(await subscriptions()).toEqual([{ wabaId: sandbox.options.wabaId, appId: sandbox.options.appId }]);
	});

	test("n8n's start-up activates a registered trigger again without asking Meta, so a Graph API that refuses then cannot stop the inbox", async () => {
		const production = await host();
		await create(production.hooks('activate'));
		await control('PATCH', 'config', { tokenPermissions: ['whatsapp_business_messaging'] });
		try {
			await expect(create(production.hooks('init'))).resolves.toBe(true);
			// The same refusal fails an activation that has to ask (what the start-up skipped).
			await expect(create((await host()).hooks('activate'))).rejects.toThrow(/lacks the whatsapp_business_management permission/);
		} finally {
			await control('PATCH', 'config', { tokenPermissions: ['whatsapp_business_management', 'whatsapp_business_messaging'] });
		}
		expect(await subscriptions()).toEqual([{ wabaId: sandbox.options.wabaId, appId: sandbox.options.appId, overrideCallbackUri: production.url }]);
		expect(production.answers).toEqual([200]);
	});

	test('a token without whatsapp_business_management: activation fails naming the permission, nothing registered', async () => {
		await control('PATCH', 'config', { tokenPermissions: ['whatsapp_business_messaging'] });
		const production = await host();
		const failure = create(production.hooks('activate'));
		await expect(failure).rejects.toThrow(/lacks the whatsapp_business_management permission/);
		await expect(failure).rejects.toMatchObject({ description: expect.stringContaining('System users') });
		await control('PATCH', 'config', { tokenPermissions: ['whatsapp_business_management', 'whatsapp_business_messaging'] });
		expect(await subscriptions()).toEqual([]);
	});

	test('a handshake that fails (n8n answers 404 at that URL): Meta refuses the override, the subscription made for it is undone', async () => {
		const production = await host();
		const notFound = createServer((_request, response) => response.writeHead(404).end('The requested webhook is not registered.'));
		await new Promise<void>((resolve) => notFound.listen(0, '127.0.0.1', resolve));
		try {
			const url = `http://127.0.0.1:${(notFound.address() as AddressInfo).port}/webhook/whatsapp`;
			const failure = create(production.hooks('activate', { url }));
			await expect(failure).rejects.toThrow(/could not verify this trigger's URL.*HTTP Status Code = 404/);
			await expect(failure).rejects.toMatchObject({ description: expect.stringContaining('Verify Token') });
		} finally {
			await new Promise((resolve) => notFound.close(resolve));
		}
		expect(await subscriptions()).toEqual([]);
	});

	test('a verify token that does not match the trigger\'s: 403 to Meta\'s handshake, registration fails', async () => {
		const production = await host();
		const answering = await host({ verifyToken: 'another-token' });
		await expect(create(production.hooks('activate', { url: answering.url }))).rejects.toThrow(/HTTP Status Code = 403/);
		expect(answering.answers).toEqual([403]);
		expect(await subscriptions()).toEqual([]);
	});

	test('an app not subscribed to the "messages" field: activation fails with the fix', async () => {
		await control('PATCH', 'config', { appFields: ['user_preferences'] });
		const production = await host();
		await expect(create(production.hooks('activate'))).rejects.toThrow(/not subscribed to the "messages" webhook field/);
		expect(await subscriptions()).toEqual([]);
	});

	test('someone else\'s override is neither replaced nor removed', async () => {
		const other = await host(); // another n8n instance with the same app and business account
		await create(other.hooks('activate'));
		const mine = await host();
		await expect(create(mine.hooks('activate'))).rejects.toThrow(new RegExp(`already sends this app's webhooks to ${other.url}`));
		// n8n deletes the webhooks of an activation that failed: the other instance's override stays.
		await remove(mine.hooks('update'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: other.url });

		// Registered first, then someone else took the account over: deactivating leaves theirs.
		await remove(other.hooks('update'));
		await create(mine.hooks('activate'));
		expect((await graph('POST', { override_callback_uri: other.url, verify_token: VERIFY_TOKEN })).status).toBe(200);
		await remove(mine.hooks('update'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: other.url });
	});

	test('registration is optional: off, or a credential without an App ID, changes nothing at Meta', async () => {
		const off = await host({}, { registerWebhook: false });
		await create(off.hooks('activate'));
		const handSet = await host({ appId: '' });
		await create(handSet.hooks('activate'));
		expect(await subscriptions()).toEqual([]);
		// Asked for explicitly, a missing App ID is an error that says what to fill in.
		const asked = await host({ appId: '' }, { registerWebhook: true });
		await expect(create(asked.hooks('activate'))).rejects.toThrow(/needs App ID in the WhatsApp credential/);
	});
});

describe('listen for test event', () => {
	test('the test URL takes over from the production URL and gives it back; events of the listen reach the test URL', async () => {
		const trigger = await host();
		await create(trigger.hooks('activate'));
		await create(trigger.hooks('manual'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: trigger.testUrl });

		await control('POST', 'inbound', { from: ANNA, text: 'Test' });
		await until(() => trigger.executions.length === 1, 'the message at the test URL');
		const deliveries = (await control('GET', 'webhooks')).deliveries as { attempts: { url: string }[] }[];
		expect(deliveries[0].attempts.map((a) => a.url)).toEqual([trigger.testUrl]);

		await remove(trigger.hooks('manual-delete'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: trigger.url });
		// Handshakes: production, test, production again.
		expect(trigger.answers.filter((status) => status === 200)).toHaveLength(4);
		await remove(trigger.hooks('update'));
		expect(await subscriptions()).toEqual([]);
	});

	test('without an active production URL the test listen registers and removes only its own', async () => {
		const trigger = await host();
		await create(trigger.hooks('manual'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: trigger.testUrl });
		await remove(trigger.hooks('manual-delete'));
		expect(await subscriptions()).toEqual([]);
		// An activation after an interrupted listen replaces the trigger's own stale test URL, and does not restore it.
		await create(trigger.hooks('manual'));
		await create(trigger.hooks('activate'));
		await remove(trigger.hooks('update'));
		expect(await readSubscription(app())).toEqual({ subscribed: true });
	});

	test('a production URL that no longer answers when the listen ends is not put back: the app\'s callback applies again', async () => {
		const trigger = await host();
		await create(trigger.hooks('activate'));
		await create(trigger.hooks('manual'));
		await trigger.close(); // the production workflow was deactivated meanwhile: n8n answers nothing there
		await expect(remove(trigger.hooks('manual-delete'))).resolves.toBe(true);
		expect(await readSubscription(app())).toEqual({ subscribed: true });
	});

	test('a listen never takes over another instance\'s URL', async () => {
		const other = await host();
		await create(other.hooks('activate'));
		const mine = await host();
		await expect(create(mine.hooks('manual'))).rejects.toThrow(/already sends this app's webhooks/);
		await remove(mine.hooks('manual-delete'));
		expect(await readSubscription(app())).toEqual({ subscribed: true, overrideUri: other.url });
	});
});

describe('several business numbers', () => {
	test('events for another phone number id are answered 200 and refused: no execution, a warning', async () => {
		const trigger = await host();
		await create(trigger.hooks('activate'));
		const second = await startSandbox({ phoneNumberId: '100000000000002', webhookUrl: trigger.url, pairRateSeconds: 0 });
		try {
			await fetch(`${second.url}/_sandbox/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: ANNA, text: 'STOP' }) });
			await until(() => trigger.warnings.some((line) => line.includes('another business number')), 'the refusal');
			expect(trigger.executions).toEqual([]);
			expect(trigger.answers.at(-1)).toBe(200);
		} finally {
			await second.close();
		}
	});
});

/**
 * Generated histories of two triggers on one business account (each activating, deactivating, listening for a test
 * event) and a stranger setting the override by hand: a delete never takes away an override its own create did not
 * set, and each trigger's create either registers its URL or fails naming the URL in place.
 */
test('whatever happens in between, a trigger removes only its own callback', async () => {
	const triggers = [await host(), await host()];
	const stranger = await host();
	const step = fc.oneof(
		fc.record({ kind: fc.constantFrom('activate' as const, 'manual' as const), who: fc.integer({ min: 0, max: 1 }) }),
		fc.record({ kind: fc.constantFrom('update' as const, 'manual-delete' as const), who: fc.integer({ min: 0, max: 1 }) }),
		fc.record({ kind: fc.constant('stranger' as const), who: fc.constant(0) }),
	);
	await fc.assert(
		fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
			await control('POST', 'reset');
			const own = triggers.map(() => ({ activate: undefined as string | undefined, manual: undefined as string | undefined }));
			for (const { kind, who } of steps) {
				const before = (await readSubscription(app())).overrideUri;
				if (kind === 'stranger') {
					await graph('POST');
					await graph('POST', { override_callback_uri: stranger.url, verify_token: VERIFY_TOKEN });
					continue;
				}
				const target = triggers[who];
				if (kind === 'activate' || kind === 'manual') {
					const url = kind === 'activate' ? target.url : target.testUrl;
					try {
						await create(target.hooks(kind));
						expect((await readSubscription(app())).overrideUri).toBe(url);
						own[who][kind] = url;
					} catch (error) {
						expect(String((error as Error).message)).toContain(`already sends this app's webhooks to ${before}`);
						expect((await readSubscription(app())).overrideUri).toBe(before);
					}
					continue;
				}
				await remove(target.hooks(kind));
				const after = (await readSubscription(app())).overrideUri;
				const mine = kind === 'update' ? own[who].activate : own[who].manual;
				// Only a URL of this trigger's own registration may be gone or replaced (by the one a listen restores).
				if (before !== mine) expect(after).toBe(before);
				if (kind === 'update') own[who].activate = undefined;
				else own[who].manual = undefined;
			}
		}),
		{ numRuns: 25 },
	);
});
