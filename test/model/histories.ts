/**
 * Generated histories of what people, Meta and workflows do, run against the ledger and the reference model side by
 * side. After every step the ledger's gate must answer every person × purpose × category (by number and by user id)
 * as the model does, every reservation must get the model's answer, and at the end the chain verifies and the export
 * lists each person's consents and history.
 *
 * A failing history is shrunk by fast-check and printed as JSON: paste it into `replay(kind, [...])` as a regression.
 */
import fc from 'fast-check';
import type { Ledger } from '../../lib/consent/ledger';
import type { Category as LedgerCategory, ConfirmResult } from '../../lib/consent/types';
import { applyPreference } from '../../lib/inbound';
import { closeTestLedgers, openTestLedger, TestClock, TEXT_DE, type StoreKind } from '../helpers/ledgers';
import { ConsentModel, DAY, HOUR, type Category, type CodeMessage } from './consent-model';

/** People of the generated world: a German number, and the three countries whose wa_id differs from the number. */
export const PERSONAS = [
	{ e164: '+4915112345678', national: '0151 12345678', waId: '4915112345678', userId: 'DE.1000000000000001' },
	{ e164: '+5511987654321', national: '+55 11 98765-4321', waId: '551187654321', userId: 'BR.1000000000000002' },
	{ e164: '+525512345678', national: '+52 55 1234 5678', waId: '5215512345678', userId: 'MX.1000000000000003' },
	{ e164: '+5491123456789', national: '+54 9 11 2345-6789', waId: '541123456789', userId: 'AR.1000000000000004' },
] as const;
const WHO = PERSONAS.map((_, index) => index);
export const PURPOSE_IDS = ['offers', 'updates'];
const CATEGORIES: Category[] = ['marketing', 'utility', 'service', 'withdrawal_confirmation'];
const SETTINGS = {
	purposes: PURPOSE_IDS,
	codeTtl: DAY,
	maxAttempts: 5,
	maxRequestsPerHour: 5,
	pendingRetention: 72 * HOUR,
	proofRetentionYears: 3,
	maxConsentAge: 400 * DAY,
	operationalRetention: 30 * DAY,
	replayWindow: 14 * DAY,
};
const START = Date.parse('2026-03-02T10:00:00Z');

type Who = number;
type Late = number;
export type Action =
	| { t: 'signUp'; who: Who; purposes: string[]; form: 'e164' | 'national' | 'waId' }
	| { t: 'code'; who: Who; of: Who; own: boolean; pick: 'newest' | 'oldest'; style: 'plain' | 'spaced' | 'sentence'; sender: 'waId' | 'waIdAndUserId' | 'userIdOnly'; late: Late }
	| { t: 'optIn'; who: Who; purposes: string[] }
	| { t: 'wrongCode'; who: Who; times: number; late: Late }
	| { t: 'chat'; who: Who; withUserId: boolean; late: Late; wrongCode?: boolean }
	| { t: 'stop'; who: Who; scope: 'all' | 'marketing' | 'offers' | 'updates'; via: 'keyword' | 'button'; late: Late }
	| { t: 'otherChannel'; who: Who; scope: 'all' | 'marketing' | 'offers'; form: 'e164' | 'national' | 'waId' }
	| { t: 'inApp'; who: Who; value: 'stop' | 'resume'; late: Late }
	| { t: 'changedNumber'; who: Who; late: Late }
	| { t: 'reserve'; key: number; who: Who; byUserId: boolean; purpose: string; category: Category }
	| { t: 'complete'; key: number }
	| { t: 'fail'; key: number; outcome: 'failed' | 'unknown' }
	| { t: 'status'; key: number; status: 'delivered' | 'read' | 'failed'; marketingStopped: boolean; late: Late }
	| { t: 'redeliver'; nth: number }
	| { t: 'erase'; who: Who; retain: boolean; form: 'e164' | 'waId' }
	| { t: 'tick'; ms: number }
	| { t: 'purge' }
	| { t: 'burst'; ops: { who: Who; kind: 'signUp' | 'code' | 'codeTwice' }[] };

