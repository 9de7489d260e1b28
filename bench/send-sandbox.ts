/**
 * The sandbox in a process of its own, as Meta is in production: its request handling, logging and status webhooks
 * then do not run on the event loop of the engine under test. The child loads the sandbox from its TypeScript
 * sources (transpiled on require), so the benchmark needs no build.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { SandboxOptions } from '../sandbox/config';

export interface SandboxProcess {
	url: string;
	close(): Promise<void>;
}

/** Runs in the child: argv[1] is the sandbox's server module, argv[2] its options as JSON. */
const CHILD = `
const ts = require('typescript');
const fs = require('fs');
const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
const json = require.extensions['.json'];
// Node tries extensions in the order they were added: .ts goes before .json, as sandbox/templates.ts sits beside templates.json.
delete require.extensions['.json'];
require.extensions['.ts'] = (module, file) => module._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions }).outputText, file);
require.extensions['.json'] = json;
require(process.argv[1]).startSandbox(JSON.parse(process.argv[2])).then((sandbox) => {
	process.stdout.write(sandbox.url + '\\n');
	process.once('SIGTERM', () => sandbox.close().then(() => process.exit(0)));
});
`;

export async function startSandboxProcess(options: SandboxOptions): Promise<SandboxProcess> {
	const child: ChildProcess = spawn(process.execPath, ['-e', CHILD, join(__dirname, '..', 'sandbox', 'server.ts'), JSON.stringify(options)], {
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const exited = once(child, 'exit');
	const url = await new Promise<string>((resolve, reject) => {
		child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
		void exited.then(([code]) => reject(new Error(`The sandbox process ended before it listened (exit code ${code})`)));
	});
	return {
		url,
		async close() {
			if (child.exitCode !== null) return;
			child.kill('SIGTERM');
			await exited;
		},
	};
}
