// Each test file writes its temporary files (embedded ledgers, n8n user folders, PostgreSQL clusters) into a folder
// of its own, removed when the file is done. Without this a full run leaves gigabytes of ledgers behind, and CI on a
// machine with little disk left fails with ENOSPC half-way through.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NodeEnvironment from 'jest-environment-node';

/** The machine's temporary folder, read once, before any test file pointed TMPDIR at its own. */
const machineTmp = (process.env.CONSENT_TESTS_MACHINE_TMP ??= tmpdir());

export default class TestFileEnvironment extends NodeEnvironment {
	private readonly folder: string;

	constructor(...[config, context]: ConstructorParameters<typeof NodeEnvironment>) {
		const folder = mkdtempSync(join(machineTmp, 'consent-test-'));
		// The PostgreSQL test clusters run as the postgres user, who must reach their folders inside this one.
		chmodSync(folder, 0o755);
		// os.tmpdir() reads TMPDIR on every call, in this process and in the processes the tests start.
		process.env.TMPDIR = folder;
		super(config, context);
		this.folder = folder;
	}

	async teardown(): Promise<void> {
		await super.teardown();
		rmSync(this.folder, { recursive: true, force: true, maxRetries: 3 });
	}
}
