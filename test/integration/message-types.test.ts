/**
 * Send WhatsApp's message types beyond text, templates and buttons (issue 13), on n8n's real engine against the
 * sandbox and both stores: each goes through the consent gate and the 24 h window like a text, each is what the
 * sandbox (Meta's validation) takes, and the person's answers (a list row, a shared location) reach the workflow.
 * What reached "Meta" is read from the sandbox's request log, never assumed.
 */
import { createHash } from 'node:crypto';
import type { IDataObject, INode, INodeExecutionData } from 'n8n-workflow';
import { runWorkflow, stopEngine, type WorkflowJson } from '../helpers/n8n-engine';
import { STORE_KINDS } from '../helpers/ledgers';
import { startScenario, type Scenario } from '../helpers/scenario';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { MEDIA_UPLOAD_PENDING } from '../../lib/whatsapp';

const TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };
const CREDENTIALS = { consentLedgerApi: { id: 'ledger', name: 'Ledger' }, whatsAppCloudApi: { id: 'wa', name: 'WhatsApp' } };

function single(parameters: INode['parameters'], extra: Partial<INode> = {}): WorkflowJson {
	return {
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'node', name: 'Node', type: 'n8n-nodes-whatsapp-consent.sendWhatsApp', typeVersion: 1, position: [200, 0], parameters, credentials: CREDENTIALS, ...extra },
		],
		connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } },
	};
}

/** A service reply of `operation` to the item's phone, without the pair-rate wait between our own messages. */
const reply = (operation: string, parameters: IDataObject = {}) => ({ operation, recipient: '={{ $json.phone }}', category: 'service', options: { pairRateSeconds: 0 }, ...parameters });

const LIST = {
	body: 'Wann passt Ihnen die Lieferung?',
	button: 'Zeit wählen',
	header: 'Lieferung',
	sections: {
		section: [
			{ title: 'Vormittag', rows: { row: [{ id: 'slot-08', title: '08–10 Uhr', description: 'Früh, vor der Arbeit' }, { id: 'slot-10', title: '10–12 Uhr' }] } },
			{ title: 'Nachmittag', rows: { row: [{ id: 'slot-14', title: '14–16 Uhr' }] } },
		],
	},
};

