/**
 * `npm start` for real: scripts/start.mjs builds the package, installs it into a fresh n8n user folder the way the
 * n8n UI installs a community package, imports the demo credentials and sample workflows and starts n8n with the
 * sandbox. The test then asks n8n's REST API what it loaded, runs the double opt-in and stops it with Ctrl-C.
 *
 * It runs on every demo folder: demo/ (the newest n8n that installs, on Node 24, what `npm start` runs) and
 * demo-legacy/ (the oldest supported n8n, 2.8.4, on Node 20). N8N_E2E_DEMOS=demo (or demo-legacy) picks one.
 *
 * On the way it takes the README's screenshots (the inbox workflow in the editor, the widget, the phone page, Send
 * WhatsApp's template list and fields), so they show what runs; UPDATE_SCREENSHOTS=1 writes those of demo/ to
 * docs/screenshots/ (else they stay in the test's temporary folder).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DEMO_FOLDERS, PACKAGE_NAME, ROOT, RestSession, SandboxCustomer, StartedScript, demosToRun, freePort } from '../helpers/n8n-process';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const demos = demosToRun((process.env.N8N_E2E_DEMOS ?? DEMO_FOLDERS.join(',')).split(',').filter(Boolean), 'the real-n8n test');

/** Node type names the package declares, read from the built classes as n8n reads them. */
function declaredNodeTypes(): string[] {
	const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { n8n: { nodes: string[] } };
	return manifest.n8n.nodes.map((file) => {
		const className = file.split('/').pop()!.split('.')[0];
		const NodeClass = require(join(ROOT, file))[className] as new () => { description: { name: string } };
		return `${PACKAGE_NAME}.${new NodeClass().description.name}`;
	});
}

