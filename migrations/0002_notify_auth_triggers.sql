-- notify-auth: the triggers that push key changes to every process running PostgresKeyStore
-- with an invalidation listener, on the default tables (`services`, `api_keys`, and
-- `service_permissions` where the database has it). For other
-- table names, Schema::triggers_sql() writes the same for yours; PostgresKeyStore::
-- install_triggers() applies it. This is the only thing notify-auth ever asks to create in a
-- real Notify-family database, and only when told to: without it the store still works, and
-- changes take the cache's TTL (2 s by default, as Notify's own cache).
--
-- A trigger on each table sends `NOTIFY notify_auth_keys, '<service id>'` whenever a service,
-- one of its keys or one of its permissions is created, changed or deleted; each listener then drops that service
-- from its cache, and learns of a new service at once. Idempotent, and takes no lock on a
-- table whose trigger already exists.

-- Sends the id of the service a changed row belongs to on the channel `notify_auth_keys`
-- (the crate's INVALIDATION_CHANNEL). The trigger's argument names the column holding that
-- id: `id` for services, `service_id` for api_keys and service_permissions. An UPDATE that moves a key to another
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

-- The triggers, created only when missing (DROP TRIGGER would lock the table).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"services"') AND tgname = 'notify_auth_services_changed') THEN
        CREATE TRIGGER notify_auth_services_changed
            AFTER INSERT OR UPDATE OR DELETE ON "services"
            FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('id');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"api_keys"') AND tgname = 'notify_auth_api_keys_changed') THEN
        CREATE TRIGGER notify_auth_api_keys_changed
            AFTER INSERT OR UPDATE OR DELETE ON "api_keys"
            FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('service_id');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"services"') AND tgname = 'notify_auth_services_truncated') THEN
        CREATE TRIGGER notify_auth_services_truncated
            AFTER TRUNCATE ON "services"
            FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_keys_truncated();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = to_regclass('"api_keys"') AND tgname = 'notify_auth_api_keys_truncated') THEN
        CREATE TRIGGER notify_auth_api_keys_truncated
            AFTER TRUNCATE ON "api_keys"
            FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_keys_truncated();
    END IF;
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
