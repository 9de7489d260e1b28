// Lets a child process run the package's TypeScript as is (`node -r ./test/helpers/ts-register.cjs lib/cli.ts`), the
// way ts-jest runs it in the tests: each file transpiled on its own (the project compiles with isolatedModules).
const { readFileSync } = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
	const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
		fileName: filename,
		compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, resolveJsonModule: true },
	});
	module._compile(outputText, filename);
};
