//! The table and column names a [`PostgresKeyStore`](super::PostgresKeyStore) reads, and the
//! SQL made from them.

use super::{TRIGGERS, TRIGGERS_MARKER};
use crate::store::KeyStoreError;

/// The table and column names a [`PostgresKeyStore`](super::PostgresKeyStore) reads. The default is Notify's:
///
/// | table      | columns                                                    |
/// |------------|------------------------------------------------------------|
/// | `services` | `id` (uuid), `active` (boolean); the gate's `rate_limit` (integer) and `restricted` (boolean) where it has them |
/// | `api_keys` | `id` (uuid), `service_id` (uuid), `secret` (text), `key_type` (text: `normal`, `team` or `test`), `expiry_date` (`timestamp without time zone`, UTC; NULL for an active key); VA Notify's `revoked` (boolean) where it has it |
/// | `service_permissions` | `service_id` (uuid), `permission` (text, varchar or an enum), where the database has the table |
///
/// The optional columns and table are looked for at the first lookup: a database without them
/// gives every service [`DEFAULT_RATE_LIMIT`](crate::DEFAULT_RATE_LIMIT), not restricted, no
/// permissions. The columns of [`Schema::service_data_columns`], if any, must exist.
///
/// Names are letters, digits and underscores (not starting with a digit, at most 63
/// characters); a table may be schema-qualified (`notify.services`). They are quoted in the
/// query, so they are case-sensitive. Other names are refused by
/// [`PostgresKeyStoreBuilder::build`](super::PostgresKeyStoreBuilder::build).
///
/// [`PostgresKeyStore::migrate`](super::PostgresKeyStore::migrate) creates only the default tables. With other names, the tables
/// are yours; the invalidation triggers for them are [`Schema::triggers_sql`], which
/// [`PostgresKeyStore::install_triggers`](super::PostgresKeyStore::install_triggers) applies.
///
/// ```
/// use notify_auth::store::Schema;
///
/// let schema = Schema::default()
///     .services_table("auth.services")
///     .api_keys_table("auth.api_keys")
///     .key_secret_column("plain_secret");
/// # let _ = schema;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    pub(super) services_table: String,
    pub(super) service_id: String,
    pub(super) service_active: String,
    pub(super) api_keys_table: String,
    pub(super) key_id: String,
    pub(super) key_service_id: String,
    pub(super) key_secret: String,
    pub(super) key_type: String,
    pub(super) key_expiry_date: String,
    pub(super) key_revoked: String,
    pub(super) key_last_used: String,
    pub(super) service_rate_limit: String,
    pub(super) service_restricted: String,
    pub(super) permissions_table: String,
    pub(super) permission_service_id: String,
    pub(super) permission: String,
    pub(super) service_data: Vec<String>,
}

impl Default for Schema {
    fn default() -> Self {
        Schema {
            services_table: "services".into(),
            service_id: "id".into(),
            service_active: "active".into(),
            api_keys_table: "api_keys".into(),
            key_id: "id".into(),
            key_service_id: "service_id".into(),
            key_secret: "secret".into(),
            key_type: "key_type".into(),
            key_expiry_date: "expiry_date".into(),
            key_revoked: "revoked".into(),
            key_last_used: "last_used_timestamp".into(),
            service_rate_limit: "rate_limit".into(),
            service_restricted: "restricted".into(),
            permissions_table: "service_permissions".into(),
            permission_service_id: "service_id".into(),
            permission: "permission".into(),
            service_data: Vec::new(),
        }
    }
}

impl Schema {
    /// The services table (default `services`).
    pub fn services_table(mut self, name: impl Into<String>) -> Self {
        self.services_table = name.into();
        self
    }

    /// The services table's id column, a `uuid` (default `id`).
    pub fn service_id_column(mut self, name: impl Into<String>) -> Self {
        self.service_id = name.into();
        self
    }

