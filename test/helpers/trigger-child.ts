/**
 * A trigger process for the crash test (test/integration/outbox.test.ts): it hosts the Opt-In Trigger as n8n does,
 * prints `LISTENING <url>`, and for each POST commits it, prints `STORING <items>` where n8n would store the
 * execution, and waits there to be killed. Run with `node -r test/helpers/ts-register.js`; credentials in
 * TRIGGER_CREDENTIALS (JSON).
 */
import { startTriggerHost } from './trigger-host';

async function main(): Promise<void> {
	const host = await startTriggerHost({
		credentials: JSON.parse(process.env.TRIGGER_CREDENTIALS ?? '{}'),
		beforeStore: (items) => {
			process.stdout.write(`STORING ${items.length}\n`);
			return new Promise<void>(() => undefined);
		},
	});
	process.stdout.write(`LISTENING ${host.url}\n`);
}

main().catch((error: Error) => {
	process.stderr.write(`${error.stack}\n`);
	process.exit(1);
});
