/**
 * The control API under `/_sandbox/`: play the customer (inbound messages, the in-app marketing switch), inject
 * faults, change settings, reset, move the clock, and read what reached "Meta" and what was delivered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { isBusinessScopedUserId } from '../lib/phone';
import { configPatchSchema } from './config';
import { faultSchema } from './faults';
import { readBody, sendJson } from './http-io';
import type { CloudApiSimulator } from './simulator';
import type { SandboxUser } from './state';

const digits = z.string().regex(/^\+?[0-9][0-9 ()-]{5,20}$/, 'must be a phone number such as 4915112345678');

const inboundSchema = z
	.object({
		from: digits,
		name: z.string().min(1).max(100).optional(),
		userId: z.string().refine(isBusinessScopedUserId, 'must be a business-scoped user id such as BR.1502576394655843').optional(),
		text: z.string().min(1).max(4096).optional(),
		button: z.object({ payload: z.string().min(1), text: z.string().min(1) }).optional(),
		interactive: z.object({ id: z.string().min(1), title: z.string().min(1), description: z.string().min(1).optional() }).optional(),
		location: z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180), name: z.string().optional(), address: z.string().optional() }).optional(),
		shareContact: z.literal(true).optional(),
		contextId: z.string().min(1).optional(),
	})
	.strict()
	.refine((input) => [input.text, input.button, input.interactive, input.location, input.shareContact].filter((part) => part !== undefined).length === 1, {
		message: 'Give exactly one of text, button, interactive, location or shareContact',
	});

const userId = z.string().refine(isBusinessScopedUserId, 'must be a business-scoped user id such as BR.1502576394655843');
const usernameUserSchema = z
	.object({
		waId: digits,
		username: z.string().regex(/^@?[a-z0-9._]{3,35}$/i, 'must be a username such as anna.k'),
		name: z.string().min(1).max(100).optional(),
		userId: userId.optional(),
		parentUserId: userId.optional(),
	})
	.strict();
const userIdChangeSchema = z.object({ waId: digits, userId: userId.optional(), parentUserId: userId.optional() }).strict();

const preferenceSchema = z.object({ waId: digits, value: z.enum(['stop', 'resume']) }).strict();
const SECRET_SETTINGS = new Set(['accessToken', 'appSecret']);
const clockSchema = z.object({ advanceSeconds: z.number().min(0) }).strict();
const templateChangeSchema = z
	.object({
		name: z.string().min(1),
		language: z.string().min(2),
		status: z.enum(['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED']).optional(),
		reason: z.string().min(1).optional(),
		category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']).optional(),
		notify: z.enum(['completed', 'impending', 'none']).optional(),
	})
	.strict()
	.refine((input) => (input.status === undefined) !== (input.category === undefined), { message: 'Give either a status or a category' });

class ControlInputError extends Error {
	constructor(readonly status: number, message: string) {
		super(message);
		this.name = 'ControlInputError';
	}
}

export async function handleControlRequest(
	simulator: CloudApiSimulator,
	request: IncomingMessage,
	response: ServerResponse,
	url: URL,
): Promise<void> {
	const route = `${request.method ?? 'GET'} ${url.pathname.replace(/\/$/, '')}`;
	try {
		const body = request.method === 'GET' ? undefined : await readJson(request);
		const [status, answer] = await answerControl(simulator, route, body, url);
		sendJson(response, status, answer);
	} catch (error) {
		if (error instanceof ControlInputError) {
			sendJson(response, error.status, { error: error.message });
			return;
		}
		throw error;
	}
}

/**
 * Stand-ins for the CRM, newsletter tool and helpdesk the sample workflows call, so they run end to end here:
 * `POST /_sandbox/echo/<name>` keeps the body, `GET /_sandbox/echo` lists what arrived.
 */
const echoes = new WeakMap<CloudApiSimulator, { name: string; body: unknown; at: string }[]>();

