// n8n's package scanner (@n8n/scan-community-package, what n8n runs before it verifies a community package), offline.
//
// The scanner itself downloads a published package, checks its npm provenance and fetches the attested source from
// GitHub: none of that works before publishing or without the internet. This runs the rest, with the scanner's own
// code: its lint configuration (buildScanConfig) on the source files it would lint (SOURCE_FILE_PATTERNS) and on
// the packed tarball (compiled .js and package.json), exactly as analyzePackageByName does.
//
// The package cannot pass the verified (n8n Cloud) rules that forbid runtime dependencies and Node.js built-ins: the
// consent ledger needs a database. Those findings are listed and expected; any other finding fails the scan.
//
// `node scripts/scan-package.mjs` (after `npm run build`).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tool = join(root, 'tools', 'scan-community-package');

/** Rules of the verified-package gate that a package with runtime dependencies breaks by design (README). */
const SELF_HOSTED_ONLY = {
	'@n8n/community-nodes/no-runtime-dependencies': 'the ledger needs its database drivers (PGlite, pg) at run time',
	'@n8n/community-nodes/no-restricted-imports': 'the ledger imports its drivers and Node.js built-ins (crypto, fs, worker_threads)',
	'@n8n/community-nodes/no-restricted-globals': 'the ledger and the sender use timers and process (shutdown, retries, rate limits)',
	'@n8n/community-nodes/no-overrides-field': "`overrides` pins xlsx for this repository's dev install; npm ignores it in an installed package",
};

if (!existsSync(join(tool, 'node_modules', '@n8n', 'scan-community-package', 'package.json'))) {
	console.log('Installing the pinned @n8n/scan-community-package into tools/scan-community-package/ (npm ci)');
	execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: tool, stdio: ['ignore', 'ignore', 'inherit'] });
}
const requireTool = createRequire(join(tool, 'package.json'));
const scannerFile = requireTool.resolve('@n8n/scan-community-package/scanner/scanner.mjs');
const { version: scannerVersion } = requireTool('@n8n/scan-community-package/package.json');
const { buildScanConfig, SOURCE_FILE_PATTERNS } = await import(pathToFileURL(scannerFile).href);
const { ESLint } = await import(pathToFileURL(requireTool.resolve('eslint')).href);
const glob = requireTool('fast-glob');

async function lint(folder, patterns) {
	const eslint = new ESLint({ cwd: folder, allowInlineConfig: false, overrideConfigFile: true, overrideConfig: await buildScanConfig() });
	const files = glob.sync(patterns, { cwd: folder, absolute: true, ignore: ['node_modules/**', '**/package-lock.json'] });
	const results = await eslint.lintFiles(files);
	return results.flatMap((result) =>
		result.messages.map((message) => ({ file: relative(folder, result.filePath), line: message.line, rule: message.ruleId ?? '(parse)', severity: message.severity, text: message.message })),
	);
}

if (!existsSync(join(root, 'dist', 'package.json')) && !existsSync(join(root, 'dist', 'nodes'))) {
	console.error('dist/ is missing: run `npm run build` first');
	process.exit(1);
}
const unpacked = mkdtempSync(join(tmpdir(), 'consent-scan-'));
try {
	const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', unpacked], { cwd: root, encoding: 'utf8' }));
	const packageDir = join(unpacked, 'package');
	mkdirSync(packageDir);
	execFileSync('tar', ['-xzf', join(unpacked, packed.filename), '-C', packageDir, '--strip-components=1']);
	const findings = [
		...(await lint(root, SOURCE_FILE_PATTERNS)).map((finding) => ({ ...finding, where: 'source' })),
		...(await lint(packageDir, ['**/*.js', 'package.json'])).map((finding) => ({ ...finding, where: 'tarball' })),
	];

	const expected = findings.filter((finding) => finding.rule in SELF_HOSTED_ONLY);
	const unexpected = findings.filter((finding) => !(finding.rule in SELF_HOSTED_ONLY));
	console.log(`n8n's package scanner ${scannerVersion}, offline, on ${packed.name}@${packed.version} (${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB packed)`);
	console.log('Not checked here: npm provenance and the attested GitHub source (they need the published package and the internet).');
	console.log(`Findings of the verified-only rules (expected for a self-hosted package):`);
	for (const [rule, reason] of Object.entries(SELF_HOSTED_ONLY)) {
		const hits = expected.filter((finding) => finding.rule === rule);
		const where = [...new Set(hits.map((finding) => finding.where))].join(' and ');
		console.log(`  ${rule}: ${hits.length}${hits.length ? ` (in the ${where})` : ''}: ${reason}`);
	}
	if (unexpected.length > 0) {
		console.log(`Other findings (${unexpected.length}), to fix:`);
		for (const finding of unexpected) {
			console.log(`  ${finding.where} ${finding.file}:${finding.line} ${finding.severity === 2 ? 'error' : 'warning'} ${finding.rule}: ${finding.text}`);
		}
		process.exit(1);
	}
	console.log('No other findings.');
} finally {
	rmSync(unpacked, { recursive: true, force: true });
}
