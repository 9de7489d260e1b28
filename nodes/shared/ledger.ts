/**
 * The ledger behind the Consent Ledger credential. One ledger per store and secret per process: n8n runs many
 * executions, and each opening would mean a new pool (or, embedded, a second open of the same folder).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { openLedger, type Ledger, type LedgerConfig } from '../../lib/consent/ledger';
import { DEFAULT_REPLAY_WINDOW_DAYS } from '../../lib/consent/context';
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

export function ledgerFor(credentials: ICredentialDataDecryptedObject): Promise<Ledger> {
	const config = ledgerConfig(credentials);
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
