// Every test process writes n8n's config and embedded stores into its own temporary folder.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (!process.env.N8N_USER_FOLDER_FOR_TESTS) {
	process.env.N8N_USER_FOLDER = mkdtempSync(join(tmpdir(), 'consent-n8n-'));
	process.env.N8N_USER_FOLDER_FOR_TESTS = process.env.N8N_USER_FOLDER;
}
process.env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/consent_test';
