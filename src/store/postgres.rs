//! A [`KeyStore`] on PostgreSQL with Notify's schema (feature `postgres`), and the listener
//! that pushes revocations into a [`CachedKeyStore`].
//!
//! ```no_run
//! use std::time::Duration;
//! use notify_auth::NotifyAuthLayer;
//! use notify_auth::store::{CachedKeyStore, PostgresKeyStore};
//!
//! # async fn run() -> Result<(), notify_auth::KeyStoreError> {
//! let url = "postgres://notify@db.internal/notify";
//! let store = PostgresKeyStore::builder(url)
//!     .pool_size(16)
//!     .query_timeout(Duration::from_secs(2))
//!     .build()?;
//! store.migrate().await?; // creates the tables and triggers if missing
//! let cache = CachedKeyStore::new(store.clone());
//! // Revocations and new services reach this process at once instead of after the cache's
//! // TTL, and unknown service ids are answered from memory. The listener runs for as long as
//! // the runtime does.
//! store.spawn_invalidation_listener(cache.clone()).detach();
//! let layer = NotifyAuthLayer::new(cache);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::types::Type;
use tokio_postgres::{AsyncMessage, Row};
use uuid::Uuid;

use super::cache::CachedKeyStore;
use super::secret_format::SecretFormat;
use super::tls::Connector;
use super::{KeyBySecret, KeyStore, KeyStoreError};
use crate::dialect::Dialect;
use crate::model::{ApiKey, KeyType, Service};

/// The migration creating Notify's `services` and `api_keys` tables (the columns
/// authentication reads) and an index, for a database of the crate's own: never for a real
/// Notify-family database, whose tables exist. Idempotent; [`PostgresKeyStore::migrate`]
/// applies it with [`TRIGGERS`]. The file is `migrations/0001_notify_auth.sql` in the crate,
/// for migration tools and `psql`.
pub const MIGRATION: &str = include_str!("../../migrations/0001_notify_auth.sql");

/// The triggers that announce changes to the default tables on [`INVALIDATION_CHANNEL`], and
/// their two functions: `migrations/0002_notify_auth_triggers.sql`. The one thing a real
/// Notify-family database may be asked to take, as a separate, explicit step
/// ([`PostgresKeyStore::install_triggers`]; [`Schema::triggers_sql`] for other table names).
/// Idempotent.
pub const TRIGGERS: &str = include_str!("../../migrations/0002_notify_auth_triggers.sql");

/// Where [`TRIGGERS`]' functions end and its table-specific part begins.
const TRIGGERS_MARKER: &str = "-- The triggers, created only when missing";

/// The PostgreSQL channel [`TRIGGERS`] notify with the id of a service whose row
/// or keys changed (or `*` after a `TRUNCATE`).
pub const INVALIDATION_CHANNEL: &str = "notify_auth_keys";

/// The number of connections a [`PostgresKeyStore`] keeps at most, by default.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long connecting (or waiting for a free connection) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one lookup's query may take by default.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many lookups of service ids the store has never seen may query at once, by default:
/// a quarter of the pool (at least one), so that a flood of made-up ids leaves the rest of
/// the pool to the services that exist.
pub fn default_unknown_lookups(pool_size: usize) -> usize {
    (pool_size / 4).max(1)
}

/// The key of the advisory lock the migration holds ("notify-a" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e6f_7469_6679_2d61;

/// How long a revoked key stays visible (contract §5).
const VISIBILITY: time::Duration = time::Duration::days(7);

