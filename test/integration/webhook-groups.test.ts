/**
 * Issue 11: status-only deliveries that arrive together go through the ledger together (group commit on the embedded
 * store, lib/delivery-groups.ts). Whatever the interleaving of concurrent POSTs, redeliveries among them, a POST whose
 * write fails in the store and an event the database refuses: every event changes the ledger once, every POST is
 * answered 200 only once its rows are committed, and only the POST that fails is answered 500.
 * Signed deliveries go through `receiveMetaDelivery`, the Opt-In Trigger's own path, into a real ledger on both stores.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import type { Ledger } from '../../lib/consent/ledger';
import { deliveryKeyHmac, wamidHmac } from '../../lib/consent/keyed';
import type { TriggerEvent } from '../../lib/events';
import { receiveMetaDelivery, type MetaAnswer } from '../../lib/meta-delivery';
import { PGliteThread } from '../../lib/store/pglite-thread';
import { closeTestLedgers, ledgerKeys, openTestLedger, pgConnection, PURPOSES, sendRows, STORE_KINDS, TEXT_DE, type StoreKind } from '../helpers/ledgers';

const APP_SECRET = 'group-app-secret';
const PHONE_NUMBER_ID = '100000000000001';
const WA_ID = '4915123400001';
const STATUSES = ['sent', 'delivered', 'read'] as const;
const RANK = { accepted: 1, sent: 2, delivered: 3, read: 4 } as const;

/**
 * The delivery keys the embedded database has committed: a tap on the requests to its thread, in the order it answers
 * them. A statement between BEGIN and COMMIT counts once the COMMIT is answered; one sent without BEGIN (alone, or
 * several in one message) commits with its answer. Only the INSERTs into processed_deliveries count.
 */
class EmbeddedCommits {
	/** Each committed transaction's inserted delivery-key statements. */
	private readonly committed: string[][] = [];
	private open: string[] | undefined;
	private readonly original = (PGliteThread.prototype as unknown as { send: (request: unknown) => Promise<unknown> }).send;

	tap(): void {
		const original = this.original;
		const commits = this;
		(PGliteThread.prototype as unknown as { send: (request: { sql?: string; params?: unknown[] }) => Promise<unknown> }).send = function (request) {
			return original.call(this, request).then((result) => {
				commits.answered(request.sql ?? '', request.params);
				return result;
			});
		};
	}

	untap(): void {
		(PGliteThread.prototype as unknown as { send: unknown }).send = this.original;
	}

	private answered(sql: string, params: unknown[] | undefined): void {
		const trimmed = sql.trim();
		if (/^BEGIN\b/i.test(trimmed)) this.open = [];
		const keys = trimmed
			.split(/;\n/)
			.filter((statement) => /^\s*INSERT INTO processed_deliveries/.test(statement))
			.map((statement) => `${statement} ${JSON.stringify(params ?? [])}`);
		if (this.open === undefined) {
			this.committed.push(keys);
			return;
		}
		this.open.push(...keys);
		if (/\bCOMMIT$/i.test(trimmed)) {
			this.committed.push(this.open);
			this.open = undefined;
		} else if (/^ROLLBACK$/i.test(trimmed)) {
			this.open = undefined;
		}
	}

	/** Which of these keys' HMACs a committed INSERT holds. */
	has(hmacs: string[]): Promise<string[]> {
		return Promise.resolve(hmacs.filter((hmac) => this.committed.some((transaction) => transaction.some((statement) => statement.includes(hmac)))));
	}

	/** The most of these keys' HMACs one committed transaction inserted: more than one is a group. */
	largestTransaction(hmacs: string[]): number {
		return Math.max(0, ...this.committed.map((transaction) => hmacs.filter((hmac) => transaction.some((statement) => statement.includes(hmac))).length));
	}
}

