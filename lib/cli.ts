#!/usr/bin/env node
/**
 * `npx whatsapp-consent-ledger rotate-secret`: the operator's tool for what a workflow should not do. Settings come
 * from the environment, never from the command line (which other users of the machine can read in the process list):
 *   LEDGER_FOLDER         the embedded ledger's folder, or
 *   LEDGER_DATABASE_URL   postgres://user:password@host:port/database, with LEDGER_SCHEMA (default whatsapp_consent)
 *   LEDGER_OLD_SECRET     the secret key now in the Consent Ledger credential (asked for when missing)
 *   LEDGER_NEW_SECRET     the new secret key (asked for when missing); a resumed rotation needs only this one
 *   ROTATION_BATCH_SIZE   rows per transaction (default 500); ROTATION_PAUSE_MS pauses between batches
 */
import { createInterface } from 'node:readline';
import { ConsentError } from './errors';
import { rotateSecret } from './consent/rotation';
import { openStore, type StoreConfig } from './store';

function storeConfig(env: NodeJS.ProcessEnv): StoreConfig {
	if (env.LEDGER_DATABASE_URL) {
		const url = new URL(env.LEDGER_DATABASE_URL);
		return {
			kind: 'postgres',
			host: url.hostname,
			port: Number(url.port || 5432),
			database: decodeURIComponent(url.pathname.slice(1)),
			user: decodeURIComponent(url.username),
			password: url.password ? decodeURIComponent(url.password) : undefined,
			ssl: url.searchParams.get('sslmode') === 'require' ? { rejectUnauthorized: false } : false,
			schema: env.LEDGER_SCHEMA || undefined,
		};
	}
	if (env.LEDGER_FOLDER) return { kind: 'embedded', folder: env.LEDGER_FOLDER };
	throw new ConsentError('invalid_input', 'Which ledger? Neither LEDGER_FOLDER nor LEDGER_DATABASE_URL is set', {
		hint: "Set LEDGER_FOLDER to the embedded ledger's folder (stop n8n first), or LEDGER_DATABASE_URL (and LEDGER_SCHEMA) to the PostgreSQL ledger",
	});
}

/** Asks on the terminal without echoing what is typed; undefined when there is no terminal. */
async function ask(question: string): Promise<string | undefined> {
	if (!process.stdin.isTTY) return undefined;
	const prompt = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
	const output = prompt as unknown as { _writeToOutput: (text: string) => void };
	process.stderr.write(question);
	output._writeToOutput = () => undefined;
	const answer = await new Promise<string>((resolve) => prompt.question('', resolve));
	prompt.close();
	process.stderr.write('\n');
	return answer;
}

async function rotate(env: NodeJS.ProcessEnv): Promise<void> {
	const store = await openStore(storeConfig(env));
	try {
		const newSecret = env.LEDGER_NEW_SECRET ?? (await ask('New secret key: '));
		if (!newSecret) throw new ConsentError('invalid_input', 'No new secret key', { hint: 'Set LEDGER_NEW_SECRET, or run rotate-secret in a terminal to be asked' });
		const oldSecret = env.LEDGER_OLD_SECRET ?? (await ask('Current secret key (empty to resume an interrupted rotation): ')) ?? undefined;
		const result = await rotateSecret(store, oldSecret || undefined, newSecret, {
			batchSize: env.ROTATION_BATCH_SIZE ? Number(env.ROTATION_BATCH_SIZE) : undefined,
			pauseMs: env.ROTATION_PAUSE_MS ? Number(env.ROTATION_PAUSE_MS) : undefined,
			onProgress: ({ column, done, total }) => process.stdout.write(`${column}: ${done} of ${total}\n`),
		});
		process.stdout.write(
			`${result.resumed ? 'Resumed and finished' : 'Finished'}: the ledger now opens with the new secret key only. Put it in the Consent Ledger credential.\n`,
		);
	} finally {
		await store.close();
	}
}

async function main(argv: string[]): Promise<number> {
	const [command] = argv;
	if (command !== 'rotate-secret') {
		process.stderr.write('Usage: whatsapp-consent-ledger rotate-secret   (settings from the environment; see the README, "The ledger\'s secret")\n');
		return 2;
	}
	try {
		await rotate(process.env);
		return 0;
	} catch (error) {
		const hint = error instanceof ConsentError && error.hint ? `\n${error.hint}` : '';
		process.stderr.write(`${(error as Error).message}${hint}\n`);
		return 1;
	}
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
