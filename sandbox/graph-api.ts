/**
 * The Graph API surface: `POST /{version}/{phone-number-id}/messages` and `…/marketing_messages`,
 * `POST /{version}/{phone-number-id}/media` (media.ts), `GET /{version}/{phone-number-id}`,
 * `GET /{version}/{waba-id}/message_templates`, `GET|POST|DELETE /{version}/{waba-id}/subscribed_apps` and
 * `GET /{version}/{app-id}/subscriptions` (subscribed-apps.ts). Applies injected faults, the bearer token check and the
 * configured latency, and logs every request with its outcome for `GET /_sandbox/messages`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphApiError } from './graph-errors';
import { readBytes, sendJson, sendText, sleep } from './http-io';
import { acceptUpload, MAX_UPLOAD_BYTES } from './media';
import { parseSendRequest } from './send-schema';
import { answerAppSubscriptions, answerSubscribedApps } from './subscribed-apps';
import type { CloudApiSimulator } from './simulator';
import type { RequestOutcome } from './state';

const GRAPH_PATH = /^\/v\d+\.\d+\/([^/]+)(?:\/([a-z_]+))?\/?$/;

export function isGraphPath(pathname: string): boolean {
	return /^\/v\d+\.\d+\//.test(pathname);
}

interface Answer {
	status: number;
	body: unknown;
	headers?: Record<string, string>;
	outcome: RequestOutcome;
}

export async function handleGraphRequest(
	simulator: CloudApiSimulator,
	request: IncomingMessage,
	response: ServerResponse,
	url: URL,
): Promise<void> {
	const method = request.method ?? 'GET';
	const upload = method === 'POST' && /\/media\/?$/.test(url.pathname);
	const bytes = await readBytes(request, upload ? MAX_UPLOAD_BYTES : undefined);
	// An upload is logged by its size, not its bytes.
	const loggedBody = upload ? { upload: true, bytes: bytes.length } : parseLoggedBody(bytes.toString('utf8'));
	const fault = simulator.faults.next(method === 'POST' && /\/(marketing_)?messages\/?$/.test(url.pathname));

	if (fault?.kind === 'timeout') {
		const processed = fault.processed ? (await answerGraph(simulator, request, url, method, bytes)).outcome : undefined;
		simulator.state.logRequest(method, url.pathname, loggedBody, { status: 'timeout', fault: true, ...(processed ? { processed } : {}) });
		// Never answer: the client sees a timeout, or a dropped connection once the sandbox gives up.
		simulator.timers.after(simulator.config.timeoutFaultMs, () => request.socket.destroy());
		return;
	}
	if (fault?.kind === 'reset') {
		const processed = fault.processed ? (await answerGraph(simulator, request, url, method, bytes)).outcome : undefined;
		simulator.state.logRequest(method, url.pathname, loggedBody, { status: 'reset', fault: true, ...(processed ? { processed } : {}) });
		// A TCP RST instead of an answer, as from a load balancer that drops the connection (ECONNRESET).
		request.socket.resetAndDestroy();
		return;
	}
	await sleep(simulator.config.latencyMs);
	const processed = (fault?.kind === 'http5xx' || fault?.kind === 'error') && fault.processed ? (await answerGraph(simulator, request, url, method, bytes)).outcome : undefined;
	if (fault?.kind === 'http5xx') {
		simulator.state.logRequest(method, url.pathname, loggedBody, { status: 'http5xx', httpStatus: fault.status, fault: true, ...(processed ? { processed } : {}) });
		sendText(response, fault.status, 'Service Unavailable');
		return;
	}

	let answer: Answer;
	if (fault?.kind === 'error') {
		const error = new GraphApiError(fault.code, fault.details, { httpStatus: fault.httpStatus, retryAfterSeconds: fault.code === 130429 ? 1 : undefined });
		answer = errorAnswer(error);
		answer.outcome = { status: 'error', httpStatus: error.httpStatus, code: error.code, fault: true, ...(processed ? { processed } : {}) };
	} else {
		const failWith = fault?.kind === 'failed_status' ? new GraphApiError(fault.code, fault.details) : undefined;
		answer = await answerGraph(simulator, request, url, method, bytes, failWith);
	}
	simulator.state.logRequest(method, url.pathname, loggedBody, answer.outcome);
	sendJson(response, answer.status, answer.body, answer.headers);
}

async function answerGraph(
	simulator: CloudApiSimulator,
	request: IncomingMessage,
	url: URL,
	method: string,
	bytes: Buffer,
	/** A `failed_status` fault: the send is accepted, then fails with this error in a status webhook. */
	failWith?: GraphApiError,
): Promise<Answer> {
	const rawBody = bytes.toString('utf8');
	try {
		const match = GRAPH_PATH.exec(url.pathname);
		const [objectId, edge] = match ? [match[1], match[2]] : ['', undefined];
		const { config } = simulator;
		if (objectId === config.appId && edge === 'subscriptions' && method === 'GET') return ok(answerAppSubscriptions(simulator, tokenOf(request, url)));
		checkToken(config.accessToken, request, url);
		if (objectId === config.wabaId && edge === 'subscribed_apps') {
			return ok(await answerSubscribedApps(simulator, method, rawBody === '' ? {} : (parseJson(rawBody) as Record<string, unknown>)));
		}

		if (edge === 'message_templates' && method === 'GET' && objectId === config.wabaId) {
			const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : undefined;
			const next = (after: string) => {
				const following = new URL(url);
				following.searchParams.set('after', after);
				following.searchParams.delete('access_token');
				return following.toString();
			};
			return ok(simulator.catalog.page(limit, url.searchParams.get('after') ?? undefined, next));
		}
		if (objectId === config.phoneNumberId && edge === 'media' && method === 'POST') {
			return ok(acceptUpload(request.headers['content-type'], bytes, simulator.media));
		}
		if (objectId !== config.phoneNumberId || (edge !== undefined && edge !== 'messages' && edge !== 'marketing_messages')) {
			throw new GraphApiError(100, `Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`, {
				message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
				subcode: 33,
			});
		}
		if (edge === undefined && method === 'GET') {
			return ok({
				verified_name: config.verifiedName,
				code_verification_status: 'VERIFIED',
				display_phone_number: config.displayPhoneNumber,
				quality_rating: 'GREEN',
				platform_type: 'CLOUD_API',
				throughput: { level: 'STANDARD' },
				id: config.phoneNumberId,
			});
		}
		if ((edge === 'messages' || edge === 'marketing_messages') && method === 'POST') {
			const parsed = parseSendRequest(parseJson(rawBody));
			if (parsed.kind === 'read') {
				if (edge === 'marketing_messages') throw new GraphApiError(100, 'Message must be a template message.', { message: '(#100) Invalid parameter' });
				return ok(simulator.markRead(parsed.messageId, parsed.typing));
			}
			const sent = simulator.send(parsed.request, { endpoint: edge, failWith });
			return { status: 200, body: sent, outcome: { status: 'accepted', httpStatus: 200, wamid: sent.messages[0].id } };
		}
		throw new GraphApiError(100, `${method} is not supported on this path`, { message: `Unsupported ${method.toLowerCase()} request.` });
	} catch (error) {
		if (error instanceof GraphApiError) return errorAnswer(error);
		throw error;
	}
}

