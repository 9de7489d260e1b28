/**
 * The ledger behind the Consent Ledger credential. One ledger per store and secret per process: n8n runs many
 * executions, and each opening would mean a new pool (or, embedded, a second open of the same folder).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { openLedger, type Ledger, type LedgerConfig } from '../../lib/consent/ledger';
import { DEFAULT_REPLAY_WINDOW_DAYS } from '../../lib/consent/context';
import { ConsentError } from '../../lib/errors';
import { wordList, type MatchMode } from '../../lib/keywords';
import { assertCountry } from '../../lib/phone';

const ledgers = new Map<string, Promise<Ledger>>();

/** Where n8n keeps its own files; the embedded ledger lives beside them. */
export function defaultLedgerFolder(): string {
	return join(process.env.N8N_USER_FOLDER ?? homedir(), '.n8n', 'whatsapp-consent-ledger');
}

export function ledgerConfig(credentials: ICredentialDataDecryptedObject): LedgerConfig {
	const positive = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);
	const ssl = credentials.ssl === 'on' ? true : credentials.ssl === 'allowSelfSigned' ? { rejectUnauthorized: false } : false;
	return {
		store:
			credentials.store === 'postgres'
				? {
						kind: 'postgres',
						host: String(credentials.host ?? 'localhost'),
						port: Number(credentials.port ?? 5432),
						database: String(credentials.database ?? ''),
						user: String(credentials.user ?? ''),
						password: credentials.password ? String(credentials.password) : undefined,
						ssl,
						schema: credentials.schema ? String(credentials.schema) : undefined,
					}
				: { kind: 'embedded', folder: credentials.folder ? String(credentials.folder) : defaultLedgerFolder() },
		secret: String(credentials.secretKey ?? ''),
		defaultCountry: assertCountry(credentials.defaultCountry ? String(credentials.defaultCountry) : undefined),
		maxConsentAgeDays: positive(credentials.maxConsentAgeDays),
		proofRetentionYears: positive(credentials.proofRetentionYears),
		pendingRetentionHours: positive(credentials.pendingRetentionHours),
		operationalRetentionDays: positive(credentials.operationalRetentionDays),
		replayWindowDays: positive(credentials.replayWindowDays),
		withdrawal: {
			scope: credentials.stopScope === 'marketing' ? 'marketing' : 'all',
			keywords: {
				mode: credentials.stopWordMatch === 'whole-message' ? 'whole-message' : ('first-word' as MatchMode),
				stopWords: wordList(String(credentials.stopWords ?? '')),
				startWords: wordList(String(credentials.startWords ?? '')),
			},
		},
	};
}

/** The replay window of the credential's ledger, in ms (what the Opt-In Trigger checks before it opens the ledger). */
export function replayWindowMsOf(credentials: ICredentialDataDecryptedObject): number {
	const days = typeof credentials.replayWindowDays === 'number' && credentials.replayWindowDays > 0 ? credentials.replayWindowDays : DEFAULT_REPLAY_WINDOW_DAYS;
	return days * 86_400_000;
}

/**
 * Whether this n8n runs in queue mode. Nodes get no API for it, so this reads the setting as n8n's own configuration
 * does (@n8n/config: the variable EXECUTIONS_MODE, or the file named by EXECUTIONS_MODE_FILE). Every process of a
 * queue-mode n8n (main, worker, webhook) has it: `n8n worker` and `n8n webhook` refuse to start without it.
 */
export function n8nRunsInQueueMode(env: NodeJS.ProcessEnv = process.env): boolean {
	if ('EXECUTIONS_MODE' in env) return env.EXECUTIONS_MODE === 'queue';
	const file = env.EXECUTIONS_MODE_FILE;
	if (!file) return false;
	try {
		return readFileSync(file, 'utf8').trim() === 'queue';
	} catch {
		return false; // n8n itself stops when it cannot read the file, before any node runs
	}
}

/**
 * The embedded ledger asked for in queue mode. Its folder lives on one machine, in one process: the main process,
 * the workers and the webhook processes would each open a ledger of their own (a consent recorded by the webhook
 * process unknown to the worker that sends), or fight over one folder. So it is refused before anything is opened.
 */
export class EmbeddedLedgerInQueueModeError extends ConsentError {
	constructor() {
		super(
			'embedded_in_queue_mode',
			'The embedded consent ledger cannot be used while n8n runs in queue mode (EXECUTIONS_MODE=queue): choose PostgreSQL as the Store in the Consent Ledger credential',
			{
				field: 'store',
				hint: 'Open the Consent Ledger credential, set Store to PostgreSQL and enter the server (it may be the database n8n itself uses: the ledger keeps to its own schema). Nothing was written to the embedded ledger.',
			},
		);
	}
}

export function ledgerFor(credentials: ICredentialDataDecryptedObject): Promise<Ledger> {
	const config = ledgerConfig(credentials);
	if (config.store.kind === 'embedded' && n8nRunsInQueueMode()) return Promise.reject(new EmbeddedLedgerInQueueModeError());
	const key = JSON.stringify(config);
	let ledger = ledgers.get(key);
	if (!ledger) {
		ledger = openLedger(config);
		ledgers.set(key, ledger);
		ledger.catch(() => ledgers.delete(key));
	}
	return ledger;
}

/** For tests and shutdown: closes every ledger this process opened. */
export async function closeLedgers(): Promise<void> {
	const open = [...ledgers.values()];
	ledgers.clear();
	await Promise.all(open.map((ledger) => ledger.then((l) => l.close()).catch(() => undefined)));
}
