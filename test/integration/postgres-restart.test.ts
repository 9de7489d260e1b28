/**
 * Issue 11, invariant 4: PostgreSQL goes down mid-run, once stopped and once killed (-9), and comes back. Real parts:
 * a throwaway PostgreSQL cluster of this test's own (never the shared server), the sandbox over HTTP delivering its
 * webhooks to the Opt-In Trigger (test/helpers/trigger-host.ts) with its at-least-once redelivery, and Send
 * WhatsApp's core (`sendWithConsent`) sending a newsletter against the sandbox.
 *
 * While the store is down the trigger answers 500 at once (no 200, no hang) and sends fail with the store's error
 * before anything reaches Meta; once it is back, every STOP, opt-in confirmation and status sent during the outage is
 * in the ledger once, and the resumed newsletter sends each remaining message once.
 */
import { createHmac } from 'node:crypto';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { Ledger } from '../../lib/consent/ledger';
import { sendWithConsent, type ConsentedSend, type SendOutcome } from '../../lib/sending';
import { WhatsAppClient } from '../../lib/whatsapp';
import { mapWithConcurrency } from '../../lib/whatsapp/concurrency';
import { nodeHttpFetch, type HttpFetch } from '../../lib/whatsapp/http';
import { closeLedgers, ledgerFor } from '../../nodes/shared/ledger';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { SECRET, sendRows, TEXT_DE } from '../helpers/ledgers';
import { textMessage, webhookBody } from '../helpers/outbox-world';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster';
import { startTriggerHost, type TriggerHost } from '../helpers/trigger-host';

const APP_SECRET = 'sandbox-secret';
const PHONE_NUMBER_ID = '100000000000001';
const NEWSLETTER = { type: 'template' as const, name: 'newsletter', language: 'de', header: ['März'], body: ['Kim', 'Neu im Laden'] };

