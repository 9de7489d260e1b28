/** Editor helpers every ledger node offers: the credential test and the purpose list. */
import type {
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	ILoadOptionsFunctions,
	INodeCredentialTestResult,
	INodePropertyOptions,
} from 'n8n-workflow';
import { ledgerFor } from './ledger';

export async function consentLedgerConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	try {
		const ledger = await ledgerFor(credential.data ?? {});
		const purposes = await ledger.listPurposes();
		return { status: 'OK', message: `Connected to ${ledger.store.location}; ${purposes.length} purpose(s) defined` };
	} catch (error) {
		const hint = (error as { hint?: string }).hint;
		return { status: 'Error', message: hint ? `${(error as Error).message}. ${hint}` : (error as Error).message };
	}
}

export async function getPurposes(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const ledger = await ledgerFor(await this.getCredentials('consentLedgerApi'));
	return (await ledger.listPurposes()).map((purpose) => ({
		name: purpose.label,
		value: purpose.id,
		description: purpose.description ?? purpose.id,
	}));
}
