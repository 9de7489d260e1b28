/** Reading requests and writing answers with plain node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies above this are refused; no Cloud API request comes near it. */
const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {
	constructor(maxBytes = MAX_BODY_BYTES) {
		super(`The request body is larger than ${maxBytes} bytes`);
		this.name = 'BodyTooLargeError';
	}
}

export async function readBody(request: IncomingMessage): Promise<string> {
	return (await readBytes(request)).toString('utf8');
}

/** The body as bytes; `maxBytes` above the default for the media upload, whose files go up to 100 MB. */
export async function readBytes(request: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of request) {
		size += (chunk as Buffer).length;
		if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
		chunks.push(chunk as Buffer);
	}
	return Buffer.concat(chunks);
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	if (response.writableEnded || response.destroyed) return;
	const text = JSON.stringify(body);
	response.writeHead(status, {
		'Content-Type': 'application/json; charset=utf-8',
		'Content-Length': Buffer.byteLength(text),
		'Cache-Control': 'no-store',
		...headers,
	});
	response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
	if (response.writableEnded || response.destroyed) return;
	response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
	response.end(text);
}

export function sleep(ms: number): Promise<void> {
	return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
