/**
 * The HTTP the client needs, over node:http(s) with kept-alive connections. Node's built-in fetch (undici) costs
 * about 0.7 ms of main-thread time per request in web streams and abort-signal plumbing; at Meta's 1,000 messages/s
 * that alone is most of a core, shared with n8n and the ledger. The client uses a small subset of fetch, so this
 * implements that subset and nothing more; any fetch (the global one, a test double) still fits `HttpFetch`.
 *
 * Errors look like fetch's: a TypeError whose `cause` carries the socket error's `code` (ECONNREFUSED…), so the
 * client tells "nothing was sent" from "the outcome is unknown" the same way for both.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpInit {
	method: string;
	headers: Record<string, string>;
	/** JSON text, or the bytes of a multipart upload. */
	body?: string | Uint8Array;
	signal?: AbortSignal;
}

export interface HttpAnswer {
	ok: boolean;
	status: number;
	headers: { get(name: string): string | null };
	text(): Promise<string>;
}

export type HttpFetch = (url: string, init: HttpInit) => Promise<HttpAnswer>;

/**
 * One pool per scheme and process: every client sending to Meta reuses the same warm connections. An idle
 * connection is closed after 4 s, before the server closes it (Node's servers, the sandbox among them, after 5 s):
 * a message written to a connection the server is closing fails with "socket hang up", and the client cannot know
 * whether it was sent. (Node's agent, unlike fetch, does not read the server's Keep-Alive timeout.)
 */
const pool = { keepAlive: true, timeout: 4000 };
const agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };

function answerOf(response: IncomingMessage, body: string): HttpAnswer {
	const status = response.statusCode ?? 0;
	return {
		ok: status >= 200 && status < 300,
		status,
		headers: {
			get(name) {
				const value = response.headers[name.toLowerCase()];
				return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
			},
		},
		text: () => Promise.resolve(body),
	};
}

/** Reads the whole answer before resolving: the client parses every answer, and a body read later could fail late. */
export const nodeHttpFetch: HttpFetch = (url, init) =>
	new Promise<HttpAnswer>((resolve, reject) => {
		const secure = url.startsWith('https:');
		const fail = (error: Error) => reject(init.signal?.aborted ? init.signal.reason : new TypeError('fetch failed', { cause: error }));
		const headers: Record<string, string | number> = { ...init.headers };
		if (init.body !== undefined) headers['Content-Length'] = Buffer.byteLength(init.body);
		const request = (secure ? httpsRequest : httpRequest)(
			url,
			{ method: init.method, headers, agent: secure ? agents.https : agents.http, signal: init.signal },
			(response) => {
				const chunks: Buffer[] = [];
				response.on('data', (chunk: Buffer) => chunks.push(chunk));
				response.on('end', () => resolve(answerOf(response, Buffer.concat(chunks).toString('utf8'))));
				response.on('error', fail);
				response.on('aborted', () => fail(new Error('the connection closed before the answer was complete')));
			},
		);
		request.on('error', fail);
		request.end(init.body);
	});