const who = fc.constantFrom(...WHO);
const late = fc.constantFrom(0, 0, 0, 3, 10, 120);
const scopeArb = fc.constantFrom('all' as const, 'marketing' as const, 'offers' as const, 'updates' as const);

export const actionArb: fc.Arbitrary<Action> = fc.oneof(
	{ arbitrary: fc.record({ t: fc.constant('signUp' as const), who, purposes: fc.subarray(PURPOSE_IDS, { minLength: 1 }), form: fc.constantFrom('e164' as const, 'national' as const, 'waId' as const) }), weight: 7 },
	{
		arbitrary: fc.record({
			t: fc.constant('code' as const),
			who,
			// Mostly the sender's own code; sometimes someone else's (a wrong number, or a Brazilian sender's other form).
			of: who,
			own: fc.constantFrom(true, true, true, false),
			pick: fc.constantFrom('newest' as const, 'newest' as const, 'oldest' as const),
			style: fc.constantFrom('plain' as const, 'spaced' as const, 'sentence' as const),
			sender: fc.constantFrom('waId' as const, 'waId' as const, 'waIdAndUserId' as const, 'userIdOnly' as const),
			late,
		}),
		weight: 9,
	},
	{ arbitrary: fc.record({ t: fc.constant('optIn' as const), who, purposes: fc.subarray(PURPOSE_IDS, { minLength: 1 }) }), weight: 4 },
	{ arbitrary: fc.record({ t: fc.constant('wrongCode' as const), who, times: fc.integer({ min: 1, max: 5 }), late }), weight: 2 },
	{ arbitrary: fc.record({ t: fc.constant('chat' as const), who, withUserId: fc.boolean(), late }), weight: 2 },
	{ arbitrary: fc.record({ t: fc.constant('stop' as const), who, scope: scopeArb, via: fc.constantFrom('keyword' as const, 'button' as const), late }), weight: 4 },
	{ arbitrary: fc.record({ t: fc.constant('otherChannel' as const), who, scope: fc.constantFrom('all' as const, 'marketing' as const, 'offers' as const), form: fc.constantFrom('e164' as const, 'national' as const, 'waId' as const) }), weight: 1 },
	{ arbitrary: fc.record({ t: fc.constant('inApp' as const), who, value: fc.constantFrom('stop' as const, 'resume' as const), late }), weight: 2 },
	{ arbitrary: fc.record({ t: fc.constant('changedNumber' as const), who, late }), weight: 1 },
	{
		arbitrary: fc.record({
			t: fc.constant('reserve' as const),
			key: fc.nat(5),
			who,
			byUserId: fc.boolean(),
			purpose: fc.constantFrom(...PURPOSE_IDS),
			category: fc.constantFrom(...CATEGORIES),
		}),
		weight: 7,
	},
	{ arbitrary: fc.record({ t: fc.constant('complete' as const), key: fc.nat(5) }), weight: 3 },
	{ arbitrary: fc.record({ t: fc.constant('fail' as const), key: fc.nat(5), outcome: fc.constantFrom('failed' as const, 'unknown' as const) }), weight: 1 },
	{
		arbitrary: fc.record({
			t: fc.constant('status' as const),
			key: fc.nat(5),
			status: fc.constantFrom('delivered' as const, 'read' as const, 'failed' as const),
			marketingStopped: fc.boolean(),
			late,
		}),
		weight: 2,
	},
	{ arbitrary: fc.record({ t: fc.constant('redeliver' as const), nth: fc.nat(20) }), weight: 3 },
	{ arbitrary: fc.record({ t: fc.constant('erase' as const), who, retain: fc.boolean(), form: fc.constantFrom('e164' as const, 'waId' as const) }), weight: 1 },
	{ arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(1000, 10_000, HOUR, 23 * HOUR, 25 * HOUR, 73 * HOUR, 5 * 365 * DAY) }), weight: 3 },
	{ arbitrary: fc.record({ t: fc.constant('purge' as const) }), weight: 1 },
	{
		arbitrary: fc.record({
			t: fc.constant('burst' as const),
			ops: fc.uniqueArray(fc.record({ who, kind: fc.constantFrom('signUp' as const, 'code' as const, 'codeTwice' as const) }), { selector: (op) => op.who, minLength: 2, maxLength: 4 }),
		}),
		weight: 2,
	},
);