/** What another connection sees of processed_deliveries on PostgreSQL: only committed rows. */
async function postgresCommits(schema: string) {
	const client = new Client(pgConnection());
	await client.connect();
	return {
		has: async (keys: string[]) => (await client.query<{ key: string }>(`SELECT key FROM ${schema}.processed_deliveries WHERE key = ANY($1)`, [keys])).rows.map((row) => row.key),
		close: () => client.end(),
	};
}

interface Post {
	send: number;
	status: (typeof STATUSES)[number];
	/** When it starts: its place in the interleaving. */
	delayMs: number;
}

const scenario = fc.record({
	posts: fc.array(fc.record({ send: fc.nat(5), status: fc.constantFrom(...STATUSES), delayMs: fc.constantFrom(0, 0, 0, 1, 3) }), { minLength: 2, maxLength: 16 }),
	/** The send whose every status write fails in the store (SQLSTATE 58030): its POSTs are answered 500. */
	failing: fc.option(fc.nat(5), { nil: undefined }),
	/** The send whose statuses the database refuses as data (SQLSTATE 22023): kept as rejected, answered 200. */
	refused: fc.option(fc.nat(5), { nil: undefined }),
});

function body(wamid: string, status: Post['status'], at: number): Buffer {
	const value = {
		messaging_product: 'whatsapp',
		metadata: { display_phone_number: '49301234567', phone_number_id: PHONE_NUMBER_ID },
		statuses: [{ id: wamid, status, timestamp: String(at + RANK[status]), recipient_id: WA_ID, ...(status === 'read' ? {} : { pricing: { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' } }) }],
	};
	return Buffer.from(JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '200000000000001', changes: [{ field: 'messages', value }] }] }));
}

describe.each(STORE_KINDS)('concurrent status deliveries, grouped (%s store)', (kind: StoreKind) => {
	let ledger: Ledger;
	let schema: string | undefined;
	const embedded = new EmbeddedCommits();

	beforeAll(async () => {
		if (kind === 'embedded') embedded.tap();
		const opened = await openTestLedger(kind);
		ledger = opened.ledger;
		schema = opened.config.kind === 'postgres' ? opened.config.schema : undefined;
		await ledger.definePurposes(PURPOSES);
		const { code } = await ledger.requestOptIn({ phone: `+${WA_ID}`, purposes: ['service'], consentText: TEXT_DE, source: {} });
		await ledger.confirm({ messageId: 'wamid.code', from: WA_ID, text: code, at: new Date() });
		await ledger.store.query('CREATE TABLE fault_wamids (wamid_hmac text PRIMARY KEY, errcode text NOT NULL)');
		await ledger.store.query(
			`CREATE FUNCTION fault_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
			DECLARE code text;
			BEGIN
				SELECT errcode INTO code FROM fault_wamids WHERE wamid_hmac = NEW.wamid_hmac;
				IF code IS NOT NULL THEN RAISE EXCEPTION 'injected failure of this status write' USING ERRCODE = code; END IF;
				RETURN NEW;
			END $$`,
		);
		await ledger.store.query('CREATE TRIGGER fault_on_status BEFORE UPDATE ON sends FOR EACH ROW EXECUTE FUNCTION fault_on_status()');
	});

	afterAll(async () => {
		embedded.untap();
		await closeTestLedgers();
	});

	test('property: each event recorded once, each 200 after its commit, only the failing POST answered 500', async () => {
		const keys = ledgerKeys(ledger);
		const committed = kind === 'postgres' ? await postgresCommits(schema!) : undefined;
		const commits = { has: (hmacs: string[]) => (committed ? committed.has(hmacs) : embedded.has(hmacs)) };
		const everyKey: string[] = [];
		let run = 0;
		try {
			await fc.assert(
				fc.asyncProperty(scenario, async ({ posts, failing, refused }) => {
					const wamids = Array.from({ length: 6 }, (_, send) => `wamid.group-${run}-${send}`);
					run++;
					const sends = wamids.map((_, send) => ({ key: `group-${run}-${send}`, recipient: `+${WA_ID}`, purpose: 'service', category: 'utility' as const }));
					await ledger.reserveSends(sends);
					await ledger.completeSends(sends.map((send, index) => ({ key: send.key, wamid: wamids[index] })));
					const faults = [...(failing === undefined ? [] : [[failing, '58030']]), ...(refused === undefined || refused === failing ? [] : [[refused, '22023']])] as [number, string][];
					for (const [send, code] of faults) await ledger.store.query('INSERT INTO fault_wamids (wamid_hmac, errcode) VALUES ($1, $2)', [wamidHmac(keys, wamids[send]), code]);

					const at = Math.floor(Date.now() / 1000);
					const keyOf = (post: Post) => deliveryKeyHmac(keys, `status:${wamids[post.send]}:${post.status}`);
					const notCommittedAtAnswer: string[] = [];
					const answers = await Promise.all(
						posts.map(async (post): Promise<MetaAnswer> => {
							await new Promise((resolve) => setTimeout(resolve, post.delayMs));
							const raw = body(wamids[post.send], post.status, at);
							const answer = await receiveMetaDelivery(
								{ raw, signature: `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}` },
								{ appSecret: APP_SECRET, phoneNumberId: PHONE_NUMBER_ID },
								async () => ledger,
								() => ({ business: 'Beispiel GmbH', fallbackLanguage: 'de' }),
							);
							if (answer.httpStatus === 200) {
								// Before n8n has it: the event this POST answered for is committed, by this POST or the one it repeats.
								if (post.send !== refused && (await commits.has([keyOf(post)])).length === 0) notCommittedAtAnswer.push(`${wamids[post.send]}:${post.status}`);
								await answer.handOver.done();
							}
							return answer;
						}),
					);

					for (const [send] of faults) await ledger.store.query('DELETE FROM fault_wamids WHERE wamid_hmac = $1', [wamidHmac(keys, wamids[send])]);
					expect(notCommittedAtAnswer).toEqual([]);
					// Only the POSTs of the failing send are answered 500; the rest of their groups are answered 200.
					expect(answers.map((answer) => answer.httpStatus)).toEqual(posts.map((post) => (post.send === failing ? 500 : 200)));
					// Each event's item reaches the workflow once, whichever POST carried it; none for what was not recorded.
					const items = answers.flatMap((answer) => (answer.httpStatus === 200 ? answer.emitted : [])).filter((item: TriggerEvent) => item.event === 'status.updated');
					const recorded = [...new Set(posts.filter((post) => post.send !== failing && post.send !== refused).map((post) => `${wamids[post.send]}:${post.status}`))];
					expect(items.map((item) => `${String(item.messageId)}:${String(item.status)}`).sort()).toEqual(recorded.sort());
					// Each send moved once, to its furthest status; the failing and the refused ones not at all.
					const rows = await sendRows(ledger);
					for (const [send, { key }] of sends.entries()) {
						const posted = posts.filter((post) => post.send === send && send !== failing && send !== refused).map((post) => post.status);
						const furthest = posted.reduce<keyof typeof RANK>((best, status) => (RANK[status] > RANK[best] ? status : best), 'accepted');
						expect(rows[key].status).toBe(furthest);
					}
					const handled = await ledger.store.query<{ key: string }>('SELECT key FROM processed_deliveries WHERE key = ANY($1)', [posts.map(keyOf)]);
					expect(handled.map((row) => row.key).sort()).toEqual([...new Set(posts.filter((post) => post.send !== failing && post.send !== refused).map(keyOf))].sort());
					everyKey.push(...posts.map(keyOf));
				}),
				{ numRuns: kind === 'embedded' ? 25 : 40, seed: 11_1 },
			);
		} finally {
			await committed?.close();
		}
		// The runs did group: on the embedded store, some transaction committed several POSTs' events.
		if (kind === 'embedded') expect(embedded.largestTransaction([...new Set(everyKey)])).toBeGreaterThan(1);
	});
});
