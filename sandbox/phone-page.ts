/**
 * Serves the phone page (`sandbox/public/`): a fixed set of files, no directory listing, and a content security
 * policy that keeps the page from loading anything that is not the sandbox's own.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { sendText } from './http-io';

const PUBLIC_DIR = join(__dirname, 'public');

const FILES: Record<string, { file: string; type: string }> = {
	'/': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/phone.css': { file: 'phone.css', type: 'text/css; charset=utf-8' },
	'/phone.js': { file: 'phone.js', type: 'text/javascript; charset=utf-8' },
};

export async function servePhonePage(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
	const entry = FILES[url.pathname];
	if (!entry || (request.method !== 'GET' && request.method !== 'HEAD')) {
		sendText(response, 404, 'Not found. The phone page is at /, the Graph API under /v26.0/, the control API under /_sandbox/.');
		return;
	}
	const content = await readFile(join(PUBLIC_DIR, entry.file));
	response.writeHead(200, {
		'Content-Type': entry.type,
		'Content-Length': content.length,
		'Cache-Control': 'no-store',
		'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
		'X-Content-Type-Options': 'nosniff',
	});
	response.end(request.method === 'HEAD' ? undefined : content);
}