/// The table and column names a [`PostgresKeyStore`] reads. The default is Notify's:
///
/// | table      | columns                                                    |
/// |------------|------------------------------------------------------------|
/// | `services` | `id` (uuid), `active` (boolean)                            |
/// | `api_keys` | `id` (uuid), `service_id` (uuid), `secret` (text), `key_type` (text: `normal`, `team` or `test`), `expiry_date` (`timestamp without time zone`, UTC; NULL for an active key) |
///
/// Names are letters, digits and underscores (not starting with a digit, at most 63
/// characters); a table may be schema-qualified (`notify.services`). They are quoted in the
/// query, so they are case-sensitive. Other names are refused by
/// [`PostgresKeyStoreBuilder::build`].
///
/// [`PostgresKeyStore::migrate`] creates only the default tables. With other names, the tables
/// are yours; the invalidation triggers for them are [`Schema::triggers_sql`], which
/// [`PostgresKeyStore::install_triggers`] applies.
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
    services_table: String,
    service_id: String,
    service_active: String,
    api_keys_table: String,
    key_id: String,
    key_service_id: String,
    key_secret: String,
    key_type: String,
    key_expiry_date: String,
    key_revoked: String,
    key_last_used: String,
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
    /// [`PostgresKeyStore::key_usage_sink`] writes, where the table has it.
    pub fn key_last_used_column(mut self, name: impl Into<String>) -> Self {
        self.key_last_used = name.into();
        self
    }

    /// The SQL that installs the invalidation triggers on these tables: [`TRIGGERS`]'
    /// functions, then the four triggers (changes and `TRUNCATE` on both tables), each
    /// created only if missing. For the default names it is [`TRIGGERS`] itself.
    pub fn triggers_sql(&self) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let api_keys = table(&self.api_keys_table)?;
        column(&self.service_id)?;
        column(&self.key_service_id)?;
        let functions = TRIGGERS.split(TRIGGERS_MARKER).next().unwrap_or_default();
        let trigger = |name: &str, table: &str, event: &str, level: &str, function: &str| {
            format!(
                "    IF NOT EXISTS (SELECT 1 FROM pg_trigger\n                   \
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
        ]
        .concat();
        Ok(format!(
            "{functions}{TRIGGERS_MARKER} (DROP TRIGGER would lock the table).\nDO $$\nBEGIN\n\
             {triggers}END;\n$$;\n"
        ))
    }

    /// Whether the services table has the trigger that announces new services (so the
    /// listener may trust its directory of ids). `$1` is the table's quoted name.
    fn has_triggers_sql() -> &'static str {
        "SELECT EXISTS (SELECT 1 FROM pg_trigger AS t JOIN pg_proc AS p ON p.oid = t.tgfoid \
         WHERE t.tgrelid = to_regclass($1) AND p.proname = 'notify_auth_keys_changed' \
         AND t.tgenabled <> 'D')"
    }

    /// Every service id, for the directory the invalidation listener keeps.
    fn directory_sql(&self) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let s_id = column(&self.service_id)?;
        Ok(format!("SELECT {s_id} FROM {services}"))
    }

    /// The lookup query: the service's active flag and its keys, one row per key, or one row
    /// with NULL key columns when it has none. `$1` is the service id. With `seven_days`, only
    /// the keys GOV.UK Notify lists: `$2` is the UTC time seven days ago (Notify's
    /// `func.date(expiry_date) > utcnow() - 7 days`); otherwise every key (GC and VA Notify).
    /// With `revoked`, the revoked flag is the sixth column; otherwise `false`. With `batch`,
    /// `$1` is an array of ids, and the service's id is the seventh column.
    fn lookup_sql(
        &self,
        seven_days: bool,
        revoked: bool,
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
        let k_revoked = match revoked {
            true => format!("k.{}", column(&self.key_revoked)?),
            false => "false".to_owned(),
        };
        let listed = match seven_days {
            true => format!(" AND (k.{k_expiry} IS NULL OR CAST(k.{k_expiry} AS date) > $2)"),
            false => String::new(),
        };
        let (id_column, which) = match batch {
            true => (format!(", s.{s_id}"), format!("s.{s_id} = ANY($1)")),
            false => (String::new(), format!("s.{s_id} = $1")),
        };
        Ok(format!(
            "SELECT s.{s_active}, k.{k_id}, k.{k_secret}, k.{k_type}, k.{k_expiry}, {k_revoked}\
             {id_column} \
             FROM {services} AS s \
             LEFT JOIN {api_keys} AS k \
             ON k.{k_service_id} = s.{s_id}{listed} \
             WHERE {which}"
        ))
    }

    /// Whether a table has a column of a type: `$1` is the table's quoted name, `$2` the
    /// column's, `$3` the type's (`boolean`, `timestamp`).
    fn has_column_sql() -> &'static str {
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
         AND attname = $2 AND attnum > 0 AND NOT attisdropped \
         AND atttypid = to_regtype($3))"
    }

    /// Writes a batch of key uses: `$1` the key ids, `$2` the times (UTC), never moving a
    /// later time back.
    fn last_used_sql(&self) -> Result<String, KeyStoreError> {
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
    fn secrets_sql(&self) -> Result<String, KeyStoreError> {
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
fn identifier(name: &str, what: &str) -> Result<String, KeyStoreError> {
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

fn column(name: &str) -> Result<String, KeyStoreError> {
    identifier(name, "column")
}

fn table(name: &str) -> Result<String, KeyStoreError> {
    match name.split_once('.') {
        Some((schema, table)) => Ok(format!(
            "{}.{}",
            identifier(schema, "schema")?,
            identifier(table, "table")?
        )),
        None => identifier(name, "table"),
    }
}

/// A [`KeyStore`] reading services and keys from PostgreSQL, on a pool of connections.
///
/// Each lookup is one prepared query returning the service's `active` flag and its visible
/// keys (active ones, and ones revoked within about seven days, exactly as Notify lists them;
/// see [`ApiKey::revoked_at`]). Connection failures, timeouts and query errors are
/// [`KeyStoreError`]s, which the layer answers with a 500 (or its own timeout's 503).
///
/// Put a [`CachedKeyStore`] in front of it, as Notify caches a service's keys for 2 seconds,
/// and [`PostgresKeyStore::spawn_invalidation_listener`] so revocations take effect at once.
///
/// The secret column holds each key's secret in the store's [`SecretFormat`]: as clients sign
/// with it (the default), or as Notify's forks keep it (itsdangerous-signed, Fernet-encrypted;
/// see [`PostgresKeyStoreBuilder::secret_format`]). A key row that cannot be read (a secret
/// that does not decode, an unknown key type) is left out of the service and logged at error
/// with the key's id and the problem, never a value; the service's other keys keep working.
///
/// A lookup that finds a connection of the pool closed (the server restarted) retries once on
/// a new connection.
///
/// `Debug` shows the server, user and database, never the password.
#[derive(Clone)]
pub struct PostgresKeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The lookup of one service and of a batch, each without and with the revoked column
    /// ([`Schema::lookup_sql`]).
    sql: [[String; 2]; 2],
    /// Whether the API keys table has the revoked column (found at the first lookup).
    has_revoked: tokio::sync::OnceCell<bool>,
    secrets_sql: String,
    directory_sql: String,
    dialect: Dialect,
    raw_key_lookup: RawKeyLookup,
    /// How to connect (TLS included), for the pool and the invalidation listener alike.
    connector: Connector,
    schema: Schema,
    target: String,
    pool_size: usize,
    connect_timeout: Duration,
    query_timeout: Duration,
    directory: Directory,
    /// Permits for lookups of ids not in the directory (see [`default_unknown_lookups`]).
    unknown_lane: Semaphore,
    unknown_lookups: usize,
    secret_format: SecretFormat,
    counters: Counters,
}

/// The service ids known to exist. Complete (so an id outside it is answered "no such
/// service" without a query) only while the invalidation listener is connected and has
/// loaded it; otherwise it holds the ids found so far, which skip the unknown-id lane.
#[derive(Default)]
struct Directory {
    ids: RwLock<HashSet<Uuid>>,
    complete: AtomicBool,
}

impl Directory {
    fn contains(&self, id: Uuid) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }

    fn insert(&self, id: Uuid) {
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        if ids.insert(id) {
            crate::metrics::gauge(crate::metrics::DIRECTORY_SERVICES, ids.len() as f64);
        }
    }

    fn knows_absent(&self, id: Uuid) -> bool {
        self.complete.load(Ordering::Acquire) && !self.contains(id)
    }

    /// Replaces the ids with every service id; `complete` says whether the set may answer
    /// "no such service" (only while notifications keep it current).
    fn load(&self, ids: HashSet<Uuid>, complete: bool) {
        crate::metrics::gauge(crate::metrics::DIRECTORY_SERVICES, ids.len() as f64);
        *self.ids.write().unwrap_or_else(|e| e.into_inner()) = ids;
        self.complete.store(complete, Ordering::Release);
        crate::metrics::gauge(
            crate::metrics::DIRECTORY_COMPLETE,
            f64::from(u8::from(complete)),
        );
    }

    /// Stops answering "no such service" from memory.
    fn distrust(&self) {
        self.complete.store(false, Ordering::Release);
        crate::metrics::gauge(crate::metrics::DIRECTORY_COMPLETE, 0.0);
    }

    fn len(&self) -> usize {
        self.ids.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[derive(Default)]
struct Counters {
    queries: AtomicU64,
    unknown_queries: AtomicU64,
    absent: AtomicU64,
    unknown_in_flight: AtomicUsize,
    unknown_peak: AtomicUsize,
    skipped_keys: AtomicU64,
}

/// What a [`PostgresKeyStore`] has done since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PostgresStats {
    /// Lookups sent to the database.
    pub queries: u64,
    /// Of those, lookups of ids that were not in the directory (the bounded lane).
    pub unknown_queries: u64,
    /// Lookups answered "no such service" from the directory, without a query.
    pub answered_absent: u64,
    /// The most lookups of unknown ids in flight at once (never more than
    /// [`PostgresKeyStoreBuilder::unknown_lookups`]).
    pub unknown_peak: usize,
    /// Service ids in the directory.
    pub known_services: usize,
    /// Whether the directory is complete (the listener is connected and has loaded it).
    pub directory_complete: bool,
    /// Key rows left out of lookups because they could not be read (logged at error).
    pub skipped_keys: u64,
}

impl fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("PostgresKeyStore")
            .field("target", &inner.target)
            .field("pool_size", &inner.pool_size)
            .field("connect_timeout", &inner.connect_timeout)
            .field("query_timeout", &inner.query_timeout)
            .field("unknown_lookups", &inner.unknown_lookups)
            .field("secret_format", &inner.secret_format)
            .field("schema", &inner.schema)
            .field("dialect", &inner.dialect)
            .field("raw_key_lookup", &inner.raw_key_lookup)
            .finish()
    }
}

