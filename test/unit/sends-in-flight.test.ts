/** How many sends Send WhatsApp keeps reserved ahead (sendsInFlight): what a killed worker may leave unknown. */
import fc from 'fast-check';
import { sendsInFlight } from '../../lib/sending';

describe('sendsInFlight', () => {
	test('at the top rate a full half second of the pace is in flight; at the default 80/s at most 40', () => {
		// 1,000/s: the ledger stages hold up to 0.3 s of sends besides those waiting for Meta, or the pace runs dry.
		expect(sendsInFlight(200, 1000)).toBe(500);
		expect(sendsInFlight(100, 1000)).toBe(400);
		expect(sendsInFlight(100, 80)).toBe(40);
		expect(sendsInFlight(200, 80)).toBe(40);
		expect(sendsInFlight(1, 1)).toBe(10);
	});

	test('never more than half a second of the pace (or 10), never more than Parallel Requests plus the ledger window', () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (parallelRequests, messagesPerSecond) => {
				const inFlight = sendsInFlight(parallelRequests, messagesPerSecond);
				expect(inFlight).toBeLessThanOrEqual(Math.max(10, Math.ceil(messagesPerSecond / 2)));
				expect(inFlight).toBeLessThanOrEqual(parallelRequests + 300);
				expect(inFlight).toBeGreaterThanOrEqual(Math.min(10, parallelRequests + 300));
			}),
		);
	});
});
