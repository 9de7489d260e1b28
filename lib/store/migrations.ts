/**
 * The ledger's schema, as forward-only migrations in PostgreSQL's dialect, run on first use by both drivers.
 * An advisory lock makes two processes starting at once take turns; the second finds the work done.
 *
 * Privacy by design (checklist 34, 29): no table holds a phone number in clear. `subjects.phone_enc` is
 * AES-256-GCM; lookups go through keyed HMACs; the suppression list uses its own HMAC key and knows no subject.
 */
import { OPT_IN_FUNCTIONS } from './optin-functions';
import type { Store } from './store';

interface Migration {
	version: number;
	name: string;
	statements: string[];
}

const MIGRATIONS: Migration[] = [
	{
		version: 1,
		name: 'consent ledger',
		statements: [
			`CREATE TABLE chain_head (
				id int PRIMARY KEY CHECK (id = 1),
				seq bigint NOT NULL,
				hash text NOT NULL
			)`,
			`INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64))`,
			// The audit trail. payload is encrypted JSON; erasure sets it to NULL and keeps payload_hash, so the
			// chain still verifies (a tombstone).
			`CREATE TABLE events (
				seq bigint PRIMARY KEY,
				type text NOT NULL,
				subject_id text,
				at_ms bigint NOT NULL,
				payload text,
				payload_hash text NOT NULL,
				prev_hash text NOT NULL,
				hash text NOT NULL
			)`,
			`CREATE INDEX events_subject ON events (subject_id)`,
			// Appends one event under the chain head's row lock. A function, because PostgreSQL keeps its plans:
			// on the embedded store this halves the cost of the statement every ledger change runs.
			`CREATE FUNCTION append_event(p_type text, p_subject text, p_at_ms bigint, p_payload text, p_payload_hash text)
			RETURNS bigint LANGUAGE plpgsql AS $$
			DECLARE
				head record;
				next_seq bigint;
				next_hash text;
			BEGIN
				SELECT seq, hash INTO head FROM chain_head WHERE id = 1 FOR UPDATE;
				next_seq := head.seq + 1;
				next_hash := encode(sha256(convert_to(
					head.hash || '|' || next_seq || '|' || p_type || '|' || coalesce(p_subject, '') || '|' || p_at_ms || '|' || p_payload_hash,
					'UTF8')), 'hex');
				INSERT INTO events (seq, type, subject_id, at_ms, payload, payload_hash, prev_hash, hash)
				VALUES (next_seq, p_type, p_subject, p_at_ms, p_payload, p_payload_hash, head.hash, next_hash);
				UPDATE chain_head SET seq = next_seq, hash = next_hash WHERE id = 1;
				RETURN next_seq;
			END
			$$`,
			`CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF TG_OP = 'UPDATE' AND NEW.payload IS NULL
					AND (NEW.seq, NEW.type, NEW.subject_id, NEW.at_ms, NEW.payload_hash, NEW.prev_hash, NEW.hash)
						IS NOT DISTINCT FROM (OLD.seq, OLD.type, OLD.subject_id, OLD.at_ms, OLD.payload_hash, OLD.prev_hash, OLD.hash)
				THEN
					RETURN NEW;
				END IF;
				RAISE EXCEPTION 'consent events are append-only; only erasure may blank a payload';
			END
			$$`,
			`CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
				FOR EACH ROW EXECUTE FUNCTION events_append_only()`,
			`CREATE TABLE subjects (
				id text PRIMARY KEY,
				phone_hmac text NOT NULL UNIQUE,
				phone_enc text NOT NULL,
				wa_id_hmac text,
				user_id_hmac text,
				created_at timestamptz NOT NULL,
				last_inbound_at timestamptz,
				marketing_stopped_at timestamptz,
				marketing_withdrawn_at timestamptz,
				last_activity_at timestamptz NOT NULL
			)`,
			`CREATE INDEX subjects_wa_id ON subjects (wa_id_hmac)`,
			`CREATE INDEX subjects_user_id ON subjects (user_id_hmac)`,
			`CREATE TABLE purposes (
				id text PRIMARY KEY,
				label text NOT NULL,
				description text,
				min_text_version text,
				updated_at timestamptz NOT NULL
			)`,
			`CREATE TABLE consent_texts (
				hash text PRIMARY KEY,
				version text NOT NULL,
				language text NOT NULL,
				body text NOT NULL,
				first_shown_at timestamptz NOT NULL
			)`,
			`CREATE TABLE consents (
				subject_id text NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
				purpose text NOT NULL REFERENCES purposes (id),
				state text NOT NULL CHECK (state IN ('pending', 'confirmed', 'withdrawn')),
				text_hash text REFERENCES consent_texts (hash),
				text_version text,
				requested_at timestamptz,
				confirmed_at timestamptz,
				withdrawn_at timestamptz,
				confirm_event_seq bigint,
				PRIMARY KEY (subject_id, purpose)
			)`,
			`CREATE INDEX consents_purpose_state ON consents (purpose, state)`,
			`CREATE TABLE optin_requests (
				id text PRIMARY KEY,
				subject_id text NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
				code_hmac text NOT NULL,
				purposes text[] NOT NULL,
				text_hash text NOT NULL REFERENCES consent_texts (hash),
				text_version text NOT NULL,
				status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'expired', 'failed', 'cancelled')),
				attempts int NOT NULL DEFAULT 0,
				created_at timestamptz NOT NULL,
				expires_at timestamptz NOT NULL
			)`,
			`CREATE INDEX optin_requests_code ON optin_requests (code_hmac)`,
			`CREATE INDEX optin_requests_subject ON optin_requests (subject_id, status)`,
			`CREATE TABLE suppressions (
				hmac text NOT NULL,
				scope text NOT NULL,
				since date NOT NULL,
				PRIMARY KEY (hmac, scope)
			)`,
			`CREATE TABLE sends (
				idempotency_key text PRIMARY KEY,
				subject_id text REFERENCES subjects (id) ON DELETE SET NULL,
				purpose text NOT NULL,
				category text NOT NULL,
				consent_event_seq bigint,
				status text NOT NULL CHECK (status IN ('reserved', 'accepted', 'sent', 'delivered', 'read', 'failed', 'unknown')),
				wamid text UNIQUE,
				error_code int,
				error_message text,
				created_at timestamptz NOT NULL,
				updated_at timestamptz NOT NULL
			)`,
			`CREATE INDEX sends_subject ON sends (subject_id)`,
			// Webhook deliveries already handled (wamid, or status id + status): Meta delivers at least once.
			`CREATE TABLE processed_deliveries (
				key text PRIMARY KEY,
				result text NOT NULL,
				processed_at timestamptz NOT NULL
			)`,
		],
	},
	{
		// Sign-up and confirmation as one call each: the hot path of a campaign launch. On the embedded store every
		// statement is a trip into WebAssembly; one function call with cached plans replaces five statements and
		// the transaction around them.
		version: 2,
		name: 'opt-in functions',
		statements: [
			// The whole sign-up, atomic as one statement: the text shown, the person (locked by the upsert, so
			// parallel sign-ups for one number count each other), the request, the pending consents, the event.
			// Refusals raise, which rolls back everything this call wrote: CL001 unknown purpose, CL002 too many
			// requests for the number in the last hour.
			`CREATE FUNCTION request_opt_in(
				p_new_subject text, p_phone_hmac text, p_phone_enc text, p_at timestamptz, p_at_ms bigint,
				p_text_hash text, p_text_version text, p_language text, p_text text,
				p_request_id text, p_code_hmac text, p_purposes text[], p_expires_at timestamptz,
				p_recent_since timestamptz, p_max_recent int, p_payload text, p_payload_hash text)
			RETURNS text LANGUAGE plpgsql AS $$
			DECLARE
				v_subject text;
			BEGIN
				IF EXISTS (SELECT 1 FROM unnest(p_purposes) AS wanted (id) WHERE NOT EXISTS (SELECT 1 FROM purposes p WHERE p.id = wanted.id)) THEN
					RAISE EXCEPTION 'unknown purpose' USING ERRCODE = 'CL001';
				END IF;
				INSERT INTO consent_texts (hash, version, language, body, first_shown_at)
				VALUES (p_text_hash, p_text_version, p_language, p_text, p_at)
				ON CONFLICT (hash) DO NOTHING;
				INSERT INTO subjects AS s (id, phone_hmac, phone_enc, created_at, last_activity_at)
				VALUES (p_new_subject, p_phone_hmac, p_phone_enc, p_at, p_at)
				ON CONFLICT (phone_hmac) DO UPDATE SET last_activity_at = greatest(s.last_activity_at, EXCLUDED.last_activity_at)
				RETURNING s.id INTO v_subject;
				IF (SELECT count(*) FROM optin_requests r WHERE r.subject_id = v_subject AND r.created_at > p_recent_since) >= p_max_recent THEN
					RAISE EXCEPTION 'too many requests' USING ERRCODE = 'CL002';
				END IF;
				INSERT INTO optin_requests (id, subject_id, code_hmac, purposes, text_hash, text_version, status, created_at, expires_at)
				VALUES (p_request_id, v_subject, p_code_hmac, p_purposes, p_text_hash, p_text_version, 'pending', p_at, p_expires_at);
				INSERT INTO consents AS c (subject_id, purpose, state, text_hash, text_version, requested_at)
				SELECT v_subject, wanted.id, 'pending', p_text_hash, p_text_version, p_at FROM unnest(p_purposes) AS wanted (id)
				ON CONFLICT (subject_id, purpose) DO UPDATE SET
					state = CASE WHEN c.state = 'confirmed' THEN 'confirmed' ELSE 'pending' END,
					requested_at = EXCLUDED.requested_at;
				PERFORM append_event('optin.requested', v_subject, p_at_ms, p_payload, p_payload_hash);
				RETURN v_subject;
			END
			$$`,
			// The requests whose code the message carries, newest first, with what confirming one needs to know:
			// the number (encrypted) to compare with the sender, and the purposes withdrawn after the message was sent.
			`CREATE FUNCTION find_confirmation(p_codes text[], p_at timestamptz)
			RETURNS TABLE (id text, subject_id text, purposes text[], status text, attempts int, expires_at timestamptz,
				text_hash text, text_version text, phone_enc text, superseded text[])
			LANGUAGE plpgsql STABLE AS $$
			#variable_conflict use_column
			BEGIN
				-- PL/pgSQL rather than SQL: it keeps the plan, a SQL function is planned again on every call.
				RETURN QUERY
				SELECT r.id, r.subject_id, r.purposes, r.status, r.attempts, r.expires_at, r.text_hash, r.text_version, s.phone_enc,
					(SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c
					 WHERE c.subject_id = r.subject_id AND c.purpose = ANY (r.purposes) AND c.withdrawn_at > p_at)
				FROM optin_requests r JOIN subjects s ON s.id = r.subject_id
				WHERE r.code_hmac = ANY (p_codes)
				ORDER BY r.created_at DESC LIMIT 10;
			END
			$$`,
			// Confirms a request the caller found and checked. Under the person's lock it makes sure the facts the
			// caller decided on still hold ('changed' otherwise: the caller takes the full path), and with a delivery
			// key it records the message as handled, exactly once ('duplicate' when it was).
			`CREATE FUNCTION confirm_opt_in(
				p_delivery_key text, p_result text, p_request_id text, p_subject text, p_attempts int,
				p_superseded text[], p_purposes text[], p_at timestamptz, p_at_ms bigint, p_text_hash text, p_text_version text,
				p_wa_id_hmac text, p_user_id_hmac text, p_suppression_hmac text, p_payload text, p_payload_hash text,
				p_processed_at timestamptz)
			RETURNS text LANGUAGE plpgsql AS $$
			DECLARE
				v_seq bigint;
			BEGIN
				PERFORM 1 FROM subjects WHERE id = p_subject FOR UPDATE;
				IF p_delivery_key IS NOT NULL AND EXISTS (SELECT 1 FROM processed_deliveries WHERE key = p_delivery_key) THEN
					RETURN 'duplicate';
				END IF;
				IF NOT EXISTS (SELECT 1 FROM optin_requests WHERE id = p_request_id AND status = 'pending' AND attempts = p_attempts)
					OR coalesce((SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c JOIN optin_requests r ON r.id = p_request_id
						WHERE c.subject_id = p_subject AND c.purpose = ANY (r.purposes) AND c.withdrawn_at > p_at), '{}')
						<> coalesce(p_superseded, '{}')
				THEN
					RETURN 'changed';
				END IF;
				v_seq := append_event('optin.confirmed', p_subject, p_at_ms, p_payload, p_payload_hash);
				UPDATE optin_requests SET status = 'confirmed' WHERE id = p_request_id;
				UPDATE consents SET state = 'confirmed', confirmed_at = p_at, withdrawn_at = NULL, text_hash = p_text_hash,
					text_version = p_text_version, confirm_event_seq = v_seq
				WHERE subject_id = p_subject AND purpose = ANY (p_purposes);
				UPDATE subjects SET wa_id_hmac = p_wa_id_hmac, user_id_hmac = coalesce(p_user_id_hmac, user_id_hmac),
					marketing_withdrawn_at = NULL, last_inbound_at = greatest(last_inbound_at, p_at),
					last_activity_at = greatest(last_activity_at, p_at)
				WHERE id = p_subject;
				-- A new opt-in lifts the suppression for what it confirms; an 'all' entry narrows to the other purposes.
				INSERT INTO suppressions (hmac, scope, since)
				SELECT s.hmac, p.id, s.since FROM suppressions s CROSS JOIN purposes p
				WHERE s.hmac = p_suppression_hmac AND s.scope = 'all' AND NOT (p.id = ANY (p_purposes))
				ON CONFLICT DO NOTHING;
				DELETE FROM suppressions WHERE hmac = p_suppression_hmac AND (scope IN ('all', 'marketing') OR scope = ANY (p_purposes));
				IF p_delivery_key IS NOT NULL THEN
					INSERT INTO processed_deliveries (key, result, processed_at) VALUES (p_delivery_key, p_result, p_processed_at);
				END IF;
				RETURN 'confirmed';
			END
			$$`,
		],
	},
	{
		version: 3,
		name: 'append many events at once',
		statements: [
			// The hash of one link of the chain (verifyChain recomputes it in TypeScript).
			`CREATE FUNCTION chain_link(p_prev_hash text, p_seq bigint, p_type text, p_subject text, p_at_ms bigint, p_payload_hash text)
			RETURNS text LANGUAGE sql IMMUTABLE AS $$
				SELECT encode(sha256(convert_to(
					p_prev_hash || '|' || p_seq || '|' || p_type || '|' || coalesce(p_subject, '') || '|' || p_at_ms || '|' || p_payload_hash,
					'UTF8')), 'hex')
			$$`,
			// One appender: a single event is a slice of one.
			`CREATE OR REPLACE FUNCTION append_event(p_type text, p_subject text, p_at_ms bigint, p_payload text, p_payload_hash text)
			RETURNS bigint LANGUAGE plpgsql AS $$
			BEGIN
				RETURN (SELECT seq FROM append_events(ARRAY[p_type], ARRAY[p_subject], ARRAY[p_at_ms], ARRAY[p_payload], ARRAY[p_payload_hash]) AS seq);
			END
			$$`,
			// A newsletter reserves its sends in slices: one call appends a slice's events under one lock of the chain
			// head, instead of one call (and one wait for the lock) per message.
			`CREATE FUNCTION append_events(p_types text[], p_subjects text[], p_at_ms bigint[], p_payloads text[], p_payload_hashes text[])
			RETURNS SETOF bigint LANGUAGE plpgsql AS $$
			DECLARE
				n int := coalesce(array_length(p_types, 1), 0);
				head record;
				prev_hash text;
				next_seq bigint;
				next_hash text;
			BEGIN
				IF coalesce(array_length(p_subjects, 1), 0) <> n OR coalesce(array_length(p_at_ms, 1), 0) <> n
					OR coalesce(array_length(p_payloads, 1), 0) <> n OR coalesce(array_length(p_payload_hashes, 1), 0) <> n
				THEN
					RAISE EXCEPTION 'append_events needs arrays of equal length';
				END IF;
				IF n = 0 THEN
					RETURN;
				END IF;
				SELECT seq, hash INTO head FROM chain_head WHERE id = 1 FOR UPDATE;
				next_seq := head.seq;
				prev_hash := head.hash;
				FOR i IN 1 .. n LOOP
					next_seq := next_seq + 1;
					next_hash := chain_link(prev_hash, next_seq, p_types[i], p_subjects[i], p_at_ms[i], p_payload_hashes[i]);
					INSERT INTO events (seq, type, subject_id, at_ms, payload, payload_hash, prev_hash, hash)
					VALUES (next_seq, p_types[i], p_subjects[i], p_at_ms[i], p_payloads[i], p_payload_hashes[i], prev_hash, next_hash);
					prev_hash := next_hash;
					RETURN NEXT next_seq;
				END LOOP;
				UPDATE chain_head SET seq = next_seq, hash = prev_hash WHERE id = 1;
			END
			$$`,
		],
	},
	{
		// A campaign launch brings sign-ups and confirmations by the hundred per second. Each function below takes a
		// group of them (the calls that arrived while the previous group ran) and does each step for the whole group in
		// one statement: one multi-row insert per table and one append to the chain, instead of five statements and a
		// chain append per person. They replace the one-at-a-time functions of version 2; a group of one is the old call.
		version: 4,
		name: 'opt-ins in groups',
		statements: [
			`DROP FUNCTION request_opt_in`,
			`DROP FUNCTION find_confirmation`,
			`DROP FUNCTION confirm_opt_in`,
			// Only a confirmed person has a wa_id (or a user id): a sign-up no longer writes an index entry for nothing.
			`DROP INDEX subjects_wa_id`,
			`CREATE INDEX subjects_wa_id ON subjects (wa_id_hmac) WHERE wa_id_hmac IS NOT NULL`,
			`DROP INDEX subjects_user_id`,
			`CREATE INDEX subjects_user_id ON subjects (user_id_hmac) WHERE user_id_hmac IS NOT NULL`,
			// The group functions themselves: lib/store/optin-functions.ts, created in their current form by the latest
			// migration that changed them.
		],
	},
	{
		// A confirmation changes a request's status, a consent's state and the person's activity. When a changed
		// column is in one of the table's indexes, or the row's page has no room left, PostgreSQL writes the new row
		// version elsewhere and a new entry into every index of the table; otherwise it stays on its page and no index
		// changes (a HOT update: three in four confirmations after this, none before; about 8 % less work a pair).
		version: 5,
		name: 'updates in place',
		statements: [
			`ALTER TABLE subjects SET (fillfactor = 85)`,
			`ALTER TABLE consents SET (fillfactor = 85)`,
			`ALTER TABLE optin_requests SET (fillfactor = 85)`,
			// Without the status; with the time, which is what the limit on requests per number and hour counts.
			`DROP INDEX optin_requests_subject`,
			`CREATE INDEX optin_requests_subject ON optin_requests (subject_id, created_at)`,
			`DROP INDEX consents_purpose_state`,
			`CREATE INDEX consents_purpose ON consents (purpose)`,
		],
	},
	{
		// The consent rules of the reference model (test/model/consent-model.ts), which found where these differed.
		version: 6,
		name: 'consent rules',
		statements: [
			// The one order between a withdrawal and a consent, whatever order they arrive in: the withdrawal wins over
			// what was given before it or in its second (Meta's timestamps are whole seconds).
			`CREATE FUNCTION withdrawal_wins(p_withdrawn_at timestamptz, p_given_at timestamptz) RETURNS boolean
			LANGUAGE sql IMMUTABLE AS $$ SELECT p_given_at < p_withdrawn_at + interval '1 second' $$`,
			// A marketing STOP ends marketing for the purposes consented to before it, not for a purpose confirmed later.
			`ALTER TABLE consents ADD COLUMN marketing_withdrawn_at timestamptz`,
			`UPDATE consents c SET marketing_withdrawn_at = s.marketing_withdrawn_at
			 FROM subjects s WHERE s.id = c.subject_id AND s.marketing_withdrawn_at IS NOT NULL`,
			`ALTER TABLE subjects DROP COLUMN marketing_withdrawn_at`,
			// Every form of a number now finds the person by the number's own key: a wa_id key is no longer kept.
			`ALTER TABLE subjects DROP COLUMN wa_id_hmac`,
			// The in-app switch: the later of stop and resume wins, whatever order Meta delivers them in. A withdrawal
			// closes the 24 h window opened before it; a STOP owes one confirmation.
			`ALTER TABLE subjects ADD COLUMN marketing_resumed_at timestamptz, ADD COLUMN last_withdrawal_at timestamptz,
				ADD COLUMN stop_owed_at timestamptz, ADD COLUMN stop_confirmed_for timestamptz`,
			...OPT_IN_FUNCTIONS,
		],
	},
	{
		// Webhook durability (issue 10): events that cannot be understood are kept, not retried for ever.
		version: 7,
		name: 'webhook durability',
		statements: [
			// A webhook event the ledger could not read: the reason, when the delivery came, and the event itself
			// encrypted (it may carry a number or a text). Purged after the operational retention.
			`CREATE TABLE rejected_events (
				id text PRIMARY KEY,
				reason text NOT NULL,
				received_at timestamptz NOT NULL,
				event_at timestamptz,
				raw_enc text NOT NULL
			)`,
			`CREATE INDEX rejected_events_received ON rejected_events (received_at)`,
			// A delivery status that came before the send's completion was recorded (Meta's webhook overtook the
			// answer to the send): kept by the keyed HMAC of the wamid (a wamid encodes the number), the recipient
			// encrypted, until completeSend(s) applies it.
			`CREATE TABLE early_statuses (
				wamid_hmac text NOT NULL,
				status text NOT NULL,
				at timestamptz NOT NULL,
				recipient_enc text,
				error_code int,
				error_message text,
				received_at timestamptz NOT NULL,
				PRIMARY KEY (wamid_hmac, status)
			)`,
			`CREATE INDEX early_statuses_received ON early_statuses (received_at)`,
			// purge() deletes operational rows by age: handled deliveries, finished sends.
			`CREATE INDEX processed_deliveries_processed ON processed_deliveries (processed_at)`,
			`CREATE INDEX sends_updated ON sends (updated_at)`,
		],
	},
	{
		// Keyed operational rows (issue 10): a send's idempotency key holds the recipient's number and a wamid encodes
		// it, so neither is kept as it is. Rows are found by keyed HMACs; what exports and status events show is kept
		// encrypted. Rows written before are moved over by `keyOperationalRows` when the ledger opens (it needs the
		// keys): the old tables are renamed here and dropped once empty.
		version: 8,
		name: 'keyed operational rows',
		statements: [
			// A ledger without rows (a new one) has nothing to move.
			`DO $$ BEGIN
				IF EXISTS (SELECT 1 FROM sends) THEN
					ALTER TABLE sends RENAME TO sends_unkeyed;
					ALTER INDEX sends_pkey RENAME TO sends_unkeyed_pkey;
					ALTER INDEX sends_updated RENAME TO sends_unkeyed_updated;
					ALTER INDEX sends_subject RENAME TO sends_unkeyed_subject;
				ELSE
					DROP TABLE sends;
				END IF;
				IF EXISTS (SELECT 1 FROM processed_deliveries) THEN
					ALTER TABLE processed_deliveries RENAME TO processed_deliveries_unkeyed;
					ALTER INDEX processed_deliveries_pkey RENAME TO processed_deliveries_unkeyed_pkey;
					ALTER INDEX processed_deliveries_processed RENAME TO processed_deliveries_unkeyed_processed;
				ELSE
					DROP TABLE processed_deliveries;
				END IF;
			END $$`,
			`CREATE TABLE sends (
				key_hmac text PRIMARY KEY,
				key_enc text NOT NULL,
				-- erasure deletes a person's sends with them: the proof of each send is its send.recorded event
				subject_id text REFERENCES subjects (id) ON DELETE CASCADE,
				purpose text NOT NULL,
				category text NOT NULL,
				consent_event_seq bigint,
				status text NOT NULL CHECK (status IN ('reserved', 'accepted', 'sent', 'delivered', 'read', 'failed', 'unknown')),
				wamid_hmac text UNIQUE,
				wamid_enc text,
				error_code int,
				error_message text,
				-- the Campaign Key's HMAC, for the campaign report; how Meta priced the message, from its statuses
				campaign_hmac text,
				pricing_category text,
				pricing_type text,
				created_at timestamptz NOT NULL,
				updated_at timestamptz NOT NULL
			) WITH (fillfactor = 85)`,
			`CREATE INDEX sends_subject ON sends (subject_id)`,
			`CREATE INDEX sends_updated ON sends (updated_at)`,
			`CREATE INDEX sends_campaign ON sends (campaign_hmac) WHERE campaign_hmac IS NOT NULL`,
			`ALTER TABLE early_statuses ADD COLUMN pricing_category text, ADD COLUMN pricing_type text`,
			// The key column now holds the keyed HMAC of the delivery's key (a wamid, a wa_id, a send key).
			`CREATE TABLE processed_deliveries (
				key text PRIMARY KEY,
				result text NOT NULL,
				processed_at timestamptz NOT NULL
			)`,
			`CREATE INDEX processed_deliveries_processed ON processed_deliveries (processed_at)`,
		],
	},
	{
		// Keys (issue 10, item 3; lib/consent/keyring.ts): the ledger's salt, its secret's check value and its data keys,
		// wrapped. Independent of migration 8. A ledger with data from before is marked 'hkdf-v1' (keys derived from
		// the secret with a fixed salt), which its next open upgrades; a new ledger gets its row on first open.
		version: 9,
		name: 'keys',
		statements: [
			`CREATE TABLE ledger_keys (
				id int PRIMARY KEY CHECK (id = 1),
				scheme text NOT NULL CHECK (scheme IN ('hkdf-v1', 'scrypt-v1')),
				salt text,
				kdf jsonb,
				check_value text,
				keyring jsonb,
				rotation jsonb,
				updated_at timestamptz NOT NULL
			)`,
			`INSERT INTO ledger_keys (id, scheme, updated_at)
			 SELECT 1, 'hkdf-v1', now() WHERE EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM subjects) OR EXISTS (SELECT 1 FROM suppressions)`,
		],
	},
	{
		// What a committed webhook event owes the workflow (invariant 7, issue 10 item 5), written in the transaction of
		// the event's effect, so a 500 or a crash after the commit cannot lose it.
		version: 10,
		name: 'outbox',
		statements: [
			// One row per owed trigger item, by a keyed HMAC of the event's delivery key (the item's eventId), for the
			// business number (Phone Number ID) whose trigger owes it; the item itself encrypted (it carries numbers and
			// texts). A claim is the hand-over under way: a POST that took the row, until when its lease counts. The row
			// is deleted once n8n has the execution; purge deletes what is never handed over, erasure a person's rows
			// (found by their subject ids and the keyed HMACs of their numbers and user id).
			`CREATE TABLE outbox (
				id text PRIMARY KEY,
				channel text NOT NULL,
				item_enc text NOT NULL,
				subject_ids text[] NOT NULL,
				people text[] NOT NULL,
				created_at timestamptz NOT NULL,
				claim text,
				claimed_at timestamptz
			)`,
			`CREATE INDEX outbox_pending ON outbox (channel, created_at, id)`,
			`CREATE INDEX outbox_claim ON outbox (claim) WHERE claim IS NOT NULL`,
			// confirm_opt_ins writes the confirmation's owed item with it (in the form of its latest migration).
			...OPT_IN_FUNCTIONS,
		],
	},
	{
		// The keyed chain (issue 10, item 8; lib/consent/chain.ts): each event gets an HMAC under the ledger's chain key,
		// made in TypeScript (a key handed to SQL would be the database's, and whoever can replace a function there)
		// in the transaction that appends the event, once the database has given it its sequence number. The links are
		// rows of their own: a second write to each event (an UPDATE copies the whole row, payload and all, and adds
		// index entries) cost more than the event itself.
		version: 11,
		name: 'keyed chain',
		statements: [
			`CREATE TABLE event_links (
				seq bigint PRIMARY KEY,
				mac text NOT NULL
			)`,
			`CREATE FUNCTION event_links_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				RAISE EXCEPTION 'the links of consent events are append-only';
			END
			$$`,
			`CREATE TRIGGER event_links_append_only BEFORE UPDATE OR DELETE ON event_links
				FOR EACH ROW EXECUTE FUNCTION event_links_append_only()`,
			// Gives the events the caller's transaction appended their links; an event that has one already raises.
			`CREATE FUNCTION link_events(p_seqs bigint[], p_macs text[]) RETURNS void LANGUAGE sql AS $$
				INSERT INTO event_links (seq, mac) SELECT * FROM unnest(p_seqs, p_macs)
			$$`,
			// The group functions now say which event each item appended, for its link.
			...OPT_IN_FUNCTIONS,
		],
	},
	{
		// Art. 21(4) GDPR (issue 13): the first marketing message carries the notice of the right to object. The
		// person's row says when the notice went out and with which send (its key's HMAC): set in the transaction that
		// reserves the send, so of two sends at the same moment one carries it; cleared when that send fails, so the
		// next one carries it instead.
		version: 12,
		name: 'objection notice',
		statements: ['ALTER TABLE subjects ADD COLUMN objection_notice_at timestamptz, ADD COLUMN objection_notice_key text'],
	},
	{
		// Templates (issue 13): what Meta's template webhooks said, and sends Meta priced otherwise than the gate asked.
		version: 13,
		name: 'template updates and consent incidents',
		statements: [
			// The latest notice per template and kind ('status' from message_template_status_update, 'category' from a
			// completed template_category_update), by Meta's time, so every process's Send node sees it (the trigger
			// may run in another one). No personal data: the business account, the template and what Meta said.
			`CREATE TABLE template_updates (
				waba_id text NOT NULL,
				name text NOT NULL,
				language text NOT NULL,
				kind text NOT NULL CHECK (kind IN ('status', 'category')),
				value text NOT NULL,
				reason text,
				template_id text,
				at timestamptz NOT NULL,
				received_at timestamptz NOT NULL,
				PRIMARY KEY (waba_id, name, language, kind)
			)`,
			// A send the gate let through as utility, a service reply or a withdrawal confirmation that Meta priced as
			// marketing: the consent it relied on did not cover what went out. One per send, kept with the reason; the
			// person's rows go with them on erasure.
			`CREATE TABLE consent_incidents (
				send_key_hmac text PRIMARY KEY,
				subject_id text REFERENCES subjects (id) ON DELETE CASCADE,
				purpose text NOT NULL,
				sent_as text NOT NULL,
				billed_as text NOT NULL,
				reason text NOT NULL,
				at timestamptz NOT NULL,
				recorded_at timestamptz NOT NULL
			)`,
			`CREATE INDEX consent_incidents_subject ON consent_incidents (subject_id)`,
		],
	},
	{
		// Business-scoped user ids (issue 12). A person may also be known by the parent user id Meta gives linked
		// business portfolios, keyed like the user id. A code that came from a user id the ledger cannot tie to the
		// number keeps its request pending, marked with that user id's HMAC, until the person shares the number.
		version: 14,
		name: 'business-scoped user ids',
		statements: [
			'ALTER TABLE subjects ADD COLUMN parent_user_id_hmac text',
			'CREATE INDEX subjects_parent_user_id ON subjects (parent_user_id_hmac) WHERE parent_user_id_hmac IS NOT NULL',
			'ALTER TABLE optin_requests ADD COLUMN awaiting_user_hmac text',
			`CREATE INDEX optin_requests_awaiting_user ON optin_requests (awaiting_user_hmac) WHERE awaiting_user_hmac IS NOT NULL`,
		],
	},
	{
		// A newsletter completes its accepted sends in slices (lib/consent/sends.ts, completeSends): one call, and one
		// round trip, for a slice instead of a transaction of five. Under the wamids' locks, the ones a status for one of
		// them takes too: should a status have come first for any of them (Meta's webhook can overtake the answer to
		// the send), it changes nothing and says so, and the caller calls it again in a transaction that then applies
		// those statuses (p_early_applied). Each statement of the function reads what was committed before it began,
		// so one that took a lock after a status was kept sees that status.
		version: 15,
		name: 'complete sends in one call',
		statements: [
			`CREATE FUNCTION complete_sends(p_key_hmacs text[], p_wamid_hmacs text[], p_wamid_encs text[], p_at timestamptz, p_early_applied boolean,
				OUT done boolean)
			LANGUAGE plpgsql AS $$
			BEGIN
				PERFORM pg_advisory_xact_lock(hashtext(k)) FROM (SELECT DISTINCT 'wamid:' || k AS k FROM unnest(p_wamid_hmacs) AS k ORDER BY 1) AS locks;
				IF NOT p_early_applied AND EXISTS (SELECT 1 FROM early_statuses WHERE wamid_hmac = ANY(p_wamid_hmacs)) THEN
					done := false;
					RETURN;
				END IF;
				WITH send AS (
					UPDATE sends SET status = 'accepted', wamid_hmac = accepted.wamid_hmac, wamid_enc = accepted.wamid_enc, updated_at = p_at
					FROM unnest(p_key_hmacs, p_wamid_hmacs, p_wamid_encs) AS accepted (key_hmac, wamid_hmac, wamid_enc)
					WHERE sends.key_hmac = accepted.key_hmac
					RETURNING subject_id
				)
				UPDATE subjects SET last_activity_at = greatest(last_activity_at, p_at) WHERE id IN (SELECT subject_id FROM send);
				done := true;
			END
			$$`,
		],
	},
];

export const LATEST_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

export async function migrate(store: Store): Promise<void> {
	await store.transaction(async (tx) => {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`whatsapp-consent-ledger:${store.schema}`]);
		await tx.query(`CREATE SCHEMA IF NOT EXISTS ${store.schema}`);
		await tx.query(`SET LOCAL search_path TO ${store.schema}`);
		await tx.query(
			'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
		);
		const applied = new Set(
			(await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((row) => Number(row.version)),
		);
		const newest = Math.max(0, ...applied);
		if (newest > LATEST_SCHEMA_VERSION) {
			throw new Error(
				`The consent ledger was written by a newer version of this package (schema ${newest}, this one knows ${LATEST_SCHEMA_VERSION}). Update the package.`,
			);
		}
		for (const migration of MIGRATIONS) {
			if (applied.has(migration.version)) continue;
			for (const statement of migration.statements) await tx.query(statement);
			await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
		}
	});
}