async function answerControl(simulator: CloudApiSimulator, route: string, body: unknown, url: URL): Promise<[number, unknown]> {
	const { state } = simulator;
	const received = echoes.get(simulator) ?? (echoes.set(simulator, []), echoes.get(simulator)!);
	const echoMatch = /^POST \/_sandbox\/echo\/([\w-]+)$/.exec(route);
	if (echoMatch) {
		received.push({ name: echoMatch[1], body, at: state.isoNow() });
		return [200, { received: true }];
	}
	if (route === 'GET /_sandbox/echo') return [200, { received }];
	const chatMatch = /^GET \/_sandbox\/chats\/([^/]+)$/.exec(route);
	if (chatMatch) return [200, chatView(simulator, decodeURIComponent(chatMatch[1]).replace(/\D/g, ''))];
	switch (route) {
		case 'POST /_sandbox/inbound':
			return [200, simulator.receiveInbound(valid(inboundSchema, body))];
		case 'POST /_sandbox/users':
			return [200, chatSummary(simulator, simulator.addUsernameUser(valid(usernameUserSchema, body)))];
		case 'POST /_sandbox/user-id-change': {
			const input = valid(userIdChangeSchema, body);
			if (!state.users.has(input.waId.replace(/\D/g, ''))) throw new ControlInputError(404, `The sandbox knows no user ${input.waId}: POST /_sandbox/users or /_sandbox/inbound first`);
			return [200, chatSummary(simulator, simulator.changeUserId(input.waId, input))];
		}
		case 'POST /_sandbox/preferences': {
			const input = valid(preferenceSchema, body);
			const user = simulator.setMarketingPreference(input.waId, input.value);
			return [200, { waId: user.waId, marketing: user.marketing }];
		}
		case 'POST /_sandbox/faults':
			simulator.faults.add(valid(faultSchema, body));
			return [200, { pending: simulator.faults.pending() }];
		case 'GET /_sandbox/faults':
			return [200, { pending: simulator.faults.pending() }];
		case 'GET /_sandbox/config':
			return [200, publicConfig(simulator)];
		case 'PATCH /_sandbox/config':
			simulator.patchConfig(valid(configPatchSchema, body));
			return [200, publicConfig(simulator)];
		case 'POST /_sandbox/reset':
			simulator.reset();
			received.length = 0;
			return [200, { reset: true }];
		case 'POST /_sandbox/clock':
			state.clockOffsetMs += valid(clockSchema, body).advanceSeconds * 1000;
			return [200, { now: state.isoNow() }];
		case 'GET /_sandbox/messages': {
			// `after`: only the requests since that seq, for a test that polls a log of thousands while it grows.
			const to = url.searchParams.get('to');
			const after = pageNumber(url, 'after', 0);
			const since = state.requests.slice(after);
			const requests = to ? since.filter((r) => JSON.stringify(r.body ?? '').includes(to)) : since;
			return [200, { requests }];
		}
		case 'GET /_sandbox/subscriptions':
			return [200, { subscriptions: [...state.subscriptions].flatMap(([wabaId, apps]) => [...apps].map(([appId, subscription]) => ({ wabaId, appId, ...subscription }))) }];
		case 'GET /_sandbox/webhooks': {
			// A newsletter's log holds tens of thousands of deliveries with their bodies: too much for one answer, so
			// it pages (`offset`, `limit`) and filters by `state`; `total` is the size of the filtered log.
			const wanted = url.searchParams.get('state');
			const all = simulator.webhooks.log();
			const deliveries = wanted === null ? all : all.filter((delivery) => delivery.state === wanted);
			const offset = pageNumber(url, 'offset', 0);
			const limit = pageNumber(url, 'limit', deliveries.length);
			return [200, { deliveries: deliveries.slice(offset, offset + limit), total: deliveries.length, busy: simulator.webhooks.busy }];
		}
		case 'GET /_sandbox/chats':
			return [200, { chats: [...state.users.values()].map((user) => chatSummary(simulator, user)) }];
		case 'GET /_sandbox/templates':
			return [200, { data: simulator.catalog.list() }];
		case 'POST /_sandbox/templates': {
			const change = valid(templateChangeSchema, body);
			if (!simulator.catalog.list().some((t) => t.name === change.name && t.language === change.language)) {
				throw new ControlInputError(404, `There is no template '${change.name}' in '${change.language}'; GET /_sandbox/templates lists them`);
			}
			return [200, simulator.changeTemplate(change)];
		}
		default:
			throw new ControlInputError(404, `No control endpoint ${route}. See sandbox/README.md for the list.`);
	}
}

function chatSummary(simulator: CloudApiSimulator, user: SandboxUser): Record<string, unknown> {
	const until = simulator.windowOpenUntil(user);
	const open = until !== undefined && until > simulator.state.now();
	return {
		waId: user.waId,
		name: user.name,
		userId: user.userId,
		...(user.parentUserId ? { parentUserId: user.parentUserId } : {}),
		...(user.username ? { username: user.username } : {}),
		marketing: user.marketing,
		serviceWindowOpenUntil: open ? new Date(until).toISOString() : null,
	};
}

function chatView(simulator: CloudApiSimulator, waId: string): Record<string, unknown> {
	const user = simulator.state.users.get(waId);
	const messages = simulator.state.chats.get(waId) ?? [];
	if (!user) return { waId, known: false, marketing: 'resume', serviceWindowOpenUntil: null, messages };
	const typing = user.typingUntil !== undefined && simulator.state.now() < user.typingUntil;
	return { ...chatSummary(simulator, user), known: true, typing, messages };
}

/** The settings without the two secrets, for the phone page and for tests. */
function publicConfig(simulator: CloudApiSimulator): Record<string, unknown> {
	return Object.fromEntries(Object.entries(simulator.config).filter(([key]) => !SECRET_SETTINGS.has(key)));
}

function valid<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, body: unknown): T {
	const result = schema.safeParse(body);
	if (result.success) return result.data;
	const issue = result.error.issues[0];
	const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
	throw new ControlInputError(400, `${where}${issue.message}`);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
	const raw = await readBody(request);
	if (raw.trim() === '') return {};
	try {
		return JSON.parse(raw);
	} catch {
		throw new ControlInputError(400, 'The body is not valid JSON');
	}
}

/** A whole number of at least 0 from the query, or `otherwise` when it is not given. */
function pageNumber(url: URL, name: string, otherwise: number): number {
	const given = url.searchParams.get(name);
	if (given === null) return otherwise;
	const value = Number(given);
	if (!Number.isInteger(value) || value < 0) throw new ControlInputError(400, `'${name}' must be a whole number of at least 0, got '${given}'`);
	return value;
}