/** The smallest PNG: a 1×1 pixel. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

afterAll(() => stopEngine());

describe.each(STORE_KINDS)('message types on the real engine (%s store)', (kind) => {
	let scenario: Scenario;
	const run = (workflow: WorkflowJson, items: Array<IDataObject | INodeExecutionData>) => runWorkflow(workflow, { credentials: scenario.credentials, triggerData: { nodeName: 'Start', items } });
	/** Every Graph request the sandbox logged: path, body and outcome. */
	const logged = async () => (await scenario.control<{ requests: { path: string; body: IDataObject; outcome: { status: string; code?: number; wamid?: string } }[] }>('messages')).requests;
	const chat = async (waId: string) => (await scenario.control<{ messages: IDataObject[] }>(`chats/${waId}`)).messages;

	beforeEach(async () => {
		scenario = await startScenario(kind);
		await scenario.ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
	});
	afterEach(() => scenario.close());

	/** Confirmed for "offers" by sending the code from WhatsApp, which also opens the 24 h window. */
	async function consented(phone: string): Promise<void> {
		const { code } = await scenario.ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.customerSends(phone.slice(1), { text: code });
	}

	test('a list goes out as Meta documents it; the chosen row comes back to the workflow with its id', async () => {
		await consented('+4915100001001');
		const result = await run(single(reply('sendList', LIST)), [{ phone: '+4915100001001' }]);
		expect(result.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent', wamid: expect.stringMatching(/^wamid\./) });
		const [sent] = (await logged()).filter((request) => request.outcome.status === 'accepted');
		expect(sent.body).toMatchObject({
			type: 'interactive',
			interactive: {
				type: 'list',
				header: { type: 'text', text: 'Lieferung' },
				action: { button: 'Zeit wählen', sections: [{ title: 'Vormittag', rows: [{ id: 'slot-08', description: 'Früh, vor der Arbeit' }, { id: 'slot-10' }] }, { title: 'Nachmittag', rows: [{ id: 'slot-14' }] }] },
			},
		});
		// The person taps a row on the phone: Meta's webhook is a list_reply, the workflow gets the row's id.
		const [answer] = await scenario.customerSends('4915100001001', { interactive: { id: 'slot-14', title: '14–16 Uhr' } });
		expect(answer).toMatchObject({ event: 'message.received', message: { type: 'interactive', text: '14–16 Uhr', interactiveId: 'slot-14' } });
		const webhooks = await scenario.control<{ deliveries: { body: string }[] }>('webhooks');
		expect(webhooks.deliveries.some((delivery) => delivery.body.includes('"list_reply"') && delivery.body.includes('slot-14'))).toBe(true);
		expect((await chat('4915100001001')).at(-1)).toMatchObject({ direction: 'in', listReply: { id: 'slot-14' }, contextId: sent.outcome.wamid });
	});

	test('a list over a limit is refused before the call, naming the row and its length', async () => {
		await consented('+4915100001002');
		const long = { ...LIST, sections: { section: [{ rows: { row: [{ id: 'a', title: 'Kurz' }, { id: 'b', title: 'Zwischen 10 und 12 Uhr am Vormittag' }] } }] } };
		const result = await run(single(reply('sendList', long)), [{ phone: '+4915100001002' }]);
		expect(result.error?.message).toBe('List row titles may have at most 24 characters; row 2 has 35');
		expect((await logged()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(0);
	});

	test('a call-to-action URL button and a location request go out; the shared location reaches the workflow', async () => {
		await consented('+4915100001003');
		const cta = await run(single(reply('sendCtaUrl', { body: 'Ihre Buchung', displayText: 'Termine ansehen', url: 'https://example.com/booking?ref=wa', footer: 'Beispiel GmbH' })), [{ phone: '+4915100001003' }]);
		expect(cta.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		const location = await run(single(reply('sendLocationRequest', { body: 'Wo sollen wir Sie abholen?' })), [{ phone: '+4915100001003' }]);
		expect(location.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect((await logged()).filter((request) => request.outcome.status === 'accepted').map((request) => request.body.interactive)).toEqual([
			{ type: 'cta_url', body: { text: 'Ihre Buchung' }, footer: { text: 'Beispiel GmbH' }, action: { name: 'cta_url', parameters: { display_text: 'Termine ansehen', url: 'https://example.com/booking?ref=wa' } } },
			{ type: 'location_request_message', body: { text: 'Wo sollen wir Sie abholen?' }, action: { name: 'send_location' } },
		]);
		const [shared] = await scenario.customerSends('4915100001003', { location: { latitude: 52.520008, longitude: 13.404954, name: 'Alexanderplatz' } });
		expect(shared).toMatchObject({ message: { type: 'location', location: { latitude: 52.520008, longitude: 13.404954, name: 'Alexanderplatz' } } });
		// A button text over Meta's 20 characters never reaches it.
		const tooLong = await run(single(reply('sendCtaUrl', { body: 'Ihre Buchung', displayText: 'Alle freien Termine ansehen', url: 'https://example.com' })), [{ phone: '+4915100001003' }]);
		expect(tooLong.error?.message).toBe('The button text may have at most 20 characters; it has 27');
	});

	test("a reaction to the person's message goes out inside the window; an empty emoji takes it back", async () => {
		await consented('+4915100001004');
		const [hello] = await scenario.customerSends('4915100001004', { text: 'Danke für die schnelle Lieferung!' });
		const wamid = (hello.message as { id: string }).id;
		const react = (emoji: string) => run(single(reply('sendReaction', { messageId: '={{ $json.wamid }}', emoji })), [{ phone: '+4915100001004', wamid }]);
		expect((await react('🙏')).outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect((await react('')).outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect((await logged()).filter((request) => request.outcome.status === 'accepted').map((request) => request.body.reaction)).toEqual([
			{ message_id: wamid, emoji: '🙏' },
			{ message_id: wamid, emoji: '' },
		]);
		const reactions = (await chat('4915100001004')).filter((message) => message.reaction);
		expect(reactions.map((message) => message.reaction)).toEqual([{ messageId: wamid, emoji: '🙏' }, { messageId: wamid, emoji: '' }]);
		const notAnEmoji = await run(single(reply('sendReaction', { messageId: wamid, emoji: 'ok' })), [{ phone: '+4915100001004' }]);
		expect(notAnEmoji.error?.message).toBe("'ok' is not a single emoji");
	});

	test('refused without the window or without consent, before any call: list, call to action, location request, reaction, media', async () => {
		// Never wrote: no window, so no free-form message of any category. Pending: wrote, but never confirmed.
		await scenario.ledger.requestOptIn({ phone: '+4915100001011', purposes: ['offers'], consentText: TEXT, source: {} });
		await scenario.customerSends('4915100001011', { text: 'Was ist das für ein Angebot?' });
		const binary = { data: { data: PNG.toString('base64'), mimeType: 'image/png', fileName: 'pixel.png' } };
		const operations = [
			reply('sendList', LIST),
			reply('sendCtaUrl', { body: 'Buchung', displayText: 'Ansehen', url: 'https://example.com' }),
			reply('sendLocationRequest', { body: 'Wo sind Sie?' }),
			reply('sendReaction', { messageId: 'wamid.SOMETHING', emoji: '👍' }),
			reply('sendMedia', { mediaType: 'image', source: 'binary', binaryPropertyName: 'data' }),
		];
		for (const parameters of operations) {
			for (const category of ['service', 'marketing']) {
				const stranger = await run(single({ ...parameters, category, purpose: 'offers' }), [{ json: { phone: '+4915100001005' }, binary }]);
				expect(stranger.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'not_sent', reason: 'outside_service_window' });
			}
			const pending = await run(single({ ...parameters, category: 'marketing', purpose: 'offers' }), [{ json: { phone: '+4915100001011' }, binary }]);
			expect(pending.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'not_sent', reason: 'pending' });
		}
		// Nothing reached Meta: no message and no upload.
		expect(await logged()).toEqual([]);
		// Consented, but the window closed 25 hours later: marketing consent does not make a free-form message allowed.
		await consented('+4915100001006');
		jest.useFakeTimers({ now: Date.now() + 25 * 3600 * 1000, doNotFake: ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'nextTick', 'queueMicrotask', 'performance', 'hrtime'] });
		try {
			const later = await run(single({ ...reply('sendList', LIST), category: 'marketing', purpose: 'offers' }), [{ phone: '+4915100001006' }]);
			expect(later.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ reason: 'outside_service_window', message: expect.stringMatching(/Send Template/) });
		} finally {
			jest.useRealTimers();
		}
		expect(await logged()).toEqual([]);
	});

	test('media from binary data: checked, uploaded to /media after the gate said yes, then sent by the id Meta gave', async () => {
		await consented('+4915100001007');
		const item = (mimeType: string, fileName: string) => ({ json: { phone: '+4915100001007' }, binary: { data: { data: PNG.toString('base64'), mimeType, fileName } } });
		const media = (mediaType: string, caption?: string) => single(reply('sendMedia', { mediaType, source: 'binary', binaryPropertyName: 'data', ...(caption ? { caption } : {}) }));
		// A dry run checks the file and asks the gate; it uploads nothing, and the request shows where the id will go.
		const dry = await run(single({ ...reply('sendMedia', { mediaType: 'image', source: 'binary', binaryPropertyName: 'data' }), options: { dryRun: true } }), [item('image/png', 'pixel.png')]);
		expect(dry.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'would_send', request: { type: 'image', image: { id: MEDIA_UPLOAD_PENDING } } });
		expect(await logged()).toEqual([]);
		const sent = await run(media('image', 'Ihr Lieferschein'), [item('image/png', 'pixel.png')]);
		expect(sent.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		const [upload, message] = await logged();
		expect(upload).toMatchObject({ path: '/v23.0/100000000000001/media', body: { upload: true }, outcome: { status: 'ok' } });
		expect(message).toMatchObject({ path: '/v23.0/100000000000001/messages', body: { type: 'image', image: { id: expect.stringMatching(/^\d+$/), caption: 'Ihr Lieferschein' } }, outcome: { status: 'accepted' } });
		// The sandbox got the very bytes: its digest of the upload is the file's.
		const [shown] = (await chat('4915100001007')).filter((entry) => entry.media);
		expect(shown.media).toMatchObject({ type: 'image', upload: { mimeType: 'image/png', bytes: PNG.length, sha256: createHash('sha256').update(PNG).digest('hex') } });
		// A re-run sends nothing twice and uploads nothing again.
		const again = await run(media('image', 'Ihr Lieferschein'), [item('image/png', 'pixel.png')]);
		expect(again.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ reason: 'already_sent' });
		expect(await logged()).toHaveLength(2);
		// A type Meta does not take for an image is refused before the upload, with the types it takes.
		const gif = await run(media('image'), [item('image/gif', 'anim.gif')]);
		expect(gif.error?.message).toBe("WhatsApp does not take 'image/gif' as image");
		expect(await logged()).toHaveLength(2);
		// A document keeps the binary's file name.
		await run(media('document'), [item('application/pdf', 'Lieferschein-4711.pdf')]);
		expect((await logged()).slice(2).map((request) => request.body.document ?? request.body.upload)).toEqual([true, { id: expect.stringMatching(/^\d+$/), filename: 'Lieferschein-4711.pdf' }]);
	});

	test('an upload without a usable answer sends no message and says so; the next run uploads and sends it', async () => {
		await consented('+4915100001012');
		const workflow = single(reply('sendMedia', { mediaType: 'image', source: 'binary', binaryPropertyName: 'data' }), { onError: 'continueRegularOutput' });
		const item = { json: { phone: '+4915100001012' }, binary: { data: { data: PNG.toString('base64'), mimeType: 'image/png', fileName: 'pixel.png' } } };
		await scenario.control('faults', { count: 1, kind: 'reset' });
		const lost = await run(workflow, [item]);
		// Not "may have been sent": an upload is no message, so the key is free for the next run.
		expect(lost.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'failed', reason: 'whatsapp_upload_failed', message: expect.stringMatching(/the message was not sent/) });
		expect((await logged()).filter((request) => request.path.endsWith('/messages'))).toEqual([]);
		const next = await run(workflow, [item]);
		expect(next.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'sent' });
		expect((await logged()).map((request) => [request.path.split('/').pop(), request.outcome.status])).toEqual([['media', 'reset'], ['media', 'ok'], ['messages', 'accepted']]);
	});

	test('Mark as Read: blue ticks and the typing indicator for a received message, no consent asked; a sent wamid is refused with the fix', async () => {
		// Not consented to anything: marking their message read is no message to them.
		const [hello] = await scenario.customerSends('4915100001008', { text: 'Hallo, ist jemand da?' });
		const wamid = (hello.message as { id: string }).id;
		const read = await run(single({ operation: 'markAsRead', messageId: '={{ $json.message.id }}', typingIndicator: true, options: {} }), [{ message: { id: wamid } }]);
		expect(read.outputOf('Node', 0)[0].json.whatsapp).toEqual({ status: 'read', messageId: wamid, typingIndicator: true });
		expect((await logged())[0].body).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: wamid, typing_indicator: { type: 'text' } });
		expect((await chat('4915100001008')).find((message) => message.id === wamid)).toMatchObject({ status: 'read' });
		expect((await scenario.control<{ typing: boolean }>('chats/4915100001008')).typing).toBe(true);
		// The id of a message the business sent has no blue ticks to give: Meta refuses it, the item says what to use.
		await consented('+4915100001009');
		const sent = await run(single(reply('sendLocationRequest', { body: 'Wo sind Sie?' })), [{ phone: '+4915100001009' }]);
		const ours = (sent.outputOf('Node', 0)[0].json.whatsapp as { wamid: string }).wamid;
		const wrong = await run(single({ operation: 'markAsRead', messageId: ours, options: {} }, { onError: 'continueRegularOutput' }), [{}]);
		expect(wrong.outputOf('Node', 1)[0].json.whatsapp).toMatchObject({ status: 'failed', code: 100, fix: expect.stringMatching(/message the person sent/) });
	});

	test('Dry Run of a list: validated and asked at the gate, the output is the request Meta would get', async () => {
		await consented('+4915100001010');
		const dry = await run(single({ ...reply('sendList', LIST), options: { pairRateSeconds: 0, dryRun: true } }), [{ phone: '+4915100001010' }]);
		expect(dry.outputOf('Node', 0)[0].json.whatsapp).toMatchObject({ status: 'would_send', dryRun: true, request: { type: 'interactive', interactive: { type: 'list' } } });
		expect((await logged()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(0);
	});
});

