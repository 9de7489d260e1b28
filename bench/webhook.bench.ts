/**
 * Webhook benchmark (issue 11): signed webhooks per second through the Opt-In Trigger, including the ledger write,
 * over real HTTP into the trigger as n8n hosts it (test/helpers/trigger-host.ts, one process). Delivery statuses for
 * sends the ledger knows (sent, delivered, read: one status per POST, as Meta sends them), then inbound messages that
 * start a workflow (message.received). Latency is from the request's first byte to the answer, per POST.
 *
 * Run: npm run bench:webhook
 * Sizes: WEBHOOK_BENCH_SENDS (2000; three statuses each), WEBHOOK_BENCH_MESSAGES (1000), WEBHOOK_BENCH_CONCURRENCY
 * (32 POSTs in flight, as Meta's delivery does per app), WEBHOOK_BENCH_STORES (embedded,postgres).
 * Floor (issue 11): 500 delivery statuses per second with a p99 under 250 ms, in one process.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { Ledger } from '../lib/consent/ledger';
import { closeLedgers, ledgerFor } from '../nodes/shared/ledger';
import { PURPOSES, TEXT_DE, type StoreKind } from '../test/helpers/ledgers';
import { APP_SECRET, outboxCredentials, PHONE_NUMBER_ID } from '../test/helpers/outbox-world';
import { startTriggerHost, type TriggerHost } from '../test/helpers/trigger-host';

const SENDS = Number(process.env.WEBHOOK_BENCH_SENDS ?? 2000);
const MESSAGES = Number(process.env.WEBHOOK_BENCH_MESSAGES ?? 1000);
const CONCURRENCY = Number(process.env.WEBHOOK_BENCH_CONCURRENCY ?? 32);
const STORES = (process.env.WEBHOOK_BENCH_STORES ?? 'embedded,postgres').split(',') as StoreKind[];
const PEOPLE = 200;
const METADATA = { display_phone_number: '49301234567', phone_number_id: PHONE_NUMBER_ID };

const waIdOf = (n: number) => `4915${String(30_000_000 + n)}`;

function envelope(value: Record<string, unknown>): Buffer {
	const body = { object: 'whatsapp_business_account', entry: [{ id: '200000000000001', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: METADATA, ...value } }] }] };
	return Buffer.from(JSON.stringify(body), 'utf8');
}

interface Stage {
	name: string;
	posts: number;
	seconds: number;
	perSecond: number;
	medianMs: number;
	p99Ms: number;
	non200: number;
}

/** POSTs every body, CONCURRENCY at a time over kept-alive connections; the figures of the whole stage. */
async function fire(url: string, name: string, bodies: Buffer[]): Promise<Stage> {
	const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
	const target = new URL(url);
	const latencies: number[] = [];
	let non200 = 0;
	let next = 0;
	const post = (raw: Buffer) =>
		new Promise<void>((resolve, reject) => {
			const started = process.hrtime.bigint();
			const req = request(
				{ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': raw.length, 'x-hub-signature-256': `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}` } },
				(res) => {
					res.resume();
					res.on('end', () => {
						latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
						if (res.statusCode !== 200) non200++;
						resolve();
					});
				},
			);
			req.on('error', reject);
			req.end(raw);
		});
	const started = Date.now();
	await Promise.all(
		Array.from({ length: CONCURRENCY }, async () => {
			while (next < bodies.length) await post(bodies[next++]);
		}),
	);
	const seconds = (Date.now() - started) / 1000;
	agent.destroy();
	latencies.sort((a, b) => a - b);
	const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
	return { name, posts: bodies.length, seconds: Math.round(seconds * 100) / 100, perSecond: Math.round(bodies.length / seconds), medianMs: at(0.5), p99Ms: at(0.99), non200 };
}

/** PEOPLE confirmed subscribers and SENDS accepted sends to them, each with its wamid: what statuses refer to. */
async function seed(ledger: Ledger): Promise<string[]> {
	await ledger.definePurposes(PURPOSES);
	await Promise.all(
		Array.from({ length: PEOPLE }, async (_, n) => {
			const { code } = await ledger.requestOptIn({ phone: `+${waIdOf(n)}`, purposes: ['offers', 'service'], consentText: TEXT_DE, source: {} });
			await ledger.confirm({ messageId: `wamid.code-${n}`, from: waIdOf(n), text: code, at: new Date() });
		}),
	);
	const wamids: string[] = [];
	for (let from = 0; from < SENDS; from += 250) {
		const slice = Array.from({ length: Math.min(250, SENDS - from) }, (_, i) => from + i);
		await ledger.reserveSends(slice.map((i) => ({ key: `bench:${i}`, recipient: `+${waIdOf(i % PEOPLE)}`, purpose: 'service', category: 'utility' as const })));
		const accepted = slice.map((i) => ({ key: `bench:${i}`, wamid: `wamid.bench-${i}` }));
		await ledger.completeSends(accepted);
		wamids.push(...accepted.map((send) => send.wamid));
	}
	return wamids;
}

const results: Record<string, Stage[]> = {};

describe.each(STORES)('webhooks through the Opt-In Trigger (%s store)', (kind) => {
	let host: TriggerHost;
	afterAll(async () => {
		await host?.close();
		await closeLedgers();
	});

	test(`${SENDS * 3} delivery statuses and ${MESSAGES} inbound messages`, async () => {
		const credentials = outboxCredentials(kind);
		const ledger = await ledgerFor(credentials.consentLedgerApi);
		const wamids = await seed(ledger);
		host = await startTriggerHost({ credentials });
		const at = Math.floor(Date.now() / 1000);
		const statuses = ['sent', 'delivered', 'read'].flatMap((status, step) =>
			wamids.map((id, i) =>
				envelope({
					statuses: [
						{
							id,
							status,
							timestamp: String(at + step),
							recipient_id: waIdOf(i % PEOPLE),
							...(status === 'read' ? {} : { pricing: { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' } }),
						},
					],
				}),
			),
		);
		const messages = Array.from({ length: MESSAGES }, (_, i) =>
			envelope({
				contacts: [{ profile: { name: 'Anna' }, wa_id: waIdOf(i % PEOPLE) }],
				messages: [{ from: waIdOf(i % PEOPLE), id: `wamid.in-${i}`, timestamp: String(at), type: 'text', text: { body: `Frage ${i}: wann öffnet ihr?` } }],
			}),
		);
		const stages = [await fire(host.url, 'delivery statuses', statuses), await fire(host.url, 'inbound messages (start a workflow)', messages)];
		results[kind] = stages;
		const [{ read }] = await ledger.store.query<{ read: number }>(`SELECT count(*)::int AS read FROM sends WHERE status = 'read'`);
		const started = host.executions.flat().filter((item) => item.event === 'message.received').length;
		console.log(
			[`webhooks, ${kind} store, ${CONCURRENCY} in flight:`, ...stages.map((s) => `  ${s.name}: ${s.posts} POSTs in ${s.seconds} s = ${s.perSecond}/s, median ${s.medianMs} ms, p99 ${s.p99Ms} ms, non-200: ${s.non200}`), `  sends read: ${read} of ${SENDS}; workflows started by messages: ${started} of ${MESSAGES}`].join('\n'),
		);
		expect(stages.every((stage) => stage.non200 === 0)).toBe(true);
		expect(Number(read)).toBe(SENDS);
		expect(started).toBe(MESSAGES);
	});
});
