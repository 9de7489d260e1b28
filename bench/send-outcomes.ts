/**
 * What reached "Meta", counted by the sandbox rather than by the tool under test: every message request it got,
 * which it accepted, the same recipient accepted twice, and any request for a number that may not be messaged.
 */
import { digitsOf } from '../lib/phone';

interface LoggedRequest {
	at: string;
	method: string;
	path: string;
	body: { to?: string } | null;
	outcome: { status: string; code?: number };
}

export interface SandboxCount {
	/** Message requests the sandbox got, accepted or not. */
	requests: number;
	accepted: number;
	/** Refusals by Meta error code, e.g. 130429 (throughput). */
	refusedByCode: Record<string, number>;
	/** Accepted messages beyond the first to the same number. */
	duplicates: number;
	/** Requests for withdrawn or never-asked numbers that reached the sandbox at all. */
	nonConsentedRequests: number;
	/** Of those, the ones the sandbox accepted: messages a person who did not consent received. */
	nonConsentedSends: number;
	/** From the first to the last accepted message, by the sandbox's clock. */
	acceptedSpanSeconds: number;
	/** The first and the last accepted message, ms since the epoch (the sandbox runs on this machine's clock). */
	firstAcceptedAt: number | null;
	lastAcceptedAt: number | null;
	/** The Graph calls that were not messages (the template list, the phone number), ms since the epoch each. */
	otherCalls: { call: string; at: number }[];
}

export async function countSandbox(sandboxUrl: string, nonConsented: readonly string[]): Promise<SandboxCount> {
	const response = await fetch(`${sandboxUrl}/_sandbox/messages`);
	const { requests } = (await response.json()) as { requests: LoggedRequest[] };
	const messages = requests.filter((request) => request.path.endsWith('/messages'));
	const forbidden = new Set(nonConsented.map(digitsOf));
	const acceptedPerNumber = new Map<string, number>();
	const refusedByCode: Record<string, number> = {};
	let nonConsentedRequests = 0;
	let nonConsentedSends = 0;
	const acceptedAt: number[] = [];
	for (const { body, outcome, at } of messages) {
		const to = digitsOf(body?.to ?? '');
		const accepted = outcome.status === 'accepted';
		if (forbidden.has(to)) {
			nonConsentedRequests++;
			if (accepted) nonConsentedSends++;
		}
		if (accepted) {
			acceptedPerNumber.set(to, (acceptedPerNumber.get(to) ?? 0) + 1);
			acceptedAt.push(Date.parse(at));
		} else {
			const code = String(outcome.code ?? outcome.status);
			refusedByCode[code] = (refusedByCode[code] ?? 0) + 1;
		}
	}
	const duplicates = [...acceptedPerNumber.values()].reduce((sum, count) => sum + count - 1, 0);
	const firstAcceptedAt = acceptedAt.length > 0 ? Math.min(...acceptedAt) : null;
	const lastAcceptedAt = acceptedAt.length > 0 ? Math.max(...acceptedAt) : null;
	const acceptedSpanSeconds = firstAcceptedAt !== null && lastAcceptedAt !== null ? (lastAcceptedAt - firstAcceptedAt) / 1000 : 0;
	const otherCalls = requests.filter((request) => !request.path.endsWith('/messages')).map((request) => ({ call: `${request.method} ${request.path}`, at: Date.parse(request.at) }));
	return { requests: messages.length, accepted: acceptedAt.length, refusedByCode, duplicates, nonConsentedRequests, nonConsentedSends, acceptedSpanSeconds, firstAcceptedAt, lastAcceptedAt, otherCalls };
}
