-- notify-auth: the tables PostgresKeyStore reads, for a database of its own (development,
-- tests, a test double of Notify). Never apply it to a real Notify-family database: there the
-- tables exist with many more columns, and the store only reads them.
--
-- This is the subset of GOV.UK Notify's own schema that authentication needs: `services`
-- (id, active) and `api_keys` (id, service_id, secret, key_type, expiry_date), with Notify's
-- table and column names and types, so the same queries work against either. The triggers
-- that push changes to every process are in 0002_notify_auth_triggers.sql, a separate step
-- (PostgresKeyStore::install_triggers), the only one a real Notify database may want.
--
-- Differences from Notify:
--   * `api_keys.secret` may hold the secret as the client signs with it (the store's default
--     SecretFormat), or signed or encrypted as Notify's forks keep it.
--   * `key_type` is checked against 'normal', 'team' and 'test' here; Notify references its
--     `key_types` table, which holds the same three names.
--   * Only the columns authentication needs, plus `name` and `created_at` for people.
--
-- Revoking a key is plain SQL, exactly as Notify does it:
--   UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = '…';
-- A revoked key stays visible (a token for it is answered "API key revoked") while its
-- expiry date's UTC calendar date is later than now − 7 days; after that it is as if it did
-- not exist ("API key not found").
--
-- The file is idempotent: applying it again changes nothing and keeps the data
-- (PostgresKeyStore::migrate runs it in a transaction under an advisory lock, so several
-- processes may start at once). It needs PostgreSQL 11 or later.

-- A service. An inactive service is one Notify calls archived: its tokens are refused.
CREATE TABLE IF NOT EXISTS services (
    id         uuid PRIMARY KEY,
    name       text,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamp NOT NULL DEFAULT (now() at time zone 'utc')
);

-- An API key of a service. `expiry_date` is NULL for an active key, or the moment (UTC,
-- `timestamp without time zone`, as in Notify) it was revoked.
CREATE TABLE IF NOT EXISTS api_keys (
    id          uuid PRIMARY KEY,
    name        text,
    service_id  uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    secret      text NOT NULL,
    key_type    text NOT NULL CHECK (key_type IN ('normal', 'team', 'test')),
    expiry_date timestamp NULL,
    created_at  timestamp NOT NULL DEFAULT (now() at time zone 'utc')
);

-- Every lookup reads one service's keys, and GC Notify's raw keys are found by their stored
-- secret (Notify's forks keep that column unique). Created only when missing: a second run
-- takes no lock on the table.
DO $$
BEGIN
    IF to_regclass('ix_api_keys_service_id') IS NULL THEN
        CREATE INDEX ix_api_keys_service_id ON api_keys (service_id);
    END IF;
    IF to_regclass('ix_api_keys_secret') IS NULL THEN
        CREATE INDEX ix_api_keys_secret ON api_keys (secret);
    END IF;
END;
$$;