function ok(body: unknown): Answer {
	return { status: 200, body, outcome: { status: 'ok', httpStatus: 200 } };
}

function errorAnswer(error: GraphApiError): Answer {
	return {
		status: error.httpStatus,
		body: error.toEnvelope(),
		headers: error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) },
		outcome: { status: 'error', httpStatus: error.httpStatus, code: error.code },
	};
}

/** The token as a bearer header or, as Graph also allows, an `access_token` query parameter. */
function tokenOf(request: IncomingMessage, url: URL): string | null {
	const header = request.headers.authorization ?? '';
	return header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : url.searchParams.get('access_token');
}

function checkToken(expected: string, request: IncomingMessage, url: URL): void {
	const token = tokenOf(request, url);
	if (token !== expected) {
		throw new GraphApiError(190, 'The access token is missing, expired or wrong. Create a new one in Meta\'s Business settings (System users).', {
			message: token ? 'Invalid OAuth access token - Cannot parse access token' : 'An active access token must be used to query information about the current user.',
		});
	}
}

function parseJson(rawBody: string): unknown {
	try {
		return JSON.parse(rawBody);
	} catch {
		throw new GraphApiError(100, 'The request body is not valid JSON', { message: '(#100) Invalid parameter' });
	}
}

function parseLoggedBody(rawBody: string): unknown {
	if (rawBody === '') return undefined;
	try {
		return JSON.parse(rawBody);
	} catch {
		return rawBody;
	}
}
