/**
 * `npm run queue` for real (#11): scripts/queue.mjs starts n8n 2.41 of demo/ in queue mode (main, webhook process, two
 * workers, Redis, PostgreSQL for n8n and the ledger) with the sandbox, on a database, Redis key prefix, user folder and
 * ports of this test's own. The test signs up through the webhook process, confirms from the sandbox's phone, sends
 * STOP, runs the newsletter, checks that the workers ran every execution, that an embedded ledger credential cannot
 * be activated there, and that SIGTERM leaves no process behind.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Ledger } from '../../lib/consent/ledger';
import { mapWithConcurrency } from '../../lib/whatsapp';
import { HAND_OVER_LEASE_MS } from '../../lib/consent/outbox';
import { ROOT, RestSession, SandboxCustomer, StartedScript, demosToRun, isAlive } from '../helpers/n8n-process';
import {
	CONSENT_TEXT,
	NEWSLETTER,
	createNewsletterParts,
	deliveryLog,
	newslettersAcceptedFor,
	openDemoLedger,
	pendingDeliveries,
	runNewsletter,
	seedSubscribers,
	watchNewsletters,
	type SandboxRequest,
} from '../helpers/queue-newsletter';

const [demo] = demosToRun(['demo'], 'the queue-mode test');
// Ports of the ranges this work may use (n8n 5700–5720, sandbox 8800–8810); `npm run queue` itself uses 5700–5707, 8800.
const PORTS_FROM = 5710;
const SANDBOX_PORT = 8801;
const MAIN = `http://127.0.0.1:${PORTS_FROM}`;
const WEBHOOK = `http://localhost:${PORTS_FROM + 1}`;
const SIGNUP_PATH = '/webhook/whatsapp-consent';
const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/consent_test';
const FIX = /queue mode.*choose PostgreSQL as the Store in the Consent Ledger credential/;
// Invariant 3, sized to finish in a minute or two here: at the newsletter's 80 messages/s, 200 take 2.5 s (and bring
// 600 status webhooks to the webhook process).
const FAULT_SUBSCRIBERS = 200;
const FAULT_STOPS = 10;
// A burst of STOPs from as many subscribers at once, long enough to kill the webhook process in the middle of it.
const BURST_STOPS = 40;
// Invariants 1 and 2, sized for a few minutes here. Each message brings two status webhooks, and each webhook comes
// three times: 6 deliveries a message, where the webhook process takes 40 to 150 a second on this machine, as
// loaded as CI leaves it. So the two parts send 3 a second each (36 deliveries a second). Above what the webhook
// process takes, every attempt
// waits in its queue past Meta's 10 s and nothing is acknowledged (2 × 40/s: 3,876 of 4,104 deliveries still
// unacknowledged after 5 minutes, BENCHMARKS.md). QUEUE_LOAD_SUBSCRIBERS and QUEUE_LOAD_PACE change the size.
const LOAD_SUBSCRIBERS = Number(process.env.QUEUE_LOAD_SUBSCRIBERS ?? 400);
const LOAD_PACE = Number(process.env.QUEUE_LOAD_PACE ?? 3);
const LOAD_STOPS = Math.floor(LOAD_SUBSCRIBERS / 10);
const LOAD_WAVES = 5;
/** The newsletter at its pace, then the deliveries it brings (statuses of each newsletter and confirmation, the STOPs, three copies each) at 20 a second at worst. */
const LOAD_SECONDS = Math.ceil(LOAD_SUBSCRIBERS / (2 * LOAD_PACE) + ((LOAD_SUBSCRIBERS * 2 + LOAD_STOPS * 3) * 3) / 20) + 120;

interface Execution {
	id: string;
	workflowId: string;
	status: string;
	mode: string;
}