/// How a [`PostgresKeyStore`] finds a key by the secret of a raw key (GC Notify's
/// `ApiKey-v1`, [`KeyStore::key_by_secret`]) when the secrets are itsdangerous-signed with
/// several keys ([`SecretFormat::itsdangerous`], GC Notify's `SECRET_KEY` list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RawKeyLookup {
    /// As GC Notify does (`get_api_key_by_secret`): sign the secret with every signing key,
    /// newest first, look each signature up, and give up at the first that no row holds.
    /// With one signing key this finds the key; with two or more it never does (the
    /// signature by a key that did not sign the row always misses), so during a key
    /// rotation GC Notify authenticates no raw key, and neither does this.
    #[default]
    Exact,
    /// The fix: the row holding any of the signatures (one query for all of them), so raw
    /// keys keep working while `SECRET_KEY` holds several keys.
    AnySigningKey,
}

/// Builds a [`PostgresKeyStore`]; see [`PostgresKeyStore::builder`].
pub struct PostgresKeyStoreBuilder {
    url: zeroize::Zeroizing<String>,
    pool_size: usize,
    unknown_lookups: Option<usize>,
    secret_format: SecretFormat,
    connect_timeout: Duration,
    query_timeout: Duration,
    schema: Schema,
    dialect: Dialect,
    raw_key_lookup: RawKeyLookup,
}

impl fmt::Debug for PostgresKeyStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresKeyStoreBuilder")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("unknown_lookups", &self.unknown_lookups)
            .field("secret_format", &self.secret_format)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("schema", &self.schema)
            .field("dialect", &self.dialect)
            .field("raw_key_lookup", &self.raw_key_lookup)
            .finish()
    }
}

impl PostgresKeyStoreBuilder {
    /// Which keys a lookup returns, as `dialect`'s fork lists them ([`Dialect::Uk`] by
    /// default): GOV.UK Notify and Notify.gov the active keys and those revoked within about
    /// seven days; GC and VA Notify every key, however long ago it was revoked or expired. Use
    /// the dialect the layer answers in.
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// How raw keys are found among several itsdangerous signing keys
    /// ([`RawKeyLookup::Exact`], GC Notify's own behaviour, by default).
    pub fn raw_key_lookup(mut self, lookup: RawKeyLookup) -> Self {
        self.raw_key_lookup = lookup;
        self
    }

    /// How the secret column holds each key's secret ([`SecretFormat::plain`] by default):
    /// itsdangerous-signed as GOV.UK Notify and GC Notify store it, or Fernet-encrypted as
    /// Notify.gov does. Keys are derived here, once; each row is decoded once per lookup.
    ///
    /// ```
    /// use notify_auth::store::{PostgresKeyStore, SecretFormat};
    ///
    /// let format = SecretFormat::itsdangerous(["old-secret-key", "new-secret-key"], "dangerous-salt")?;
    /// let store = PostgresKeyStore::builder("postgres://notify@db.internal/notify")
    ///     .secret_format(format)
    ///     .build()?;
    /// # let _ = store;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_format(mut self, format: SecretFormat) -> Self {
        self.secret_format = format;
        self
    }

    /// How many lookups of service ids the store has not seen exist may query at once
    /// ([`default_unknown_lookups`] of the pool size by default). Others wait their turn,
    /// so a flood of made-up ids never takes the whole pool.
    pub fn unknown_lookups(mut self, permits: usize) -> Self {
        self.unknown_lookups = Some(permits);
        self
    }

    /// The number of connections kept at most ([`DEFAULT_POOL_SIZE`]).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How long opening a connection, or waiting for a free one, may take
    /// ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a lookup's query may take ([`DEFAULT_QUERY_TIMEOUT`]). The server is told as
    /// well (`statement_timeout`), so it stops working on a query nobody waits for.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The table and column names ([`Schema::default`], Notify's).
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// Checks the URL, the settings and the schema's names, and makes the pool. Connects
    /// lazily: the database need not be up yet.
    pub fn build(self) -> Result<PostgresKeyStore, KeyStoreError> {
        if self.pool_size == 0 {
            return Err(KeyStoreError::new(
                "PostgreSQL: the pool size must be at least 1",
            ));
        }
        let unknown_lookups = self
            .unknown_lookups
            .unwrap_or_else(|| default_unknown_lookups(self.pool_size));
        if unknown_lookups == 0 {
            return Err(KeyStoreError::new(
                "PostgreSQL: unknown_lookups must be at least 1",
            ));
        }
        let seven_days = !self.dialect.tries_every_key();
        let lookup = |batch| -> Result<[String; 2], KeyStoreError> {
            Ok([
                self.schema.lookup_sql(seven_days, false, batch)?,
                self.schema.lookup_sql(seven_days, true, batch)?,
            ])
        };
        let sql = [lookup(false)?, lookup(true)?];
        let secrets_sql = self.schema.secrets_sql()?;
        let directory_sql = self.schema.directory_sql()?;
        let statement_timeout = self.query_timeout.as_millis().clamp(1, i32::MAX as u128);
        let connector = Connector::new(&self.url, |rest| {
            let mut config = parse_url(rest)?;
            config.connect_timeout(self.connect_timeout);
            let options = match config.get_options() {
                Some(options) if !options.trim().is_empty() => {
                    format!("{options} -c statement_timeout={statement_timeout}")
                }
                _ => format!("-c statement_timeout={statement_timeout}"),
            };
            config.options(options);
            Ok(config)
        })?;
        let target = describe(connector.config());
        let manager = Manager::from_connect(
            connector.config().clone(),
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.connect_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| KeyStoreError::new(format!("PostgreSQL at {target}: {}", chain(&e))))?;
        Ok(PostgresKeyStore {
            inner: Arc::new(Inner {
                pool,
                sql,
                has_revoked: tokio::sync::OnceCell::new(),
                secrets_sql,
                directory_sql,
                dialect: self.dialect,
                raw_key_lookup: self.raw_key_lookup,
                connector,
                schema: self.schema,
                target,
                pool_size: self.pool_size,
                connect_timeout: self.connect_timeout,
                query_timeout: self.query_timeout,
                directory: Directory::default(),
                unknown_lane: Semaphore::new(unknown_lookups),
                unknown_lookups,
                secret_format: self.secret_format,
                counters: Counters::default(),
            }),
        })
    }
}

/// Parses a `postgres://` URL or a `key=value` connection string, for the pool and for the
/// listener. Sets keepalives (so a silently dropped connection is noticed) and an
/// application name, unless the URL has one.
fn parse_url(url: &str) -> Result<tokio_postgres::Config, KeyStoreError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
        KeyStoreError::new(format!("PostgreSQL: invalid database URL: {}", chain(&e)))
    })?;
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    if config.get_application_name().is_none() {
        config.application_name("notify-auth");
    }
    Ok(config)
}

/// `user@host:port/dbname`, without the password, for messages and `Debug`.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{hosts}/{dbname}")
}

