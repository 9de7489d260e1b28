// Installs the demo folders' pinned n8n and Node.js (all of them, or those named): `node scripts/setup-demo.mjs
// [demo] [demo-legacy]`. `npm start` does the same for the folder it runs; CI runs this before the tests.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_FOLDERS, DemoFolder } from './lib/demo-folder.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const names = process.argv.slice(2).length ? process.argv.slice(2) : DEMO_FOLDERS;
try {
	for (const name of names) {
		const demo = new DemoFolder(root, name);
		if (!(await demo.ensureInstalled())) console.log(`${name}/: ${demo.label}, already installed`);
	}
} catch (error) {
	console.error(`Setting up the demo n8n failed: ${error.message}`);
	process.exit(1);
}
