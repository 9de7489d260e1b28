// Installs the built package into an n8n user folder the way n8n installs a community package from its UI (the same in
// n8n 2.8.4 and 2.41.1, CommunityPackagesService.downloadPackage):
// packed as it would be published, unpacked to <user folder>/.n8n/nodes/node_modules/<name>, without dev, peer and
// optional dependencies, runtime dependencies installed inside it without scripts. n8n then names the node types
// `<name>.<node>`, exactly as for a user who installs the package from Settings → Community Nodes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './setup.mjs';

/** n8n's own arguments for `npm install` of a community package (CommunityPackagesService, n8n 2.8.4 and 2.41.1). */
const N8N_INSTALL_ARGS = ['--audit=false', '--fund=false', '--bin-links=false', '--install-strategy=shallow', '--ignore-scripts=true', '--package-lock=false'];

/** Returns the package folder; reinstalls only when the packed content changed. */
export function installPackage(root, n8nUserFolder) {
	const { name } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
	const nodesFolder = join(n8nUserFolder, '.n8n', 'nodes');
	const target = join(nodesFolder, 'node_modules', name);
	const stamp = join(nodesFolder, `${name}.installed-shasum`);
	mkdirSync(nodesFolder, { recursive: true });

	const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', nodesFolder], { cwd: root, encoding: 'utf8' }));
	const tarball = join(nodesFolder, packed.filename);
	try {
		if (existsSync(stamp) && existsSync(target) && readFileSync(stamp, 'utf8') === packed.shasum) return target;
		rmSync(target, { recursive: true, force: true });
		mkdirSync(target, { recursive: true });
		execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
		const manifestFile = join(target, 'package.json');
		const { devDependencies, peerDependencies, optionalDependencies, ...manifest } = JSON.parse(readFileSync(manifestFile, 'utf8'));
		writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
		run('npm', ['install', '--silent', ...N8N_INSTALL_ARGS], target);
		writeFileSync(stamp, packed.shasum);
		console.log(`Installed ${name}@${packed.version} (${packed.entryCount} files) into ${target}`);
		return target;
	} finally {
		rmSync(tarball, { force: true });
	}
}