/// An error and its causes, `a: b: c` (tokio-postgres shows its causes only as sources).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl PostgresKeyStore {
    /// Starts a builder for the database at `url`: a `postgres://user:password@host:port/db`
    /// URL or a `host=… user=…` connection string, with libpq's `sslmode` and `sslrootcert`
    /// in either (TLS over rustls: see the table in the crate's README, "In front of a real
    /// … database").
    pub fn builder(url: &str) -> PostgresKeyStoreBuilder {
        PostgresKeyStoreBuilder {
            url: zeroize::Zeroizing::new(url.to_owned()),
            pool_size: DEFAULT_POOL_SIZE,
            unknown_lookups: None,
            secret_format: SecretFormat::plain(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            schema: Schema::default(),
            dialect: Dialect::Uk,
            raw_key_lookup: RawKeyLookup::Exact,
        }
    }

    /// The table and column names read.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// A connection of the store's pool, with its settings (TLS included), for tools that
    /// write to the store's tables (the `load_keys` example). It derefs to a
    /// `tokio_postgres::Client`.
    pub async fn connection(&self) -> Result<Object, KeyStoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| self.error(format_args!("cannot get a connection: {}", chain(&e))))
    }

    /// Queries, directory answers and the unknown-id lane so far.
    pub fn stats(&self) -> PostgresStats {
        let inner = &*self.inner;
        let c = &inner.counters;
        PostgresStats {
            queries: c.queries.load(Ordering::Relaxed),
            unknown_queries: c.unknown_queries.load(Ordering::Relaxed),
            answered_absent: c.absent.load(Ordering::Relaxed),
            unknown_peak: c.unknown_peak.load(Ordering::Relaxed),
            known_services: inner.directory.len(),
            directory_complete: inner.directory.complete.load(Ordering::Acquire),
            skipped_keys: c.skipped_keys.load(Ordering::Relaxed),
        }
    }

    /// Starts the task that keeps `cache` (a cache in front of this store) and this store's
    /// directory of service ids in step with the database; see [`InvalidationListener`].
    ///
    /// It holds one dedicated connection, with the store's settings (not one of the pool),
    /// and runs `LISTEN` on [`INVALIDATION_CHANNEL`], whose notifications the triggers of
    /// [`TRIGGERS`] send. Once listening it loads every service id. Where the services table
    /// has the triggers (enabled), a lookup of an id that is not among them is then answered
    /// "no such service" from memory, without a query and without a cache entry, and each
    /// notification adds its id (a new service is found as soon as a revocation would be) and
    /// drops the service from `cache`. Without the triggers the ids are only a list of services
    /// known to exist, which skip the unknown-id lane.
    ///
    /// Then it reconciles the cache: the services the cache held are read again, in one query
    /// (per 10,000), and held as read, so that a change made while it was not listening (the
    /// first connection, or a reconnection after a cut) is never served. Then it sends a
    /// notification to itself, and again every 10 s, and reconnects if one does not come back
    /// within 5 s (a half-open connection, a pooler that does not pass notifications on).
    ///
    /// Once the first heartbeat is back, and where the triggers are, the cache trusts the
    /// listener ([`CachedKeyStore::trust_invalidations`]): found services are kept until a
    /// notification names them (or the cache's safety TTL), instead of the short TTL. A
    /// database under steady traffic then sees a heartbeat every 10 s and a reload per
    /// service per safety TTL, not one per service per 2 s.
    ///
    /// If it cannot connect or the connection drops, or a heartbeat is late, or the task ends
    /// for any reason (an abort, a panic, the runtime shutting down: a drop guard sees to it),
    /// the cache stops trusting it and the directory stops answering "no such service", at
    /// once: cached services expire on the short TTL, unknown ids go to the database (at most
    /// [`PostgresKeyStoreBuilder::unknown_lookups`] at once). It logs a warning and reconnects
    /// with backoff (100 ms doubling to 5 s), then reloads the ids and reconciles again. A
    /// notification whose payload is not a service id clears the whole cache.
    ///
    /// An invalidation always wins over a load in flight (the cache's generations), and a
    /// reconciliation over every load that started before it.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn spawn_invalidation_listener<S: KeyStore + ?Sized>(
        &self,
        cache: CachedKeyStore<S>,
    ) -> InvalidationListener {
        let (sender, status) = watch::channel(ListenerStatus::default());
        let withdraw: Arc<dyn Fn() + Send + Sync> = {
            let (store, cache) = (self.clone(), cache.clone());
            Arc::new(move || {
                store.inner.directory.distrust();
                cache.trust_invalidations(false);
            })
        };
        let task = tokio::spawn(listen(self.clone(), cache, sender, withdraw.clone()));
        InvalidationListener {
            task: Some(task),
            status,
            withdraw,
            aborted: AtomicBool::new(false),
        }
    }

    /// Applies [`MIGRATION`] and [`TRIGGERS`]: creates the tables, index and triggers that are
    /// missing, in one transaction under an advisory lock (so processes starting together do
    /// not collide). Safe to run at every start. Only for a database of the crate's own, with
    /// the default [`Schema`]: never run it against a real Notify-family database, whose
    /// tables exist (there, [`PostgresKeyStore::install_triggers`] is the only step that
    /// writes anything, and only if you want it).
    pub async fn migrate(&self) -> Result<(), KeyStoreError> {
        if self.inner.schema != Schema::default() {
            return Err(KeyStoreError::new(
                "PostgreSQL: migrate() creates Notify's default tables; this store is \
                 configured with other names, whose tables must be created separately",
            ));
        }
        self.apply("the migration", &[MIGRATION, TRIGGERS]).await
    }

    /// A [`UsageSink`](crate::usage::UsageSink) that writes key uses to the API keys table's
    /// time of last use ([`Schema::key_last_used_column`], GC Notify's `last_used_timestamp`):
    /// one `UPDATE` per batch, on the store's pool, never moving a later time back. Where the
    /// table has no such column (looked for at the first write), it writes nothing, and says
    /// so once, at warn.
    ///
    /// ```no_run
    /// # async fn run(store: notify_auth::store::PostgresKeyStore) {
    /// use notify_auth::usage::KeyUsage;
    ///
    /// let (usage, task) = KeyUsage::builder(store.key_usage_sink()).build();
    /// tokio::spawn(task);
    /// let layer = notify_auth::NotifyAuthLayer::new(store).record_key_usage(usage);
    /// # let _ = layer;
    /// # }
    /// ```
    pub fn key_usage_sink(&self) -> PostgresUsageSink {
        PostgresUsageSink {
            store: self.clone(),
            has_column: tokio::sync::OnceCell::new(),
        }
    }

    /// Installs the invalidation triggers on the store's tables ([`Schema::triggers_sql`]:
    /// [`TRIGGERS`] for the default names), creating only what is missing, in one
    /// transaction under an advisory lock. The one step that writes to a database whose tables
    /// another application owns, such as a real Notify-family database; take it explicitly
    /// (the demo server never does). Without the triggers the store works the same, changes
    /// take the cache's TTL, and the invalidation listener does not answer unknown ids from
    /// memory.
    pub async fn install_triggers(&self) -> Result<(), KeyStoreError> {
        let sql = self.inner.schema.triggers_sql()?;
        self.apply("installing the triggers", &[&sql]).await
    }

    /// Runs `scripts` in one transaction under the migration's advisory lock.
    async fn apply(&self, what: &str, scripts: &[&str]) -> Result<(), KeyStoreError> {
        let target = &self.inner.target;
        let fail = |step: &str, e: &dyn std::error::Error| {
            KeyStoreError::new(format!(
                "PostgreSQL at {target}: {what}: {step}: {}",
                chain(e)
            ))
        };
        let mut client = self
            .inner
            .pool
            .get()
            .await
            .map_err(|e| fail("cannot get a connection", &e))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| fail("cannot start a transaction", &e))?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock({MIGRATION_LOCK});"
        ))
        .await
        .map_err(|e| fail("cannot take the lock", &e))?;
        for script in scripts {
            tx.batch_execute(script)
                .await
                .map_err(|e| fail("it failed", &e))?;
        }
        tx.commit().await.map_err(|e| fail("cannot commit", &e))
    }

    /// One attempt: a pooled connection, the prepared statement, the query.
    async fn query(&self, query: Query<'_>) -> Result<Vec<Row>, Attempt> {
        let inner = &*self.inner;
        inner.counters.queries.fetch_add(1, Ordering::Relaxed);
        let client = inner.pool.get().await.map_err(|e| {
            Attempt::Failed(self.error(format_args!("cannot get a connection: {}", chain(&e))))
        })?;
        let run = async {
            match query {
                Query::Service(id, since) => self.lookup_rows(&client, &id, false, since).await,
                Query::Services(ids, since) => self.lookup_rows(&client, &ids, true, since).await,
                Query::Secrets(signed) => {
                    let statement = client
                        .prepare_typed_cached(&inner.secrets_sql, &[Type::TEXT_ARRAY])
                        .await?;
                    client.query(&statement, &[&signed]).await
                }
            }
        };
        match tokio::time::timeout(inner.query_timeout, run).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) if e.is_closed() || client.is_closed() => Err(Attempt::Closed(
                self.error(format_args!("the connection was closed: {}", chain(&e))),
            )),
            Ok(Err(e)) => Err(Attempt::Failed(
                self.error(format_args!("the lookup failed: {}", chain(&e))),
            )),
            Err(_) => Err(Attempt::Failed(self.error(format_args!(
                "the lookup timed out after {:?}",
                inner.query_timeout
            )))),
        }
    }

    /// The lookup of one service (`ids` a `Uuid`) or of a batch (`ids` a `&[Uuid]`), on
    /// `client`: the revoked column is looked for at the first lookup.
    async fn lookup_rows(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        ids: &(dyn tokio_postgres::types::ToSql + Sync),
        batch: bool,
        since: PrimitiveDateTime,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let inner = &*self.inner;
        let revoked = *inner
            .has_revoked
            .get_or_try_init(|| async {
                let api_keys = table(&inner.schema.api_keys_table).unwrap_or_default();
                let row = client
                    .query_one(
                        Schema::has_column_sql(),
                        &[&api_keys, &inner.schema.key_revoked, &"boolean"],
                    )
                    .await?;
                row.try_get::<_, bool>(0)
            })
            .await?;
        let sql = &inner.sql[usize::from(batch)][usize::from(revoked)];
        // GC and VA Notify list every key: no `$2`.
        let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] =
            match inner.dialect.tries_every_key() {
                true => &[ids],
                false => &[ids, &since],
            };
        let first = if batch { Type::UUID_ARRAY } else { Type::UUID };
        let types = &[first, Type::TIMESTAMP][..params.len()];
        let statement = client.prepare_typed_cached(sql, types).await?;
        client.query(&statement, params).await
    }

    /// [`PostgresKeyStore::query`], once more on a new connection if the pooled one turned
    /// out closed.
    async fn query_retrying(&self, query: Query<'_>) -> Result<Vec<Row>, KeyStoreError> {
        match self.query(query).await {
            Ok(rows) => Ok(rows),
            Err(Attempt::Closed(e)) => {
                tracing::warn!("{e}; retrying on a new connection");
                match self.query(query).await {
                    Ok(rows) => Ok(rows),
                    Err(Attempt::Closed(e) | Attempt::Failed(e)) => Err(e),
                }
            }
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    fn error(&self, what: fmt::Arguments<'_>) -> KeyStoreError {
        KeyStoreError::new(format!("PostgreSQL at {}: {what}", self.inner.target))
    }

    /// Services and their keys, read again in one query per 10,000 ids (what a reconciliation
    /// after a reconnection reads): the services that exist, and their records.
    async fn services(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Service)>, KeyStoreError> {
        let now = OffsetDateTime::now_utc();
        let since = now - VISIBILITY;
        let since = PrimitiveDateTime::new(since.date(), since.time());
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(10_000) {
            let rows = self.query_retrying(Query::Services(chunk, since)).await?;
            let mut by_id: std::collections::HashMap<Uuid, Vec<&Row>> = Default::default();
            for row in &rows {
                let id: Uuid = row
                    .try_get(6)
                    .map_err(|e| self.error(format_args!("a batch lookup: {}", chain(&e))))?;
                by_id.entry(id).or_default().push(row);
            }
            for (id, rows) in by_id {
                let rows: Vec<Row> = rows.into_iter().cloned().collect();
                found.push((id, self.service_from_rows(id, &rows)?));
            }
        }
        Ok(found)
    }

    /// The service and its keys from the lookup's rows. A key row that cannot be read (its
    /// secret does not decode or verify in the store's [`SecretFormat`], its key type is
    /// unknown…) is left out and logged at error, naming the key and the problem, never a
    /// value: the service's other keys keep working. If every key row is unreadable, the
    /// lookup fails with those problems.
    fn service_from_rows(&self, id: Uuid, rows: &[Row]) -> Result<Service, KeyStoreError> {
        let s = &self.inner.schema;
        let Some(first) = rows.first() else {
            return Err(self.error(format_args!("service {id}: no row")));
        };
        let active: bool = first.try_get(0).map_err(|e| {
            self.error(format_args!(
                "service {id}: column {}: {}",
                s.service_active,
                chain(&e)
            ))
        })?;
        let mut service = Service::new(id, active);
        let mut problems = Vec::new();
        for row in rows {
            let key_id: Option<Uuid> = row.try_get(1).map_err(|e| {
                self.error(format_args!(
                    "service {id}: column {}: {}",
                    s.key_id,
                    chain(&e)
                ))
            })?;
            let Some(key_id) = key_id else { continue };
            match self.key_from_row(key_id, row) {
                Ok(key) => service = service.with_key(key),
                Err(problem) => {
                    self.inner
                        .counters
                        .skipped_keys
                        .fetch_add(1, Ordering::Relaxed);
                    let error = self.error(format_args!("service {id}: {problem}"));
                    tracing::error!("{error}; the key is left out");
                    problems.push(problem);
                }
            }
        }
        if service.api_keys().is_empty() && !problems.is_empty() {
            return Err(self.error(format_args!(
                "service {id}: no key could be read: {}",
                problems.join("; ")
            )));
        }
        if let Some((a, b)) = service.keys_sharing_a_secret() {
            return Err(self.error(format_args!(
                "service {id}: API keys {a} and {b} have the same secret (a token signed with \
                 it would be answered as either key)"
            )));
        }
        Ok(service)
    }

    /// One key from its row; the problem, naming the key and the column, if it cannot be read.
    fn key_from_row(&self, key_id: Uuid, row: &Row) -> Result<ApiKey, String> {
        let s = &self.inner.schema;
        // Names the key and the column, never a value (a secret's least of all).
        let problem = |column: &str, what: &dyn fmt::Display| {
            format!("API key {key_id}: column {column}: {what}")
        };
        let stored: Option<zeroize::Zeroizing<String>> = row
            .try_get::<_, Option<String>>(2)
            .map(|v| v.map(zeroize::Zeroizing::new))
            .map_err(|e| problem(&s.key_secret, &chain(&e)))?;
        let secret = match stored.as_deref() {
            Some(stored) if !stored.is_empty() => self
                .inner
                .secret_format
                .decode(stored)
                .map_err(|e| problem(&s.key_secret, &e))?,
            _ => return Err(problem(&s.key_secret, &"the secret is NULL or empty")),
        };
        let key_type: Option<String> = row
            .try_get(3)
            .map_err(|e| problem(&s.key_type, &chain(&e)))?;
        let key_type = key_type
            .as_deref()
            .unwrap_or("NULL")
            .parse::<KeyType>()
            .map_err(|e| problem(&s.key_type, &e))?;
        let expiry: Option<PrimitiveDateTime> = row
            .try_get(4)
            .map_err(|e| problem(&s.key_expiry_date, &chain(&e)))?;
        let revoked: Option<bool> = row
            .try_get(5)
            .map_err(|e| problem(&s.key_revoked, &chain(&e)))?;
        let mut key = ApiKey::new(key_id, secret, key_type).revoked(revoked.unwrap_or(false));
        if let Some(expiry) = expiry {
            key = key.revoked_at(expiry.assume_utc());
        }
        Ok(key)
    }
}

/// A query the store sends.
#[derive(Clone, Copy)]
enum Query<'a> {
    /// A service and its keys: the id, and the time seven days ago.
    Service(Uuid, PrimitiveDateTime),
    /// Services and their keys: the ids, and the time seven days ago.
    Services(&'a [Uuid], PrimitiveDateTime),
    /// The keys holding one of these stored secrets.
    Secrets(&'a [String]),
}

/// How one query attempt failed.
enum Attempt {
    /// The pooled connection turned out closed (the server restarted): worth one retry on a
    /// new connection.
    Closed(KeyStoreError),
    Failed(KeyStoreError),
}

/// A permit of the unknown-id lane, counting the lookups in flight.
struct UnknownLookup<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    counters: &'a Counters,
}

impl Drop for UnknownLookup<'_> {
    fn drop(&mut self) {
        self.counters
            .unknown_in_flight
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl PostgresKeyStore {
    /// Waits for a permit of the unknown-id lane.
    async fn unknown_lookup(&self) -> Result<UnknownLookup<'_>, KeyStoreError> {
        let inner = &*self.inner;
        let permit = inner
            .unknown_lane
            .acquire()
            .await
            .map_err(|_| self.error(format_args!("the unknown-id lane is closed")))?;
        let counters = &inner.counters;
        counters.unknown_queries.fetch_add(1, Ordering::Relaxed);
        let in_flight = counters.unknown_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters
            .unknown_peak
            .fetch_max(in_flight, Ordering::Relaxed);
        Ok(UnknownLookup {
            _permit: permit,
            counters,
        })
    }
}

#[async_trait::async_trait]
impl KeyStore for PostgresKeyStore {
    /// "No such service", at once, for an id outside a trusted directory.
    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<Service>>, KeyStoreError>> {
        if !self.inner.directory.knows_absent(id) {
            return None;
        }
        self.inner.counters.absent.fetch_add(1, Ordering::Relaxed);
        Some(Ok(None))
    }

    async fn service(&self, id: Uuid) -> Result<Option<Arc<Service>>, KeyStoreError> {
        if let Some(answer) = self.service_now(id) {
            return answer;
        }
        let known = self.inner.directory.contains(id);
        let _lane = match known {
            true => None,
            false => Some(self.unknown_lookup().await?),
        };
        let now = OffsetDateTime::now_utc();
        let since = now - VISIBILITY;
        let since = PrimitiveDateTime::new(since.date(), since.time());
        let rows = self.query_retrying(Query::Service(id, since)).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        if !known {
            self.inner.directory.insert(id);
        }
        self.service_from_rows(id, &rows).map(|s| Some(Arc::new(s)))
    }

    /// The key whose stored secret is `secret` in the store's [`SecretFormat`]: itself when
    /// plain, signed as GC Notify signs it when itsdangerous (with every signing key, found
    /// as [`RawKeyLookup`] says), and never when Fernet-encrypted (random: such a store
    /// answers [`KeyBySecret::Unsupported`]). One indexed query, in the unknown-id lane (a
    /// raw key anyone can make up must not take the pool).
    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        let inner = &*self.inner;
        let Some(signed) = inner.secret_format.stored_forms(secret) else {
            return Ok(KeyBySecret::Unsupported);
        };
        let _lane = self.unknown_lookup().await?;
        let rows = self.query_retrying(Query::Secrets(&signed)).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let read = || -> Result<(String, Uuid, Uuid), tokio_postgres::Error> {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            };
            found.push(read().map_err(|e| {
                self.error(format_args!("a key found by its secret: {}", chain(&e)))
            })?);
        }
        let row_of = |form: &String| found.iter().find(|(stored, _, _)| stored == form);
        let location = match inner.raw_key_lookup {
            // GC Notify queries each signature in turn, and gives up at the first miss.
            RawKeyLookup::Exact => signed
                .iter()
                .map(row_of)
                .try_fold(None, |_, row| row.map(Some))
                .flatten(),
            RawKeyLookup::AnySigningKey => signed.iter().find_map(row_of),
        };
        Ok(match location {
            Some(&(_, service_id, key_id)) => KeyBySecret::Found { service_id, key_id },
            None => KeyBySecret::Absent,
        })
    }
}