    /// The services table's active flag, a `boolean`; false for an archived service
    /// (default `active`).
    pub fn service_active_column(mut self, name: impl Into<String>) -> Self {
        self.service_active = name.into();
        self
    }

    /// The API keys table (default `api_keys`).
    pub fn api_keys_table(mut self, name: impl Into<String>) -> Self {
        self.api_keys_table = name.into();
        self
    }

    /// The API keys table's id column, a `uuid` (default `id`).
    pub fn key_id_column(mut self, name: impl Into<String>) -> Self {
        self.key_id = name.into();
        self
    }

    /// The API keys table's service id column, a `uuid` (default `service_id`).
    pub fn key_service_id_column(mut self, name: impl Into<String>) -> Self {
        self.key_service_id = name.into();
        self
    }

    /// The API keys table's secret column, text holding the secret clients sign with
    /// (default `secret`).
    pub fn key_secret_column(mut self, name: impl Into<String>) -> Self {
        self.key_secret = name.into();
        self
    }

    /// The API keys table's key type column, text: `normal`, `team` or `test` (default
    /// `key_type`).
    pub fn key_type_column(mut self, name: impl Into<String>) -> Self {
        self.key_type = name.into();
        self
    }

    /// The API keys table's revocation time, a `timestamp without time zone` in UTC, NULL for
    /// an active key (default `expiry_date`).
    pub fn key_expiry_date_column(mut self, name: impl Into<String>) -> Self {
        self.key_expiry_date = name.into();
        self
    }

    /// The API keys table's revoked flag, a `boolean` (VA Notify's; default `revoked`). Read
    /// when the table has the column, found at the first lookup; a table without it has no
    /// flag.
    pub fn key_revoked_column(mut self, name: impl Into<String>) -> Self {
        self.key_revoked = name.into();
        self
    }

    /// The API keys table's time of last use, a `timestamp without time zone` in UTC (GC
    /// Notify's; default `last_used_timestamp`): what
    /// [`PostgresKeyStore::key_usage_sink`](super::PostgresKeyStore::key_usage_sink) writes, where the table has it.
    pub fn key_last_used_column(mut self, name: impl Into<String>) -> Self {
        self.key_last_used = name.into();
        self
    }

    /// The services table's API rate limit, an `integer` (requests per minute per key type;
    /// default `rate_limit`).
    pub fn service_rate_limit_column(mut self, name: impl Into<String>) -> Self {
        self.service_rate_limit = name.into();
        self
    }

    /// The services table's restricted flag, a `boolean` (trial mode; default `restricted`).
    pub fn service_restricted_column(mut self, name: impl Into<String>) -> Self {
        self.service_restricted = name.into();
        self
    }

    /// The table of services' permissions, one row per service and permission (default
    /// `service_permissions`).
    pub fn permissions_table(mut self, name: impl Into<String>) -> Self {
        self.permissions_table = name.into();
        self
    }

    /// The permissions table's service id column, a `uuid` (default `service_id`).
    pub fn permission_service_id_column(mut self, name: impl Into<String>) -> Self {
        self.permission_service_id = name.into();
        self
    }

    /// The permissions table's permission column: text, varchar or an enum (default
    /// `permission`).
    pub fn permission_column(mut self, name: impl Into<String>) -> Self {
        self.permission = name.into();
        self
    }