(demo.installed ? describe : describe.skip)(`npm run queue: n8n ${demo.n8nVersion} in queue mode with two workers and a webhook process`, () => {
	const suffix = randomBytes(4).toString('hex');
	const database = `queue_e2e_${suffix}`;
	const databaseUrl = Object.assign(new URL(PG), { pathname: `/${database}` }).toString();
	const redisPrefix = `queue-e2e-${suffix}`;
	let userFolder = '';
	let queue: StartedScript;
	let api: RestSession;
	let ledger: Ledger;
	const customer = new SandboxCustomer(`http://127.0.0.1:${SANDBOX_PORT}`);
	const startedAt = Date.now();
	/** What the fault test counted, for the test after it. */

	/** What the visitor does in the hosted widget without JavaScript: the page's form, posted where it says. */
	async function signUp(phone: string): Promise<string> {
		const page = await (await fetch(`${WEBHOOK}${SIGNUP_PATH}`)).text();
		const action = /<form class="wcw-form" method="post" action="([^"]+)"/.exec(page)?.[1];
		expect(action).toBe(`${WEBHOOK}${SIGNUP_PATH}`);
		const form = new URLSearchParams({ phone, purposes: 'offers', ageConfirmed: 'yes', language: 'de' });
		const answer = await fetch(action!, { method: 'POST', body: form });
		const html = await answer.text();
		expect(answer.status).toBe(200);
		const link = /href="(https:\/\/wa\.me\/[^"]+)"/.exec(html)?.[1];
		if (!link) throw new Error(`The sign-up answered without a wa.me link: ${html.slice(0, 500)}`);
		return new URL(link.replace(/&amp;/g, '&')).searchParams.get('text')!;
	}

	const outgoing = async (waId: string) => (await customer.chat(waId)).filter((message) => message.direction === 'out');
	const executions = async () => (await api.get<{ data: { results: Execution[] } }>('/rest/executions?limit=100')).data.results;
	const logOf = (name: string) => readFileSync(join(userFolder, `${name}.log`), 'utf8');
	/** Execution ids a worker's log says it ran ("Worker started execution 7 (job 7)", n8n's job processor). */
	const ranOn = (name: string) => new Set([...logOf(name).matchAll(/Worker started execution (\d+) /g)].map((match) => match[1]));

	/** The process of `npm run queue` with `variable` (NAME=value) in its environment and `command` a word of its command line. */
	const processOf = (variable: string, command: string) =>
		queue.processTree().find((candidate) => {
			try {
				return readFileSync(`/proc/${candidate}/environ`, 'utf8').split('\0').includes(variable) && readFileSync(`/proc/${candidate}/cmdline`, 'utf8').split('\0').includes(command);
			} catch {
				return false; // ended meanwhile
			}
		});
	/** How the sandbox's delivery attempts ended, counted: by HTTP status, or by the error. */
	const attemptOutcomes = (deliveries: { attempts: { httpStatus?: number; error?: string }[] }[]) =>
		deliveries
			.flatMap((delivery) => delivery.attempts)
			.reduce<Record<string, number>>((counts, attempt) => {
				const outcome = attempt.httpStatus ? String(attempt.httpStatus) : (attempt.error ?? 'no answer yet');
				return { ...counts, [outcome]: (counts[outcome] ?? 0) + 1 };
			}, {});

	/** How often each value occurs. */
	const countsOf = (values: (number | string)[]) => values.reduce<Record<string, number>>((counts, value) => ({ ...counts, [value]: (counts[value] ?? 0) + 1 }), {});

	async function allExecutionsDone(count: number): Promise<Execution[]> {
		const deadline = Date.now() + 30_000;
		for (;;) {
			const all = await executions();
			if (all.length >= count && all.every((execution) => !['new', 'running', 'waiting'].includes(execution.status))) return all;
			if (Date.now() > deadline) throw new Error(`Executions did not finish: ${JSON.stringify(all)}`);
			await new Promise((resolve) => setTimeout(resolve, 300));
		}
	}

	beforeAll(async () => {
		userFolder = mkdtempSync(join(tmpdir(), 'consent-queue-'));
		queue = new StartedScript('queue.mjs', {
			QUEUE_USER_FOLDER: userFolder,
			QUEUE_PORTS_FROM: String(PORTS_FROM),
			QUEUE_SANDBOX_PORT: String(SANDBOX_PORT),
			QUEUE_DATABASE_URL: databaseUrl,
			QUEUE_REDIS_PREFIX: redisPrefix,
		});
		await queue.waitFor('Press Ctrl-C to stop.', 300_000);
		console.log(`npm run queue was ready after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
		api = new RestSession(MAIN);
		await api.login(queue.output);
		ledger = await openDemoLedger(databaseUrl);
	}, 360_000);

	afterAll(async () => {
		await ledger?.close();
		if (queue) await queue.interrupt();
		if (userFolder) rmSync(userFolder, { recursive: true, force: true });
		const admin = new Client({ connectionString: Object.assign(new URL(PG), { pathname: '/postgres' }).toString() });
		await admin.connect();
		await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
		await admin.end();
		// Bull's and n8n's keys of this run (both prefixed with it).
		const keys = spawnSync('redis-cli', ['--scan', '--pattern', `*${redisPrefix}*`], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
		if (keys.length) spawnSync('redis-cli', ['del', ...keys]);
		console.log(`The queue-mode test took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
	}, 120_000);

	it('runs the sample workflows the demo has credentials for active, the production webhooks on the webhook process only', async () => {
		const demoCredentials = new Set((JSON.parse(readFileSync(join(ROOT, 'demo', 'credentials.json'), 'utf8')) as { id: string }[]).map((credential) => credential.id));
		const runnable = readdirSync(join(ROOT, 'workflows'))
			.filter((file) => file.endsWith('.json'))
			.map((file) => JSON.parse(readFileSync(join(ROOT, 'workflows', file), 'utf8')) as { name: string; nodes: { credentials?: Record<string, { id: string }> }[] })
			.filter(({ nodes }) => nodes.every((node) => Object.values(node.credentials ?? {}).every((credential) => demoCredentials.has(credential.id))))
			.map(({ name }) => name);
		const { data } = await api.get<{ data: { name: string; active: boolean }[] }>('/rest/workflows');
		expect(data.filter((workflow) => workflow.active).map((workflow) => workflow.name).sort()).toEqual(runnable.sort());
		expect(queue.output).toContain('package loaded without errors');
		// N8N_DISABLE_PRODUCTION_MAIN_PROCESS: the main process has no /webhook/ route (a GET gets the editor's page).
		expect((await fetch(`${MAIN}${SIGNUP_PATH}`, { method: 'POST' })).status).toBe(404);
		expect(await (await fetch(`${MAIN}${SIGNUP_PATH}`)).text()).not.toContain('wcw-form');
		expect(await (await fetch(`${WEBHOOK}${SIGNUP_PATH}`)).text()).toContain('wcw-form');
		expect(queue.output).toContain(`webhooks to:      ${WEBHOOK}${SIGNUP_PATH}`);
	});

	it('double opt-in: sign-up through the webhook process, the code from the phone, the consent committed, the welcome received', async () => {
		const waId = '4915112340011';
		const prefill = await signUp('0151 12340011');
		expect(prefill).toMatch(/[A-Z2-9]{6}/);
		expect(await ledger.mayMessage({ recipient: `+${waId}`, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'pending' });
		await customer.writes(waId, prefill);
		await customer.until('the welcome reply', waId, async () => (await outgoing(waId)).some((message) => message.text?.includes('ist bestätigt')));
		expect(await ledger.mayMessage({ recipient: `+${waId}`, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: true });
	});

	it('STOP: the withdrawal is recorded before Meta gets its 200, and confirmed once', async () => {
		const waId = '4915112340012';
		await customer.writes(waId, await signUp('0151 12340012'));
		await customer.until('the welcome reply', waId, async () => (await outgoing(waId)).length === 1);
		const { messageId } = await customer.writes(waId, 'STOP');
		await customer.until('the withdrawal confirmation', waId, async () => (await outgoing(waId)).some((message) => message.text?.includes('abgemeldet')));
		expect(await ledger.mayMessage({ recipient: `+${waId}`, purpose: 'offers', category: 'marketing' })).toMatchObject({ allowed: false, reason: 'withdrawn' });
		const { deliveries } = await customer.control<{ deliveries: { body: string; state: string; attempts: { url: string; httpStatus?: number }[] }[] }>('webhooks');
		const stop = deliveries.filter((delivery) => delivery.body.includes(messageId));
		expect(stop.length).toBeGreaterThan(0);
		for (const delivery of stop) expect(delivery).toMatchObject({ state: 'delivered', attempts: expect.arrayContaining([{ at: expect.any(String), answeredAt: expect.any(String), url: `${WEBHOOK}${SIGNUP_PATH}`, httpStatus: 200 }]) });
		await allExecutionsDone(0);
		expect((await outgoing(waId)).filter((message) => message.text?.includes('abgemeldet'))).toHaveLength(1);
	});

	it('the newsletter goes to the subscribers, not to the one who sent STOP, on a worker; every execution ran on the workers', async () => {
		const { data: workflows } = await api.get<{ data: { id: string; name: string; nodes: { name: string; type: string }[] }[] }>('/rest/workflows');
		const newsletter = workflows.find((workflow) => workflow.name === NEWSLETTER)!;
		const before = (await executions()).length;
		// A manual run (the editor's "Execute workflow"); OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS hands it to a worker.
		const executionId = await runNewsletter(api, newsletter.id);
		expect(executionId).toEqual(expect.any(String));
		const all = await allExecutionsDone(before + 1);
		const sent = await customer.control<{ requests: SandboxRequest[] }>('messages');
		const newsletters = sent.requests.filter((request) => request.body?.template?.name === 'newsletter');
		// The sandbox's account is not onboarded to the Marketing Messages API: Meta's 131055, then /messages.
		expect(newsletters.filter((request) => request.outcome.status === 'accepted').map((request) => [request.path.split('/').pop(), request.body?.to])).toEqual([['messages', '4915112340011']]);
		expect(newsletters.map((request) => request.body?.to)).not.toContain('4915112340012');
		expect(all.find((execution) => execution.id === executionId)).toMatchObject({ status: 'success' });

		const [first, second] = [ranOn('worker-1'), ranOn('worker-2')];
		const onWorkers = new Set([...first, ...second]);
		console.log(`Executions: ${all.length}, on worker 1: ${first.size}, on worker 2: ${second.size}`);
		expect(all.map((execution) => execution.id).filter((id) => !onWorkers.has(id))).toEqual([]);
		expect([...first].filter((id) => second.has(id))).toEqual([]);
		expect(all.filter((execution) => execution.status !== 'success')).toEqual([]);
	});

	it('an Opt-In Trigger on the embedded ledger cannot be activated in queue mode: n8n shows the fix, no embedded store is made', async () => {
		const { data: credential } = await api.post<{ data: { id: string } }>('/rest/credentials', {
			name: 'Embedded ledger',
			type: 'consentLedgerApi',
			data: { store: 'embedded', folder: '', secretKey: 'queue-test-secret-0123456789', defaultCountry: 'DE' },
		});
		const inbox = JSON.parse(readFileSync(join(ROOT, 'workflows', 'whatsapp-consent-inbox.json'), 'utf8')) as { nodes: { type: string; parameters: Record<string, unknown>; credentials?: Record<string, unknown> }[]; connections: unknown };
		const trigger = inbox.nodes.find((node) => node.type.endsWith('.optInTrigger'))!;
		trigger.parameters.path = 'queue-embedded';
		trigger.credentials = { ...trigger.credentials, consentLedgerApi: { id: credential.id, name: 'Embedded ledger' } };
		const { data: workflow } = await api.post<{ data: { id: string; versionId: string } }>('/rest/workflows', {
			name: 'Embedded ledger in queue mode',
			nodes: [trigger],
			connections: {},
			settings: { executionOrder: 'v1' },
		});
		// n8n 2.41 accepts the activation and starts the triggers afterwards (its publication outbox); the editor
		// then shows the publication status, with each trigger's error.
		await api.post(`/rest/workflows/${workflow.id}/activate`, { versionId: workflow.versionId });
		let publication: { status: string; triggers: { status: string; errorMessage?: string }[] };
		const deadline = Date.now() + 60_000;
		do {
			await new Promise((resolve) => setTimeout(resolve, 500));
			({ data: publication } = await api.get<{ data: typeof publication }>(`/rest/workflows/${workflow.id}/publication-status`));
		} while (publication.status === 'in_progress' && Date.now() < deadline);
		expect(publication).toMatchObject({ status: 'failed', triggers: [{ status: 'failed', errorMessage: expect.stringMatching(FIX) }] });
		expect(existsSync(join(userFolder, '.n8n', 'whatsapp-consent-ledger'))).toBe(false);
		// …and the webhook process does not serve it.
		expect((await fetch(`${WEBHOOK}/webhook/queue-embedded`)).status).toBe(404);
	}, 120_000);

	it('invariant 3: kill -9 of the worker mid-newsletter, STOPs during it, a restart and a second run: nothing twice, acknowledged STOPs kept, unknown outcomes never resent', async () => {
		const testStart = new Date();
		// Subscribers straight into the ledger (the sign-up path is the test above): a newsletter long enough to kill.
		const numbers = Array.from({ length: FAULT_SUBSCRIBERS }, (_, index) => `4915130${String(index + 100).padStart(6, '0')}`);
		await seedSubscribers(ledger, numbers, `fault-${suffix}`);
		const newsletterTo = () => newslettersAcceptedFor(customer, numbers);
		const waitForSends = async (count: number, what: string) => {
			const deadline = Date.now() + 60_000;
			for (let sent = await newsletterTo(); sent.length < count; sent = await newsletterTo()) {
				if (Date.now() > deadline) throw new Error(`Only ${sent.length} newsletters reached the sandbox, waiting for ${count} (${what})`);
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
			return await newsletterTo();
		};

		const newsletter = (await api.get<{ data: { id: string; name: string }[] }>('/rest/workflows')).data.find((workflow) => workflow.name === NEWSLETTER)!;
		const first = await runNewsletter(api, newsletter.id);

		// STOPs from subscribers whose newsletter has not gone out yet, through the webhook process.
		const early = new Set((await waitForSends(FAULT_SUBSCRIBERS / 10, 'before the STOPs')).map((request) => request.body?.to));
		const stopped = numbers.filter((waId) => !early.has(waId)).slice(-FAULT_STOPS);
		const stopIds = (await Promise.all(stopped.map((waId) => customer.writes(waId, 'STOP')))).map(({ messageId }) => messageId);

		// kill -9 of the worker running the newsletter, with its task runner: what a crashed machine or container does.
		const beforeKill = await waitForSends(FAULT_SUBSCRIBERS / 4, 'before the kill');
		const worker = ['worker-1', 'worker-2'].find((name) => ranOn(name).has(first));
		if (!worker) throw new Error(`No worker log shows execution ${first}`);
		const healthPort = PORTS_FROM + (worker === 'worker-1' ? 2 : 3);
		const pid = processOf(`QUEUE_HEALTH_CHECK_PORT=${healthPort}`, 'worker');
		if (!pid) throw new Error(`No process of ${worker} found in the process tree of npm run queue`);
		process.kill(-pid, 'SIGKILL');
		const killedAt = Date.now();
		const atKill = (await newsletterTo()).length;
		expect(atKill).toBeLessThan(FAULT_SUBSCRIBERS - FAULT_STOPS); // it really was mid-newsletter

		// The script starts the worker again; n8n's queue then fails the stalled job (maxStalledCount 0) and marks
		// the execution. Its sends whose answer never came stay reserved in the ledger: unknown, never resent.
		await queue.waitFor(`${worker} ended (SIGKILL); starting it again`, 10_000);
		for (const started = Date.now(); !(await fetch(`http://127.0.0.1:${healthPort}/healthz/readiness`).then((response) => response.ok, () => false)); ) {
			if (Date.now() - started > 90_000) throw new Error(`${worker} did not come back`);
			await new Promise((resolve) => setTimeout(resolve, 500));
		}
		const restartedAfter = Date.now() - killedAt;
		let firstStatus = 'running';
		for (const started = Date.now(); ['new', 'running'].includes(firstStatus) && Date.now() - started < 75_000; ) {
			await new Promise((resolve) => setTimeout(resolve, 1000));
			firstStatus = (await executions()).find((execution) => execution.id === first)?.status ?? 'missing';
		}

		// The operator runs the newsletter again (same campaign key): only what never went out goes out now.
		const second = await runNewsletter(api, newsletter.id);
		for (const started = Date.now(); ; ) {
			const status = (await executions()).find((execution) => execution.id === second)?.status;
			if (status === 'success') break;
			if ((status && !['new', 'running', 'waiting'].includes(status)) || Date.now() - started > 90_000) throw new Error(`The second newsletter run ended ${status}`);
			await new Promise((resolve) => setTimeout(resolve, 500));
		}

		// The STOPs' deliveries settled: acknowledged (200 from the webhook process, after its commit) or given up
		// after the sandbox's redeliveries (Meta would go on for 7 days).
		type Delivery = { body: string; state: string; attempts: { httpStatus?: number; error?: string }[] };
		const stopDeliveries = async () => (await customer.control<{ deliveries: Delivery[] }>('webhooks')).deliveries.filter((delivery) => stopIds.some((id) => delivery.body.includes(id)));
		for (const started = Date.now(); (await stopDeliveries()).some((delivery) => delivery.state === 'pending') && Date.now() - started < 60_000; ) {
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
		const settled = await stopDeliveries();
		const acknowledged = stopped.filter((_, index) => settled.some((delivery) => delivery.state === 'delivered' && delivery.body.includes(stopIds[index])));
		const attempts = attemptOutcomes(settled);

		const sends = await newsletterTo();
		const perNumber = new Map<string, SandboxRequest[]>();
		for (const request of sends) perNumber.set(request.body!.to!, [...(perNumber.get(request.body!.to!) ?? []), request]);
		const twice = [...perNumber.values()].filter((list) => list.length > 1).length;
		// Counted against the STOP's own time, which the ledger keeps as the withdrawal's time (Meta's timestamp):
		// with the webhook process slow under the status webhooks (printed: STOPs acknowledged; a known problem of
		// issue 11, not asserted here) a STOP is committed long after it was written, and sends reserved
		// in between came before the commit. The order against the commit itself (the person's row lock) is what the
		// integration tests hold; here these are figures, not assertions.
		const startedAfterStop: string[] = [];
		const notWithdrawn: string[] = [];
		let arrivedAfterStop = 0;
		for (const waId of stopped) {
			const withdrawnAt = (await ledger.getConsent(`+${waId}`))?.consents.find((consent) => consent.purpose === 'offers')?.withdrawnAt;
			if (!withdrawnAt) {
				if (acknowledged.includes(waId)) notWithdrawn.push(waId);
				continue;
			}
			// sends are found by the person (their keys are kept as keyed HMACs)
			const reserved = ((await ledger.exportPerson(`+${waId}`))?.sends ?? []).filter((send) => send.category === 'marketing' && send.at >= testStart.toISOString());
			if (reserved.some((send) => send.at > withdrawnAt!)) startedAfterStop.push(waId);
			arrivedAfterStop += (perNumber.get(waId) ?? []).filter((request) => request.at > withdrawnAt!).length;
		}
		const rows = await ledger.store.query<{ status: string; count: string }>(
			`SELECT status, count(*) AS count FROM ${ledger.store.schema}.sends WHERE created_at >= $1 AND purpose = 'offers' AND category = 'marketing' GROUP BY status`,
			[testStart],
		);
		const byStatus = Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
		const unknown = (byStatus.reserved ?? 0) + (byStatus.unknown ?? 0);
		const missing = numbers.filter((waId) => !stopped.includes(waId) && !perNumber.has(waId)).length;
		console.log(
			[
				`Invariant 3 (kill -9 of ${worker} mid-newsletter), ${FAULT_SUBSCRIBERS} subscribers, ${stopped.length} STOPs during the run:`,
				`  newsletters before the STOPs ${early.size}, before the kill ${beforeKill.length}, at the kill ${atKill}`,
				`  ${worker} ready again ${(restartedAfter / 1000).toFixed(1)} s after the kill; n8n marked the killed execution ${first}: ${firstStatus}`,
				`  after the second run: ${sends.length} newsletters to ${perNumber.size} numbers; sent twice: ${twice}`,
				`  STOPs acknowledged: ${acknowledged.length} of ${stopIds.length} (attempts: ${JSON.stringify(attempts)}); acknowledged but missing in the ledger: ${notWithdrawn.length}`,
				`  after a STOP's own time: reserved ${startedAfterStop.length}, arrived at the sandbox ${arrivedAfterStop}`,
				`  ledger, sends of this test by status: ${JSON.stringify(byStatus)}; unknown outcomes (reserved, never resent): ${unknown}`,
				`  subscribers without a newsletter and without a STOP: ${missing} (each must be an unknown outcome)`,
			].join('\n'),
		);
		expect(notWithdrawn).toEqual([]);
		expect(twice).toBe(0);
		expect(missing).toBeLessThanOrEqual(unknown);
		// The killed worker had reserved at most half a second of the newsletter's 80/s ahead (sendsInFlight).
		expect(unknown).toBeLessThanOrEqual(40);
		expect(sends.length + unknown).toBeGreaterThanOrEqual(FAULT_SUBSCRIBERS - stopped.length);
	}, 300_000);

	it('invariant 3: kill -9 of the webhook process mid-burst of STOPs, its restart and Meta\'s redelivery: every STOP recorded, none acknowledged and lost, none confirmed twice', async () => {
		const numbers = Array.from({ length: BURST_STOPS }, (_, index) => `4915140${String(index + 100).padStart(6, '0')}`);
		for (const [index, waId] of numbers.entries()) {
			const { code } = await ledger.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: CONSENT_TEXT, source: {} });
			await ledger.confirm({ messageId: `wamid.burst-${suffix}-${index}`, from: waId, text: code, at: new Date() });
		}
		type Delivery = { body: string; state: string; attempts: { httpStatus?: number; error?: string }[] };
		const stopIds = (await Promise.all(numbers.map((waId) => customer.writes(waId, 'STOP')))).map(({ messageId }) => messageId);
		const deliveriesOf = async () => (await customer.control<{ deliveries: Delivery[] }>('webhooks')).deliveries.filter((delivery) => stopIds.some((id) => delivery.body.includes(id)));
		const acknowledgedIds = (deliveries: Delivery[]) => stopIds.filter((id) => deliveries.some((delivery) => delivery.body.includes(id) && delivery.attempts.some((attempt) => attempt.httpStatus === 200)));

		// kill -9 of the webhook process (and its task runner) once the first STOPs are acknowledged.
		for (const started = Date.now(); acknowledgedIds(await deliveriesOf()).length === 0; ) {
			if (Date.now() - started > 60_000) throw new Error('No STOP of the burst was acknowledged within a minute');
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		const pid = processOf(`N8N_PORT=${PORTS_FROM + 1}`, 'webhook');
		if (!pid) throw new Error('No webhook process found in the process tree of npm run queue');
		process.kill(-pid, 'SIGKILL');
		const killedAt = Date.now();
		const acknowledgedAtKill = acknowledgedIds(await deliveriesOf());
		await queue.waitFor('webhook ended (SIGKILL); starting it again', 10_000);

		// Meta (the sandbox) redelivers what got no 200; the restarted webhook process records it.
		for (const started = Date.now(); (await deliveriesOf()).some((delivery) => delivery.state === 'pending') && Date.now() - started < 150_000; ) {
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
		const settled = await deliveriesOf();
		const acknowledged = acknowledgedIds(settled);
		const notWithdrawn: string[] = [];
		const acknowledgedLost: string[] = [];
		for (const [index, waId] of numbers.entries()) {
			const withdrawn = (await ledger.getConsent(`+${waId}`))?.consents.find((consent) => consent.purpose === 'offers')?.withdrawnAt;
			if (!withdrawn) {
				notWithdrawn.push(waId);
				if (acknowledged.includes(stopIds[index])) acknowledgedLost.push(waId);
			}
		}
		// Confirmations: handed to the workflow at least once (the outbox), sent once (Send WhatsApp's key). What the
		// killed process had committed and not handed over comes back when its lease ends, to the next POST.
		const confirmationCounts = async () => Promise.all(numbers.map(async (waId) => (await outgoing(waId)).filter((message) => message.text?.includes('abgemeldet')).length));
		await new Promise((resolve) => setTimeout(resolve, 5000));
		const beforeLease = await confirmationCounts();
		let confirmations = beforeLease;
		if (confirmations.includes(0)) {
			await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + HAND_OVER_LEASE_MS + 2000 - Date.now())));
			await customer.writes('4915140999999', 'Hallo');
			for (const started = Date.now(); confirmations.includes(0) && Date.now() - started < 45_000; confirmations = await confirmationCounts()) {
				await new Promise((resolve) => setTimeout(resolve, 1000));
			}
		}
		const attempts = attemptOutcomes(settled);
		console.log(
			[
				`Invariant 3 (kill -9 of the webhook process mid-burst), ${BURST_STOPS} STOPs at once:`,
				`  acknowledged before the kill ${acknowledgedAtKill.length}, in the end ${acknowledged.length}; attempts ${JSON.stringify(attempts)}`,
				`  recorded in the ledger ${BURST_STOPS - notWithdrawn.length} of ${BURST_STOPS}; acknowledged but not recorded ${acknowledgedLost.length}`,
				`  confirmations: ${beforeLease.filter((count) => count === 0).length} waiting for the killed process's lease; in the end ${confirmations.filter((count) => count === 1).length} once, ${confirmations.filter((count) => count > 1).length} twice or more, ${confirmations.filter((count) => count === 0).length} never`,
			].join('\n'),
		);
		expect(acknowledgedLost).toEqual([]);
		expect(notWithdrawn).toEqual([]);
		expect(confirmations.filter((count) => count !== 1)).toEqual([]);
	}, 300_000);

	it(`invariants 1 and 2: a newsletter to ${LOAD_SUBSCRIBERS} in two parts on both workers at ${LOAD_PACE}/s each, ${LOAD_STOPS} STOPs during it, every webhook delivered three times and reordered`, async () => {
		const testStart = new Date();
		// Ending in 2: numbers ending in 0000 and 0001 are the sandbox's undeliverable and failing ones.
		const numbers = Array.from({ length: LOAD_SUBSCRIBERS }, (_, index) => `4915150${String(index).padStart(5, '0')}2`);
		await seedSubscribers(ledger, numbers, `load-${suffix}`);
		// Every tenth subscriber sends STOP, in waves while the newsletter runs: some before their newsletter, some after.
		const stopped = numbers.filter((_, index) => index % 10 === 5).slice(0, LOAD_STOPS);

		type Settings = {
			duplicateDeliveries: number;
			reorderDeliveries: boolean;
			redelivery: { initialDelayMs: number; maxAttempts: number; maxDelayMs?: number };
			webhookConcurrency: number | null;
			statusDelaysMs: { sent: number; delivered: number; read: number | null };
		};
		const configure = async (settings: Partial<Settings>) => {
			const response = await fetch(`http://127.0.0.1:${SANDBOX_PORT}/_sandbox/config`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
			if (!response.ok) throw new Error(`The sandbox refused its settings: HTTP ${response.status} ${await response.text()}`);
		};
		const before = await customer.control<Settings>('config');
		// Meta's at-least-once and unordered delivery, at its worst: two extra copies of every webhook, shuffled.
		// No read statuses (the people do not open it), so the load stays at two statuses a message. Should the webhook
		// process fall behind, like Meta (for 7 days) the sandbox goes on redelivering what got no 200, every 10 s at
		// most, where its default gives up after 8 attempts. At most 50 webhooks are in flight at once: with no bound,
		// the full size (30,000 deliveries) held up to 9,500 connections open in the sandbox, overflowed the webhook
		// process's accept queue (511) and broke the sandbox's own control connections (BENCHMARKS.md).
		await configure({
			duplicateDeliveries: 2,
			reorderDeliveries: true,
			redelivery: { initialDelayMs: 1000, maxDelayMs: 10_000, maxAttempts: 100 },
			webhookConcurrency: 50,
			statusDelaysMs: { ...before.statusDelaysMs, read: null },
		});
		try {
			// The newsletter split in two, as the README says for several workers: a copy of it per part of the list.
			// Meta's limit is the number's, so the parts share it (the README says so); here both keep below what the
			// webhook process can take of their statuses.
			const parts = await createNewsletterParts(api, { parts: 2, messagesPerSecond: LOAD_PACE });
			const newsletterTo = watchNewsletters(customer, numbers);
			const runs = await Promise.all(
				parts.map((id) => runNewsletter(api, id)),
			);
			const stopIds = new Map<string, string>();
			for (let wave = 0; wave < LOAD_WAVES; wave++) {
				const due = Math.floor(((wave + 1) * LOAD_SUBSCRIBERS) / (LOAD_WAVES + 2));
				for (const started = Date.now(); (await newsletterTo()).length < due; ) {
					if (Date.now() - started > LOAD_SECONDS * 1000) throw new Error(`Fewer than ${due} newsletters reached the sandbox (wave ${wave + 1} of the STOPs)`);
					await new Promise((resolve) => setTimeout(resolve, 250));
				}
				const inWave = stopped.slice(Math.floor((wave * stopped.length) / LOAD_WAVES), Math.floor(((wave + 1) * stopped.length) / LOAD_WAVES));
				// Ten at a time: a wave of 100 at once left 100 kept-alive connections to the sandbox, which it closed together
				// five seconds later, under the next polls (read ECONNRESET three times in a row at the full size).
				const written = await mapWithConcurrency(inWave, 10, (waId) => customer.writes(waId, 'STOP'));
				for (const [index, { messageId }] of written.entries()) stopIds.set(inWave[index], messageId);
			}
			for (const started = Date.now(); ; ) {
				// by workflow: the STOPs' own executions may push the parts out of the latest hundred
				const statuses = await Promise.all(
					parts.map(async (workflowId, index) => {
						const { data } = await api.get<{ data: { results: Execution[] } }>(`/rest/executions?limit=10&filter=${encodeURIComponent(JSON.stringify({ workflowId }))}`);
						return data.results.find((execution) => execution.id === runs[index])?.status;
					}),
				);
				if (statuses.every((status) => status === 'success')) break;
				if (statuses.some((status) => status && !['new', 'running', 'waiting', 'success'].includes(status)) || Date.now() - started > LOAD_SECONDS * 1000) {
					throw new Error(`The newsletter's parts ended ${JSON.stringify(statuses)}`);
				}
				await new Promise((resolve) => setTimeout(resolve, 1000));
			}
			const runsOn = runs.map((id) => ['worker-1', 'worker-2'].filter((name) => ranOn(name).has(id)));

			// Every delivery settles: acknowledged by the webhook process (after its commit), or given up.
			type Delivery = { body: string; state: string; copy: number; attempts: { httpStatus?: number; error?: string; answeredAt?: string }[] };
			for (const started = Date.now(); ; ) {
				const pending = await pendingDeliveries(customer);
				if (pending === 0) break;
				if (Date.now() - started > LOAD_SECONDS * 1000) throw new Error(`${pending} deliveries still pending`);
				await new Promise((resolve) => setTimeout(resolve, 2000));
			}
			const settledAt = Date.now();
			const deliveries = await deliveryLog<Delivery>(customer);
			const sends = await newsletterTo();
			const perNumber = new Map<string, SandboxRequest[]>();
			for (const request of sends) perNumber.set(request.body!.to!, [...(perNumber.get(request.body!.to!) ?? []), request]);

			// The deliveries by the message ids and the numbers in them, read once: at the full size (5,000 subscribers)
			// there are some 30,000 deliveries, too many to search through again for each STOP.
			const stopOf = new Map([...stopIds].map(([waId, messageId]) => [messageId, waId]));
			const sentTo = new Set(sends.map((request) => request.body!.to!));
			const acksOf = new Map<string, string[]>();
			const ours: Delivery[] = [];
			for (const delivery of deliveries) {
				const stops = (delivery.body.match(/wamid\.[A-Za-z0-9+/=]+/g) ?? []).flatMap((id) => stopOf.get(id) ?? []);
				for (const waId of stops) {
					const answered = delivery.attempts.filter((attempt) => attempt.httpStatus === 200).map((attempt) => attempt.answeredAt!);
					acksOf.set(waId, [...(acksOf.get(waId) ?? []), ...answered]);
				}
				if (stops.length > 0 || (delivery.body.match(/(?<!\d)\d{13}(?!\d)/g) ?? []).some((number) => sentTo.has(number))) ours.push(delivery);
			}

			// Invariant 1, against the sandbox's clock: the first 200 the webhook process gave any copy of a STOP came
			// after that STOP's commit, so a newsletter the sandbox received later started after the commit.
			const afterCommit: string[] = [];
			const unacknowledged: string[] = [];
			let beforeCommit = 0;
			let closestMs = Infinity;
			for (const waId of stopped) {
				const acks = (acksOf.get(waId) ?? []).sort();
				if (!acks.length) {
					unacknowledged.push(waId);
					continue;
				}
				for (const request of perNumber.get(waId) ?? []) {
					if (request.at > acks[0]) afterCommit.push(`${waId}: newsletter at ${request.at}, STOP acknowledged at ${acks[0]}`);
					else {
						beforeCommit++;
						closestMs = Math.min(closestMs, Date.parse(acks[0]) - Date.parse(request.at));
					}
				}
			}
			const twice = [...perNumber.values()].filter((list) => list.length > 1).length;
			const stoppedSet = new Set(stopped);
			const missing = numbers.filter((waId) => !stoppedSet.has(waId) && !perNumber.has(waId));

			// Invariant 2: three copies of every webhook, shuffled, and each changed the ledger once.
			const withdrawals = await Promise.all(stopped.map(async (waId) => ((await ledger.getConsent(`+${waId}`))?.history ?? []).filter((event) => event.type === 'consent.withdrawn').length));
			const confirmations = await Promise.all(stopped.map(async (waId) => (await outgoing(waId)).filter((message) => message.text?.includes('abgemeldet')).length));
			const rows = await ledger.store.query<{ status: string; count: string }>(
				`SELECT status, count(*) AS count FROM ${ledger.store.schema}.sends WHERE created_at >= $1 AND purpose = 'offers' AND category = 'marketing' GROUP BY status`,
				[testStart],
			);
			const byStatus = Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
			console.log(
				[
					`Invariants 1 and 2: ${LOAD_SUBSCRIBERS} subscribers, the newsletter in two parts (executions ${runs.join(', ')} on ${JSON.stringify(runsOn)}), ${stopped.length} STOPs in ${LOAD_WAVES} waves, every webhook three times and reordered`,
					`  newsletters: ${sends.length} to ${perNumber.size} numbers; sent twice ${twice}; subscribers without a STOP and without a newsletter ${missing.length}`,
					`  of the STOPped: newsletter before the STOP's commit ${beforeCommit} (closest ${Number.isFinite(closestMs) ? closestMs : '-'} ms before it), after it ${afterCommit.length}, none ${stopped.length - beforeCommit - afterCommit.length}; STOPs never acknowledged ${unacknowledged.length}`,
					`  withdrawals in the ledger per STOP: ${JSON.stringify(countsOf(withdrawals))}; confirmations per STOP: ${JSON.stringify(countsOf(confirmations))}`,
					`  ledger, newsletter sends by status: ${JSON.stringify(byStatus)}`,
					`  deliveries of this load: ${ours.length} (copies ${JSON.stringify(countsOf(ours.map((delivery) => delivery.copy)))}), attempts ${JSON.stringify(attemptOutcomes(ours))}; all settled ${((settledAt - testStart.getTime()) / 1000).toFixed(0)} s after the start`,
				].join('\n'),
			);
			expect(afterCommit).toEqual([]);
			expect(unacknowledged).toEqual([]);
			expect(twice).toBe(0);
			expect(missing).toEqual([]);
			expect(withdrawals.filter((count) => count !== 1)).toEqual([]);
			expect(confirmations.filter((count) => count !== 1)).toEqual([]);
			// Reordered statuses never move a send back: each accepted newsletter ends delivered, whatever came last.
			const notDelivered: string[] = [];
			for (const waId of perNumber.keys()) {
				const own = ((await ledger.exportPerson(`+${waId}`))?.sends ?? []).filter((send) => send.category === 'marketing' && send.at >= testStart.toISOString());
				if (!own.some((send) => send.status === 'delivered')) notDelivered.push(`${waId}: ${JSON.stringify(own)}`);
			}
			// (byStatus also counts the parts' sends to the earlier tests' subscribers: the parts cover the whole ledger.)
			expect(notDelivered).toEqual([]);
			expect(runsOn.map((workers) => workers.length)).toEqual([1, 1]);
		} finally {
			await configure({
				duplicateDeliveries: before.duplicateDeliveries,
				reorderDeliveries: before.reorderDeliveries,
				redelivery: before.redelivery,
				webhookConcurrency: before.webhookConcurrency,
				statusDelaysMs: before.statusDelaysMs,
			});
		}
	}, (LOAD_SECONDS * 2 + 120) * 1000);

	it('stops every process it started on SIGTERM', async () => {
		const tree = queue.processTree();
		expect(tree.length).toBeGreaterThanOrEqual(6); // the script, main, webhook, two workers, sandbox (and runners)
		queue.child.kill('SIGTERM');
		expect(await queue.exited).toBe(0);
		expect(tree.filter(isAlive)).toEqual([]);
		for (const port of [PORTS_FROM, PORTS_FROM + 1, PORTS_FROM + 2, PORTS_FROM + 3, SANDBOX_PORT]) {
			await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
		}
	}, 90_000);
});