export const historyArb = fc.array(actionArb, { minLength: 4, maxLength: 40, size: 'large' });

/** A webhook as delivered, kept so that a later step can deliver it again, byte for byte. */
type Delivery =
	| { kind: 'message'; message: CodeMessage; text: string; from?: string; userId?: string }
	| { kind: 'stop'; index: number; scope: 'all' | 'marketing' | string[]; via: 'keyword' | 'button'; at: number; messageId: string }
	| { kind: 'changedNumber'; index: number; at: number; messageId: string }
	| { kind: 'inApp'; index: number; value: 'stop' | 'resume'; at: number }
	| { kind: 'status'; key: string; status: 'delivered' | 'read' | 'failed'; marketingStopped: boolean; at: number; index: number };

const textOf = (code: string, style: 'plain' | 'spaced' | 'sentence') =>
	style === 'plain' ? code : style === 'spaced' ? `${code.slice(0, 3).toLowerCase()} ${code.slice(3).toLowerCase()}` : `Mein Code ist ${code}, danke`;

/** One history against one ledger and a fresh model. */
class Run {
	readonly model = new ConsentModel(SETTINGS, START);
	private readonly codes = new Map<number, { id: string; code: string }[]>();
	private readonly deliveries: Delivery[] = [];
	private counter = 0;

	constructor(
		private readonly ledger: Ledger,
		private readonly clock: TestClock,
	) {}

	private metaTime(lateSeconds: number): number {
		return Math.floor((this.clock.current.getTime() - lateSeconds * 1000) / 1000) * 1000;
	}

	private id(prefix: string) {
		return `${prefix}${++this.counter}`;
	}

	private formOf(index: number, form: 'e164' | 'national' | 'waId') {
		const persona = PERSONAS[index];
		return form === 'e164' ? persona.e164 : form === 'national' ? persona.national : `+${persona.waId}`;
	}

	private sendKey(key: number) {
		return `send-${key}`;
	}

	async signUp(index: number, purposes: string[], form: 'e164' | 'national' | 'waId' = 'e164') {
		let requested: { requestId: string; code: string } | undefined;
		let refused = false;
		try {
			requested = await this.ledger.requestOptIn({
				phone: this.formOf(index, form),
				purposes,
				consentText: TEXT_DE,
				source: { pageUrl: 'https://shop.example/whatsapp' },
			});
		} catch (error) {
			if ((error as { code?: string }).code !== 'too_many_requests') throw error;
			refused = true;
		}
		const accepted = requested ? this.model.signUp(index, purposes, { id: requested.requestId, code: requested.code }) : this.model.signUp(index, purposes, { id: 'refused', code: '' });
		expectEqual(`sign-up of person ${index} accepted`, !refused, accepted);
		if (requested) this.codes.set(index, [...(this.codes.get(index) ?? []), { id: requested.requestId, code: requested.code }]);
	}