describe.each(demos)('npm start ($name/): the real n8n $n8nVersion on Node $nodeVersion with this package', ({ name, n8nVersion, installed }) => {
	if (!installed) {
		it.skip(`needs ${name}/ installed`, () => undefined);
		return;
	}
	// Made in beforeAll: a run that filters every test out (jest -t) runs no hooks and must leave no folder behind.
	let userFolder = '';
	let demo: StartedScript;
	const screenshot = (file: string) => {
		const folder = name === 'demo' && process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(userFolder, 'screenshots');
		mkdirSync(folder, { recursive: true });
		return join(folder, file);
	};
	let n8nUrl: string;
	let api: RestSession;
	const ports: number[] = [];
	const rest = <T>(path: string) => api.get<T>(path);

	beforeAll(async () => {
		const [n8nPort, brokerPort, sandboxPort] = [await freePort(), await freePort(), await freePort()];
		ports.push(n8nPort, brokerPort, sandboxPort);
		userFolder = mkdtempSync(join(tmpdir(), 'consent-demo-'));
		n8nUrl = `http://127.0.0.1:${n8nPort}`;
		demo = new StartedScript('start.mjs', {
			DEMO_USER_FOLDER: userFolder,
			N8N_PORT: String(n8nPort),
			N8N_RUNNERS_BROKER_PORT: String(brokerPort),
			SANDBOX_PORT: String(sandboxPort),
			DEMO_N8N: name,
		});
		await demo.waitFor('Press Ctrl-C to stop.', 240_000);
		expect(demo.output).toContain(`Ready: n8n ${n8nVersion} on Node `);
		api = new RestSession(n8nUrl);
		await api.login(demo.output);
	}, 300_000);

	afterAll(async () => {
		if (demo) await demo.interrupt();
		if (userFolder) rmSync(userFolder, { recursive: true, force: true });
	}, 60_000);

	it('loads every node and credential the package declares, named as after an install from the n8n UI', async () => {
		const nodeTypes = await rest<{ name: string; iconUrl?: string | { light: string } }[]>('/types/nodes.json');
		const ours = nodeTypes.filter((type) => type.name.startsWith(`${PACKAGE_NAME}.`)).map((type) => type.name);
		expect(ours).toEqual(expect.arrayContaining(declaredNodeTypes()));

		const credentialTypes = await rest<{ name: string }[]>('/types/credentials.json');
		expect(credentialTypes.map((type) => type.name)).toEqual(expect.arrayContaining(['whatsAppCloudApi', 'consentLedgerApi']));
	});

	it('serves the icons the package ships', async () => {
		const nodeTypes = await rest<{ name: string; iconUrl?: string | { light: string; dark: string } }[]>('/types/nodes.json');
		const iconUrls = nodeTypes
			.filter((type) => type.name.startsWith(`${PACKAGE_NAME}.`) && type.iconUrl)
			.flatMap((type) => (typeof type.iconUrl === 'string' ? [type.iconUrl] : Object.values(type.iconUrl!)));
		expect(iconUrls.length).toBeGreaterThan(0);
		for (const url of new Set(iconUrls)) {
			const { status } = await api.raw(`/${url}`);
			expect({ url, status }).toEqual({ url, status: 200 });
		}
	});

	it('logs no error about the package', () => {
		const log = readFileSync(join(userFolder, 'n8n.log'), 'utf8');
		expect(log).not.toMatch(/Error loading package/i);
		expect(log.split('\n').filter((line) => line.includes(PACKAGE_NAME) && /error|fail/i.test(line))).toEqual([]);
		expect(demo.output).toContain('package loaded without errors');
	});

	it('imports every sample workflow, active where the demo has its credentials (not HubSpot, Brevo, Zendesk, SMTP)', async () => {
		const demoCredentials = new Set((JSON.parse(readFileSync(join(ROOT, 'demo', 'credentials.json'), 'utf8')) as { id: string }[]).map((credential) => credential.id));
		const samples = readdirSync(join(ROOT, 'workflows'))
			.filter((file) => file.endsWith('.json'))
			.map((file) => JSON.parse(readFileSync(join(ROOT, 'workflows', file), 'utf8')) as { name: string; nodes: { credentials?: Record<string, { id: string }> }[] })
			.map(({ name, nodes }) => ({ name, active: nodes.every((node) => Object.values(node.credentials ?? {}).every((credential) => demoCredentials.has(credential.id))) }));
		expect(samples.filter((sample) => !sample.active).length).toBeGreaterThan(0);
		const { data } = await rest<{ data: { name: string; active: boolean }[] }>('/rest/workflows');
		expect(data.map(({ name, active }) => ({ name, active })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(samples.sort((a, b) => a.name.localeCompare(b.name)));
	});

	it('runs the double opt-in for real: widget in a browser, code from WhatsApp, welcome, STOP (#1 #10 #13 #23)', async () => {
		const customer = new SandboxCustomer(`http://127.0.0.1:${ports[2]}`);
		const waId = '4915112345678';
		const chatSays = (text: string) => async () => (await customer.chat(waId)).some((message) => message.text?.includes(text));
		const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		let prefill: string;
		try {
			const page = await browser.newPage({ locale: 'de-DE', viewport: { width: 720, height: 900 } });
			await page.goto(`${n8nUrl}/webhook/whatsapp-consent`);
			await page.getByLabel('Handynummer').fill('0151 12345678');
			const boxes = page.getByRole('checkbox');
			expect(await boxes.evaluateAll((inputs) => inputs.some((input) => (input as HTMLInputElement).checked))).toBe(false);
			await boxes.first().check();
			await page.getByLabel(/mindestens 16/).check();
			await page.screenshot({ path: screenshot('widget.png'), fullPage: true });
			await page.getByRole('button', { name: /WhatsApp/ }).click();
			const link = page.locator('a[href^="https://wa.me/"]');
			await link.waitFor();
			prefill = new URL((await link.getAttribute('href'))!).searchParams.get('text')!;
			expect(await page.locator('svg path').count()).toBeGreaterThan(0);
		} finally {
			await browser.close();
		}
		expect(prefill).toMatch(/[A-Z2-9]{6}/);

		await customer.writes(waId, prefill);
		await customer.until('the welcome reply', waId, chatSays('ist bestätigt'));
		// The CRM stand-in is the sandbox's echo endpoint: it must be this start's sandbox (SANDBOX_PORT), not 8787.
		await customer.until('the confirmed opt-in at the CRM stand-in', waId, async () => {
			const { received } = await customer.control<{ received: { name: string }[] }>('echo');
			return received.some((entry) => entry.name === 'crm');
		});
		await customer.writes(waId, 'STOP');
		await customer.until('the withdrawal confirmation', waId, chatSays('abgemeldet'));

		// The README's pictures of what just ran: the chat on the phone page, the inbox workflow in the editor.
		const pictures = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		try {
			const phone = await pictures.newPage({ locale: 'de-DE', viewport: { width: 900, height: 1000 } });
			await phone.goto(`http://127.0.0.1:${ports[2]}/#${waId}`);
			await phone.getByText(/abgemeldet/).last().waitFor();
			await phone.screenshot({ path: screenshot('phone-page.png') });

			const editor = await pictures.newContext({ locale: 'en-US', viewport: { width: 1600, height: 900 } });
			await editor.addCookies([{ ...api.sessionCookie, url: n8nUrl }]);
			const canvas = await editor.newPage();
			// npm start gives each sample workflow the id derived from its file name (scripts/lib/demo-data.mjs).
			await canvas.goto(`${n8nUrl}/workflow/${createHash('sha256').update('whatsapp-consent-inbox').digest('hex').slice(0, 16)}`);
			await canvas.locator('[data-test-id="canvas-node"]').first().waitFor({ timeout: 60_000 });
			await canvas.waitForTimeout(1500); // what n8n opens over a workflow comes a moment after its nodes
			await canvas.keyboard.press('Escape'); // a first-login dialog, if n8n shows one
			// n8n 2.41 opens its "Production Checklist" over the canvas of an active workflow.
			const checklist = canvas.locator('[data-test-id="suggested-actions-close"]');
			if (await checklist.count()) await checklist.click();
			const fit = canvas.locator('[data-test-id="zoom-to-fit"]');
			if (await fit.count()) await fit.click();
			await canvas.waitForTimeout(1000);
			await canvas.screenshot({ path: screenshot('inbox-workflow.png') });
		} finally {
			await pictures.close();
		}
	}, 120_000);

	it('writes no stranger\'s host into the cached widget script, and says what it varies by (issue 11)', async () => {
		const script = await fetch(`${n8nUrl}/webhook/whatsapp-consent?asset=widget.js`, { headers: { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } });
		expect(script.status).toBe(200);
		expect(script.headers.get('vary')).toMatch(/X-Forwarded-Host/i);
		const body = await script.text();
		expect(body).not.toContain('evil.example');
		expect(body).toContain(`${new URL(n8nUrl).host}/webhook/whatsapp-consent`);
	});

	it("shows Send WhatsApp's template list from the sandbox's business account and the chosen template's fields (issue 13)", async () => {
		const send = {
			id: 'send',
			name: 'Send WhatsApp',
			type: `${PACKAGE_NAME}.sendWhatsApp`,
			typeVersion: 2,
			position: [0, 0],
			// A fixed recipient: the editor reloads the fields only when it can resolve every parameter of the node, and
			// the default `{{ $json.phone }}` cannot be resolved on a node without input data.
			parameters: { operation: 'sendTemplate', template: { __rl: true, mode: 'list', value: '' }, recipient: '+4915112345678' },
			credentials: { whatsAppCloudApi: { id: 'whatsapp-cloud-api', name: 'WhatsApp Cloud API' }, consentLedgerApi: { id: 'consent-ledger', name: 'Consent Ledger' } },
		};
		const { data: workflow } = await api.post<{ data: { id: string } }>('/rest/workflows', { name: 'Template editor', nodes: [send], connections: {}, settings: { executionOrder: 'v1' } });
		const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		try {
			const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
			await context.addCookies([api.browserCookie()]);
			const page = await context.newPage();
			// The editor's link to a node opens its settings; a double click on the node does too, where the link does not.
			await page.goto(`${n8nUrl}/workflow/${workflow.id}/${send.id}`);
			const locator = page.locator('[data-test-id="resource-locator-template"]');
			const opened = await locator.waitFor({ timeout: 20_000 }).then(
				() => true,
				() => false,
			);
			if (!opened) await page.locator('[data-test-id="canvas-node"]').first().dblclick();
			// The value's input, not the mode selector's ("From List" / "By Name") before it.
			await locator.locator('[data-test-id="rlc-input"]').click();
			const entry = page.getByText('delivery_slot · en · UTILITY · named');
			await entry.waitFor({ timeout: 60_000 }); // the list comes from the sandbox through n8n: slow on a loaded machine
			expect(await page.getByText('spring_sale · de · MARKETING · positional').isVisible()).toBe(true);
			await page.screenshot({ path: screenshot('template-list.png') });
			await entry.click();
			for (const field of ['Header {{order_id}}', 'Body {{first_name}}', 'Body {{day}}', 'Button 1 "Change slot": URL Suffix']) {
				await page.getByText(field, { exact: true }).first().waitFor({ timeout: 30_000 });
			}
			await page.screenshot({ path: screenshot('template-fields.png') });
		} finally {
			await browser.close();
		}
	}, 120_000);

	it('registers its URL with Meta when activated, lends it to "listen for test event", and removes it when deactivated (issue 12)', async () => {
		const customer = new SandboxCustomer(`http://127.0.0.1:${ports[2]}`);
		const settings = await customer.control<{ wabaId: string; appId: string }>('config');
		const callback = async () =>
			(await customer.control<{ subscriptions: { wabaId: string; appId: string; overrideCallbackUri?: string }[] }>('subscriptions')).subscriptions.find(
				(subscription) => subscription.wabaId === settings.wabaId && subscription.appId === settings.appId,
			)?.overrideCallbackUri;
		const until = async (what: string, probe: (url: string | undefined) => boolean) => {
			const deadline = Date.now() + 30_000;
			for (let url = await callback(); !probe(url); url = await callback()) {
				if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; the account's callback is ${url ?? 'the app callback'}`);
				await new Promise((resolve) => setTimeout(resolve, 250));
			}
		};
		// npm start activated the inbox: its trigger registered the production URL, after the handshake it answered itself.
		const production = (await callback())!;
		expect(production).toMatch(/^https?:\/\/[^/]+\/webhook\/whatsapp-consent$/);

		// "Listen for test event", as the editor's Execute Workflow asks for it.
		const id = createHash('sha256').update('whatsapp-consent-inbox').digest('hex').slice(0, 16);
		const { data: workflow } = await rest<{ data: { id: string; versionId: string } }>(`/rest/workflows/${id}`);
		const { data: run } = await api.post<{ data: { waitingForWebhook?: boolean } }>(`/rest/workflows/${id}/run`, { workflowData: workflow, triggerToStartFrom: { name: 'Opt-In Trigger' } });
		expect(run.waitingForWebhook).toBe(true);
		await until('the test URL as the callback', (url) => url === production.replace('/webhook/', '/webhook-test/'));
		const waId = '4915100000777';
		const { messageId } = await customer.writes(waId, 'Hilfe');
		// The message reaches the test execution (it answers HELP); then n8n ends the listen and the production URL is back.
		await customer.until('the help reply of the test execution', waId, async () => (await customer.chat(waId)).some((message) => message.direction === 'out'));
		const { deliveries } = await customer.control<{ deliveries: { body: string; attempts: { url: string; status?: number }[] }[] }>('webhooks');
		expect(deliveries.find((delivery) => delivery.body.includes(messageId))!.attempts.map((attempt) => attempt.url)).toEqual([production.replace('/webhook/', '/webhook-test/')]);
		await until('the production URL back as the callback', (url) => url === production);

		await api.post(`/rest/workflows/${id}/deactivate`, {});
		await until('the callback removed on deactivation', (url) => url === undefined);
		const { data: current } = await rest<{ data: { versionId: string } }>(`/rest/workflows/${id}`);
		await api.post(`/rest/workflows/${id}/activate`, { versionId: current.versionId });
		await until('the callback registered again on activation', (url) => url === production);
	}, 120_000);

	it("answers Meta's verification only with the right token and refuses unsigned events", async () => {
		const url = `${n8nUrl}/webhook/whatsapp-consent`;
		const right = await fetch(`${url}?hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=1158201444`);
		expect([right.status, await right.text()]).toEqual([200, '1158201444']);
		const wrong = await fetch(`${url}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1`);
		expect(wrong.status).toBe(403);
		const unsigned = await fetch(url, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ object: 'whatsapp_business_account', entry: [] }),
		});
		expect(unsigned.status).toBe(401);
		const forged = await fetch(url, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
			body: JSON.stringify({ object: 'whatsapp_business_account', entry: [] }),
		});
		expect(forged.status).toBe(401);
	});

	it('stops n8n and the sandbox on Ctrl-C and frees their ports', async () => {
		expect(await demo.interrupt()).toBe(0);
		for (const port of ports) {
			await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
		}
	}, 60_000);
});
