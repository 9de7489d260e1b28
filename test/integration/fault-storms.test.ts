/**
 * Issue 11, invariant 5: fault storms. While Send WhatsApp's core (`sendWithConsent`) sends a newsletter of 300 to
 * the sandbox over HTTP, the sandbox's control API injects generated faults (fast-check: kind, count, position):
 * 130429 (throughput), 131056 (pair rate), bare 5xx, timeouts and connection resets, the last three before or after
 * the message went out. Every message is sent exactly once, or reported failed or outcome unknown with its reason;
 * one whose outcome is unknown is never sent again, neither by the retries nor by a resumed run. What the sandbox
 * received, what the sends returned and the ledger's `sends` rows are compared, on both stores.
 */
import fc from 'fast-check';
import type { Ledger } from '../../lib/consent/ledger';
import { sendWithConsent, type SendOutcome } from '../../lib/sending';
import { OutcomeUnknownError, Semaphore, WhatsAppApiError, WhatsAppClient, mapWithConcurrency, type OutgoingMessage } from '../../lib/whatsapp';
import { nodeHttpFetch, type HttpFetch } from '../../lib/whatsapp/http';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { closeTestLedgers, openTestLedger, PURPOSES, sendRows, STORE_KINDS, TEXT_DE, type StoreKind } from '../helpers/ledgers';

const RECIPIENTS = 300;
const MAX_ATTEMPTS = 4;
const NEWSLETTER: OutgoingMessage = { type: 'template', name: 'newsletter', language: 'de', header: ['März'], body: ['Kim', 'Neu im Laden'] };
/** The outcomes after which Meta may have sent the message: never followed by another request for it. */
const UNKNOWN_KINDS = new Set(['timeout', 'http5xx', 'reset']);

type FaultKind = 'throughput' | 'pair' | 'http5xx' | 'timeout' | 'reset';
interface Injection {
	/** Injected as the request with this number (from 0, in the order they leave) goes out. */
	at: number;
	kind: FaultKind;
	count: number;
	processed: boolean;
}

interface Logged {
	body: { to?: string };
	outcome: { status: string; code?: number; wamid?: string; processed?: { status: string; wamid?: string } };
}

const storm = fc.array(
	fc.record({
		at: fc.integer({ min: 0, max: RECIPIENTS + 40 }),
		kind: fc.constantFrom<FaultKind>('throughput', 'pair', 'http5xx', 'timeout', 'reset'),
		count: fc.integer({ min: 1, max: 5 }),
		processed: fc.boolean(),
	}),
	{ minLength: 4, maxLength: 14 },
);

function faultBody(injection: Injection) {
	const { count, processed } = injection;
	switch (injection.kind) {
		case 'throughput':
			return { kind: 'error', code: 130429, count };
		case 'pair':
			return { kind: 'error', code: 131056, count };
		case 'http5xx':
			return { kind: 'http5xx', status: 503, count, processed };
		default:
			return { kind: injection.kind, count, processed };
	}
}

