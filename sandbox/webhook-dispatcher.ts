/**
 * Delivers webhooks the way Meta does: at least once (configurable extra copies), not necessarily in order
 * (optional shuffling within a short batch), signed over the exact bytes sent, and redelivered with exponential
 * backoff while the receiver answers non-2xx or cannot be reached. Every delivery lands in a log.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { serializeLikeMeta, signatureOf } from './meta-json';
import type { Timers } from './timers';
import type { WebhookEvent } from './webhook-payloads';
import type { RedeliveryOptions } from './config';

/** Webhooks emitted within this span are shuffled together when reordering is on. */
const REORDER_BATCH_MS = 80;
/** A receiver that has not answered in this time counts as failed, like an unreachable one. */
const ATTEMPT_TIMEOUT_MS = 10_000;

export interface DeliverySettings {
	/** Where a webhook of this kind goes now (the WABA's alternate callback or the app's); asked at every attempt. */
	callbackFor(kind: WebhookEvent['kind']): string | undefined;
	appSecret: string;
	duplicateDeliveries: number;
	reorderDeliveries: boolean;
	redelivery: RedeliveryOptions;
	/** Requests in flight at once; null for no bound. */
	webhookConcurrency: number | null;
}

export interface DeliveryAttempt {
	at: string;
	/** When the answer (or the error) came: a 2xx means the receiver had done its work by then. */
	answeredAt?: string;
	url: string;
	httpStatus?: number;
	error?: string;
}

export interface Delivery {
	id: number;
	kind: WebhookEvent['kind'];
	summary: string;
	/** 0 for the original, 1… for the extra copies. */
	copy: number;
	/** not_delivered: no callback URL was set when the event happened. */
	state: 'pending' | 'delivered' | 'failed' | 'not_delivered';
	/** The exact bytes sent, and their signature header. */
	body: string;
	signature: string;
	payload: unknown;
	attempts: DeliveryAttempt[];
}

export class WebhookDispatcher {
	private readonly deliveries: Delivery[] = [];
	private batch: Delivery[] = [];
	private readonly inFlight = new Set<ClientRequest>();
	/** Attempts held back by `webhookConcurrency`, oldest first from `waitingFrom` (a log can queue tens of thousands). */
	private waiting: Delivery[] = [];
	private waitingFrom = 0;
	/** Bumped by clear(), so answers to requests of before a reset change nothing. */
	private generation = 0;

	constructor(
		private readonly settings: () => DeliverySettings,
		private readonly timers: Timers,
		private readonly isoNow: () => string,
	) {}

	emit(event: WebhookEvent): void {
		const settings = this.settings();
		const body = serializeLikeMeta(event.payload);
		const signature = signatureOf(body, settings.appSecret);
		for (let copy = 0; copy <= settings.duplicateDeliveries; copy++) {
			const delivery: Delivery = {
				id: this.deliveries.length + 1,
				kind: event.kind,
				summary: event.summary,
				copy,
				state: settings.callbackFor(event.kind) ? 'pending' : 'not_delivered',
				body,
				signature,
				payload: event.payload,
				attempts: [],
			};
			this.deliveries.push(delivery);
			if (delivery.state !== 'pending') continue;
			if (settings.reorderDeliveries) this.addToBatch(delivery);
			else this.attempt(delivery);
		}
	}

	log(): Delivery[] {
		return this.deliveries;
	}

	/**
	 * True while a webhook may still come: a delivery waits for its first attempt, an answer or a redelivery, or a
	 * sandbox timer is set (a status of the sent → delivered → read ladder, a reorder batch, a timeout fault). A test
	 * that waits for quiet and then moves its clock must not see a `read` arrive after the move.
	 */
	get busy(): boolean {
		return this.timers.size > 0 || this.deliveries.some((d) => d.state === 'pending');
	}

	clear(): void {
		this.generation++;
		for (const request of this.inFlight) request.destroy();
		this.inFlight.clear();
		this.deliveries.length = 0;
		this.batch = [];
		this.waiting = [];
		this.waitingFrom = 0;
	}

	private addToBatch(delivery: Delivery): void {
		if (this.batch.length === 0) {
			this.timers.after(REORDER_BATCH_MS, () => {
				const batch = shuffled(this.batch);
				this.batch = [];
				for (const queued of batch) this.attempt(queued);
			});
		}
		this.batch.push(delivery);
	}

	private attempt(delivery: Delivery): void {
		const limit = this.settings().webhookConcurrency;
		if (limit !== null && this.inFlight.size >= limit) {
			this.waiting.push(delivery);
			return;
		}
		const url = this.settings().callbackFor(delivery.kind);
		if (!url) {
			delivery.state = 'not_delivered';
			return;
		}
		const attempt: DeliveryAttempt = { at: this.isoNow(), url };
		delivery.attempts.push(attempt);
		const target = new URL(url);
		const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
		const request = send(target, {
			method: 'POST',
			agent: false,
			timeout: ATTEMPT_TIMEOUT_MS,
			headers: {
				'Content-Type': 'application/json',
				'Content-Length': Buffer.byteLength(delivery.body),
				'User-Agent': 'facebookexternalua',
				'X-Hub-Signature-256': delivery.signature,
			},
		});
		this.inFlight.add(request);
		const generation = this.generation;
		let settled = false;
		const finish = (httpStatus: number | undefined, error?: string): void => {
			if (settled || generation !== this.generation) return;
			settled = true;
			this.inFlight.delete(request);
			this.admitWaiting();
			attempt.answeredAt = this.isoNow();
			attempt.httpStatus = httpStatus;
			if (error !== undefined) attempt.error = error;
			if (httpStatus !== undefined && httpStatus >= 200 && httpStatus < 300) {
				delivery.state = 'delivered';
				return;
			}
			this.scheduleRedelivery(delivery);
		};
		request.on('response', (response) => {
			response.resume();
			response.on('end', () => finish(response.statusCode));
			response.on('error', (error) => finish(response.statusCode, error.message));
		});
		request.on('timeout', () => request.destroy(new Error(`no answer within ${ATTEMPT_TIMEOUT_MS} ms`)));
		request.on('error', (error) => finish(undefined, error.message));
		request.end(delivery.body);
	}

	/** Hands the free places to the attempts held back, in the order they were held. */
	admitWaiting(): void {
		const limit = this.settings().webhookConcurrency;
		while (this.waitingFrom < this.waiting.length && (limit === null || this.inFlight.size < limit)) {
			this.attempt(this.waiting[this.waitingFrom++]);
		}
		if (this.waitingFrom > 1024 && this.waitingFrom * 2 > this.waiting.length) {
			this.waiting = this.waiting.slice(this.waitingFrom);
			this.waitingFrom = 0;
		}
	}

	private scheduleRedelivery(delivery: Delivery): void {
		const { initialDelayMs, maxAttempts, maxDelayMs = Infinity } = this.settings().redelivery;
		if (delivery.attempts.length >= maxAttempts) {
			delivery.state = 'failed';
			return;
		}
		const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** (delivery.attempts.length - 1));
		this.timers.after(delay, () => this.attempt(delivery));
	}
}

function shuffled<T>(items: T[]): T[] {
	const copy = [...items];
	for (let i = copy.length - 1; i > 0; i--) {
		const j = Math.floor(Math.random() * (i + 1));
		[copy[i], copy[j]] = [copy[j], copy[i]];
	}
	return copy;
}
