// The local WhatsApp Cloud API sandbox (sandbox/, built to dist/sandbox/cli.js) as `npm start` and `npm run queue`
// run it: its identity, which the demo credentials refer to, and the process.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitForHealth } from './processes.mjs';

/** The sandbox's identity; demo/credentials.json refers to these as {{NAME}}, so both sides always agree. */
export function sandboxSettings(port, env = process.env) {
	return {
		SANDBOX_URL: `http://127.0.0.1:${port}`,
		SANDBOX_ACCESS_TOKEN: env.SANDBOX_ACCESS_TOKEN ?? 'sandbox-token',
		SANDBOX_APP_SECRET: env.SANDBOX_APP_SECRET ?? 'sandbox-secret',
		SANDBOX_PHONE_NUMBER_ID: env.SANDBOX_PHONE_NUMBER_ID ?? '100000000000001',
		SANDBOX_WABA_ID: env.SANDBOX_WABA_ID ?? '200000000000001',
		// With the app's id in the credential, the Opt-In Trigger registers its URL with the sandbox when activated.
		SANDBOX_APP_ID: env.SANDBOX_APP_ID ?? '300000000000001',
	};
}

export const sandboxCli = (root) => join(root, 'dist', 'sandbox', 'cli.js');

/**
 * Starts the sandbox in `group` (a ProcessGroup), delivering its signed webhooks to `webhookUrl`, and waits until it
 * answers: n8n's activation of the inbox registers its URL with the sandbox's Graph API ("Meta"). Returns undefined
 * when it is not built.
 */
export async function startSandbox(group, { root, settings, port, webhookUrl, logFile }) {
	if (!existsSync(sandboxCli(root))) return undefined;
	const sandbox = group.start({
		label: 'sandbox',
		command: process.execPath,
		args: [sandboxCli(root)],
		cwd: root,
		env: { ...process.env, ...settings, SANDBOX_PORT: String(port), SANDBOX_WEBHOOK_URL: webhookUrl ?? '' },
		logFile,
	});
	await waitForHealth(`${settings.SANDBOX_URL}/_sandbox/config`, sandbox.exited, 'the WhatsApp sandbox', 30_000);
	return sandbox;
}
