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