	codeMessage(action: Extract<Action, { t: 'code' }>): Delivery & { kind: 'message' } {
		const owner = action.own ? action.who : action.of;
		const issued = this.codes.get(owner) ?? [];
		const chosen = action.pick === 'newest' ? issued[issued.length - 1] : issued[0];
		const persona = PERSONAS[action.who];
		const message: CodeMessage = {
			messageId: this.id('wamid.code'),
			sender: action.who,
			senderBy: action.sender === 'userIdOnly' ? 'userId' : 'number',
			requestOf: chosen && { person: owner, id: chosen.id },
			looksLikeCode: chosen ? action.style !== 'spaced' : true,
			withUserId: action.sender !== 'waId',
			at: this.metaTime(action.late),
		};
		return {
			kind: 'message',
			message,
			text: chosen ? textOf(chosen.code, action.style) : 'ZZZZZZ',
			from: action.sender === 'userIdOnly' ? undefined : persona.waId,
			userId: action.sender === 'waId' ? undefined : persona.userId,
		};
	}

	async deliver(delivery: Delivery): Promise<void> {
		// The Opt-In Trigger takes no event older than the replay window (lib/meta-delivery.ts): it never reaches the ledger.
		const at = delivery.kind === 'message' ? delivery.message.at : delivery.at;
		if (at < this.clock.current.getTime() - SETTINGS.replayWindow) {
			count('replay');
			return;
		}
		if (delivery.kind === 'message') {
			const { message } = delivery;
			const result: ConfirmResult = await this.ledger.confirm({ messageId: message.messageId, from: delivery.from, userId: delivery.userId, text: delivery.text, at: new Date(message.at) });
			const expected = this.model.confirm(message);
			count(`confirm ${expected.duplicate ? 'duplicate' : expected.outcome}`);
			expectEqual(`confirmation ${message.messageId}`, { outcome: expected.outcome, duplicate: expected.duplicate }, { outcome: result.outcome, duplicate: result.duplicate });
		} else if (delivery.kind === 'stop') {
			const persona = PERSONAS[delivery.index];
			await this.ledger.revoke({
				waId: persona.waId,
				purposes: delivery.scope,
				channel: delivery.via === 'keyword' ? 'whatsapp' : 'whatsapp_button',
				messageId: delivery.messageId,
				evidence: { text: 'STOP' },
				at: new Date(delivery.at),
			});
			this.model.revoke(delivery.index, delivery.scope, delivery.at, `withdrawal:${delivery.messageId}`, true);
		} else if (delivery.kind === 'changedNumber') {
			await this.ledger.revoke({
				waId: PERSONAS[delivery.index].waId,
				purposes: 'all',
				channel: 'whatsapp',
				messageId: delivery.messageId,
				owesConfirmation: false,
				evidence: { note: 'WhatsApp reported that the user changed their number' },
				at: new Date(delivery.at),
			});
			this.model.revoke(delivery.index, 'all', delivery.at, `withdrawal:${delivery.messageId}`, false);
		} else if (delivery.kind === 'inApp') {
			const waId = PERSONAS[delivery.index].waId;
			await applyPreference(this.ledger, { waId, value: delivery.value, at: new Date(delivery.at) });
			this.model.setInAppPreference(delivery.index, delivery.value, delivery.at, `preference:${waId}:${delivery.value}:${delivery.at}`);
		} else {
			const send = this.model.sends.get(delivery.key);
			if (!send) return; // its operational record was purged (the status itself is then older than the window)
			await this.ledger.recordStatus({
				messageId: send.wamid!,
				status: delivery.status,
				at: new Date(delivery.at),
				recipientId: PERSONAS[delivery.index].waId,
				errors: delivery.status === 'failed' ? [{ code: delivery.marketingStopped ? 131050 : 131026, title: 'failed' }] : undefined,
			});
			this.model.status(delivery.key, delivery.status, delivery.marketingStopped, delivery.at, delivery.index);
		}
	}