describe.each(STORE_KINDS)('fault storms during a newsletter (%s store)', (kind: StoreKind) => {
	let ledger: Ledger;
	let sandbox: Sandbox;
	const phones = Array.from({ length: RECIPIENTS }, (_, n) => `+4917${String(n).padStart(7, '0')}55`);

	beforeAll(async () => {
		({ ledger } = await openTestLedger(kind, { defaultCountry: 'DE' }));
		await ledger.definePurposes(PURPOSES);
		for (const [n, phone] of phones.entries()) {
			const { code } = await ledger.requestOptIn({ phone, purposes: ['offers'], consentText: TEXT_DE, source: {} });
			await ledger.confirm({ messageId: `wamid.storm-optin-${n}`, from: phone.slice(1), text: code, at: new Date() });
		}
		// A timeout fault holds the request longer than the client waits (1.5 s), then drops the connection.
		sandbox = await startSandbox({ pairRateSeconds: 0, throughputPerSecond: 1000, timeoutFaultMs: 3000 });
	}, 120_000);
	afterAll(async () => {
		await sandbox?.close();
		await closeTestLedgers();
	});

	const control = async (method: string, path: string, body?: unknown) => {
		const response = await fetch(`${sandbox.url}/_sandbox/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
		return response.json() as Promise<Record<string, unknown>>;
	};

	const totals: Record<string, number> = {};
	const tally = (name: string, by = 1) => (totals[name] = (totals[name] ?? 0) + by);
	let runs = 0;

	test('property: each message is sent once, or reported failed or outcome unknown with its reason, and never resent', async () => {
		await fc.assert(
			fc.asyncProperty(storm, async (injections) => {
				runs++;
				await control('POST', 'reset');
				const campaign = `storm${runs}`;
				const pending = [...injections].sort((a, b) => a.at - b.at);
				let leaving = 0;
				// The faults are injected through the control API just before the request with their number leaves.
				const stormy: HttpFetch = async (url, init) => {
					const number = leaving++;
					while (pending.length > 0 && pending[0].at <= number) await control('POST', 'faults', faultBody(pending.shift()!));
					return nodeHttpFetch(url, init);
				};
				const client = new WhatsAppClient({
					accessToken: 'sandbox-token',
					phoneNumberId: '100000000000001',
					baseUrl: sandbox.url,
					messagesPerSecond: 500,
					pairRateSeconds: 0,
					timeoutMs: 1500,
					maxAttempts: MAX_ATTEMPTS,
					backoff: { baseDelayMs: 50, maxDelayMs: 7000 },
					fetch: stormy,
				});
				const requests = new Semaphore(20);
				const send = (phone: string) => sendWithConsent(ledger, client, { key: `${campaign}:${phone.slice(1)}`, recipient: phone, purpose: 'offers', category: 'marketing', message: NEWSLETTER, campaign }, undefined, requests);
				const outcomes: SendOutcome[] = await mapWithConcurrency(phones, 40, send);
				for (const injection of injections) tally(`injected ${injection.kind}${injection.processed && !['throughput', 'pair'].includes(injection.kind) ? ' (processed)' : ''}`, injection.count);

				const { requests: logged } = (await control('GET', 'messages')) as unknown as { requests: Logged[] };
				const byRecipient = new Map<string, Logged[]>();
				for (const entry of logged) byRecipient.set(entry.body.to!, [...(byRecipient.get(entry.body.to!) ?? []), entry]);
				const wentOut = (entries: Logged[]) => entries.filter((entry) => entry.outcome.status === 'accepted' || entry.outcome.processed?.status === 'accepted');
				const rows = await sendRows(ledger);

				for (const [index, outcome] of outcomes.entries()) {
					const digits = phones[index].slice(1);
					const entries = byRecipient.get(digits) ?? [];
					const row = rows[`${campaign}:${digits}`];
					// Nothing is ever sent twice, and nothing follows an answer after which it may have gone out.
					expect(wentOut(entries).length).toBeLessThanOrEqual(1);
					const firstUnknown = entries.findIndex((entry) => UNKNOWN_KINDS.has(entry.outcome.status));
					if (firstUnknown >= 0) expect([digits, entries.length]).toEqual([digits, firstUnknown + 1]);
					// Every attempt before the last was refused with a retryable code.
					for (const entry of entries.slice(0, -1)) expect([130429, 131056]).toContain(entry.outcome.code);
					expect(entries.length).toBeLessThanOrEqual(MAX_ATTEMPTS);
					const last = entries[entries.length - 1];
					if (outcome.status === 'sent') {
						expect(last.outcome).toMatchObject({ status: 'accepted', wamid: outcome.wamid });
						expect(row).toEqual({ status: 'accepted', wamid: outcome.wamid });
						tally('sent');
						if (entries.length > 1) tally('sent after retries');
					} else if (outcome.status === 'failed' && outcome.error instanceof OutcomeUnknownError) {
						expect(UNKNOWN_KINDS.has(last.outcome.status)).toBe(true);
						expect(row).toEqual({ status: 'unknown', wamid: null });
						expect(outcome.error.message).toMatch(/may or may not have been sent/);
						tally(`unknown: ${outcome.error.reason}${wentOut(entries).length === 1 ? ' (went out)' : ' (did not go out)'}`);
					} else if (outcome.status === 'failed' && outcome.error instanceof WhatsAppApiError) {
						// Retried as far as it may be, then reported with Meta's code; nothing went out.
						const code = outcome.error.metaCode;
						expect([130429, 131056]).toContain(code);
						expect(last.outcome.code).toBe(code);
						expect(wentOut(entries)).toEqual([]);
						expect(row).toEqual({ status: 'failed', wamid: null });
						tally(`failed: ${code} after ${entries.length} attempts`);
					} else {
						throw new Error(`unexpected outcome for ${digits}: ${JSON.stringify(outcome)}`);
					}
				}

				// The resumed run, without faults: what went out or may have is not sent again; what Meta refused is.
				const before = logged.length;
				const resumed = await mapWithConcurrency(phones, 40, send);
				const { requests: after } = (await control('GET', 'messages')) as unknown as { requests: Logged[] };
				const resent = after.slice(before);
				for (const [index, outcome] of resumed.entries()) {
					const first = outcomes[index];
					const digits = phones[index].slice(1);
					if (first.status === 'failed' && first.error instanceof WhatsAppApiError) {
						expect(outcome.status).toBe('sent');
						tally('resumed: sent');
					} else {
						expect(outcome).toMatchObject({ status: 'already_sent', previous: { status: first.status === 'sent' ? 'accepted' : 'unknown' } });
						expect(resent.filter((entry) => entry.body.to === digits)).toEqual([]);
					}
				}
				const everything = new Map<string, number>();
				for (const entry of after) if (entry.outcome.status === 'accepted' || entry.outcome.processed?.status === 'accepted') everything.set(entry.body.to!, (everything.get(entry.body.to!) ?? 0) + 1);
				expect([...everything.values()].filter((times) => times > 1)).toEqual([]);
				tally('recipients', RECIPIENTS);
				tally('Graph requests', after.length);
			}),
			{ numRuns: kind === 'postgres' ? 4 : 3, seed: 11_5 },
		);
		console.log(`invariant 5, fault storms (${kind} store, ${runs} runs of ${RECIPIENTS}): ${JSON.stringify(totals)}`);
	}, 600_000);
});
