// Lets a child process `require` the TypeScript sources, as ts-jest does for the tests: each file is transpiled
// on load (no type check; the test run checks types).
const { readFileSync } = require('node:fs');
const ts = require('typescript');

// Node tries the extensions in the order they were registered; `.ts` goes before `.json` and `.node`, as in Jest,
// because a node's `X.node.ts` sits beside its codex `X.node.json`.
const later = ['.json', '.node'].map((extension) => [extension, require.extensions[extension]]);
for (const [extension] of later) delete require.extensions[extension];

require.extensions['.ts'] = (module, filename) => {
	const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
		fileName: filename,
		compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, resolveJsonModule: true },
	});
	module._compile(outputText, filename);
};

for (const [extension, load] of later) require.extensions[extension] = load;
