/**
 * A test scenario on real parts: the local Cloud API sandbox, a ledger on either store, and the credentials the
 * nodes read. The customer acts through the sandbox; their messages reach the ledger as the Opt-In Trigger passes
 * them on: Meta's signed bytes, parsed and committed by `processEvents`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { Ledger } from '../../lib/consent/ledger';
import { processEvents, type TriggerEvent } from '../../lib/events';
import { parseWebhook } from '../../lib/whatsapp';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import type { SandboxOptions } from '../../sandbox/config';
import { ledgerFor } from '../../nodes/shared/ledger';
import { setNodeParameters, type WorkflowJson } from './n8n-engine';
import { pgConnection, SECRET, type StoreKind } from './ledgers';
import { randomBytes } from 'node:crypto';

/**
 * The workflow with the URLs of its Settings node (crmUrl, operatorUrl, …) on the sandbox's echo endpoints at
 * `sandboxUrl` (crmUrl → /_sandbox/echo/crm), where the sandbox keeps what it got; other settings stay as they are.
 */
export function withStandIns(workflow: WorkflowJson, sandboxUrl: string): WorkflowJson {
	const settings = workflow.nodes.find((node) => node.name === 'Settings');
	if (!settings) return workflow;
	const { assignments } = settings.parameters.assignments as { assignments: { name: string; value: string }[] };
	return setNodeParameters(workflow, 'Settings', {
		assignments: {
			assignments: assignments.map((entry) => (entry.name.endsWith('Url') ? { ...entry, value: `${sandboxUrl}/_sandbox/echo/${entry.name.replace(/Url$/, '')}` } : entry)),
		},
	});
}

export interface Scenario {
	sandbox: Sandbox;
	ledger: Ledger;
	credentials: Record<string, ICredentialDataDecryptedObject>;
	/** The customer writes from WhatsApp; returns what the Opt-In Trigger would start the workflow with. */
	customerSends(
		from: string,
		message: {
			text?: string;
			button?: { payload: string; text: string };
			interactive?: { id: string; title: string; description?: string };
			location?: { latitude: number; longitude: number; name?: string; address?: string };
			shareContact?: true;
		},
	): Promise<TriggerEvent[]>;
	/** The person switches marketing messages off (or on again) in WhatsApp's settings: the trigger's items for it. */
	customerSwitchesMarketing(waId: string, value: 'stop' | 'resume'): Promise<TriggerEvent[]>;
	control<T = unknown>(path: string, body?: unknown, method?: string): Promise<T>;
	/** Every message request that reached the sandbox ("Meta"), accepted or not. */
	graphRequests(): Promise<{ body: { to?: string; type?: string; text?: { body: string }; template?: { name: string } }; outcome: { status: string; code?: number } }[]>;
	close(): Promise<void>;
}

/** `ledgerSettings`: more fields of the Consent Ledger credential, e.g. what a STOP withdraws. */
export async function startScenario(
	kind: StoreKind,
	sandboxOptions: SandboxOptions = {},
	ledgerSettings: ICredentialDataDecryptedObject = {},
): Promise<Scenario> {
	const sandbox = await startSandbox({ pairRateSeconds: 0, ...sandboxOptions });
	const consentLedgerApi: ICredentialDataDecryptedObject = {
		...(kind === 'embedded'
			? { store: 'embedded', folder: mkdtempSync(join(tmpdir(), 'scenario-')), secretKey: SECRET, defaultCountry: 'DE' }
			: { store: 'postgres', ...pgConnection(), schema: `s_${randomBytes(6).toString('hex')}`, secretKey: SECRET, defaultCountry: 'DE', ssl: 'off' }),
		...ledgerSettings,
	};
	const credentials = {
		consentLedgerApi,
		whatsAppCloudApi: {
			accessToken: 'sandbox-token',
			phoneNumberId: '100000000000001',
			baseUrl: sandbox.url,
			graphApiVersion: 'v23.0',
			appSecret: 'sandbox-secret',
			verifyToken: 'verify-me',
		},
	};
	const ledger = await ledgerFor(consentLedgerApi);
	const control = async <T>(path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<T> => {
		const response = await fetch(`${sandbox.url}/_sandbox/${path}`, {
			method,
			headers: { 'Content-Type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		return (await response.json()) as T;
	};
	/** What the Opt-In Trigger hands the workflow for the newest webhook the sandbox sent that `matches`. */
	const triggerItemsOf = async (matches: (entry: { body: string; summary?: string }) => boolean, what: string) => {
		const log = await control<{ deliveries: { body: string; summary?: string }[] }>('webhooks');
		const delivery = log.deliveries.reverse().find(matches);
		if (!delivery) throw new Error(`The sandbox kept no webhook for ${what}`);
		const handOver = ledger.handOver('100000000000001');
		const items = await processEvents(ledger, parseWebhook(JSON.parse(delivery.body)), {
			replies: () => ({ business: 'Beispiel GmbH', signupUrl: 'https://example.com/whatsapp', fallbackLanguage: 'de' }),
			handOver,
		});
		await ledger.handedOver(handOver);
		return items;
	};
	return {
		sandbox,
		ledger,
		credentials,
		control,
		async customerSends(from, message) {
			const { messageId } = await control<{ messageId: string }>('inbound', { from, ...message });
			return triggerItemsOf((entry) => entry.body.includes(messageId), messageId);
		},
		async customerSwitchesMarketing(waId, value) {
			await control('preferences', { waId, value });
			const summary = `user_preferences ${value} from ${waId}`;
			return triggerItemsOf((entry) => entry.summary === summary, summary);
		},
		async graphRequests() {
			const { requests } = await control<{ requests: { path: string; body: never; outcome: never }[] }>('messages');
			return requests.filter((request) => request.path.endsWith('/messages'));
		},
		async close() {
			// The sandbox first: no webhook or status starts a ledger write while the schema goes.
			await sandbox.close();
			if (kind === 'postgres') await dropSchema(ledger);
		},
	};
}

/**
 * The scenario's schema, dropped. A write still finishing (a status the trigger took just before the test ended) can
 * make PostgreSQL pick the DROP as a deadlock's victim (seen in CI): it is tried again.
 */
async function dropSchema(ledger: Ledger): Promise<void> {
	for (let attempt = 1; ; attempt++) {
		try {
			await ledger.store.query(`DROP SCHEMA IF EXISTS ${ledger.store.schema} CASCADE`);
			return;
		} catch (error) {
			if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error;
			await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
		}
	}
}
