/**
 * The embedded ledger under n8n queue mode (#11): refused with an error that names the fix, at activation (the Opt-In
 * Trigger's webhook `create`, which n8n's main process runs) and in every executing node (a worker must not open an
 * embedded store of its own), before anything is opened or written. PostgreSQL works there. On n8n's real engine.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import { activateWorkflow, readWorkflowFile, runWorkflow, stopEngine } from '../helpers/n8n-engine';
import { SECRET } from '../helpers/ledgers';
import { startScenario, withStandIns } from '../helpers/scenario';
import { consentLedgerConnectionTest } from '../../nodes/shared/methods';
import { n8nRunsInQueueMode } from '../../nodes/shared/ledger';

const WORKFLOWS = join(__dirname, '..', '..', 'workflows');
const inbox = readWorkflowFile(join(WORKFLOWS, 'whatsapp-consent-inbox.json'));
const newsletter = readWorkflowFile(join(WORKFLOWS, 'newsletter.json'));
const FIX = /queue mode.*choose PostgreSQL as the Store in the Consent Ledger credential/;

const whatsAppCloudApi = { accessToken: 't', phoneNumberId: '100000000000001', baseUrl: 'http://127.0.0.1:9', graphApiVersion: 'v23.0', appSecret: 's', verifyToken: 'v' };
/** An embedded ledger in a folder that does not exist yet: if anything opened it, the folder would appear. */
function embeddedCredential(): ICredentialDataDecryptedObject & { folder: string } {
	const parent = mkdtempSync(join(tmpdir(), 'queue-mode-'));
	return { store: 'embedded', folder: join(parent, 'ledger'), secretKey: SECRET, defaultCountry: 'DE' };
}

const saved = { mode: process.env.EXECUTIONS_MODE, file: process.env.EXECUTIONS_MODE_FILE };
function setMode(mode: string | undefined): void {
	if (mode === undefined) delete process.env.EXECUTIONS_MODE;
	else process.env.EXECUTIONS_MODE = mode;
}
afterEach(() => {
	setMode(saved.mode);
	if (saved.file === undefined) delete process.env.EXECUTIONS_MODE_FILE;
	else process.env.EXECUTIONS_MODE_FILE = saved.file;
});
afterAll(() => stopEngine());

describe('queue mode as n8n reads it (@n8n/config: EXECUTIONS_MODE, or the file EXECUTIONS_MODE_FILE names)', () => {
	test.each([
		[{}, false],
		[{ EXECUTIONS_MODE: 'regular' }, false],
		[{ EXECUTIONS_MODE: 'queue' }, true],
	])('%j → %s', (env, expected) => {
		expect(n8nRunsInQueueMode(env)).toBe(expected);
	});

	test('from a file, trimmed, and the variable wins over the file', () => {
		const file = join(mkdtempSync(join(tmpdir(), 'queue-mode-')), 'mode');
		writeFileSync(file, 'queue\n');
		expect(n8nRunsInQueueMode({ EXECUTIONS_MODE_FILE: file })).toBe(true);
		expect(n8nRunsInQueueMode({ EXECUTIONS_MODE: 'regular', EXECUTIONS_MODE_FILE: file })).toBe(false);
		rmSync(file);
		expect(n8nRunsInQueueMode({ EXECUTIONS_MODE_FILE: file })).toBe(false);
	});
});

describe('the embedded ledger in queue mode', () => {
	test('activation of the Opt-In Trigger fails with the fix, and opens nothing', async () => {
		setMode('queue');
		const consentLedgerApi = embeddedCredential();
		const activation = activateWorkflow(inbox, { credentials: { consentLedgerApi, whatsAppCloudApi } });
		await expect(activation).rejects.toThrow(FIX);
		await activation.catch((error: { description?: string }) => expect(error.description).toMatch(/Nothing was written/));
		expect(existsSync(consentLedgerApi.folder)).toBe(false);
	});

	test('an executing node (what a worker runs) fails with the fix, and opens nothing', async () => {
		setMode('queue');
		const consentLedgerApi = embeddedCredential();
		const run = await runWorkflow(newsletter, { credentials: { consentLedgerApi, whatsAppCloudApi } });
		expect(run.status).toBe('error');
		expect(run.failedNode).toBe('Get Subscribers');
		expect(run.error?.message).toMatch(FIX);
		expect(existsSync(consentLedgerApi.folder)).toBe(false);
	});

	test('a ledger this process opened before is refused too once queue mode is on, also from a mode file', async () => {
		const consentLedgerApi = embeddedCredential();
		await activateWorkflow(inbox, { credentials: { consentLedgerApi, whatsAppCloudApi } });
		expect(existsSync(consentLedgerApi.folder)).toBe(true);
		const file = join(mkdtempSync(join(tmpdir(), 'queue-mode-')), 'mode');
		writeFileSync(file, 'queue');
		setMode(undefined);
		process.env.EXECUTIONS_MODE_FILE = file;
		await expect(activateWorkflow(inbox, { credentials: { consentLedgerApi, whatsAppCloudApi } })).rejects.toThrow(FIX);
	});

	test("the credential test in the editor says the same", async () => {
		setMode('queue');
		const result = await consentLedgerConnectionTest.call({} as never, { id: '1', name: 'Consent Ledger', type: 'consentLedgerApi', data: embeddedCredential() });
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(FIX);
	});

	test('outside queue mode the embedded ledger activates and runs as before', async () => {
		setMode('regular');
		const consentLedgerApi = embeddedCredential();
		await activateWorkflow(inbox, { credentials: { consentLedgerApi, whatsAppCloudApi } });
		// The newsletter's summary goes to the operator's URL: here a server that takes it.
		const operator = createServer((_request, response) => response.end('{}'));
		await new Promise<void>((resolve) => operator.listen(0, '127.0.0.1', resolve));
		try {
			const url = `http://127.0.0.1:${(operator.address() as AddressInfo).port}`;
			const run = await runWorkflow(withStandIns(newsletter, url), { credentials: { consentLedgerApi, whatsAppCloudApi } });
			expect(run.error).toBeUndefined();
			expect(run.outputOf('Get Subscribers')).toEqual([]);
		} finally {
			await new Promise((resolve) => operator.close(resolve));
		}
	});
});

test('the PostgreSQL ledger in queue mode: activation declares the purposes, the newsletter reaches the subscriber', async () => {
	setMode('queue');
	const scenario = await startScenario('postgres');
	try {
		await activateWorkflow(inbox, { credentials: scenario.credentials });
		expect((await scenario.ledger.listPurposes()).map((purpose) => purpose.id).sort()).toEqual(['offers', 'order-updates']);
		const { code } = await scenario.ledger.requestOptIn({
			phone: '+4915112345678',
			purposes: ['offers'],
			consentText: { version: '1', language: 'de', text: 'Ja, ich möchte von Beispiel GmbH per WhatsApp Angebote erhalten. Widerruf mit STOP.' },
			source: {},
		});
		await scenario.customerSends('4915112345678', { text: code });
		const run = await runWorkflow(withStandIns(newsletter, scenario.sandbox.url), { credentials: scenario.credentials });
		expect(run.error).toBeUndefined();
		const sent = (await scenario.graphRequests()).filter((request) => request.outcome.status === 'accepted');
		expect(sent.map((request) => [request.body.to, request.body.template?.name])).toEqual([['4915112345678', 'newsletter']]);
	} finally {
		await scenario.close();
	}
});
