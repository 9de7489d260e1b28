/**
 * The codex file beside each node (X.node.json) is what n8n's node panel reads for categories, search aliases and
 * documentation links; n8n matches it to the node by its `node` field, so a wrong name silently drops it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { INodeType } from 'n8n-workflow';

const ROOT = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; n8n: { nodes: string[] } };
const CATEGORIES = ['Analytics', 'Communication', 'Data & Storage', 'Development', 'Finance & Accounting', 'Marketing', 'Productivity', 'Sales', 'Utility'];

describe.each(manifest.n8n.nodes.map((file) => [file.split('/').pop()!.split('.')[0], file]))('codex and icons of %s', (className, file) => {
	const source = join(ROOT, file.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
	const node = (require(source) as Record<string, new () => INodeType>)[className];
	const { description } = new node();
	const codexFile = source.replace(/\.ts$/, '.json');
	const codex = JSON.parse(readFileSync(codexFile, 'utf8')) as {
		node: string;
		categories: string[];
		subcategories?: Record<string, string[]>;
		resources: { primaryDocumentation: { url: string }[]; credentialDocumentation?: { url: string }[] };
		alias?: string[];
	};

	it('names the node as n8n loads it from the package, with known categories and subcategories of them', () => {
		expect(codex.node).toBe(`${manifest.name}.${description.name}`);
		expect(codex.categories.length).toBeGreaterThan(0);
		expect(codex.categories.filter((category) => !CATEGORIES.includes(category))).toEqual([]);
		expect(Object.keys(codex.subcategories ?? {}).filter((category) => !codex.categories.includes(category))).toEqual([]);
		expect(codex.alias?.length).toBeGreaterThan(0);
	});

	it('links documentation for the node and each credential it uses, to sections the README has', () => {
		const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
		const anchors = new Set(
			[...readme.matchAll(/^#+ (.+)$/gm)].map(([, heading]) =>
				heading
					.toLowerCase()
					.replace(/[^\p{L}\p{N} -]/gu, '')
					.replace(/ /g, '-'),
			),
		);
		const links = [...codex.resources.primaryDocumentation, ...(codex.resources.credentialDocumentation ?? [])];
		expect(codex.resources.primaryDocumentation.length).toBeGreaterThan(0);
		expect((codex.resources.credentialDocumentation ?? []).length).toBe((description.credentials ?? []).length);
		for (const { url } of links) expect({ url, inReadme: anchors.has(new URL(url).hash.slice(1)) }).toEqual({ url, inReadme: true });
	});

	it('has a light and a dark icon, two different files that exist', () => {
		const icon = description.icon as { light: string; dark: string };
		expect(typeof icon).toBe('object');
		const [light, dark] = [icon.light, icon.dark].map((path) => join(dirname(source), path.replace(/^file:/, '')));
		expect(light).not.toBe(dark);
		expect([existsSync(light), existsSync(dark)]).toEqual([true, true]);
		expect(readFileSync(light, 'utf8')).not.toBe(readFileSync(dark, 'utf8'));
	});
});