/// Writes key uses to a [`PostgresKeyStore`]'s table: see
/// [`PostgresKeyStore::key_usage_sink`].
pub struct PostgresUsageSink {
    store: PostgresKeyStore,
    /// Whether the table has the column (looked for at the first write).
    has_column: tokio::sync::OnceCell<bool>,
}

impl fmt::Debug for PostgresUsageSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresUsageSink")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl crate::usage::UsageSink for PostgresUsageSink {
    async fn write(&self, uses: &[(Uuid, i64)]) -> Result<(), KeyStoreError> {
        let store = &self.store;
        let schema = &store.inner.schema;
        let client = store.connection().await?;
        let fail =
            |e: tokio_postgres::Error| store.error(format_args!("writing key uses: {}", chain(&e)));
        let has_column = *self
            .has_column
            .get_or_try_init(|| async {
                let api_keys = table(&schema.api_keys_table)?;
                let row = client
                    .query_one(
                        Schema::has_column_sql(),
                        &[&api_keys, &schema.key_last_used, &"timestamp"],
                    )
                    .await
                    .map_err(fail)?;
                let has = row.try_get::<_, bool>(0).map_err(fail)?;
                if !has {
                    tracing::warn!(
                        "notify-auth: {} has no {} column (a timestamp): key uses are not written",
                        schema.api_keys_table,
                        schema.key_last_used
                    );
                }
                Ok::<_, KeyStoreError>(has)
            })
            .await?;
        if !has_column {
            return Ok(());
        }
        let ids: Vec<Uuid> = uses.iter().map(|(id, _)| *id).collect();
        let times: Vec<PrimitiveDateTime> = uses
            .iter()
            .map(|&(_, at)| {
                let at =
                    OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
                PrimitiveDateTime::new(at.date(), at.time())
            })
            .collect();
        let sql = schema.last_used_sql()?;
        let statement = client
            .prepare_typed_cached(&sql, &[Type::UUID_ARRAY, Type::TIMESTAMP_ARRAY])
            .await
            .map_err(fail)?;
        client
            .execute(&statement, &[&ids, &times])
            .await
            .map_err(fail)?;
        Ok(())
    }
}