interface LoggedRequest {
	body: { to?: string };
	outcome: { status: string; wamid?: string; processed?: { status: string; wamid?: string } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('invariant 4: PostgreSQL stopped and killed mid-run', () => {
	let cluster: PgCluster;
	let sandbox: Sandbox;
	let host: TriggerHost;
	let ledger: Ledger;

	beforeAll(async () => {
		cluster = await startPgCluster();
		const credentials: Record<string, ICredentialDataDecryptedObject> = {
			consentLedgerApi: { store: 'postgres', host: '127.0.0.1', port: cluster.port, database: 'postgres', user: 'postgres', schema: 'ledger', secretKey: SECRET, defaultCountry: 'DE', ssl: 'off' },
			whatsAppCloudApi: { phoneNumberId: PHONE_NUMBER_ID, appSecret: APP_SECRET, accessToken: 'sandbox-token', verifyToken: 'unused' },
		};
		host = await startTriggerHost({ credentials });
		sandbox = await startSandbox({
			webhookUrl: host.url,
			pairRateSeconds: 0,
			throughputPerSecond: 1000,
			statusDelaysMs: { sent: 30, delivered: 60, read: null },
			redelivery: { initialDelayMs: 200, maxAttempts: 12 },
		});
		ledger = await ledgerFor(credentials.consentLedgerApi);
		await ledger.definePurposes([{ id: 'offers', label: 'Angebote' }]);
	}, 60_000);

	afterAll(async () => {
		await sandbox?.close();
		await host?.close();
		await closeLedgers();
		cluster?.destroy();
	});

	const control = async (method: string, path: string, body?: unknown) => {
		const response = await fetch(`${sandbox.url}/_sandbox/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
		return response.json() as Promise<Record<string, unknown>>;
	};
	const inbound = (from: string, text: string) => control('POST', 'inbound', { from, text });
	/** Waits until the sandbox has no webhook left to deliver; none may have been given up. */
	async function allDelivered(): Promise<void> {
		for (let i = 0; i < 300; i++) {
			const { deliveries, busy } = (await control('GET', 'webhooks')) as { deliveries: { state: string }[]; busy: boolean };
			if (!busy && deliveries.every((delivery) => delivery.state !== 'pending')) {
				expect(deliveries.filter((delivery) => delivery.state !== 'delivered')).toEqual([]);
				return;
			}
			await sleep(100);
		}
		throw new Error('webhooks still pending after 30 s');
	}
	/** A signed POST of Meta's shape straight to the trigger, timed. */
	async function timedPost(body: unknown): Promise<{ status: number; ms: number }> {
		const raw = Buffer.from(JSON.stringify(body));
		const started = Date.now();
		const response = await fetch(host.url, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}` },
			body: raw,
			signal: AbortSignal.timeout(15_000),
		});
		await response.text();
		return { status: response.status, ms: Date.now() - started };
	}
	const stopBody = (waId: string, id: string) => webhookBody([textMessage(waId, id, 'STOP', new Date())]);

	test('the trigger answers 500 while it is down, redelivery brings everything in once, the resumed run sends each message once', async () => {
		const waId = (n: number) => `4915200${String(n).padStart(4, '0')}23`; // never ending in 0000 or 0001 (the sandbox's undeliverable numbers)
		// 60 subscribers get the newsletter; 16 of them send STOP while the store is down; 16 others confirm then.
		const subscribers = Array.from({ length: 60 }, (_, n) => waId(n));
		const stoppers = subscribers.slice(44); // in the half that is sent while the store is down
		const joiners = Array.from({ length: 16 }, (_, n) => waId(500 + n));
		for (const [n, wa] of subscribers.entries()) {
			const { code } = await ledger.requestOptIn({ phone: `+${wa}`, purposes: ['offers'], consentText: TEXT_DE, source: {} });
			await ledger.confirm({ messageId: `wamid.setup-${n}`, from: wa, text: code, at: new Date() });
		}
		const codes = new Map<string, string>();
		for (const wa of joiners) codes.set(wa, (await ledger.requestOptIn({ phone: `+${wa}`, purposes: ['offers'], consentText: TEXT_DE, source: {} })).code);

		const figures: Record<string, number> = {};
		const count = (name: string, by = 1) => (figures[name] = (figures[name] ?? 0) + by);
		let requests = 0;
		let outage: (() => void) | undefined;
		/** Counts the requests that reach the sandbox; the one that `outage` is armed for takes the store down first. */
		const fetchWithOutage: HttpFetch = (url, init) => {
			requests++;
			const down = outage;
			outage = undefined;
			down?.();
			return nodeHttpFetch(url, init);
		};
		const client = new WhatsAppClient({ accessToken: 'sandbox-token', phoneNumberId: PHONE_NUMBER_ID, baseUrl: sandbox.url, messagesPerSecond: 40, pairRateSeconds: 0, fetch: fetchWithOutage });
		const send = (wa: string): ConsentedSend => ({ key: `march:${wa}`, recipient: `+${wa}`, purpose: 'offers', category: 'marketing', message: NEWSLETTER });
		type Result = SendOutcome | { status: 'error'; key: string; message: string; ms: number };
		const run = (recipients: string[]) =>
			mapWithConcurrency(recipients, 4, async (wa): Promise<Result> => {
				const started = Date.now();
				try {
					return await sendWithConsent(ledger, client, send(wa));
				} catch (error) {
					return { status: 'error', key: send(wa).key, message: (error as Error).message, ms: Date.now() - started };
				}
			});
		const storeErrors = (results: Result[]) => results.filter((result): result is Extract<Result, { status: 'error' }> => result.status === 'error');

		// 1. Half the newsletter goes out with the store up.
		const first = await run(subscribers.slice(0, 30));
		expect(first.map((result) => result.status)).toEqual(Array(30).fill('sent'));

		// 2. The rest starts; PostgreSQL is stopped as the 4th of these requests leaves: it reaches Meta, its
		// completion cannot be recorded. Every send after it fails at the store, before its request.
		const before = requests;
		let stoppedAt = 0;
		const armed = setInterval(() => {
			if (requests >= before + 3 && stoppedAt === 0) {
				outage = () => {
					cluster.stop();
					stoppedAt = Date.now();
				};
				clearInterval(armed);
			}
		}, 1);
		const second = await run(subscribers.slice(30));
		clearInterval(armed);
		expect(stoppedAt).toBeGreaterThan(0);
		const failedWhileDown = storeErrors(second);
		count('sends failed while stopped', failedWhileDown.length);
		expect(failedWhileDown.length).toBeGreaterThanOrEqual(20);
		for (const failed of failedWhileDown) {
			expect(failed.message).toMatch(/^The Consent Ledger's PostgreSQL at 127\.0\.0\.1:\d+\/postgres \(schema ledger\) is unreachable \(.+\): nothing was recorded$/);
			expect(failed.ms).toBeLessThan(2000);
		}

		// 3. While it is down: 8 STOPs and 8 confirmations from the phones, a direct POST timed.
		for (const wa of stoppers.slice(0, 8)) await inbound(wa, 'STOP');
		for (const wa of joiners.slice(0, 8)) await inbound(wa, `Anmeldung bestätigen: ${codes.get(wa)}`);
		const direct = await timedPost(stopBody(stoppers[8], 'wamid.direct-stop'));
		expect(direct.status).toBe(500);
		expect(direct.ms).toBeLessThan(2000);
		figures['direct POST while stopped, ms'] = direct.ms;
		const okBefore = host.answers.filter((status) => status === 200).length;
		await sleep(1500);
		// The sandbox came back again and again (its backoff): 500 every time, never a 200.
		expect(host.answers.filter((status) => status >= 500).length).toBeGreaterThan(16);
		expect(host.answers.filter((status) => status === 200).length).toBe(okBefore);

		// 4. Back up: the pool reconnects, redelivery brings everything in.
		cluster.start();
		figures['stopped for, ms'] = Date.now() - stoppedAt;
		await allDelivered();
		expect(await ledger.mayMessage({ recipient: `+${stoppers[0]}`, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });

		// 5. A crash: kill -9 of the postmaster. More STOPs and confirmations, and a send, while it is gone.
		cluster.crash();
		const crashedAt = Date.now();
		for (const wa of stoppers.slice(8)) await inbound(wa, 'STOP');
		for (const wa of joiners.slice(8)) await inbound(wa, `Anmeldung bestätigen: ${codes.get(wa)}`);
		const duringCrash = await run([joiners[0]]);
		expect(duringCrash).toMatchObject([{ status: 'error' }]);
		count('sends failed while crashed');
		const crashedPost = await timedPost(stopBody(stoppers[8], 'wamid.direct-stop'));
		expect(crashedPost.status).toBe(500);
		expect(crashedPost.ms).toBeLessThan(2000);
		figures['direct POST while crashed, ms'] = crashedPost.ms;
		await sleep(1000);
		cluster.start();
		figures['crashed for, ms'] = Date.now() - crashedAt;
		await allDelivered();
		figures['500 answers in all'] = host.answers.filter((status) => status >= 500).length;
		figures['200 answers in all'] = host.answers.filter((status) => status === 200).length;

		// 6. The resumed run: the whole list again with the same keys.
		const resumed = await run(subscribers);
		expect(storeErrors(resumed)).toEqual([]);
		await sleep(300); // the statuses of the resumed run (60 ms after each send)
		await allDelivered();
		for (const result of resumed) count(`resumed: ${result.status}${result.status === 'already_sent' ? ` (${result.previous.status})` : ''}`);

		// What reached "Meta": each subscriber at most once; those who sent STOP never; the others exactly once,
		// unless their reservation was left without an answer when the store went away (reported, not resent).
		const { requests: logged } = (await control('GET', 'messages')) as unknown as { requests: LoggedRequest[] };
		const accepted = new Map<string, number>();
		for (const request of logged) if (request.outcome.status === 'accepted') accepted.set(request.body.to!, (accepted.get(request.body.to!) ?? 0) + 1);
		const rows = await sendRows(ledger);
		const stuck = Object.entries(rows).filter(([, row]) => row.status === 'reserved').map(([key]) => key.slice('march:'.length));
		count('reserved, outcome not recorded', stuck.length);
		for (const wa of subscribers) {
			const times = accepted.get(wa) ?? 0;
			if (stoppers.includes(wa)) expect([wa, times]).toEqual([wa, 0]);
			else if (stuck.includes(wa)) expect(times).toBeLessThanOrEqual(1);
			else expect([wa, times]).toEqual([wa, 1]);
		}
		expect(accepted.get(joiners[0])).toBeUndefined();
		figures['messages accepted by the sandbox'] = [...accepted.values()].reduce((a, b) => a + b, 0);
		// The one request that left as the store stopped was accepted and cannot be completed: it is kept reserved.
		expect(stuck.length).toBeGreaterThanOrEqual(1);
		for (const result of resumed) if (result.status === 'already_sent' && result.previous.status === 'reserved') expect(stuck).toContain(result.key.slice('march:'.length));

		// Every event of the outages is in the ledger once, and handed to the workflow once.
		const items = host.executions.flat();
		const itemsOf = (event: string, wa: string) => items.filter((item) => item.event === event && String(item.phone ?? '').endsWith(wa)).length;
		for (const wa of stoppers) {
			const history = (await ledger.getConsent(`+${wa}`))!.history.map((event) => event.type);
			expect([wa, history.filter((type) => type === 'consent.withdrawn').length]).toEqual([wa, 1]);
			expect([wa, itemsOf('consent.withdrawn', wa)]).toEqual([wa, 1]);
		}
		for (const wa of joiners) {
			const history = (await ledger.getConsent(`+${wa}`))!.history.map((event) => event.type);
			expect([wa, history.filter((type) => type === 'optin.confirmed').length]).toEqual([wa, 1]);
			expect([wa, itemsOf('optin.confirmed', wa)]).toEqual([wa, 1]);
		}
		count('STOPs recorded once', stoppers.length);
		count('confirmations recorded once', joiners.length);
		// Statuses: each (wamid, status) once; every message accepted is delivered in the ledger, the stuck ones too
		// once their completion is known (they wait as early statuses).
		const statuses = items.filter((item) => item.event === 'status.updated').map((item) => `${String(item.messageId)}:${String(item.status)}`);
		expect(new Set(statuses).size).toBe(statuses.length);
		const acceptedWamids = logged.filter((request) => request.outcome.status === 'accepted').map((request) => request.outcome.wamid!);
		for (const wamid of acceptedWamids) for (const status of ['sent', 'delivered']) expect(statuses).toContain(`${wamid}:${status}`);
		figures['statuses recorded once'] = statuses.length;
		// Every message that went out is delivered in the ledger under its wamid, or its send is one left reserved.
		const rowOf = new Map(Object.values(rows).map((row) => [row.wamid, row.status]));
		for (const request of logged.filter((entry) => entry.outcome.status === 'accepted')) {
			if (!stuck.includes(request.body.to!)) expect(rowOf.get(request.outcome.wamid!)).toBe('delivered');
		}
		figures['reserved and sent, completion lost'] = stuck.filter((wa) => accepted.has(wa)).length;
		expect((await ledger.verifyChain()).ok).toBe(true);
		console.log(`invariant 4, PostgreSQL stopped and killed mid-run: ${JSON.stringify(figures)}`);
	}, 180_000);
});