	async step(action: Action): Promise<void> {
		switch (action.t) {
			case 'signUp':
				return this.signUp(action.who, action.purposes, action.form);
			case 'code':
				return this.record(this.codeMessage(action));
			case 'optIn':
				// A sign-up and its code from the very number: the common case, so that histories reach consent.
				await this.signUp(action.who, action.purposes);
				return this.record(this.codeMessage({ t: 'code', who: action.who, of: action.who, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 }));
			case 'wrongCode':
				for (let attempt = 0; attempt < action.times; attempt++) await this.step({ t: 'chat', who: action.who, withUserId: false, late: action.late, wrongCode: true });
				return;
			case 'chat': {
				const persona = PERSONAS[action.who];
				const withUserId = action.withUserId;
				const wrongCode = action.wrongCode === true;
				return this.record({
					kind: 'message',
					message: {
						messageId: this.id('wamid.chat'),
						sender: action.who,
						senderBy: 'number',
						looksLikeCode: wrongCode,
						withUserId,
						at: this.metaTime(action.late),
					},
					text: wrongCode ? 'ZZZZZZ' : 'Hallo 1 :)',
					from: persona.waId,
					userId: withUserId ? persona.userId : undefined,
				});
			}
			case 'stop':
				return this.record({
					kind: 'stop',
					index: action.who,
					scope: action.scope === 'all' || action.scope === 'marketing' ? action.scope : [action.scope],
					via: action.via,
					at: this.metaTime(action.late),
					messageId: this.id('wamid.stop'),
				});
			case 'changedNumber':
				return this.record({ kind: 'changedNumber', index: action.who, at: this.metaTime(action.late), messageId: this.id('wamid.system') });
			case 'inApp':
				return this.record({ kind: 'inApp', index: action.who, value: action.value, at: this.metaTime(action.late) });
			case 'otherChannel': {
				const scope = action.scope === 'offers' ? ['offers'] : action.scope;
				await this.ledger.revoke({ recipient: this.formOf(action.who, action.form), purposes: scope, channel: 'email', evidence: { note: 'by e-mail' } });
				this.model.revoke(action.who, scope, this.clock.current.getTime(), undefined, false);
				return;
			}
			case 'reserve': {
				const persona = PERSONAS[action.who];
				const key = this.sendKey(action.key);
				const result = await this.ledger.reserveSend({
					key,
					recipient: action.byUserId ? persona.userId : persona.e164,
					purpose: action.purpose,
					category: action.category as LedgerCategory,
				});
				const expected = this.model.reserve(key, action.who, action.byUserId, action.purpose, action.category);
				count(`reserve ${action.category} ${expected}`);
				expectEqual(`reservation ${key} of person ${action.who} (${action.purpose}, ${action.category})`, expected, result.status);
				return;
			}
			case 'complete': {
				const key = this.sendKey(action.key);
				if (this.model.sends.get(key)?.status !== 'reserved') return;
				const wamid = this.id('wamid.sent');
				await this.ledger.completeSend(key, { wamid });
				this.model.complete(key, wamid);
				return;
			}
			case 'fail': {
				const key = this.sendKey(action.key);
				if (this.model.sends.get(key)?.status !== 'reserved') return;
				await this.ledger.failSend(key, { outcome: action.outcome, code: 131000 });
				this.model.fail(key, action.outcome);
				return;
			}
			case 'status': {
				const key = this.sendKey(action.key);
				const send = this.model.sends.get(key);
				if (!send?.wamid || send.person === null) return;
				return this.record({ kind: 'status', key, status: action.status, marketingStopped: action.marketingStopped, at: this.metaTime(action.late), index: send.person });
			}
			case 'redeliver': {
				if (this.deliveries.length === 0) return;
				return this.deliver(this.deliveries[action.nth % this.deliveries.length]);
			}
			case 'erase': {
				await this.ledger.erase(this.formOf(action.who, action.form), { retainProofForLegalClaims: action.retain });
				this.model.erase(action.who, action.retain);
				return;
			}
			case 'tick':
				this.clock.advance(action.ms);
				this.model.now = this.clock.current.getTime();
				return;
			case 'purge':
				await this.ledger.purge();
				this.model.purge();
				return;
			case 'burst':
				return this.burst(action.ops);
		}
	}

