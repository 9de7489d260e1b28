/**
 * The consent ledger: proof of every consent, the single gate every message passes, and the person's rights.
 * Nodes open it from the Consent Ledger credential and call it in the domain's words: `ledger.requestOptIn`,
 * `ledger.confirm`, `ledger.revoke`, `ledger.mayMessage`.
 */
import { openStore, type Store, type StoreConfig } from '../store';
import { verifyChain, type ChainCheckpoint, type ChainVerification } from './chain';
import { assertKeywords } from '../keywords';
import { resolveOptions, type LedgerContext, type LedgerOptions, type WithdrawalPolicy } from './context';
import type { LedgerKeys } from './crypto';
import { assertSecret, openKeys } from './keyring';
import { keyOperationalRows } from './keyed';
import { campaignReport } from './campaigns';
import type { RateCard } from '../pricing';
import { answer } from './gate';
import { confirm, requestOptIn } from './optin';
import { OptInGroups } from './optin-groups';
import { erase, exportPerson, getConsent, purge, subscribers, type ErasureOptions, type ListPart } from './rights';
import { completeSend, completeSends, failSend, hadObjectionNotice, recordInbound, recordStatus, reserveSend, reserveSends, wasSent, type DeliveryStatus, type SendReservation, type StatusResult } from './sends';
import type { Category, ConfirmResult, GateDecision, GateQuestion, InboundMessage, OptInRequest, OptInRequested, PurposeDefinition, ReplyCategory, WithdrawalResult } from './types';
import { checkpointSchema, parse, purposeSchema } from './validation';
import { recordRejected, rejectedEvents, type RejectedEventInput, type RejectedResult } from './rejected';
import { revoke, setMarketingPreference, type MarketingPreference, type PreferenceResult, type Withdrawal } from './withdrawal';
import { claimPending, handedOver, newHandOver, release, UnreleasedClaims, type HandOver, type OwedItem, type Owing } from './outbox';
import { appendEvent } from './chain';
import { changeUserId, type UserIdChange } from './user-ids';
import { consentIncidents, recordTemplateUpdate, templateUpdates, type ConsentIncident, type TemplateUpdateResult } from './templates';
import type { TemplateUpdate } from '../templates';
import { z } from 'zod';
import { Coalescer } from '../coalescer';

export type { ListPart };

export class Ledger {
	private readonly ctx: LedgerContext;
	/** The hand-overs of POSTs that finish at the same moment, done in one statement. */
	private readonly handOvers = new Coalescer<HandOver, number>((batch) => handedOver(this.ctx, batch));

	/** Use openLedger: the keys come from the store (see keyring.ts). */
	constructor(store: Store, keys: LedgerKeys, private readonly options: LedgerOptions = {}, unreleased = new UnreleasedClaims()) {
		const clock = options.clock ?? (() => new Date());
		const resolved = resolveOptions(options);
		assertKeywords(resolved.withdrawal.keywords);
		this.ctx = {
			store,
			keys,
			options: resolved,
			now: clock,
			optIns: new OptInGroups(store, keys, resolved.maxRequestsPerNumberPerHour),
			unreleased,
		};
	}

	get store(): Store {
		return this.ctx.store;
	}

	/** The same ledger (keys, settings, clock) over another store: a transaction several callers share. */
	on(store: Store): Ledger {
		return new Ledger(store, this.ctx.keys, this.options, this.ctx.unreleased);
	}

	/** The ledger's data keys, for tools that write rows themselves (benchmarks and tests seed with them). */
	get keys(): LedgerKeys {
		return this.ctx.keys;
	}

	/** What a withdrawal is, for everything that reads messages: the Opt-In Trigger and Handle STOP. */
	get withdrawalPolicy(): WithdrawalPolicy {
		return this.ctx.options.withdrawal;
	}

	/** A webhook event whose Meta time is older than this is a replay, without effect (the credential's Replay Window). */
	get replayWindowMs(): number {
		return this.ctx.options.replayWindowDays * 86_400_000;
	}

	/** The ledger's clock. */
	now(): Date {
		return this.ctx.now();
	}

	/** The country numbers without + are read in. */
	get defaultCountry() {
		return this.ctx.options.defaultCountry;
	}

