/**
 * Starts the sandbox: one node:http server on 127.0.0.1 with the Graph API (`/v{N}.0/…`), the control API
 * (`/_sandbox/…`) and the phone page (`/`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveOptions, type SandboxConfig, type SandboxOptions } from './config';
import { handleControlRequest } from './control-api';
import { handleGraphRequest, isGraphPath } from './graph-api';
import { BodyTooLargeError, sendJson } from './http-io';
import { servePhonePage } from './phone-page';
import { crossSiteRefusal } from './same-origin';
import { CloudApiSimulator } from './simulator';
import { TemplateCatalog, loadTemplates } from './templates';

export type { SandboxOptions, SandboxConfig };

export interface Sandbox {
	/** e.g. http://127.0.0.1:8787, the Graph API base URL as well. */
	url: string;
	port: number;
	/** The options in effect at start, defaults filled in. */
	options: SandboxConfig;
	close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
	const config = resolveOptions(options);
	const simulator = new CloudApiSimulator(config, new TemplateCatalog(loadTemplates(config.templatesFile)));
	const server = createServer((request, response) => {
		route(simulator, request, response).catch((error: unknown) => {
			const status = error instanceof BodyTooLargeError ? 413 : 500;
			sendJson(response, status, { error: (error as Error).message });
		});
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(config.port, '127.0.0.1', () => {
			server.off('error', reject);
			resolve();
		});
	});
	const port = (server.address() as AddressInfo).port;
	return {
		url: `http://127.0.0.1:${port}`,
		port,
		options: config,
		close: async () => {
			simulator.timers.cancelAll();
			simulator.webhooks.clear();
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

async function route(simulator: CloudApiSimulator, request: IncomingMessage, response: ServerResponse): Promise<void> {
	const url = new URL(request.url ?? '/', 'http://127.0.0.1');
	if (isGraphPath(url.pathname)) return handleGraphRequest(simulator, request, response, url);
	const refusal = crossSiteRefusal(request);
	if (refusal) return sendJson(response, 403, { error: refusal });
	if (url.pathname.startsWith('/_sandbox/')) return handleControlRequest(simulator, request, response, url);
	return servePhonePage(request, response, url);
}
