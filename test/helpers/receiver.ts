/**
 * A stand-in for the Opt-In Trigger's webhook endpoint in tests below the n8n node: it does what the trigger does with
 * Meta's POSTs (`receiveMetaDelivery`, shared with it) and remembers what it emitted and answered.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TriggerEvent } from '../../lib/events';
import type { Ledger } from '../../lib/consent/ledger';
import { receiveMetaDelivery } from '../../lib/meta-delivery';
import type { Sandbox } from '../../sandbox/server';

export interface Receiver {
	url: string;
	emitted: TriggerEvent[];
	answers: number[];
	/** Events that came for another business number, as `receiveMetaDelivery` reported them. */
	otherNumbers: { phoneNumberId: string; events: number }[];
	close(): Promise<void>;
}

/** Does what the Opt-In Trigger does with Meta's POSTs (`receiveMetaDelivery`, shared with it) for one business number. */
export async function startReceiver(ledger: Ledger, phoneNumberId = '100000000000001'): Promise<Receiver> {
	const emitted: TriggerEvent[] = [];
	const answers: number[] = [];
	const otherNumbers: Receiver['otherNumbers'] = [];
	const server: Server = createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk) => chunks.push(chunk));
		request.on('end', async () => {
			const answer = await receiveMetaDelivery(
				{ raw: Buffer.concat(chunks), signature: request.headers['x-hub-signature-256'] },
				{ appSecret: 'sandbox-secret', phoneNumberId },
				async () => ledger,
				() => ({ business: 'Beispiel GmbH', signupUrl: 'https://example.com/whatsapp', fallbackLanguage: 'en' }),
			);
			if (answer.httpStatus === 200) {
				// n8n stores the execution, then answers: the items are handed over.
				emitted.push(...answer.emitted);
				otherNumbers.push(...answer.otherNumbers);
				await answer.handOver.done();
			}
			answers.push(answer.httpStatus);
			response.writeHead(answer.httpStatus).end(answer.text);
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
		emitted,
		answers,
		otherNumbers,
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};
}

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
	const started = Date.now();
	for (;;) {
		const value = await probe();
		if (value) return value;
		if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}

export async function control(sandbox: Sandbox, path: string, body?: unknown) {
	const response = await fetch(`${sandbox.url}/_sandbox/${path}`, {
		method: body === undefined ? 'GET' : 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return response.json();
}

export async function sandboxIdle(sandbox: Sandbox): Promise<boolean> {
	const log = (await control(sandbox, 'webhooks')) as { busy: boolean };
	return !log.busy;
}
