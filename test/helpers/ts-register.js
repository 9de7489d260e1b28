// Lets a child process `require` the TypeScript sources, as ts-jest does for the tests: each file is transpiled
// on load (no type check; the test run checks types).
const { readFileSync } = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
	const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
		fileName: filename,
		compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, resolveJsonModule: true },
	});
	module._compile(outputText, filename);
};