	private async record(delivery: Delivery) {
		this.deliveries.push(delivery);
		await this.deliver(delivery);
	}

	/** Sign-ups and confirmations of different people at the same moment: the grouped path. */
	private async burst(ops: { who: Who; kind: 'signUp' | 'code' | 'codeTwice' }[]) {
		const checks: (() => void)[] = [];
		await Promise.all(
			ops.map(async (op) => {
				if (op.kind === 'signUp') {
					const purposes = op.who % 2 === 0 ? ['offers'] : PURPOSE_IDS;
					const requested = await this.ledger
						.requestOptIn({ phone: PERSONAS[op.who].e164, purposes, consentText: TEXT_DE, source: {} })
						.catch((error: { code?: string }) => {
							if (error.code !== 'too_many_requests') throw error;
							return undefined;
						});
					checks.push(() => {
						const accepted = this.model.signUp(op.who, purposes, requested ? { id: requested.requestId, code: requested.code } : { id: 'refused', code: '' });
						expectEqual(`grouped sign-up of person ${op.who} accepted`, requested !== undefined, accepted);
						if (requested) this.codes.set(op.who, [...(this.codes.get(op.who) ?? []), { id: requested.requestId, code: requested.code }]);
					});
					return;
				}
				const delivery = this.codeMessage({ t: 'code', who: op.who, of: op.who, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 });
				this.deliveries.push(delivery);
				const confirm = () =>
					this.ledger.confirm({ messageId: delivery.message.messageId, from: delivery.from, userId: delivery.userId, text: delivery.text, at: new Date(delivery.message.at) });
				const results = await Promise.all(op.kind === 'codeTwice' ? [confirm(), confirm()] : [confirm()]);
				checks.push(() => {
					const expected = this.model.confirm(delivery.message);
					expectEqual(`grouped confirmation of person ${op.who}`, expected.outcome, results[0].outcome);
					if (results.length === 2) {
						expectEqual('the same message twice at once: one of the two is the duplicate', [false, true], results.map((r) => r.duplicate).sort());
						expectEqual('the same message twice at once: one outcome', results[0].outcome, results[1].outcome);
					}
				});
			}),
		);
		checks.forEach((check) => check());
	}

	/** The gate for every person × purpose × category, by number and by user id, against the model's answers. */
	async compareGate(): Promise<void> {
		const questions = PERSONAS.flatMap((persona, index) =>
			[false, true].flatMap((byUserId) =>
				PURPOSE_IDS.flatMap((purpose) =>
					CATEGORIES.map((category) => ({ index, byUserId, purpose, category, recipient: byUserId ? persona.userId : persona.e164 })),
				),
			),
		);
		const answers = await this.ledger.mayMessageBatch(questions.map((q) => ({ recipient: q.recipient, purpose: q.purpose, category: q.category as LedgerCategory })));
		const compared = questions.map((q, i) => ({ q, expected: this.model.gate(q.index, q.byUserId, q.purpose, q.category), actual: answers[i] }));
		for (const { q, expected } of compared) count(`gate ${q.category} ${expected.reason}`);
		const wrong = compared
			.filter(({ expected, actual }) => expected.allowed !== actual.allowed || expected.reason !== actual.reason)
			.map(({ q, expected, actual }) => `person ${q.index}${q.byUserId ? ' by user id' : ''} ${q.purpose}/${q.category}: model ${expected.reason}, ledger ${actual.reason}`);
		if (wrong.length > 0) throw new Error(`The gate disagrees with the model:\n  ${wrong.join('\n  ')}`);
	}

