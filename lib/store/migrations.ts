/**
 * The ledger's schema, as forward-only migrations in PostgreSQL's dialect, run on first use by both drivers.
 * An advisory lock makes two processes starting at once take turns; the second finds the work done.
 *
 * Privacy by design (checklist 34, 29): no table holds a phone number in clear. `subjects.phone_enc` is
 * AES-256-GCM; lookups go through keyed HMACs; the suppression list uses its own HMAC key and knows no subject.
 */
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
		// These functions only look rows up by key. They say so to the planner (enable_seqscan off), because the plan a
		// function keeps is made from the statistics of the moment, and a table without them (new, on PGlite, or on
		// a server that runs no autovacuum) looks so small that reading it all seems cheaper than its index, on every
		// call, while it grows to millions of rows. And they ask for no JIT compilation: a group's estimated cost
		// passes PostgreSQL's JIT threshold, and compiling took longer than the lookups themselves.
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
			// Sign-ups, all or none: any refusal raises and the caller runs the group's sign-ups one by one, so each
			// gets its own answer. CL001 unknown purpose, CL002 too many requests for a number in the last hour,
			// CL003 one number twice in the group (the second must count the first's request).
			`CREATE FUNCTION request_opt_ins(p_items jsonb, p_texts jsonb, p_max_recent int)
			RETURNS TABLE (n int, subject_id text) LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
			#variable_conflict use_column
			DECLARE
				-- The group's columns, read out of the JSON once: each statement reading the JSON again would cost more
				-- than its own work. Item k is at index k of each; a purpose list is (item, purpose) pairs.
				v_new_subject text[]; v_phone_hmac text[]; v_phone_enc text[]; v_at timestamptz[]; v_at_ms bigint[];
				v_text_hash text[]; v_text_version text[]; v_request_id text[]; v_code_hmac text[]; v_expires_at timestamptz[];
				v_recent_since timestamptz[]; v_payload text[]; v_payload_hash text[];
				v_purpose_item int[]; v_purpose text[];
				v_subject text[];
			BEGIN
				SELECT array_agg(i.new_subject ORDER BY i.n), array_agg(i.phone_hmac ORDER BY i.n), array_agg(i.phone_enc ORDER BY i.n),
					array_agg(i.at ORDER BY i.n), array_agg(i.at_ms ORDER BY i.n), array_agg(i.text_hash ORDER BY i.n),
					array_agg(i.text_version ORDER BY i.n), array_agg(i.request_id ORDER BY i.n), array_agg(i.code_hmac ORDER BY i.n),
					array_agg(i.expires_at ORDER BY i.n), array_agg(i.recent_since ORDER BY i.n), array_agg(i.payload ORDER BY i.n),
					array_agg(i.payload_hash ORDER BY i.n)
				INTO v_new_subject, v_phone_hmac, v_phone_enc, v_at, v_at_ms, v_text_hash, v_text_version, v_request_id, v_code_hmac,
					v_expires_at, v_recent_since, v_payload, v_payload_hash
				FROM jsonb_to_recordset(p_items) AS i(n int, new_subject text, phone_hmac text, phone_enc text, at timestamptz,
					at_ms bigint, text_hash text, text_version text, request_id text, code_hmac text, expires_at timestamptz,
					recent_since timestamptz, payload text, payload_hash text);
				SELECT array_agg(i.n ORDER BY i.n, wanted.nth), array_agg(wanted.id ORDER BY i.n, wanted.nth) INTO v_purpose_item, v_purpose
				FROM jsonb_to_recordset(p_items) AS i(n int, purposes text[]) CROSS JOIN unnest(i.purposes) WITH ORDINALITY AS wanted (id, nth);
				IF cardinality(v_phone_hmac) > (SELECT count(DISTINCT phone_hmac) FROM unnest(v_phone_hmac) AS phone_hmac) THEN
					RAISE EXCEPTION 'one number twice in a group' USING ERRCODE = 'CL003';
				END IF;
				IF EXISTS (SELECT 1 FROM unnest(v_purpose) AS wanted (id) WHERE NOT EXISTS (SELECT 1 FROM purposes p WHERE p.id = wanted.id)) THEN
					RAISE EXCEPTION 'unknown purpose' USING ERRCODE = 'CL001';
				END IF;
				INSERT INTO consent_texts (hash, version, language, body, first_shown_at)
				SELECT t.hash, t.version, t.language, t.body, t.at
				FROM jsonb_to_recordset(p_texts) AS t(hash text, version text, language text, body text, at timestamptz)
				ON CONFLICT (hash) DO NOTHING;
				-- The upsert locks each person (in one order, so two groups cannot deadlock), and parallel sign-ups for one
				-- number count each other's requests below.
				WITH people AS (
					INSERT INTO subjects AS s (id, phone_hmac, phone_enc, created_at, last_activity_at)
					SELECT i.id, i.phone_hmac, i.phone_enc, i.at, i.at FROM unnest(v_new_subject, v_phone_hmac, v_phone_enc, v_at) AS i(id, phone_hmac, phone_enc, at)
					ORDER BY i.phone_hmac
					ON CONFLICT (phone_hmac) DO UPDATE SET last_activity_at = greatest(s.last_activity_at, EXCLUDED.last_activity_at)
					RETURNING s.id, s.phone_hmac
				)
				SELECT array_agg(people.id ORDER BY i.n) INTO v_subject
				FROM unnest(v_phone_hmac) WITH ORDINALITY AS i(phone_hmac, n) JOIN people ON people.phone_hmac = i.phone_hmac;
				IF EXISTS (SELECT 1 FROM unnest(v_subject, v_recent_since) AS i(subject, recent_since)
					WHERE (SELECT count(*) FROM optin_requests r WHERE r.subject_id = i.subject AND r.created_at > i.recent_since) >= p_max_recent)
				THEN
					RAISE EXCEPTION 'too many requests' USING ERRCODE = 'CL002';
				END IF;
				INSERT INTO optin_requests (id, subject_id, code_hmac, purposes, text_hash, text_version, status, created_at, expires_at)
				SELECT i.id, i.subject, i.code_hmac,
					ARRAY(SELECT p.purpose FROM unnest(v_purpose_item, v_purpose) WITH ORDINALITY AS p(item, purpose, nth) WHERE p.item = i.n ORDER BY p.nth),
					i.text_hash, i.text_version, 'pending', i.at, i.expires_at
				FROM unnest(v_request_id, v_subject, v_code_hmac, v_text_hash, v_text_version, v_at, v_expires_at)
					WITH ORDINALITY AS i(id, subject, code_hmac, text_hash, text_version, at, expires_at, n);
				INSERT INTO consents AS c (subject_id, purpose, state, text_hash, text_version, requested_at)
				SELECT v_subject[p.item], p.purpose, 'pending', v_text_hash[p.item], v_text_version[p.item], v_at[p.item]
				FROM unnest(v_purpose_item, v_purpose) AS p(item, purpose)
				ON CONFLICT (subject_id, purpose) DO UPDATE SET
					state = CASE WHEN c.state = 'confirmed' THEN 'confirmed' ELSE 'pending' END,
					requested_at = EXCLUDED.requested_at;
				PERFORM append_events(array_fill('optin.requested'::text, ARRAY[cardinality(v_subject)]), v_subject, v_at_ms, v_payload, v_payload_hash);
				RETURN QUERY SELECT k, v_subject[k] FROM generate_subscripts(v_subject, 1) AS k ORDER BY k;
			END
			$$`,
			// For each message, the requests whose code it carries (up to 10, newest first), with what confirming one
			// needs to know: the number (encrypted) to compare with the sender, and the purposes withdrawn after the
			// message was sent.
			`CREATE FUNCTION find_confirmations(p_items jsonb)
			RETURNS TABLE (n int, id text, subject_id text, purposes text[], status text, attempts int, expires_at timestamptz,
				text_hash text, text_version text, phone_enc text, superseded text[])
			LANGUAGE plpgsql STABLE SET enable_seqscan = off SET jit = off AS $$
			#variable_conflict use_column
			BEGIN
				RETURN QUERY
				SELECT i.n, r.*
				FROM jsonb_to_recordset(p_items) AS i(n int, codes text[], at timestamptz)
				CROSS JOIN LATERAL (
					SELECT r.id, r.subject_id, r.purposes, r.status, r.attempts, r.expires_at, r.text_hash, r.text_version, s.phone_enc,
						(SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c
						 WHERE c.subject_id = r.subject_id AND c.purpose = ANY (r.purposes) AND c.withdrawn_at > i.at)
					FROM optin_requests r JOIN subjects s ON s.id = r.subject_id
					WHERE r.code_hmac = ANY (i.codes)
					ORDER BY r.created_at DESC LIMIT 10
				) r
				ORDER BY i.n;
			END
			$$`,
			// Confirms requests the caller found and checked. Under each person's lock it makes sure the facts the
			// caller decided on still hold, per item: 'confirmed'; 'duplicate' when the message's delivery key was
			// handled already; 'changed' otherwise (the caller takes the full path), which includes a second item for
			// a person or a delivery already in the group.
			`CREATE FUNCTION confirm_opt_ins(p_items jsonb)
			RETURNS TABLE (n int, outcome text) LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
			#variable_conflict use_column
			DECLARE
				-- The items to confirm (their numbers in the group) and their columns, read out of the JSON once; item
				-- v_ok[k] is at index k of each. A purpose list is (index, purpose) pairs.
				v_ok int[];
				v_key text[]; v_result text[]; v_processed_at timestamptz[]; v_request_id text[]; v_subject text[];
				v_at timestamptz[]; v_at_ms bigint[]; v_text_hash text[]; v_text_version text[]; v_wa_id_hmac text[];
				v_user_id_hmac text[]; v_suppression_hmac text[]; v_payload text[]; v_payload_hash text[];
				v_purpose_index int[]; v_purpose text[];
				v_seq bigint[];
			BEGIN
				-- Rows are looked up through arrays and scalar subqueries: given a join or EXISTS with a group (which
				-- it expects to hold 100 items), the planner prefers hashing a whole table to 100 index lookups, and
				-- these tables grow with every sign-up.
				PERFORM 1 FROM subjects WHERE id = ANY (ARRAY(SELECT i.subject FROM jsonb_to_recordset(p_items) AS i(subject text)))
				ORDER BY phone_hmac FOR UPDATE;
				SELECT coalesce(array_agg(i.n ORDER BY i.n), '{}'), array_agg(i.delivery_key ORDER BY i.n), array_agg(i.result ORDER BY i.n),
					array_agg(i.processed_at ORDER BY i.n), array_agg(i.request_id ORDER BY i.n), array_agg(i.subject ORDER BY i.n),
					array_agg(i.at ORDER BY i.n), array_agg(i.at_ms ORDER BY i.n), array_agg(i.text_hash ORDER BY i.n),
					array_agg(i.text_version ORDER BY i.n), array_agg(i.wa_id_hmac ORDER BY i.n), array_agg(i.user_id_hmac ORDER BY i.n),
					array_agg(i.suppression_hmac ORDER BY i.n), array_agg(i.payload ORDER BY i.n), array_agg(i.payload_hash ORDER BY i.n)
				INTO v_ok, v_key, v_result, v_processed_at, v_request_id, v_subject, v_at, v_at_ms, v_text_hash, v_text_version,
					v_wa_id_hmac, v_user_id_hmac, v_suppression_hmac, v_payload, v_payload_hash
				FROM (
					SELECT i.*,
						row_number() OVER (PARTITION BY i.subject ORDER BY i.n) AS nth_for_person,
						row_number() OVER (PARTITION BY i.delivery_key ORDER BY i.n) AS nth_for_delivery
					FROM jsonb_to_recordset(p_items) AS i(n int, delivery_key text, result text, processed_at timestamptz,
						request_id text, subject text, attempts int, superseded text[], at timestamptz, at_ms bigint, text_hash text,
						text_version text, wa_id_hmac text, user_id_hmac text, suppression_hmac text, payload text, payload_hash text)
				) i
				WHERE i.nth_for_person = 1 AND (i.delivery_key IS NULL OR i.nth_for_delivery = 1)
					AND (SELECT d.key FROM processed_deliveries d WHERE d.key = i.delivery_key) IS NULL
					AND (SELECT r.status = 'pending' AND r.attempts = i.attempts FROM optin_requests r WHERE r.id = i.request_id)
					AND coalesce((SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c JOIN optin_requests r ON r.id = i.request_id
						WHERE c.subject_id = i.subject AND c.purpose = ANY (r.purposes) AND c.withdrawn_at > i.at), '{}')
						= coalesce(i.superseded, '{}');
				IF cardinality(v_ok) > 0 THEN
					SELECT array_agg(array_position(v_ok, i.n) ORDER BY i.n), array_agg(wanted.id ORDER BY i.n) INTO v_purpose_index, v_purpose
					FROM jsonb_to_recordset(p_items) AS i(n int, purposes text[]) CROSS JOIN unnest(i.purposes) AS wanted (id)
					WHERE i.n = ANY (v_ok);
					v_seq := ARRAY(SELECT append_events(array_fill('optin.confirmed'::text, ARRAY[cardinality(v_ok)]), v_subject, v_at_ms,
						v_payload, v_payload_hash));
					UPDATE optin_requests SET status = 'confirmed' WHERE id = ANY (v_request_id);
					UPDATE consents c SET state = 'confirmed', confirmed_at = i.at, withdrawn_at = NULL, text_hash = i.text_hash,
						text_version = i.text_version, confirm_event_seq = i.seq
					FROM unnest(v_subject, v_at, v_text_hash, v_text_version, v_seq) WITH ORDINALITY AS i(subject, at, text_hash, text_version, seq, k)
						JOIN unnest(v_purpose_index, v_purpose) AS p(k, purpose) ON p.k = i.k
					WHERE c.subject_id = ANY (v_subject) AND c.subject_id = i.subject AND c.purpose = p.purpose;
					UPDATE subjects s SET wa_id_hmac = i.wa_id_hmac, user_id_hmac = coalesce(i.user_id_hmac, s.user_id_hmac),
						marketing_withdrawn_at = NULL, last_inbound_at = greatest(s.last_inbound_at, i.at),
						last_activity_at = greatest(s.last_activity_at, i.at)
					FROM unnest(v_subject, v_wa_id_hmac, v_user_id_hmac, v_at) AS i(subject, wa_id_hmac, user_id_hmac, at)
					WHERE s.id = ANY (v_subject) AND s.id = i.subject;
					-- A new opt-in lifts the suppression for what it confirms; an 'all' entry narrows to the other purposes.
					IF EXISTS (SELECT 1 FROM suppressions WHERE hmac = ANY (v_suppression_hmac)) THEN
						INSERT INTO suppressions (hmac, scope, since)
						SELECT s.hmac, other.id, s.since
						FROM unnest(v_suppression_hmac) WITH ORDINALITY AS i(hmac, k)
							JOIN suppressions s ON s.hmac = i.hmac AND s.scope = 'all'
							CROSS JOIN purposes other
						WHERE NOT EXISTS (SELECT 1 FROM unnest(v_purpose_index, v_purpose) AS p(k, purpose) WHERE p.k = i.k AND p.purpose = other.id)
						ON CONFLICT DO NOTHING;
						DELETE FROM suppressions s
						USING unnest(v_suppression_hmac) WITH ORDINALITY AS i(hmac, k)
						WHERE s.hmac = ANY (v_suppression_hmac) AND s.hmac = i.hmac AND (s.scope IN ('all', 'marketing')
							OR EXISTS (SELECT 1 FROM unnest(v_purpose_index, v_purpose) AS p(k, purpose) WHERE p.k = i.k AND p.purpose = s.scope));
					END IF;
					INSERT INTO processed_deliveries (key, result, processed_at)
					SELECT d.key, d.result, d.processed_at FROM unnest(v_key, v_result, v_processed_at) AS d(key, result, processed_at)
					WHERE d.key IS NOT NULL;
				END IF;
				RETURN QUERY
				SELECT i.n, CASE
					WHEN i.n = ANY (v_ok) THEN 'confirmed'
					WHEN (SELECT d.key FROM processed_deliveries d WHERE d.key = i.delivery_key) IS NOT NULL THEN 'duplicate'
					ELSE 'changed' END
				FROM jsonb_to_recordset(p_items) AS i(n int, delivery_key text)
				ORDER BY i.n;
			END
			$$`,
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
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

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
