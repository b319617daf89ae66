-- notify-auth: the tables PostgresKeyStore reads, and the trigger that pushes key changes.
--
-- This is the subset of GOV.UK Notify's own schema that authentication needs: `services`
-- (id, active) and `api_keys` (id, service_id, secret, key_type, expiry_date), with Notify's
-- table and column names and types, so the same queries work against either. On top of it, a
-- trigger on both tables sends `NOTIFY notify_auth_keys, '<service id>'` whenever a service or
-- one of its keys is created, changed or deleted; every process running PostgresKeyStore with
-- an invalidation listener then drops that service from its cache at once, instead of serving
-- the old keys until the cache's TTL runs out.
--
-- Differences from Notify:
--   * `api_keys.secret` holds the key's secret as the client signs with it. (Notify stores it
--     signed with its SECRET_KEY through itsdangerous; this crate does not read that form.)
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

-- Sends the id of the service a changed row belongs to on the channel `notify_auth_keys`
-- (the crate's INVALIDATION_CHANNEL). The trigger's argument names the column holding that
-- id: `id` for services, `service_id` for api_keys. An UPDATE that moves a key to another
-- service notifies both services. Notifications are delivered when the transaction commits,
-- and identical ones within a transaction are sent once.
CREATE OR REPLACE FUNCTION notify_auth_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_id text;
    new_id text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_id := to_jsonb(OLD) ->> TG_ARGV[0];
        IF old_id IS NOT NULL THEN
            PERFORM pg_notify('notify_auth_keys', old_id);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_id := to_jsonb(NEW) ->> TG_ARGV[0];
        IF new_id IS NOT NULL AND new_id IS DISTINCT FROM old_id THEN
            PERFORM pg_notify('notify_auth_keys', new_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- TRUNCATE has no rows to name: the payload `*` tells listeners to forget every service.
CREATE OR REPLACE FUNCTION notify_auth_keys_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notify_auth_keys', '*');
    RETURN NULL;
END;
$$;

-- The index and the triggers are created only when missing: a second run takes no lock on the
-- tables (DROP TRIGGER would take an ACCESS EXCLUSIVE lock, stalling every lookup behind any
-- long transaction on the table, each time a process starts and applies this file).
DO $$
BEGIN
    -- Every lookup reads one service's keys.
    IF to_regclass('ix_api_keys_service_id') IS NULL THEN
        CREATE INDEX ix_api_keys_service_id ON api_keys (service_id);
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'services'::regclass
                     AND tgname = 'notify_auth_services_changed') THEN
        CREATE TRIGGER notify_auth_services_changed
            AFTER INSERT OR UPDATE OR DELETE ON services
            FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('id');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'api_keys'::regclass
                     AND tgname = 'notify_auth_api_keys_changed') THEN
        CREATE TRIGGER notify_auth_api_keys_changed
            AFTER INSERT OR UPDATE OR DELETE ON api_keys
            FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('service_id');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'services'::regclass
                     AND tgname = 'notify_auth_services_truncated') THEN
        CREATE TRIGGER notify_auth_services_truncated
            AFTER TRUNCATE ON services
            FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_keys_truncated();
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'api_keys'::regclass
                     AND tgname = 'notify_auth_api_keys_truncated') THEN
        CREATE TRIGGER notify_auth_api_keys_truncated
            AFTER TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_keys_truncated();
    END IF;
END;
$$;