/// The first delay before reconnecting the listener; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The listener's state, watched by [`InvalidationListener`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStatus {
    /// Connected, listening, and the service ids read.
    pub listening: bool,
    /// Listening, caught up with what changed while it was away, with the triggers in place
    /// and its heartbeat back: the cache keeps services until they change
    /// ([`CachedKeyStore::trust_invalidations`]).
    pub trusted: bool,
    /// How many times it has connected and started listening.
    pub connections: u64,
    /// How many reconciliations it has made (one after every connection).
    pub reconciliations: u64,
    /// How many change notifications it has handled (heartbeats not counted).
    pub notifications: u64,
}

/// The background task that keeps a [`CachedKeyStore`] and a [`PostgresKeyStore`]'s
/// directory in step with the database: see [`PostgresKeyStore::spawn_invalidation_listener`].
///
/// Dropping it (or [`InvalidationListener::abort`]) stops the task; a server that listens for
/// its whole life lets it go with [`InvalidationListener::detach`] instead.
#[must_use = "dropping the listener stops it: keep it, or call detach() to run it for the life of the runtime"]
pub struct InvalidationListener {
    task: Option<JoinHandle<()>>,
    status: watch::Receiver<ListenerStatus>,
    /// Withdraws what the task vouched for: the directory's completeness, the cache's trust.
    withdraw: Arc<dyn Fn() + Send + Sync>,
    aborted: AtomicBool,
}

