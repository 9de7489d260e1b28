// n8n's own lint rules (eslint-plugin-n8n-nodes-base) for nodes and credentials, typescript-eslint everywhere.
// Non-cloud configuration: this package has runtime dependencies (a database driver), so it is a self-hosted package.
import tseslint from 'typescript-eslint';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'demo/**', '**/*.js', '**/*.mjs', 'lib/widget/assets/**'] },
	...tseslint.configs.recommended,
	{
		rules: {
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
		},
	},
	{
		files: ['nodes/**/*.ts'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			// Our nodes document themselves through their own README section, not n8n's docs site.
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
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
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
);