	/** Declares the purposes people can consent to (upsert); the gate refuses purposes it does not know. */
	async definePurposes(purposes: PurposeDefinition[]): Promise<void> {
		const defined = parse(z.array(purposeSchema).min(1, 'needs at least one purpose'), purposes, 'purposes');
		await this.ctx.store.transaction(async (tx) => {
			const changed = await tx.query<{ id: string }>(
				`INSERT INTO purposes (id, label, description, min_text_version, updated_at)
				 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], array_fill($5::timestamptz, ARRAY[$6::int]))
				 ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, description = EXCLUDED.description,
					min_text_version = EXCLUDED.min_text_version, updated_at = EXCLUDED.updated_at
				 WHERE (purposes.label, purposes.description, purposes.min_text_version)
					IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.description, EXCLUDED.min_text_version)
				 RETURNING id`,
				[
					defined.map((p) => p.id),
					defined.map((p) => p.label),
					defined.map((p) => p.description ?? null),
					defined.map((p) => p.minTextVersion ?? null),
					this.ctx.now(),
					defined.length,
				],
			);
			if (changed.length > 0) {
				await appendEvent(tx, this.ctx.keys, {
					type: 'purposes.defined',
					subjectId: null,
					at: this.ctx.now(),
					payload: { purposes: defined.filter((p) => changed.some((row) => row.id === p.id)) },
				});
			}
		});
	}

	async listPurposes(): Promise<PurposeDefinition[]> {
		const rows = await this.ctx.store.query<{ id: string; label: string; description: string | null; min_text_version: string | null }>(
			'SELECT id, label, description, min_text_version FROM purposes ORDER BY id',
		);
		return rows.map((row) => ({
			id: row.id,
			label: row.label,
			description: row.description ?? undefined,
			minTextVersion: row.min_text_version ?? undefined,
		}));
	}

	/** A sign-up from the widget: pending until the person sends the returned code from WhatsApp. */
	requestOptIn(request: OptInRequest): Promise<OptInRequested> {
		return requestOptIn(this.ctx, request);
	}

	/**
	 * An inbound WhatsApp message that may carry a code; redeliveries of the same message change nothing. With
	 * `owing`, what it owes the workflow is kept in the outbox in the same transaction (so for every call below).
	 */
	confirm(message: InboundMessage, owing?: Owing<ConfirmResult>): Promise<ConfirmResult & { duplicate: boolean; owed?: OwedItem }> {
		return confirm(this.ctx, message, owing);
	}

	/** Any other inbound message: opens the 24 h window for service replies. */
	recordInbound(message: InboundMessage) {
		return recordInbound(this.ctx, message);
	}

	revoke(withdrawal: Withdrawal, owing?: Owing<Omit<WithdrawalResult, 'duplicate'>>): Promise<WithdrawalResult & { duplicate: boolean; owed?: OwedItem }> {
		return revoke(this.ctx, withdrawal, owing);
	}

	setMarketingPreference(preference: MarketingPreference, deliveryKey?: string, owing?: Owing<PreferenceResult>) {
		return setMarketingPreference(this.ctx, preference, deliveryKey, owing);
	}

	/** The gate: may this recipient get a message of this purpose and category now? */
	async mayMessage(question: GateQuestion): Promise<GateDecision> {
		const [decision] = await answer(this.ctx, this.ctx.store, [question]);
		return decision;
	}

	/** The gate for many recipients at once, in a few queries. */
	mayMessageBatch(questions: GateQuestion[]): Promise<GateDecision[]> {
		return questions.length === 0 ? Promise.resolve([]) : answer(this.ctx, this.ctx.store, questions);
	}

	reserveSend(reservation: SendReservation) {
		return reserveSend(this.ctx, reservation);
	}

	/** `reserveSend` for a slice of sends in one transaction: one result per reservation, in their order. */
	reserveSends(reservations: SendReservation[]) {
		return reserveSends(this.ctx, reservations);
	}

	/** Whether a message under this key went out (or may have): a dry run's duplicate check. */
	wasSent(key: string) {
		return wasSent(this.ctx, key);
	}

	/** Whether the person has had the objection notice (Art. 21(4) GDPR) with an earlier marketing message. */
	hadObjectionNotice(subjectId: string) {
		return hadObjectionNotice(this.ctx, subjectId);
	}

	completeSend(key: string, accepted: { wamid: string }) {
		return completeSend(this.ctx, key, accepted);
	}

	/** `completeSend` for many sends in one transaction. */
	completeSends(accepted: { key: string; wamid: string }[]) {
		return completeSends(this.ctx, accepted);
	}