impl fmt::Debug for InvalidationListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidationListener")
            .field("status", &self.status())
            .finish()
    }
}

impl InvalidationListener {
    /// The listener's state now (all false after [`InvalidationListener::abort`]).
    pub fn status(&self) -> ListenerStatus {
        let status = *self.status.borrow();
        match self.aborted.load(Ordering::Acquire) {
            true => ListenerStatus {
                listening: false,
                trusted: false,
                ..status
            },
            false => status,
        }
    }

    /// Whether the listener is connected, listening, and has read the service ids (trusted
    /// to answer "no such service" only where the triggers are: see
    /// [`PostgresStats::directory_complete`]). False once aborted.
    pub fn is_listening(&self) -> bool {
        self.status().listening
    }

    /// How many times the listener has connected and started listening: 1 after the first
    /// `LISTEN`, 2 after one reconnection, and so on.
    pub fn connections(&self) -> u64 {
        self.status().connections
    }

    /// Waits until the listener is listening, for at most `timeout`. False if it is not by
    /// then, or if it has stopped ([`InvalidationListener::abort`]).
    pub async fn wait_until_listening(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.listening).await
    }

    /// Waits until the listener is listening on its `n`th connection or a later one (for
    /// tests and health checks after a database restart), for at most `timeout`.
    pub async fn wait_for_connections(&self, n: u64, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.listening && s.connections >= n)
            .await
    }

    /// Waits until the cache trusts the listener's invalidations (listening, reconciled,
    /// heartbeat back), for at most `timeout`.
    pub async fn wait_until_trusted(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.trusted).await
    }

    async fn wait_for(&self, timeout: Duration, ready: impl Fn(&ListenerStatus) -> bool) -> bool {
        let mut status = self.status.clone();
        let ready = status.wait_for(|s| ready(s));
        matches!(tokio::time::timeout(timeout, ready).await, Ok(Ok(_)))
            && !self.aborted.load(Ordering::Acquire)
    }

    /// Stops the task. The cache keeps working on its short TTL alone, and the store no longer
    /// trusts its directory, from now on.
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            self.aborted.store(true, Ordering::Release);
            task.abort();
            (self.withdraw)();
        }
    }

    /// Lets the task run for as long as the Tokio runtime does, without this handle: the
    /// way to keep it for the life of a server.
    pub fn detach(mut self) {
        // Dropping a JoinHandle detaches its task; `Drop` below then has nothing to abort.
        self.task.take();
    }
}

impl Drop for InvalidationListener {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Whatever ends the listener's task (an error, `abort`, a panic, the runtime shutting down):
/// the directory stops answering "no such service" and the cache stops trusting
/// invalidations, at once.
struct Withdraw<'a> {
    status: &'a watch::Sender<ListenerStatus>,
    withdraw: &'a (dyn Fn() + Send + Sync),
}

impl Withdraw<'_> {
    fn now(&self) {
        (self.withdraw)();
        self.status.send_modify(|s| {
            s.listening = false;
            s.trusted = false;
        });
        crate::metrics::gauge(crate::metrics::LISTENER_CONNECTED, 0.0);
        crate::metrics::gauge(crate::metrics::LISTENER_TRUSTED, 0.0);
    }
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.now();
    }
}