describe('the sandbox as Meta: uploads and reactions', () => {
	let sandbox: Sandbox;
	const graph = async (path: string, body: BodyInit, contentType?: string) => {
		const response = await fetch(`${sandbox.url}/v23.0/100000000000001/${path}`, { method: 'POST', headers: { Authorization: 'Bearer sandbox-token', ...(contentType ? { 'Content-Type': contentType } : {}) }, body });
		return { status: response.status, body: (await response.json()) as { id?: string; error?: { code: number; error_data: { details: string } } } };
	};
	const control = async <T>(path: string, body?: unknown): Promise<T> =>
		(await (await fetch(`${sandbox.url}/_sandbox/${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json()) as T;
	const form = (fields: Record<string, string | Blob>) => {
		const data = new FormData();
		for (const [name, value] of Object.entries(fields)) data.append(name, value);
		return data;
	};
	/** The statuses the sandbox sent for a wamid, once the status ladder had time to run. */
	const statusesOf = async (wamid: string) => {
		await new Promise((resolve) => setTimeout(resolve, 600));
		const { deliveries } = await control<{ deliveries: { body: string }[] }>('webhooks');
		return deliveries
			.map((delivery) => JSON.parse(delivery.body).entry[0].changes[0].value.statuses?.[0])
			.filter((status) => status?.id === wamid)
			.map((status: { status: string; errors?: { code: number }[] }) => [status.status, status.errors?.[0].code]);
	};

	beforeAll(async () => {
		sandbox = await startSandbox({ accessToken: 'sandbox-token', pairRateSeconds: 0 });
	});
	afterAll(() => sandbox.close());

	test("an upload needs Meta's form fields, and a type and size Meta takes (131053 otherwise)", async () => {
		const png = new Blob([PNG], { type: 'image/png' });
		const ok = await graph('media', form({ messaging_product: 'whatsapp', type: 'image/png', file: png }));
		expect(ok).toEqual({ status: 200, body: { id: expect.stringMatching(/^\d+$/) } });
		expect((await graph('media', form({ type: 'image/png', file: png }))).body.error?.code).toBe(100);
		expect((await graph('media', form({ messaging_product: 'whatsapp', type: 'image/png' }))).body.error?.code).toBe(100);
		expect((await graph('media', form({ messaging_product: 'whatsapp', type: 'image/gif', file: new Blob([PNG], { type: 'image/gif' }) }))).body.error?.code).toBe(131053);
		const big = await graph('media', form({ messaging_product: 'whatsapp', type: 'image/jpeg', file: new Blob([new Uint8Array(5 * 1024 * 1024 + 1)], { type: 'image/jpeg' }) }));
		expect(big.body.error).toMatchObject({ code: 131053, error_data: { details: expect.stringMatching(/limit is 5242880 bytes/) } });
		expect((await graph('media', JSON.stringify({ messaging_product: 'whatsapp' }), 'application/json')).body.error?.code).toBe(100);
	});

	test('a reaction gets only a sent status; one to a message the person did not send fails with 131009', async () => {
		const { messageId } = await control<{ messageId: string }>('inbound', { from: '4915100001020', text: 'Hallo' });
		const react = (to: string, id: string) => graph('messages', JSON.stringify({ messaging_product: 'whatsapp', to, type: 'reaction', reaction: { message_id: id, emoji: '👍' } }), 'application/json');
		const good = (await react('4915100001020', messageId)) as unknown as { body: { messages: { id: string }[] } };
		const missing = (await react('4915100001020', 'wamid.NOT_IN_THIS_CHAT')) as unknown as { body: { messages: { id: string }[] } };
		expect(await statusesOf(good.body.messages[0].id)).toEqual([['sent', undefined]]);
		expect(await statusesOf(missing.body.messages[0].id)).toEqual([['sent', undefined], ['failed', 131009]]);
	});
});