    /// More columns of the services table to read with every lookup, in the same query, for
    /// the application: the record's data is then a `serde_json::Value` object of them
    /// (`ServiceRecord::data::<serde_json::Value>()`), each column as PostgreSQL's `to_jsonb`
    /// writes it. None by default.
    ///
    /// ```
    /// use notify_auth::store::Schema;
    ///
    /// let schema = Schema::default().service_data_columns(["name", "email_from", "message_limit"]);
    /// # let _ = schema;
    /// ```
    pub fn service_data_columns<C: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = C>,
    ) -> Self {
        self.service_data = names.into_iter().map(Into::into).collect();
        self
    }

    /// The SQL that installs the invalidation triggers on these tables: [`TRIGGERS`]'
    /// functions, then the six triggers (changes and `TRUNCATE` on the services, keys and
    /// permissions tables; the permissions' only where that table exists), each created only
    /// if missing. For the default names it is [`TRIGGERS`] itself.
    pub fn triggers_sql(&self) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let api_keys = table(&self.api_keys_table)?;
        let permissions = table(&self.permissions_table)?;
        column(&self.service_id)?;
        column(&self.key_service_id)?;
        column(&self.permission_service_id)?;
        let functions = TRIGGERS.split(TRIGGERS_MARKER).next().unwrap_or_default();
        let trigger = |name: &str, table: &str, event: &str, level: &str, function: &str| {
            // The permissions table is optional: its triggers only where it exists.
            let exists = match table == permissions {
                true => format!("to_regclass('{table}') IS NOT NULL\n       AND "),
                false => String::new(),
            };
            format!(
                "    IF {exists}NOT EXISTS (SELECT 1 FROM pg_trigger\n                   \
                 WHERE tgrelid = to_regclass('{table}') AND tgname = '{name}') THEN\n        \
                 CREATE TRIGGER {name}\n            AFTER {event} ON {table}\n            \
                 FOR EACH {level} EXECUTE FUNCTION {function};\n    END IF;\n"
            )
        };
        let (changed, truncated) = ("INSERT OR UPDATE OR DELETE", "TRUNCATE");
        let triggers = [
            trigger(
                "notify_auth_services_changed",
                &services,
                changed,
                "ROW",
                &format!("notify_auth_keys_changed('{}')", self.service_id),
            ),
            trigger(
                "notify_auth_api_keys_changed",
                &api_keys,
                changed,
                "ROW",
                &format!("notify_auth_keys_changed('{}')", self.key_service_id),
            ),
            trigger(
                "notify_auth_services_truncated",
                &services,
                truncated,
                "STATEMENT",
                "notify_auth_keys_truncated()",
            ),
            trigger(
                "notify_auth_api_keys_truncated",
                &api_keys,
                truncated,
                "STATEMENT",
                "notify_auth_keys_truncated()",
            ),
            trigger(
                "notify_auth_service_permissions_changed",
                &permissions,
                changed,
                "ROW",
                &format!("notify_auth_keys_changed('{}')", self.permission_service_id),
            ),
            trigger(
                "notify_auth_service_permissions_truncated",
                &permissions,
                truncated,
                "STATEMENT",
                "notify_auth_keys_truncated()",
            ),
        ]
        .concat();
        Ok(format!(
            "{functions}{TRIGGERS_MARKER} (DROP TRIGGER would lock the table).\nDO $$\nBEGIN\n\
             {triggers}END;\n$$;\n"
        ))
    }

    /// Whether every table the lookup reads has the trigger that announces its changes (so
    /// the listener may trust its directory of ids, and the cache its notifications). `$1`
    /// is the tables' quoted names ([`Schema::watched_tables`]); one that does not exist is
    /// not asked for.
    pub(super) fn has_triggers_sql() -> &'static str {
        "SELECT coalesce(bool_and(EXISTS (SELECT 1 FROM pg_trigger AS t \
         JOIN pg_proc AS p ON p.oid = t.tgfoid WHERE t.tgrelid = to_regclass(name) \
         AND p.proname = 'notify_auth_keys_changed' AND t.tgenabled <> 'D')), false) \
         FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL"
    }

    /// The tables the lookup reads, whose changes the triggers must notify (those that
    /// exist: the permissions table is optional), for [`Schema::has_triggers_sql`].
    pub(super) fn watched_tables(&self) -> Vec<String> {
        [
            &self.services_table,
            &self.api_keys_table,
            &self.permissions_table,
        ]
        .into_iter()
        .filter_map(|name| table(name).ok())
        .collect()
    }

    /// Every service id, for the directory the invalidation listener keeps.
    pub(super) fn directory_sql(&self) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let s_id = column(&self.service_id)?;
        Ok(format!("SELECT {s_id} FROM {services}"))
    }

    /// The lookup query: one row per key of the service (or one row with NULL key columns when
    /// it has none), each with the service's columns. `$1` is the service id (`batch`: an
    /// array of ids). With `seven_days`, only the keys GOV.UK Notify lists: `$2` is the UTC
    /// time seven days ago (Notify's `func.date(expiry_date) > utcnow() - 7 days`); otherwise
    /// every key (GC and VA Notify). The columns: 0 active, 1 key id, 2 secret, 3 key type,
    /// 4 expiry date, 5 revoked, 6 service id, 7 rate limit, 8 restricted, 9 permissions (a
    /// text array), 10 data (JSON text); those the database lacks (`has`) are NULL, or
    /// `false` for revoked. The service's own columns are read once per service, not per key
    /// (`OFFSET 0` keeps PostgreSQL from pulling the subquery up into the join, which would
    /// evaluate the permissions and the data once per key row).
    pub(super) fn lookup_sql(
        &self,
        seven_days: bool,
        has: &Optional,
        batch: bool,
    ) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let api_keys = table(&self.api_keys_table)?;
        let s_id = column(&self.service_id)?;
        let s_active = column(&self.service_active)?;
        let k_id = column(&self.key_id)?;
        let k_service_id = column(&self.key_service_id)?;
        let k_secret = column(&self.key_secret)?;
        let k_type = column(&self.key_type)?;
        let k_expiry = column(&self.key_expiry_date)?;
        let k_revoked = match has.revoked {
            true => format!("k.{}", column(&self.key_revoked)?),
            false => "false".to_owned(),
        };
        let rate_limit = match has.rate_limit {
            true => format!("s.{}", column(&self.service_rate_limit)?),
            false => "NULL::integer".to_owned(),
        };
        let restricted = match has.restricted {
            true => format!("s.{}", column(&self.service_restricted)?),
            false => "NULL::boolean".to_owned(),
        };
        let permissions = match has.permissions {
            true => format!(
                "ARRAY(SELECT p.{}::text FROM {} AS p WHERE p.{} = s.{s_id})",
                column(&self.permission)?,
                table(&self.permissions_table)?,
                column(&self.permission_service_id)?,
            ),
            false => "NULL::text[]".to_owned(),
        };
        let data = match self.service_data.is_empty() {
            true => "NULL::text".to_owned(),
            false => {
                let pairs = self
                    .service_data
                    .iter()
                    .map(|name| Ok(format!("'{name}', s.{}", column(name)?)))
                    .collect::<Result<Vec<_>, KeyStoreError>>()?;
                format!("jsonb_build_object({})::text", pairs.join(", "))
            }
        };
        let listed = match seven_days {
            true => format!(" AND (k.{k_expiry} IS NULL OR CAST(k.{k_expiry} AS date) > $2)"),
            false => String::new(),
        };
        let which = match batch {
            true => format!("s.{s_id} = ANY($1)"),
            false => format!("s.{s_id} = $1"),
        };
        Ok(format!(
            "SELECT s.active, k.{k_id}, k.{k_secret}, k.{k_type}, k.{k_expiry}, {k_revoked}, \
             s.id, s.rate_limit, s.restricted, s.permissions, s.data \
             FROM (SELECT s.{s_id} AS id, s.{s_active} AS active, {rate_limit} AS rate_limit, \
             {restricted} AS restricted, {permissions} AS permissions, {data} AS data \
             FROM {services} AS s WHERE {which} OFFSET 0) AS s \
             LEFT JOIN {api_keys} AS k \
             ON k.{k_service_id} = s.id{listed}"
        ))
    }

    /// The optional columns and table, looked for on `client`.
    pub(super) async fn optional(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<Optional, tokio_postgres::Error> {
        let has = |table_name: &str, column_name: &str, of_type: Option<&'static str>| {
            let table_name = table(table_name).unwrap_or_default();
            let column_name = column_name.to_owned();
            async move {
                let row = client
                    .query_one(
                        Schema::has_column_sql(),
                        &[&table_name, &column_name, &of_type],
                    )
                    .await?;
                row.try_get::<_, bool>(0)
            }
        };
        Ok(Optional {
            revoked: has(&self.api_keys_table, &self.key_revoked, Some("boolean")).await?,
            rate_limit: has(
                &self.services_table,
                &self.service_rate_limit,
                Some("integer"),
            )
            .await?,
            restricted: has(
                &self.services_table,
                &self.service_restricted,
                Some("boolean"),
            )
            .await?,
            permissions: has(&self.permissions_table, &self.permission_service_id, None).await?
                && has(&self.permissions_table, &self.permission, None).await?,
        })
    }

    /// Whether a table has a column of a type: `$1` is the table's quoted name, `$2` the
    /// column's, `$3` the type's (`boolean`, `timestamp`; NULL: any type).
    pub(super) fn has_column_sql() -> &'static str {
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
         AND attname = $2 AND attnum > 0 AND NOT attisdropped \
         AND ($3::text IS NULL OR atttypid = to_regtype($3)))"
    }

    /// Writes a batch of key uses: `$1` the key ids, `$2` the times (UTC), never moving a
    /// later time back.
    pub(super) fn last_used_sql(&self) -> Result<String, KeyStoreError> {
        let api_keys = table(&self.api_keys_table)?;
        let k_id = column(&self.key_id)?;
        let last_used = column(&self.key_last_used)?;
        Ok(format!(
            "UPDATE {api_keys} AS k SET {last_used} = u.at \
             FROM unnest($1::uuid[], $2::timestamp[]) AS u(id, at) \
             WHERE k.{k_id} = u.id AND (k.{last_used} IS NULL OR k.{last_used} < u.at)"
        ))
    }

    /// The keys whose stored secret is one of `$1` (a text array): the stored secret, the
    /// service id and the key id. The secret column's index serves it.
    pub(super) fn secrets_sql(&self) -> Result<String, KeyStoreError> {
        let api_keys = table(&self.api_keys_table)?;
        let k_id = column(&self.key_id)?;
        let k_service_id = column(&self.key_service_id)?;
        let k_secret = column(&self.key_secret)?;
        Ok(format!(
            "SELECT {k_secret}, {k_service_id}, {k_id} FROM {api_keys} WHERE {k_secret} = ANY($1)"
        ))
    }
}

/// Quotes a validated identifier.
pub(super) fn identifier(name: &str, what: &str) -> Result<String, KeyStoreError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(format!("\"{name}\""))
    } else {
        Err(KeyStoreError::new(format!(
            "PostgreSQL schema: {what} name {name:?} is not allowed (letters, digits and \
             underscores, not starting with a digit, at most 63 characters)"
        )))
    }
}

pub(super) fn column(name: &str) -> Result<String, KeyStoreError> {
    identifier(name, "column")
}

pub(super) fn table(name: &str) -> Result<String, KeyStoreError> {
    match name.split_once('.') {
        Some((schema, table)) => Ok(format!(
            "{}.{}",
            identifier(schema, "schema")?,
            identifier(table, "table")?
        )),
        None => identifier(name, "table"),
    }
}

/// The optional columns and table a database has, found at the first lookup.
#[derive(Clone, Copy, Debug)]
pub(super) struct Optional {
    /// `api_keys.revoked` (VA Notify's).
    pub(super) revoked: bool,
    /// `services.rate_limit`.
    pub(super) rate_limit: bool,
    /// `services.restricted`.
    pub(super) restricted: bool,
    /// The permissions table, with both its columns.
    pub(super) permissions: bool,
}
