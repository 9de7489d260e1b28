/**
 * `npm start` imports the sample workflows with their CRM, newsletter and helpdesk stand-ins (the sandbox's echo
 * endpoints) moved to the sandbox it started, so SANDBOX_PORT moves them too (scripts/lib/demo-data.mjs).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function importedWorkflows(sandboxUrl: string): { file: string; workflow: unknown }[] {
	const script = `import { sampleWorkflows } from './scripts/lib/demo-data.mjs';
		process.stdout.write(JSON.stringify(sampleWorkflows(process.cwd(), { sandboxUrl: ${JSON.stringify(sandboxUrl)} })));`;
	return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

it('moves every stand-in URL of the sample workflows to the sandbox of this start, and nothing else', () => {
	const files = readdirSync(join(ROOT, 'workflows')).filter((file) => file.endsWith('.json'));
	const onFile = files.map((file) => readFileSync(join(ROOT, 'workflows', file), 'utf8')).join('\n');
	const standIns = onFile.match(/http:\/\/127\.0\.0\.1:8787\//g) ?? [];
	expect(standIns.length).toBeGreaterThan(0);

	const moved = JSON.stringify(importedWorkflows('http://127.0.0.1:8800'));
	expect(moved).not.toContain(':8787');
	expect(moved.match(/http:\/\/127\.0\.0\.1:8800\//g)).toHaveLength(standIns.length);

	// On the default port the workflows are imported as they are in the files (apart from the id npm start gives them).
	const unchanged = importedWorkflows('http://127.0.0.1:8787');
	expect(unchanged.map(({ file, workflow }) => ({ ...(workflow as object), id: undefined, file }))).toEqual(
		files.sort().map((file) => ({ ...JSON.parse(readFileSync(join(ROOT, 'workflows', file), 'utf8')), id: undefined, file })),
	);
});