async fn listen<S: KeyStore + ?Sized>(
    store: PostgresKeyStore,
    cache: CachedKeyStore<S>,
    status: watch::Sender<ListenerStatus>,
    withdraw: Arc<dyn Fn() + Send + Sync>,
) {
    let guard = Withdraw {
        status: &status,
        withdraw: &*withdraw,
    };
    let target = &store.inner.target;
    let mut backoff = MIN_BACKOFF;
    loop {
        let e = listen_once(&store, &cache, &status, &mut backoff).await;
        let was_listening = status.borrow().listening;
        guard.now();
        if was_listening {
            tracing::warn!(
                "notify-auth invalidation listener lost its connection to {target} ({e}); \
                 reconnecting in {backoff:?} (meanwhile cached services expire on the cache's \
                 short TTL)"
            );
        } else {
            tracing::warn!(
                "notify-auth invalidation listener cannot listen at {target} ({e}); \
                 retrying in {backoff:?}"
            );
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The directory's ids, and whether the services table has the triggers that keep them
/// current.
type DirectoryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(Vec<Row>, bool), tokio_postgres::Error>> + Send + 'a>>;

/// A heartbeat on its way to the server.
type HeartbeatFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// The services the cache held, read again.
type ReconcileFuture<'a> = Pin<Box<dyn Future<Output = Result<(), KeyStoreError>> + Send + 'a>>;

/// How often the listener checks that its notifications still arrive: it sends one to itself
/// and expects it back within [`HEARTBEAT_TIMEOUT`], else it reconnects (a half-open
/// connection, or a pooler that does not pass notifications on). So the directory answers "no
/// such service" from memory, and the cache keeps services past its short TTL, at most this
/// long after notifications silently stopped.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The payload of the listener's own heartbeats: other listeners ignore them.
const HEARTBEAT: &str = "notify-auth-heartbeat";

/// Reads again, in one query per 10,000, the services `cache` held when the listener
/// (re)connected: a change made while no notification could arrive is caught here. Every held
/// service's generation moves on first, so a load read before the change can no longer be
/// answered; the services are then held as read.
async fn reconcile<S: KeyStore + ?Sized>(
    store: &PostgresKeyStore,
    cache: &CachedKeyStore<S>,
) -> Result<(), KeyStoreError> {
    let held = cache.begin_reconciliation();
    if held.is_empty() {
        return Ok(());
    }
    let read_at = std::time::Instant::now();
    let ids: Vec<Uuid> = held.iter().map(|(id, _)| *id).collect();
    let mut found: std::collections::HashMap<Uuid, Service> =
        store.services(&ids).await?.into_iter().collect();
    for (id, generation) in held {
        let service = found.remove(&id).map(Arc::new);
        cache.hold(id, service, generation, read_at).await;
    }
    Ok(())
}

/// Connects, listens, loads the directory, reconciles the cache, and handles notifications
/// until the connection fails or a heartbeat does not come back; returns why.
async fn listen_once<S: KeyStore + ?Sized>(
    store: &PostgresKeyStore,
    cache: &CachedKeyStore<S>,
    status: &watch::Sender<ListenerStatus>,
    backoff: &mut Duration,
) -> String {
    let inner = &*store.inner;
    let (client, mut connection) = match inner.connector.connect().await {
        Ok(pair) => pair,
        Err(e) => return chain(&e),
    };
    // LISTEN first, then read the ids: a service created in between is in both. The ids are
    // loaded with or without triggers (known services then skip the unknown-id lane), and
    // trusted to answer "no such service" only where the triggers keep them current.
    let services_table = table(&inner.schema.services_table).unwrap_or_default();
    let load_directory = || -> DirectoryFuture<'_> {
        Box::pin(async {
            let triggers = client
                .query_one(Schema::has_triggers_sql(), &[&services_table])
                .await?
                .try_get::<_, bool>(0)?;
            let rows = client.query(&inner.directory_sql, &[]).await?;
            Ok((rows, triggers))
        })
    };
    // Every request on `client` runs inside a future of the `select!` below, which also
    // drives the connection: awaiting one in a branch's body would wait for ever.
    let command = format!("LISTEN {INVALIDATION_CHANNEL}");
    let mut loading: Option<DirectoryFuture<'_>> = Some(Box::pin(async {
        client.batch_execute(&command).await?;
        load_directory().await
    }));
    // Then the cache is reconciled (on the pool: the services it held, read again), and only
    // then do heartbeats start: the cache trusts the listener once one has come back.
    let mut reconciling: Option<ReconcileFuture<'_>> = None;
    let mut heartbeat: Option<tokio::time::Interval> = None;
    let mut triggers = false;
    let mut sending: Option<HeartbeatFuture<'_>> = None;
    // Ids notified while the directory loads: the load's snapshot may predate them.
    let mut noted = HashSet::new();
    let (mut beats, mut awaited): (u64, Option<(String, tokio::time::Instant)>) = (0, None);
    loop {
        let overdue = async {
            match &awaited {
                Some((_, deadline)) => tokio::time::sleep_until(*deadline).await,
                None => std::future::pending().await,
            }
        };
        let beat = async {
            match heartbeat.as_mut() {
                Some(heartbeat) => heartbeat.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            loaded = pending_or(&mut loading), if loading.is_some() => {
                loading = None;
                let (rows, has_triggers) = match loaded {
                    Ok(loaded) => loaded,
                    Err(e) => return chain(&e),
                };
                triggers = has_triggers;
                let mut ids: HashSet<Uuid> =
                    rows.iter().filter_map(|row| row.try_get(0).ok()).collect();
                ids.extend(noted.drain());
                let count = ids.len();
                inner.directory.load(ids, triggers);
                if !triggers {
                    tracing::warn!(
                        "notify-auth invalidation listener: {} has no notify-auth triggers \
                         (PostgresKeyStore::install_triggers): changes take the cache's TTL, \
                         and unknown service ids are looked up in the database",
                        inner.schema.services_table
                    );
                }
                if !status.borrow().listening {
                    *backoff = MIN_BACKOFF;
                    status.send_modify(|s| {
                        s.listening = true;
                        s.connections += 1;
                    });
                    crate::metrics::gauge(crate::metrics::LISTENER_CONNECTED, 1.0);
                    crate::metrics::count(crate::metrics::LISTENER_CONNECTIONS, &[]);
                    tracing::info!(
                        "notify-auth invalidation listener listening on {INVALIDATION_CHANNEL} \
                         at {}, {count} services known{}",
                        inner.target,
                        if triggers { "" } else { " (no triggers)" }
                    );
                    reconciling = Some(Box::pin(reconcile(store, cache)));
                }
            }
            reconciled = pending_or(&mut reconciling), if reconciling.is_some() => {
                reconciling = None;
                if let Err(e) = reconciled {
                    return format!("the reconciliation failed: {e}");
                }
                status.send_modify(|s| s.reconciliations += 1);
                crate::metrics::count(crate::metrics::LISTENER_RECONCILIATIONS, &[]);
                let mut interval = tokio::time::interval(HEARTBEAT_EVERY);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                heartbeat = Some(interval);
            }
            _ = beat, if awaited.is_none() && sending.is_none() => {
                beats += 1;
                let payload = format!("{HEARTBEAT} {} {beats}", std::process::id());
                let deadline = tokio::time::Instant::now() + HEARTBEAT_TIMEOUT;
                awaited = Some((payload.clone(), deadline));
                let client = &client;
                sending = Some(Box::pin(async move {
                    client
                        .query("SELECT pg_notify($1, $2)", &[&INVALIDATION_CHANNEL, &payload])
                        .await
                        .map(drop)
                }));
            }
            sent = pending_or(&mut sending), if sending.is_some() => {
                sending = None;
                if let Err(e) = sent {
                    return chain(&e);
                }
            }
            () = overdue => {
                return format!("no heartbeat came back within {HEARTBEAT_TIMEOUT:?}");
            }
            message = poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if n.channel() != INVALIDATION_CHANNEL {
                        continue;
                    }
                    if n.payload().starts_with(HEARTBEAT) {
                        if awaited.as_ref().is_some_and(|(payload, _)| payload == n.payload()) {
                            awaited = None;
                            // Proven: every change is notified, and none was missed.
                            if triggers && !status.borrow().trusted {
                                cache.trust_invalidations(true);
                                status.send_modify(|s| s.trusted = true);
                                crate::metrics::gauge(crate::metrics::LISTENER_TRUSTED, 1.0);
                            }
                        }
                        continue;
                    }
                    status.send_modify(|s| s.notifications += 1);
                    crate::metrics::count(crate::metrics::LISTENER_NOTIFICATIONS, &[]);
                    match invalidate(cache, n.payload()).await {
                        Changed::Service(id) => {
                            inner.directory.insert(id);
                            if loading.is_some() {
                                noted.insert(id);
                            }
                        }
                        Changed::Everything => {
                            // A TRUNCATE, or a payload that names nothing: read the ids (and
                            // whether the triggers are there) again.
                            inner.directory.distrust();
                            noted.clear();
                            loading = Some(load_directory());
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return chain(&e),
                None => return "the server closed the connection".to_owned(),
            },
        }
    }
}

/// The future in `slot`, or one that never finishes when there is none (a `select!` branch
/// that is there only while its work is).
async fn pending_or<F: Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// What a notification said changed.
enum Changed {
    Service(Uuid),
    Everything,
}

async fn invalidate<S: KeyStore + ?Sized>(cache: &CachedKeyStore<S>, payload: &str) -> Changed {
    let payload = payload.trim();
    if let Ok(id) = Uuid::parse_str(payload) {
        cache.invalidate(id).await;
        return Changed::Service(id);
    }
    if payload != "*" {
        tracing::warn!(
            "notify-auth invalidation listener: a notification on {INVALIDATION_CHANNEL} \
             is not a service id ({} bytes); cache cleared",
            payload.len()
        );
    }
    cache.invalidate_all();
    Changed::Everything
}
