/**
 * Histories the model-based search found, pasted as they were printed, each with what it showed. They run on both
 * stores like the search itself.
 */
import { STORE_KINDS, type StoreKind } from '../helpers/ledgers';
import { HistoryRunner, type Action } from './histories';

const FOUND: [string, Action[]][] = [
	[
		// Issue 11's closing search (seed 20261207, history 365 on PostgreSQL): a STOP marks marketing withdrawn on an
		// unconfirmed sign-up; purge deletes that sign-up after the pending retention, and a new one for the same purpose
		// starts without the mark. The chain recorded only purge's counts, so verifyChain's rebuilt sign-up kept the
		// mark and reported the tables changed. The purge event now carries its cutoff and the rebuild does the same.
		'purge deletes a sign-up a STOP had marked: a new sign-up for the purpose starts without the mark, and verifyChain agrees',
		[
			{ t: 'optIn', who: 0, purposes: ['updates'] },
			{ t: 'burst', ops: [{ who: 2, kind: 'signUp' }, { who: 0, kind: 'signUp' }] },
			{ t: 'stop', who: 0, scope: 'marketing', via: 'keyword', late: 0 },
			{ t: 'tick', ms: 262_800_000 },
			{ t: 'purge' },
			{ t: 'redeliver', nth: 0 },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 },
			{ t: 'signUp', who: 0, purposes: ['offers', 'updates'], form: 'e164' },
			{ t: 'redeliver', nth: 0 },
		],
	],
	[
		// Issue 10, item 8 (seed 4242, 3,000 histories on PostgreSQL): a sign-up after a STOP, never confirmed, is ended
		// by purge after the pending retention, and the withdrawal stands again; the chain records only a count, so
		// verifyChain's rebuilt state said 'pending' where the table says 'withdrawn' and reported tampering.
		'purge ends an unconfirmed sign-up after a withdrawal: verifyChain accepts the withdrawal standing again',
		[
			{ t: 'signUp', who: 2, purposes: ['updates'], form: 'e164' },
			{ t: 'stop', who: 2, scope: 'all', via: 'keyword', late: 0 },
			{ t: 'optIn', who: 2, purposes: ['updates'] },
			{ t: 'tick', ms: 262_800_000 },
			{ t: 'purge' },
			{ t: 'reserve', key: 0, who: 0, byUserId: false, purpose: 'offers', category: 'marketing' },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 },
			{ t: 'tick', ms: 1000 },
		],
	],
	[
		// #10, #14: five requests for one number in the same millisecond, wrong codes, then the newest code: which request
		// took the failed tries was up to the database (ORDER BY created_at alone); now it is the newest, then the greater id.
		'failed tries go to one request, the same one every time, when requests share their time',
		[
			{ t: 'signUp', who: 2, purposes: ['updates'], form: 'e164' },
			{ t: 'optIn', who: 2, purposes: ['offers'] },
			{ t: 'signUp', who: 2, purposes: ['offers'], form: 'e164' },
			{ t: 'signUp', who: 2, purposes: ['updates'], form: 'e164' },
			{ t: 'burst', ops: [{ who: 2, kind: 'signUp' }, { who: 0, kind: 'signUp' }] },
			{ t: 'wrongCode', who: 2, times: 4, late: 0 },
			{ t: 'code', who: 0, of: 2, own: false, pick: 'newest', style: 'plain', sender: 'waId', late: 0 },
			{ t: 'optIn', who: 2, purposes: ['updates'] },
		],
	],
	[
		// Issue 10, item 7: after the operational retention (30 days) purge forgets a finished send and a handled
		// delivery. The key may then go out again; the old code message, redelivered, is a replay and reaches nothing.
		'a finished send and a handled delivery are forgotten after the operational retention; an old redelivery is a replay',
		[
			{ t: 'optIn', who: 0, purposes: ['offers'] },
			{ t: 'reserve', key: 0, who: 0, byUserId: false, purpose: 'offers', category: 'utility' },
			{ t: 'complete', key: 0 },
			{ t: 'status', key: 0, status: 'delivered', marketingStopped: false, late: 0 },
			...Array.from({ length: 30 }, () => ({ t: 'tick' as const, ms: 25 * 3_600_000 })),
			{ t: 'reserve', key: 0, who: 0, byUserId: false, purpose: 'offers', category: 'utility' },
			{ t: 'purge' },
			{ t: 'redeliver', nth: 0 },
			{ t: 'redeliver', nth: 1 },
			{ t: 'reserve', key: 0, who: 0, byUserId: false, purpose: 'offers', category: 'utility' },
		],
	],
	[
		// Issue 12 (seed 20261201, 50 histories): a username user's first message made them known by the user id alone;
		// their next message, with the number, found that person by the user id and never made the number's person.
		"a message with the number after one with the user id alone: the number's person, who takes the user id's window",
		[
			{ t: 'code', who: 1, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'userIdOnly', late: 0 },
			{ t: 'code', who: 1, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'waIdAndUserId', late: 0 },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 },
			{ t: 'redeliver', nth: 0 },
			{ t: 'tick', ms: 1000 },
		],
	],
	[
		// Issue 12: a code from a user id nobody tied waits for the number; a reply to the user id goes out in the
		// window that message opened; a message with the number ties them (the reply's send goes with it), and the
		// next code from the user id alone confirms.
		'a code from an untied user id waits for the number; once a message ties the user id, its code confirms',
		[
			{ t: 'signUp', who: 0, purposes: ['offers'], form: 'e164' },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'userIdOnly', late: 0 },
			{ t: 'reserve', key: 0, who: 0, byUserId: true, purpose: 'offers', category: 'service' },
			{ t: 'complete', key: 0 },
			{ t: 'code', who: 0, of: 1, own: false, pick: 'newest', style: 'plain', sender: 'waIdAndUserId', late: 0 },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'sentence', sender: 'userIdOnly', late: 0 },
			{ t: 'reserve', key: 1, who: 0, byUserId: true, purpose: 'offers', category: 'marketing' },
			{ t: 'erase', who: 0, retain: false, form: 'e164' },
			{ t: 'reserve', key: 2, who: 0, byUserId: true, purpose: 'offers', category: 'service' },
		],
	],
	[
		// Issue 11 (seed 20261205, 300 histories, both stores): a second marketing withdrawal by e-mail while the sign-up was
		// pending moved the table's time later but wrote no event (nothing new was withdrawn), so a code in the second
		// after it left marketing withdrawn in the table while the events, knowing only the first, gave it back.
		'a later marketing withdrawal of a pending sign-up has its event: the code in its second leaves marketing withdrawn',
		[
			{ t: 'signUp', who: 0, purposes: ['offers'], form: 'e164' },
			{ t: 'otherChannel', who: 0, scope: 'marketing', form: 'e164' },
			{ t: 'tick', ms: 1000 },
			{ t: 'otherChannel', who: 0, scope: 'marketing', form: 'e164' },
			{ t: 'code', who: 0, of: 0, own: true, pick: 'newest', style: 'plain', sender: 'waId', late: 0 },
		],
	],
];

describe.each(STORE_KINDS)('histories the model found, on the %s store', (kind: StoreKind) => {
	let runner: HistoryRunner;
	beforeAll(async () => {
		runner = await HistoryRunner.open(kind);
	});
	afterAll(() => runner.close());

	// Ids are random: a history that depends on their order runs a few times.
	test.each(FOUND)('%s', async (_what, history) => {
		for (let run = 0; run < 5; run++) await runner.run(history);
	});
});
