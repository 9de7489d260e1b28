/**
 * What the outbox tests share (issue 10, item 5): credentials for a ledger on either store, Meta's signed webhook
 * bodies, and a real failure of the store for one write.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import type { Ledger } from '../../lib/consent/ledger';
import { pgConnection, SECRET, type StoreKind } from './ledgers';

export const APP_SECRET = 'outbox-app-secret';
export const PHONE_NUMBER_ID = '100000000000001';

export function outboxCredentials(kind: StoreKind): Record<string, ICredentialDataDecryptedObject> {
	return {
		consentLedgerApi:
			kind === 'embedded'
				? { store: 'embedded', folder: mkdtempSync(join(tmpdir(), 'outbox-')), secretKey: SECRET, defaultCountry: 'DE' }
				: { store: 'postgres', ...pgConnection(), schema: `o_${randomBytes(6).toString('hex')}`, secretKey: SECRET, defaultCountry: 'DE', ssl: 'off' },
		whatsAppCloudApi: { phoneNumberId: PHONE_NUMBER_ID, appSecret: APP_SECRET, accessToken: 'unused', verifyToken: 'unused' },
	};
}

export const textMessage = (waId: string, id: string, text: string, at: Date) => ({
	from: waId,
	id,
	timestamp: String(Math.floor(at.getTime() / 1000)),
	type: 'text',
	text: { body: text },
});

/** One entry, one change, with these messages (and their senders' contacts). */
export function webhookBody(messages: ReturnType<typeof textMessage>[]) {
	return {
		object: 'whatsapp_business_account',
		entry: [
			{
				id: '200000000000001',
				changes: [
					{
						field: 'messages',
						value: {
							messaging_product: 'whatsapp',
							metadata: { display_phone_number: '49301234567', phone_number_id: PHONE_NUMBER_ID },
							contacts: [...new Set(messages.map((message) => message.from))].map((waId) => ({ profile: { name: 'Kim' }, wa_id: waId })),
							messages,
						},
					},
				],
			},
		],
	};
}

/** POSTs the body as Meta does: signed, the same bytes every time. Resolves with the status, or 'no answer'. */
export async function post(url: string, body: unknown): Promise<number | 'no answer'> {
	const raw = Buffer.from(JSON.stringify(body));
	const signature = `sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}`;
	try {
		const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body: raw });
		await response.text();
		return response.status;
	} catch {
		return 'no answer';
	}
}

/**
 * A real failure of the store: the `nth` write of a handled delivery from now fails in the database (SQLSTATE 58030,
 * an I/O error), with whatever the transaction wrote. A sequence counts the writes, because it is not rolled back.
 */
export async function failNthDelivery(ledger: Ledger, nth: number): Promise<void> {
	await ledger.store.query(`CREATE SEQUENCE IF NOT EXISTS fault_writes`);
	await ledger.store.query(`CREATE TABLE IF NOT EXISTS fault_target (id int PRIMARY KEY, target bigint NOT NULL)`);
	await ledger.store.query(
		`CREATE OR REPLACE FUNCTION fault_on_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('fault_writes') = (SELECT target FROM fault_target WHERE id = 1) THEN
				RAISE EXCEPTION 'injected store failure' USING ERRCODE = '58030';
			END IF;
			RETURN NEW;
		END $$`,
	);
	await ledger.store.query(`DROP TRIGGER IF EXISTS fault_on_delivery ON processed_deliveries`);
	await ledger.store.query(`CREATE TRIGGER fault_on_delivery BEFORE INSERT ON processed_deliveries FOR EACH ROW EXECUTE FUNCTION fault_on_delivery()`);
	const [{ last }] = await ledger.store.query<{ last: string }>(`SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS last FROM fault_writes`);
	await ledger.store.query(`INSERT INTO fault_target (id, target) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET target = EXCLUDED.target`, [Number(last) + nth]);
}

/** The outbox rows still owed, once every hand-over in flight has settled. */
export async function owedRows(ledger: Ledger): Promise<{ id: string; claim: string | null }[]> {
	await new Promise((resolve) => setTimeout(resolve, 50));
	return ledger.store.query<{ id: string; claim: string | null }>('SELECT id, claim FROM outbox ORDER BY created_at, id');
}
