/**
 * How many sends Send WhatsApp keeps in flight (sendsInFlight) and how many of them reserved ahead of Meta
 * (reservedAhead): the second is what a killed worker may leave reserved and never attempted.
 */
import fc from 'fast-check';
import { reservedAhead, sendsInFlight } from '../../lib/sending';

describe('sends in flight', () => {
	test('half a second of the pace is reserved ahead (at least 10); Parallel Requests and the recording come on top', () => {
		expect([1, 20, 80, 1000].map(reservedAhead)).toEqual([10, 10, 40, 500]);
		// 1,000/s: 500 reserved ahead, up to 200 at Meta, up to 100 being recorded.
		expect(sendsInFlight(200, 1000)).toBe(800);
		expect(sendsInFlight(100, 80)).toBe(240);
	});

	test('never more than half a second of the pace (or 10) reserved ahead; the requests at Meta are not counted in it', () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (parallelRequests, messagesPerSecond) => {
				const ahead = reservedAhead(messagesPerSecond);
				expect(ahead).toBeLessThanOrEqual(Math.max(10, Math.ceil(messagesPerSecond / 2)));
				expect(ahead).toBeGreaterThanOrEqual(Math.min(10, messagesPerSecond));
				expect(sendsInFlight(parallelRequests, messagesPerSecond)).toBeGreaterThanOrEqual(ahead + parallelRequests);
			}),
		);
	});
});
