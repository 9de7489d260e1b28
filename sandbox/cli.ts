/**
 * `npm run sandbox`: starts the sandbox with settings from the environment and runs until SIGINT / SIGTERM.
 */
import { startSandbox, type SandboxOptions } from './server';

function numberFromEnv(name: string, least = 0): number | undefined {
	const raw = process.env[name];
	if (raw === undefined || raw.trim() === '') return undefined;
	const value = Number(raw);
	if (!Number.isFinite(value) || value < least) {
		throw new Error(`${name} must be a number of ${least} or more, got '${raw}'`);
	}
	return value;
}

function textFromEnv(name: string): string | undefined {
	const raw = process.env[name]?.trim();
	return raw === '' ? undefined : raw;
}

export function optionsFromEnv(): SandboxOptions {
	return {
		port: numberFromEnv('SANDBOX_PORT') ?? 8787,
		webhookUrl: textFromEnv('SANDBOX_WEBHOOK_URL'),
		appSecret: textFromEnv('SANDBOX_APP_SECRET'),
		accessToken: textFromEnv('SANDBOX_ACCESS_TOKEN'),
		phoneNumberId: textFromEnv('SANDBOX_PHONE_NUMBER_ID'),
		displayPhoneNumber: textFromEnv('SANDBOX_DISPLAY_PHONE_NUMBER'),
		wabaId: textFromEnv('SANDBOX_WABA_ID'),
		appId: textFromEnv('SANDBOX_APP_ID'),
		templatesFile: textFromEnv('SANDBOX_TEMPLATES_FILE'),
		latencyMs: numberFromEnv('SANDBOX_LATENCY_MS'),
		throughputPerSecond: numberFromEnv('SANDBOX_THROUGHPUT_PER_SECOND'),
		pairRateSeconds: numberFromEnv('SANDBOX_PAIR_RATE_SECONDS'),
		duplicateDeliveries: numberFromEnv('SANDBOX_DUPLICATE_DELIVERIES'),
		reorderDeliveries: textFromEnv('SANDBOX_REORDER_DELIVERIES') === 'true' ? true : undefined,
		// 0 would hold every webhook back for good.
		webhookConcurrency: numberFromEnv('SANDBOX_WEBHOOK_CONCURRENCY', 1),
		marketingMessagesOnboarded: textFromEnv('SANDBOX_MARKETING_MESSAGES_ONBOARDED') === 'true' ? true : undefined,
	};
}

async function main(): Promise<void> {
	const sandbox = await startSandbox(optionsFromEnv());
	const { options } = sandbox;
	process.stdout.write(
		[
			`WhatsApp Cloud API sandbox on ${sandbox.url}`,
			`  phone page:       ${sandbox.url}/`,
			`  Graph API base:   ${sandbox.url}  (e.g. POST ${sandbox.url}/v26.0/${options.phoneNumberId}/messages)`,
			`  access token:     ${options.accessToken}`,
			`  phone number id:  ${options.phoneNumberId}    WABA id: ${options.wabaId}`,
			`  webhooks to:      ${options.webhookUrl ?? '(none: set SANDBOX_WEBHOOK_URL; events stay in GET /_sandbox/webhooks)'}`,
			'',
		].join('\n'),
	);
	const stop = (): void => {
		sandbox.close().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	};
	process.once('SIGINT', stop);
	process.once('SIGTERM', stop);
}

if (require.main === module) {
	main().catch((error: unknown) => {
		process.stderr.write(`The sandbox did not start: ${(error as Error).message}\n`);
		process.exit(1);
	});
}
