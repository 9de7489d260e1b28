/**
 * The newsletter in queue mode, as test/e2e/queue-mode.test.ts and bench/queue-newsletter.bench.ts both run it:
 * subscribers seeded straight into the ledger, the sample newsletter copied once per part of the list (the README's
 * way to spread one newsletter over several workers), the parts run, and the newsletters the sandbox accepted read
 * back from its request log.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_ENV } from '../../lib/consent/keyring';
import { openLedger, type Ledger } from '../../lib/consent/ledger';
import { ROOT, type RestSession, type SandboxCustomer } from './n8n-process';

/** The schema `npm run queue` gives the demo's ledger in its database. */
export const LEDGER_SCHEMA = 'whatsapp_consent';

/**
 * The ledger of a queue-mode demo whose database `databaseUrl` names, opened with the demo's own secret
 * (demo/credentials.json): allowed where the demo runs, as `npm run queue` says.
 */
export async function openDemoLedger(databaseUrl: string): Promise<Ledger> {
	const url = new URL(databaseUrl);
	const { secretKey } = (JSON.parse(readFileSync(join(ROOT, 'demo', 'credentials.json'), 'utf8')) as { type: string; data: { secretKey: string } }[]).find(
		(credential) => credential.type === 'consentLedgerApi',
	)!.data;
	process.env[DEMO_ENV] = '1';
	return openLedger({
		store: { kind: 'postgres', host: url.hostname, port: Number(url.port || 5432), database: url.pathname.slice(1), user: decodeURIComponent(url.username) || 'postgres', schema: LEDGER_SCHEMA },
		secret: secretKey,
	});
}