	failSend(key: string, failure: { outcome: 'failed' | 'unknown'; code?: number; message?: string }) {
		return failSend(this.ctx, key, failure);
	}

	recordStatus(status: DeliveryStatus, owing?: Owing<StatusResult>) {
		return recordStatus(this.ctx, status, owing);
	}

	/** A template notice from Meta (paused, disabled, category changed): kept so every Send node sees it. */
	recordTemplateUpdate(update: TemplateUpdate, owing?: Owing<TemplateUpdateResult>) {
		return recordTemplateUpdate(this.ctx, update, owing);
	}

	/** The latest template notices of one business account. */
	templateUpdates(wabaId: string): Promise<TemplateUpdate[]> {
		return templateUpdates(this.ctx, wabaId);
	}

	/** Sends Meta priced as marketing although the gate let them through as something else, newest first. */
	consentIncidents(): Promise<ConsentIncident[]> {
		return consentIncidents(this.ctx);
	}

	/** A webhook event that cannot be understood: kept (encrypted) with the reason, once however often it comes. */
	recordRejected(event: RejectedEventInput, owing?: Owing<RejectedResult>) {
		return recordRejected(this.ctx, event, owing);
	}

	/** A new hand-over for one POST to the trigger of this business number (Phone Number ID). */
	handOver(channel: string): HandOver {
		return newHandOver(channel);
	}

	/** What earlier committed events still owe this number's workflow, oldest first, taken by this hand-over. */
	claimPending(handOver: HandOver, limit?: number): Promise<OwedItem[]> {
		return claimPending(this.ctx, handOver, limit);
	}

	/** n8n has stored the execution with the hand-over's items: they are owed no more; how many there were. */
	handedOver(handOver: HandOver): Promise<number> {
		return this.handOvers.run(handOver);
	}

	/** The hand-over failed (answered 500): its items go to the next delivery at once. */
	release(handOver: HandOver): Promise<void> {
		return release(this.ctx, handOver);
	}

	/** The rejected webhook events, newest first, decrypted. */
	rejectedEvents(limit?: number) {
		return rejectedEvents(this.ctx, limit);
	}

	/** The sends under one Campaign Key: statuses, failures, Meta's pricing and, with a rate card, the cost. */
	campaignReport(campaign: string, card?: RateCard) {
		return campaignReport(this.ctx, campaign, card);
	}

	getConsent(recipient: string) {
		return getConsent(this.ctx, recipient);
	}

	/** Meta reported that a person's business-scoped user id changed (`user_changed_user_id`). */
	changeUserId(change: UserIdChange) {
		return changeUserId(this.ctx, change);
	}

	exportPerson(recipient: string, requestedBy?: string) {
		return exportPerson(this.ctx, recipient, requestedBy);
	}

	erase(recipient: string, options?: ErasureOptions) {
		return erase(this.ctx, recipient, options);
	}

	purge() {
		return purge(this.ctx);
	}

	subscribers(purpose: string, category: Exclude<Category, ReplyCategory> = 'marketing', page?: { limit?: number; after?: string; part?: ListPart }) {
		return subscribers(this.ctx, purpose, category, page);
	}

	/** See chain.ts; `since` is the checkpoint of an earlier verification, as it printed it. */
	async verifyChain(since?: Omit<ChainCheckpoint, 'at'>): Promise<ChainVerification> {
		return verifyChain(this.ctx.store, this.ctx.keys, since === undefined ? undefined : parse(checkpointSchema, since, 'checkpoint'));
	}

	close(): Promise<void> {
		return this.ctx.store.close();
	}
}

export interface LedgerConfig extends LedgerOptions {
	store: StoreConfig;
	/** Derives the keys that encrypt numbers and key the lookups: losing it makes the stored numbers unreadable. */
	secret: string;
}

/** Opens the store (migrating it on first use), the ledger's keys with the secret, and the ledger over them. */
export async function openLedger(config: LedgerConfig): Promise<Ledger> {
	const { store: storeConfig, secret, ...options } = config;
	assertSecret(secret); // a bad secret fails before any connection is made
	const store = await openStore(storeConfig);
	try {
		const keys = await openKeys(store, secret);
		await keyOperationalRows(store, keys);
		return new Ledger(store, keys, options);
	} catch (error) {
		await store.close();
		throw error;
	}
}
