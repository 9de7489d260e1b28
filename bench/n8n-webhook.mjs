// Signed delivery-status webhooks, as Meta sends them (one status per POST), against a running n8n: the webhook
// process of `npm run queue` (http://localhost:5701/webhook/whatsapp-consent) or `npm start`'s n8n. Prints POSTs per
// second, median and 99th percentile, and the HTTP statuses. Unlike `npm run bench:webhook`, n8n's own handling of
// each request (workflow lookup, credentials, expressions) is part of what is measured.
//
//   node bench/n8n-webhook.mjs [url] [posts] [in flight] [app secret] [phone number id]
//   defaults: http://localhost:5701/webhook/whatsapp-consent 200 10 sandbox-secret 100000000000001 (the demo's)
import { createHmac, randomUUID } from 'node:crypto';
import { statusEvent } from '../dist/sandbox/webhook-payloads.js';

const [url = 'http://localhost:5701/webhook/whatsapp-consent', posts = '200', inFlight = '10', appSecret = 'sandbox-secret', phoneNumberId = '100000000000001'] = process.argv.slice(2);
const total = Number(posts);

// The sandbox's own payloads, as it sends them (built by `npm run build`, which npm start and npm run queue run).
const business = { wabaId: '200000000000001', phoneNumberId, displayPhoneNumber: '+49 30 1234567' };
const statusBody = () =>
	JSON.stringify(
		statusEvent(business, { id: `wamid.bench-${randomUUID()}`, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: '4915100000001' }).payload,
	);

const latencies = [];
const statuses = {};
let next = 0;
async function poster() {
	while (next < total) {
		next++;
		const body = statusBody();
		const signature = `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
		const started = performance.now();
		const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
		await response.text();
		latencies.push(performance.now() - started);
		statuses[response.status] = (statuses[response.status] ?? 0) + 1;
	}
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(inFlight) }, poster));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (share) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * share))].toFixed(0);
console.log(`${total} POSTs, ${inFlight} in flight: ${(total / seconds).toFixed(1)}/s, median ${at(0.5)} ms, p99 ${at(0.99)} ms, HTTP ${JSON.stringify(statuses)}`);