	/** The end of a history: the chain verifies, the export has each person the model knows, with their consents. */
	async compareRecords(): Promise<void> {
		const chain = await this.ledger.verifyChain();
		if (!chain.ok) throw new Error(`verifyChain failed: ${JSON.stringify(chain)}`);
		for (const [index, persona] of PERSONAS.entries()) {
			const exported = await this.ledger.exportPerson(persona.e164, 'model test');
			const person = this.model.people.get(index);
			expectEqual(`person ${index} known to the export`, person !== undefined, exported !== undefined);
			if (!person || !exported) continue;
			const states = Object.fromEntries([...person.consents].sort(([a], [b]) => a.localeCompare(b)).map(([purpose, consent]) => [purpose, consent.state]));
			const exportedStates = Object.fromEntries(exported.consents.map((c) => [c.purpose, c.state]).sort(([a], [b]) => a.localeCompare(b)));
			expectEqual(`person ${index}'s consents in the export`, states, exportedStates);
			const types = new Set(exported.history.map((event) => event.type));
			if (Object.values(states).includes('confirmed') && !types.has('optin.confirmed')) throw new Error(`person ${index}: no optin.confirmed in the history`);
			if (Object.values(states).includes('pending') && !types.has('optin.requested')) throw new Error(`person ${index}: no optin.requested in the history`);
		}
	}
}

/** What the histories reached, so a run can show it exercised the rules (printed by `npm run test:model`). */
export const coverage = new Map<string, number>();
const count = (what: string) => coverage.set(what, (coverage.get(what) ?? 0) + 1);

function expectEqual(what: string, expected: unknown, actual: unknown) {
	if (JSON.stringify(expected) !== JSON.stringify(actual)) {
		throw new Error(`${what}: the model says ${JSON.stringify(expected)}, the ledger ${JSON.stringify(actual)}`);
	}
}

/** A ledger reused across histories: emptied before each one (opening a store per history would cost seconds). */
export class HistoryRunner {
	private constructor(
		private readonly ledger: Ledger,
		private readonly clock: TestClock,
	) {}

	static async open(kind: StoreKind): Promise<HistoryRunner> {
		const clock = new TestClock(new Date(START));
		const { ledger } = await openTestLedger(kind, {
			clock: clock.now,
			defaultCountry: 'DE',
			codeTtlMinutes: SETTINGS.codeTtl / 60_000,
			maxCodeAttempts: SETTINGS.maxAttempts,
			maxRequestsPerNumberPerHour: SETTINGS.maxRequestsPerHour,
			pendingRetentionHours: SETTINGS.pendingRetention / HOUR,
			proofRetentionYears: SETTINGS.proofRetentionYears,
			maxConsentAgeDays: SETTINGS.maxConsentAge / DAY,
			operationalRetentionDays: SETTINGS.operationalRetention / DAY,
			replayWindowDays: SETTINGS.replayWindow / DAY,
		});
		await ledger.definePurposes(PURPOSE_IDS.map((id) => ({ id, label: id })));
		return new HistoryRunner(ledger, clock);
	}

	private async reset() {
		const tables = await this.ledger.store.query<{ name: string }>(
			`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT IN ('schema_migrations', 'purposes', 'chain_head')`,
		);
		await this.ledger.store.query(`TRUNCATE ${tables.map((t) => t.name).join(', ')} CASCADE`);
		await this.ledger.store.query(`UPDATE chain_head SET seq = 0, hash = repeat('0', 64)`);
		this.clock.current = new Date(START);
	}

	/** Runs one history; throws with the step, the disagreement and the history to paste. */
	async run(actions: Action[]): Promise<void> {
		await this.reset();
		const run = new Run(this.ledger, this.clock);
		for (const [index, action] of actions.entries()) {
			try {
				await run.step(action);
				await run.compareGate();
			} catch (error) {
				throw new Error(`step ${index} ${JSON.stringify(action)}: ${(error as Error).message}\nhistory: ${JSON.stringify(actions)}`);
			}
		}
		try {
			await run.compareRecords();
		} catch (error) {
			throw new Error(`after the history: ${(error as Error).message}\nhistory: ${JSON.stringify(actions)}`);
		}
	}

	close() {
		return closeTestLedgers();
	}
}