/** The generic newsletter (the demo also has one for Brevo, inactive without its credentials). */
export const NEWSLETTER = (JSON.parse(readFileSync(join(ROOT, 'workflows', 'newsletter.json'), 'utf8')) as { name: string }).name;
/** The newsletter's schedule trigger, where a manual run starts. */
const TRIGGER = 'Every Monday at 10';
export const CONSENT_TEXT = { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' };

/** A Cloud API call the sandbox recorded; a GET (the template list the Send node reads first) has no body. */
export interface SandboxRequest {
	at: string;
	path: string;
	body?: { to?: string; template?: { name: string } };
	outcome: { status: string; code?: number };
}

/**
 * Consented subscribers (numbers without +) straight into the ledger (the sign-up path has its own test), twenty at
 * a time; `idPrefix` keeps the confirmations' message ids apart from other seedings of the same ledger.
 */
export async function seedSubscribers(ledger: Ledger, numbers: string[], idPrefix: string): Promise<void> {
	for (let from = 0; from < numbers.length; from += 20) {
		await Promise.all(
			numbers.slice(from, from + 20).map(async (waId, offset) => {
				const { code } = await ledger.requestOptIn({ phone: `+${waId}`, purposes: ['offers'], consentText: CONSENT_TEXT, source: {} });
				await ledger.confirm({ messageId: `wamid.${idPrefix}-${from + offset}`, from: waId, text: code, at: new Date() });
			}),
		);
	}
}

const newsletterTo = (wanted: Set<string>) => (request: SandboxRequest) =>
	request.body?.template?.name === 'newsletter' && request.outcome.status === 'accepted' && wanted.has(request.body.to ?? '');

/** The newsletters the sandbox accepted for these numbers. */
export async function newslettersAcceptedFor(customer: SandboxCustomer, numbers: string[]): Promise<SandboxRequest[]> {
	return (await customer.control<{ requests: SandboxRequest[] }>('messages')).requests.filter(newsletterTo(new Set(numbers)));
}

/**
 * newslettersAcceptedFor for a test that asks again and again while a large newsletter runs: each call reads only the
 * requests the sandbox logged since the last (`after`), so polling 5,000 sends does not load the sandbox itself.
 */
export function watchNewsletters(customer: SandboxCustomer, numbers: string[]): () => Promise<SandboxRequest[]> {
	const wanted = newsletterTo(new Set(numbers));
	const accepted: SandboxRequest[] = [];
	let read = 0;
	return async () => {
		const { requests } = await customer.control<{ requests: SandboxRequest[] }>(`messages?after=${read}`);
		read += requests.length;
		accepted.push(...requests.filter(wanted));
		return accepted;
	};
}

/** The sandbox's whole delivery log, read in pages (a newsletter's log of 30,000 deliveries is too much for one answer). */
export async function deliveryLog<T>(customer: SandboxCustomer): Promise<T[]> {
	const log: T[] = [];
	for (;;) {
		const page = await customer.control<{ deliveries: T[]; total: number }>(`webhooks?offset=${log.length}&limit=2000`);
		log.push(...page.deliveries);
		if (page.deliveries.length === 0 || log.length >= page.total) return log;
	}
}

/** How many deliveries the sandbox still has pending (waiting for an attempt, an answer or a redelivery). */
export async function pendingDeliveries(customer: SandboxCustomer): Promise<number> {
	return (await customer.control<{ total: number }>('webhooks?state=pending&limit=0')).total;
}

export interface PartOptions {
	/** How many parts (copies of the workflow): Get Subscribers → Options → Part of the List, 1 of M to M of M. */
	parts: number;
	/** Send WhatsApp's Messages per Second in each copy: Meta's limit is the number's, so the parts split it. */
	messagesPerSecond: number;
	/** Send WhatsApp's Parallel Requests in each copy; the sample's own when not given. */
	parallelRequests?: number;
	/** The same campaign key in every copy (the README says so), in place of the sample's weekly one. */
	campaignKey?: string;
	/** Added to the copies' names, so several sets of copies can live side by side. */
	label?: string;
}

/** Copies the imported sample newsletter once per part, as the README says; returns the copies' workflow ids. */
export async function createNewsletterParts(api: RestSession, options: PartOptions): Promise<string[]> {
	const imported = (await api.get<{ data: { id: string; name: string }[] }>('/rest/workflows')).data.find((workflow) => workflow.name === NEWSLETTER)!;
	type Workflow = { nodes: { name: string; parameters: Record<string, unknown> }[]; connections: unknown; settings: unknown };
	const { data: original } = await api.get<{ data: Workflow }>(`/rest/workflows/${imported.id}`);
	const ids: string[] = [];
	for (let part = 1; part <= options.parts; part++) {
		const nodes = structuredClone(original.nodes);
		nodes.find((node) => node.name === 'Get Subscribers')!.parameters.options = { listPart: { part: { part, of: options.parts } } };
		const send = nodes.find((node) => node.name === 'Send Newsletter')!.parameters as { options: Record<string, unknown> };
		send.options.messagesPerSecond = options.messagesPerSecond;
		if (options.parallelRequests !== undefined) send.options.parallelRequests = options.parallelRequests;
		if (options.campaignKey !== undefined) {
			const settings = nodes.find((node) => node.name === 'Settings')!.parameters as { assignments: { assignments: { name: string; value: string }[] } };
			settings.assignments.assignments.find((assignment) => assignment.name === 'campaignKey')!.value = options.campaignKey;
		}
		const name = `${NEWSLETTER} (part ${part} of ${options.parts}${options.label ? `, ${options.label}` : ''})`;
		const { data } = await api.post<{ data: { id: string } }>('/rest/workflows', { name, nodes, connections: original.connections, settings: original.settings });
		ids.push(data.id);
	}
	return ids;
}

/** Runs a workflow as the editor's "Execute workflow" does (queue mode hands it to a worker); its execution id. */
export async function runNewsletter(api: RestSession, workflowId: string): Promise<string> {
	return (await api.post<{ data: { executionId: string } }>(`/rest/workflows/${workflowId}/run`, { triggerToStartFrom: { name: TRIGGER } })).data.executionId;
}
