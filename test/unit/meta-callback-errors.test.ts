/**
 * Issue 12: what Meta answers a registration that the token may not make, read into an error that names the
 * missing permission. graph.facebook.com cannot be reached from here, so nock answers at the HTTP layer with the
 * envelopes of Meta's error table (10 "Permission denied", 200-299 "API Permission", Graph's 100 with subcode 33)
 * and the verification failure 2200; other errors keep their own meaning.
 */
import nock from 'nock';
import { CallbackRegistrationError, registerCallback, type MetaApp } from '../../lib/whatsapp/callback';
import { WhatsAppApiError } from '../../lib/whatsapp/errors';

const GRAPH = 'https://graph.facebook.com';
const app: MetaApp = { baseUrl: GRAPH, graphVersion: 'v26.0', accessToken: 'EAAG-test', wabaId: '102290129340398', appId: '670843887433847', appSecret: 'secret' };
const request = { url: 'https://n8n.example.com/webhook/whatsapp', verifyToken: 'token' };

function envelope(code: number, message: string, extra: Record<string, unknown> = {}) {
	return { error: { message, type: 'OAuthException', code, ...extra, fbtrace_id: 'AbCdEfGhIjKlMnOpQrStUvW' } };
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
	expect(nock.pendingMocks()).toEqual([]);
	nock.cleanAll();
});
afterAll(() => {
	nock.enableNetConnect();
	nock.restore();
});

test.each([
	[403, envelope(10, '(#10) Application does not have permission for this action')],
	[403, envelope(200, '(#200) Permissions error')],
	[403, envelope(200, '(#200) You do not have the necessary permissions required to send messages on behalf of this WhatsApp Business Account')],
	[400, envelope(100, "Unsupported get request. Object with ID '102290129340398' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", { error_subcode: 33 })],
])('HTTP %i with %j: missing_permission naming whatsapp_business_management', async (status, body) => {
	nock(GRAPH).get(`/v26.0/${app.wabaId}/subscribed_apps`).reply(status, body);
	const failure = registerCallback(app, request);
	await expect(failure).rejects.toBeInstanceOf(CallbackRegistrationError);
	await expect(failure).rejects.toMatchObject({ code: 'missing_permission', message: expect.stringContaining('lacks the whatsapp_business_management permission'), hint: expect.stringContaining('System users') });
});

test('the handshake failing at Meta (2200): callback_not_verified, and the subscription made for it is undone', async () => {
	nock(GRAPH)
		.get(`/v26.0/${app.wabaId}/subscribed_apps`)
		.reply(200, { data: [] })
		.post(`/v26.0/${app.wabaId}/subscribed_apps`)
		.reply(200, { success: true })
		.post(`/v26.0/${app.wabaId}/subscribed_apps`, { override_callback_uri: request.url, verify_token: 'token' })
		.reply(400, envelope(2200, '(#2200) Callback verification failed with the following errors: HTTP Status Code = 502; HTTP Message = Bad Gateway'))
		.delete(`/v26.0/${app.wabaId}/subscribed_apps`)
		.reply(200, { success: true });
	await expect(registerCallback(app, request)).rejects.toMatchObject({ code: 'callback_not_verified', message: expect.stringContaining('HTTP Status Code = 502') });
});

test('an expired token is not a missing permission: 190 keeps its own fix', async () => {
	nock(GRAPH).get(`/v26.0/${app.wabaId}/subscribed_apps`).reply(401, envelope(190, 'Error validating access token: Session has expired', { error_subcode: 463 }));
	const failure = registerCallback(app, request);
	await expect(failure).rejects.toBeInstanceOf(WhatsAppApiError);
	await expect(failure).rejects.toMatchObject({ metaCode: 190 });
});
