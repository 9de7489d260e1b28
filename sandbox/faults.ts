/**
 * Injected failures (`POST /_sandbox/faults`): the next N Graph calls fail with a Meta error, never get an answer,
 * get a bare 5xx from "Meta's edge", or have their connection reset; or the next N sends are accepted and then fail
 * in a status webhook, as Meta reports 131049, 131026 and 130472. So a client's retry and error handling can be tried
 * on demand.
 */
import { z } from 'zod';

export const faultSchema = z.discriminatedUnion('kind', [
	z.object({
		kind: z.literal('error'),
		count: z.number().int().min(1).default(1),
		code: z.number().int().min(1),
		httpStatus: z.number().int().min(400).max(599).optional(),
		details: z.string().optional(),
		/** Meta handles the request (the message goes out), then answers with this error anyway. */
		processed: z.boolean().default(false),
	}),
	z.object({
		kind: z.literal('timeout'),
		count: z.number().int().min(1).default(1),
		/** Meta handles the request (the message goes out) but the answer never arrives: the case idempotency is for. */
		processed: z.boolean().default(false),
	}),
	z.object({
		kind: z.literal('http5xx'),
		count: z.number().int().min(1).default(1),
		status: z.number().int().min(500).max(599).default(503),
		/** The message goes out behind the edge, whose answer is the bare 5xx. */
		processed: z.boolean().default(false),
	}),
	z.object({
		kind: z.literal('failed_status'),
		count: z.number().int().min(1).default(1),
		code: z.number().int().min(1),
		details: z.string().optional(),
	}),
	z.object({
		kind: z.literal('reset'),
		count: z.number().int().min(1).default(1),
		/** The message goes out, then the connection is reset before the answer: the client cannot tell which. */
		processed: z.boolean().default(false),
	}),
]);

export type Fault = z.infer<typeof faultSchema>;

export class FaultQueue {
	private queue: Fault[] = [];

	add(fault: Fault): void {
		this.queue.push({ ...fault });
	}

	/**
	 * The fault the next Graph call suffers, if any; each call uses up one of a fault's count. A `failed_status` waits
	 * for a send (`isSend`): only a message can fail in a status webhook.
	 */
	next(isSend: boolean): Fault | undefined {
		const head = this.queue[0];
		if (!head || (head.kind === 'failed_status' && !isSend)) return undefined;
		head.count -= 1;
		if (head.count <= 0) this.queue.shift();
		return head;
	}

	pending(): Fault[] {
		return this.queue;
	}

	clear(): void {
		this.queue = [];
	}
}
