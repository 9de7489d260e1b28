/**
 * The set-based opt-in functions (sign-ups, code searches and confirmations in groups; see lib/consent/optin-groups.ts)
 * in their current form. They hold the consent rules of the hot path in SQL, so the model-based tests
 * (test/model/) hold them to the reference model together with the TypeScript. A migration that changes them runs
 * these statements again, so a new ledger and an old one end up with the same definitions; they drop the functions
 * first, since a CREATE OR REPLACE cannot change what a function returns (migration 11 added the events' sequence
 * numbers, for their keyed links).
 *
 * These functions only look rows up by key. They say so to the planner (enable_seqscan off), because the plan a
 * function keeps is made from the statistics of the moment, and a table without them (new, on PGlite, or on a server
 * that runs no autovacuum) looks so small that reading it all seems cheaper than its index, on every call, while it
 * grows to millions of rows. And they ask for no JIT compilation: a group's estimated cost passes PostgreSQL's JIT
 * threshold, and compiling took longer than the lookups themselves.
 */
export const OPT_IN_FUNCTIONS: string[] = [
	`DROP FUNCTION IF EXISTS request_opt_ins(jsonb, jsonb, int)`,
	`DROP FUNCTION IF EXISTS confirm_opt_ins(jsonb)`,
	// Sign-ups, all or none: any refusal raises and the caller runs the group's sign-ups one by one, so each
	// gets its own answer. CL001 unknown purpose, CL002 too many requests for a number in the last hour,
	// CL003 one number twice in the group (the second must count the first's request).
	`CREATE FUNCTION request_opt_ins(p_items jsonb, p_texts jsonb, p_max_recent int)
	RETURNS TABLE (n int, subject_id text, seq bigint) LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
	#variable_conflict use_column
	DECLARE
		-- The group's columns, read out of the JSON once: each statement reading the JSON again would cost more
		-- than its own work. Item k is at index k of each; a purpose list is (item, purpose) pairs.
		v_new_subject text[]; v_phone_hmac text[]; v_phone_enc text[]; v_at timestamptz[]; v_at_ms bigint[];
		v_text_hash text[]; v_text_version text[]; v_request_id text[]; v_code_hmac text[]; v_expires_at timestamptz[];
		v_recent_since timestamptz[]; v_payload text[]; v_payload_hash text[];
		v_purpose_item int[]; v_purpose text[];
		v_subject text[];
		v_seq bigint[];
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
		-- A confirmed consent stays as it is: anyone can type any number, and a later withdrawal compares with the
		-- time it was confirmed.
		ON CONFLICT (subject_id, purpose) DO UPDATE SET state = 'pending', requested_at = EXCLUDED.requested_at
		WHERE c.state <> 'confirmed';
		v_seq := ARRAY(SELECT append_events(array_fill('optin.requested'::text, ARRAY[cardinality(v_subject)]), v_subject, v_at_ms,
			v_payload, v_payload_hash));
		RETURN QUERY SELECT k, v_subject[k], v_seq[k] FROM generate_subscripts(v_subject, 1) AS k ORDER BY k;
	END
	$$`,
	// For each message, the requests whose code it carries (up to 10, newest first), with what confirming one
	// needs to know: the number (encrypted) to compare with the sender, and the purposes withdrawn after the
	// message was sent.
	`CREATE OR REPLACE FUNCTION find_confirmations(p_items jsonb)
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
				 WHERE c.subject_id = r.subject_id AND c.purpose = ANY (r.purposes) AND withdrawal_wins(c.withdrawn_at, i.at))
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
	RETURNS TABLE (n int, outcome text, seq bigint) LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
	#variable_conflict use_column
	DECLARE
		-- The items to confirm (their numbers in the group) and their columns, read out of the JSON once; item
		-- v_ok[k] is at index k of each. A purpose list is (index, purpose) pairs.
		v_ok int[];
		v_key text[]; v_result text[]; v_processed_at timestamptz[]; v_request_id text[]; v_subject text[];
		v_at timestamptz[]; v_at_ms bigint[]; v_text_hash text[]; v_text_version text[];
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
			array_agg(i.text_version ORDER BY i.n), array_agg(i.user_id_hmac ORDER BY i.n),
			array_agg(i.suppression_hmac ORDER BY i.n), array_agg(i.payload ORDER BY i.n), array_agg(i.payload_hash ORDER BY i.n)
		INTO v_ok, v_key, v_result, v_processed_at, v_request_id, v_subject, v_at, v_at_ms, v_text_hash, v_text_version,
			v_user_id_hmac, v_suppression_hmac, v_payload, v_payload_hash
		FROM (
			SELECT i.*,
				row_number() OVER (PARTITION BY i.subject ORDER BY i.n) AS nth_for_person,
				row_number() OVER (PARTITION BY i.delivery_key ORDER BY i.n) AS nth_for_delivery
			FROM jsonb_to_recordset(p_items) AS i(n int, delivery_key text, result text, processed_at timestamptz,
				request_id text, subject text, attempts int, superseded text[], at timestamptz, at_ms bigint, text_hash text,
				text_version text, user_id_hmac text, suppression_hmac text, payload text, payload_hash text)
		) i
		WHERE i.nth_for_person = 1 AND (i.delivery_key IS NULL OR i.nth_for_delivery = 1)
			AND (SELECT d.key FROM processed_deliveries d WHERE d.key = i.delivery_key) IS NULL
			AND (SELECT r.status = 'pending' AND r.attempts = i.attempts FROM optin_requests r WHERE r.id = i.request_id)
			AND coalesce((SELECT array_agg(c.purpose ORDER BY c.purpose) FROM consents c JOIN optin_requests r ON r.id = i.request_id
				WHERE c.subject_id = i.subject AND c.purpose = ANY (r.purposes) AND withdrawal_wins(c.withdrawn_at, i.at)), '{}')
				= coalesce(i.superseded, '{}');
		IF cardinality(v_ok) > 0 THEN
			SELECT array_agg(array_position(v_ok, i.n) ORDER BY i.n), array_agg(wanted.id ORDER BY i.n) INTO v_purpose_index, v_purpose
			FROM jsonb_to_recordset(p_items) AS i(n int, purposes text[]) CROSS JOIN unnest(i.purposes) AS wanted (id)
			WHERE i.n = ANY (v_ok);
			v_seq := ARRAY(SELECT append_events(array_fill('optin.confirmed'::text, ARRAY[cardinality(v_ok)]), v_subject, v_at_ms,
				v_payload, v_payload_hash));
			UPDATE optin_requests SET status = 'confirmed' WHERE id = ANY (v_request_id);
			-- A marketing STOP the person sent after this code stands (it was delivered first).
			UPDATE consents c SET state = 'confirmed', confirmed_at = i.at, withdrawn_at = NULL, text_hash = i.text_hash,
				marketing_withdrawn_at = CASE WHEN withdrawal_wins(c.marketing_withdrawn_at, i.at) THEN c.marketing_withdrawn_at END,
				text_version = i.text_version, confirm_event_seq = i.seq
			FROM unnest(v_subject, v_at, v_text_hash, v_text_version, v_seq) WITH ORDINALITY AS i(subject, at, text_hash, text_version, seq, k)
				JOIN unnest(v_purpose_index, v_purpose) AS p(k, purpose) ON p.k = i.k
			WHERE c.subject_id = ANY (v_subject) AND c.subject_id = i.subject AND c.purpose = p.purpose;
			UPDATE subjects s SET user_id_hmac = coalesce(i.user_id_hmac, s.user_id_hmac),
				last_inbound_at = greatest(s.last_inbound_at, i.at),
				last_activity_at = greatest(s.last_activity_at, i.at)
			FROM unnest(v_subject, v_user_id_hmac, v_at) AS i(subject, user_id_hmac, at)
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
			-- What each confirmation owes the workflow, in the same transaction (the outbox, migration 10), claimed by
			-- the delivery that commits it.
			INSERT INTO outbox (id, channel, item_enc, subject_ids, people, created_at, claim, claimed_at)
			SELECT o.id, o.channel, o.item_enc, o.subject_ids, o.people, o.created_at, o.claim, o.created_at
			FROM jsonb_to_recordset(p_items) AS i(n int, owed jsonb)
				CROSS JOIN LATERAL jsonb_to_record(i.owed) AS o(id text, channel text, item_enc text, subject_ids text[], people text[],
					created_at timestamptz, claim text)
			WHERE i.n = ANY (v_ok) AND jsonb_typeof(i.owed) = 'object'
			ON CONFLICT (id) DO NOTHING;
		END IF;
		RETURN QUERY
		SELECT i.n, CASE
			WHEN i.n = ANY (v_ok) THEN 'confirmed'
			WHEN (SELECT d.key FROM processed_deliveries d WHERE d.key = i.delivery_key) IS NOT NULL THEN 'duplicate'
			ELSE 'changed' END,
			v_seq[array_position(v_ok, i.n)]
		FROM jsonb_to_recordset(p_items) AS i(n int, delivery_key text)
		ORDER BY i.n;
	END
	$$`,
];
