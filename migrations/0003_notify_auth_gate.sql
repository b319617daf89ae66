-- notify-auth: what Notify's request gate reads of a service, for a database of the crate's
-- own (like 0001_notify_auth.sql: never for a real Notify-family database, which has all of
-- it): `services.rate_limit` (requests per minute per key type; GOV.UK Notify's default,
-- 3000), `services.restricted` (trial mode) and the `service_permissions` table, with
-- Notify's names and types, and the triggers that announce a change of permissions (the
-- functions are 0002_notify_auth_triggers.sql's).
--
-- Idempotent, and a second run takes no lock on a table: each change is made only when
-- missing. PostgresKeyStore::migrate applies it after 0001 and 0002.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'services'
                     AND column_name = 'rate_limit') THEN
        ALTER TABLE services ADD COLUMN rate_limit integer NOT NULL DEFAULT 3000;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'services'
                     AND column_name = 'restricted') THEN
        ALTER TABLE services ADD COLUMN restricted boolean NOT NULL DEFAULT false;
    END IF;
END;
$$;

-- A service's permissions, one row each: `email`, `sms`, `letter`, `international_sms`,
-- `inbound_sms`… (Notify references its `service_permission_types` table, which holds them).
CREATE TABLE IF NOT EXISTS service_permissions (
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    permission varchar(255) NOT NULL,
    created_at timestamp NOT NULL DEFAULT (now() at time zone 'utc'),
    PRIMARY KEY (service_id, permission)
);

DO $$
BEGIN
    IF to_regclass('"service_permissions"') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"service_permissions"') AND tgname = 'notify_auth_service_permissions_changed') THEN
        CREATE TRIGGER notify_auth_service_permissions_changed
            AFTER INSERT OR UPDATE OR DELETE ON "service_permissions"
            FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('service_id');
    END IF;
    IF to_regclass('"service_permissions"') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"service_permissions"') AND tgname = 'notify_auth_service_permissions_truncated') THEN
        CREATE TRIGGER notify_auth_service_permissions_truncated
            AFTER TRUNCATE ON "service_permissions"
            FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_keys_truncated();
    END IF;
END;
$$;
