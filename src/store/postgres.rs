//! A [`KeyStore`] on PostgreSQL with Notify's schema (feature `postgres`), and the listener
//! that pushes revocations into a [`CachedKeyStore`].
//!
//! ```no_run
//! use std::time::Duration;
//! use notify_auth::NotifyAuthLayer;
//! use notify_auth::store::{CachedKeyStore, PostgresKeyStore, spawn_invalidation_listener};
//!
//! # async fn run() -> Result<(), notify_auth::KeyStoreError> {
//! let url = "postgres://notify@db.internal/notify";
//! let store = PostgresKeyStore::builder(url)
//!     .pool_size(16)
//!     .query_timeout(Duration::from_secs(2))
//!     .build()?;
//! store.migrate().await?; // creates the tables and triggers if missing
//! let cache = CachedKeyStore::new(store);
//! // Revocations reach this process at once instead of after the cache's TTL.
//! let listener = spawn_invalidation_listener(url, cache.clone());
//! let layer = NotifyAuthLayer::new(cache);
//! # let _ = (layer, listener);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::types::Type;
use tokio_postgres::{AsyncMessage, NoTls, Row};
use uuid::Uuid;

use super::cache::CachedKeyStore;
use super::{KeyStore, KeyStoreError};
use crate::model::{ApiKey, KeyType, Secret, Service};

/// The migration creating Notify's `services` and `api_keys` tables (the columns
/// authentication reads), an index, and the triggers that announce changes on
/// [`INVALIDATION_CHANNEL`]. Idempotent; [`PostgresKeyStore::migrate`] applies it. The file is
/// `migrations/0001_notify_auth.sql` in the crate, for migration tools and `psql`.
pub const MIGRATION: &str = include_str!("../../migrations/0001_notify_auth.sql");

/// The PostgreSQL channel [`MIGRATION`]'s triggers notify with the id of a service whose row
/// or keys changed (or `*` after a `TRUNCATE`).
pub const INVALIDATION_CHANNEL: &str = "notify_auth_keys";

/// The number of connections a [`PostgresKeyStore`] keeps at most, by default.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long connecting (or waiting for a free connection) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one lookup's query may take by default.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

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
/// [`PostgresKeyStore::migrate`] creates only the default tables. With other names, create the
/// tables yourself, and for [`spawn_invalidation_listener`] the triggers too: after applying
/// [`MIGRATION`] once (or its two functions), `CREATE TRIGGER … AFTER INSERT OR UPDATE OR
/// DELETE ON <keys table> FOR EACH ROW EXECUTE FUNCTION notify_auth_keys_changed('<service
/// id column>')`, and the same on the services table with its id column.
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

    /// The lookup query: the service's active flag and its visible keys, one row per key, or
    /// one row with NULL key columns when it has none. `$1` is the service id, `$2` the UTC
    /// time seven days ago (Notify's `func.date(expiry_date) > utcnow() - 7 days`).
    fn lookup_sql(&self) -> Result<String, KeyStoreError> {
        let services = table(&self.services_table)?;
        let api_keys = table(&self.api_keys_table)?;
        let s_id = column(&self.service_id)?;
        let s_active = column(&self.service_active)?;
        let k_id = column(&self.key_id)?;
        let k_service_id = column(&self.key_service_id)?;
        let k_secret = column(&self.key_secret)?;
        let k_type = column(&self.key_type)?;
        let k_expiry = column(&self.key_expiry_date)?;
        Ok(format!(
            "SELECT s.{s_active}, k.{k_id}, k.{k_secret}, k.{k_type}, k.{k_expiry} \
             FROM {services} AS s \
             LEFT JOIN {api_keys} AS k \
             ON k.{k_service_id} = s.{s_id} \
             AND (k.{k_expiry} IS NULL OR CAST(k.{k_expiry} AS date) > $2) \
             WHERE s.{s_id} = $1"
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
/// and [`spawn_invalidation_listener`] so revocations take effect at once.
///
/// The secret column holds each key's secret as clients sign with it. (Notify's own database
/// keeps it signed with Notify's `SECRET_KEY`; this store does not read that form.) A key with
/// an unknown key type or an empty secret makes the lookup fail with an error naming the key,
/// never its secret.
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
    sql: String,
    schema: Schema,
    target: String,
    pool_size: usize,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("PostgresKeyStore")
            .field("target", &inner.target)
            .field("pool_size", &inner.pool_size)
            .field("connect_timeout", &inner.connect_timeout)
            .field("query_timeout", &inner.query_timeout)
            .field("schema", &inner.schema)
            .finish()
    }
}

/// Builds a [`PostgresKeyStore`]; see [`PostgresKeyStore::builder`].
pub struct PostgresKeyStoreBuilder {
    url: zeroize::Zeroizing<String>,
    pool_size: usize,
    connect_timeout: Duration,
    query_timeout: Duration,
    schema: Schema,
}

impl fmt::Debug for PostgresKeyStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresKeyStoreBuilder")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

impl PostgresKeyStoreBuilder {
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
        let sql = self.schema.lookup_sql()?;
        let mut config = parse_url(&self.url)?;
        config.connect_timeout(self.connect_timeout);
        let statement_timeout = self.query_timeout.as_millis().clamp(1, i32::MAX as u128);
        let options = match config.get_options() {
            Some(options) if !options.trim().is_empty() => {
                format!("{options} -c statement_timeout={statement_timeout}")
            }
            _ => format!("-c statement_timeout={statement_timeout}"),
        };
        config.options(options);
        let target = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
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
                schema: self.schema,
                target,
                pool_size: self.pool_size,
                connect_timeout: self.connect_timeout,
                query_timeout: self.query_timeout,
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
    /// URL or a `host=… user=…` connection string (no TLS).
    pub fn builder(url: &str) -> PostgresKeyStoreBuilder {
        PostgresKeyStoreBuilder {
            url: zeroize::Zeroizing::new(url.to_owned()),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            schema: Schema::default(),
        }
    }

    /// The table and column names read.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// Applies [`MIGRATION`]: creates the tables, index and triggers that are missing, in one
    /// transaction under an advisory lock (so processes starting together do not collide).
    /// Safe to run at every start. Only for the default [`Schema`]: with other names, create
    /// your tables (and, for [`spawn_invalidation_listener`], the triggers) yourself.
    pub async fn migrate(&self) -> Result<(), KeyStoreError> {
        if self.inner.schema != Schema::default() {
            return Err(KeyStoreError::new(
                "PostgreSQL: migrate() creates Notify's default tables; this store is \
                 configured with other names, whose tables must be created separately",
            ));
        }
        let target = &self.inner.target;
        let fail = |what: &str, e: &dyn std::error::Error| {
            KeyStoreError::new(format!("PostgreSQL at {target}: {what}: {}", chain(e)))
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
            .map_err(|e| fail("cannot start the migration", &e))?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock({MIGRATION_LOCK});"
        ))
        .await
        .map_err(|e| fail("cannot lock for the migration", &e))?;
        tx.batch_execute(MIGRATION)
            .await
            .map_err(|e| fail("the migration failed", &e))?;
        tx.commit()
            .await
            .map_err(|e| fail("cannot commit the migration", &e))
    }

    /// One attempt: a pooled connection, the prepared statement, the query.
    async fn query(&self, id: Uuid, since: PrimitiveDateTime) -> Result<Vec<Row>, Attempt> {
        let inner = &*self.inner;
        let client = inner.pool.get().await.map_err(|e| {
            Attempt::Failed(self.error(format_args!("cannot get a connection: {}", chain(&e))))
        })?;
        let run = async {
            let statement = client
                .prepare_typed_cached(&inner.sql, &[Type::UUID, Type::TIMESTAMP])
                .await?;
            client.query(&statement, &[&id, &since]).await
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

    fn error(&self, what: fmt::Arguments<'_>) -> KeyStoreError {
        KeyStoreError::new(format!("PostgreSQL at {}: {what}", self.inner.target))
    }

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
        for row in rows {
            let key_id: Option<Uuid> = row.try_get(1).map_err(|e| {
                self.error(format_args!(
                    "service {id}: column {}: {}",
                    s.key_id,
                    chain(&e)
                ))
            })?;
            let Some(key_id) = key_id else { continue };
            // Names the key and the column, never a value (a secret's least of all).
            let column_error = |column: &str, problem: String| {
                self.error(format_args!("API key {key_id}: column {column}: {problem}"))
            };
            let secret: Option<String> = row
                .try_get(2)
                .map_err(|e| column_error(&s.key_secret, chain(&e)))?;
            let secret = match secret {
                Some(secret) if !secret.is_empty() => Secret::new(secret),
                _ => {
                    return Err(column_error(
                        &s.key_secret,
                        "the secret is NULL or empty".into(),
                    ));
                }
            };
            let key_type: Option<String> = row
                .try_get(3)
                .map_err(|e| column_error(&s.key_type, chain(&e)))?;
            let key_type = key_type
                .as_deref()
                .unwrap_or("NULL")
                .parse::<KeyType>()
                .map_err(|e| column_error(&s.key_type, e.to_string()))?;
            let expiry: Option<PrimitiveDateTime> = row
                .try_get(4)
                .map_err(|e| column_error(&s.key_expiry_date, chain(&e)))?;
            let mut key = ApiKey::new(key_id, secret, key_type);
            if let Some(expiry) = expiry {
                key = key.revoked_at(expiry.assume_utc());
            }
            service = service.with_key(key);
        }
        Ok(service)
    }
}

/// How one query attempt failed.
enum Attempt {
    /// The pooled connection turned out closed (the server restarted): worth one retry on a
    /// new connection.
    Closed(KeyStoreError),
    Failed(KeyStoreError),
}

#[async_trait::async_trait]
impl KeyStore for PostgresKeyStore {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<Service>>, KeyStoreError> {
        let now = OffsetDateTime::now_utc();
        let since = now - VISIBILITY;
        let since = PrimitiveDateTime::new(since.date(), since.time());
        let rows = match self.query(id, since).await {
            Ok(rows) => rows,
            Err(Attempt::Closed(e)) => {
                tracing::warn!("{e}; retrying on a new connection");
                match self.query(id, since).await {
                    Ok(rows) => rows,
                    Err(Attempt::Closed(e) | Attempt::Failed(e)) => return Err(e),
                }
            }
            Err(Attempt::Failed(e)) => return Err(e),
        };
        if rows.is_empty() {
            return Ok(None);
        }
        self.service_from_rows(id, &rows).map(|s| Some(Arc::new(s)))
    }
}

/// The first delay before reconnecting the listener; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The listener's state, watched by [`InvalidationListener`].
#[derive(Clone, Copy, Debug, Default)]
struct Status {
    listening: bool,
    connections: u64,
}

/// A background task that keeps a [`CachedKeyStore`] in step with the database: see
/// [`spawn_invalidation_listener`]. Dropping it (or [`InvalidationListener::abort`]) stops
/// the task.
pub struct InvalidationListener {
    task: Option<JoinHandle<()>>,
    status: watch::Receiver<Status>,
}

impl fmt::Debug for InvalidationListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = *self.status.borrow();
        f.debug_struct("InvalidationListener")
            .field("listening", &status.listening)
            .field("connections", &status.connections)
            .finish()
    }
}

impl InvalidationListener {
    /// Whether the listener is connected and listening now.
    pub fn is_listening(&self) -> bool {
        self.status.borrow().listening
    }

    /// How many times the listener has connected and started listening: 1 after the first
    /// `LISTEN`, 2 after one reconnection, and so on.
    pub fn connections(&self) -> u64 {
        self.status.borrow().connections
    }

    /// Waits until the listener is listening, for at most `timeout`. False if it is not by
    /// then, or if it has stopped (an invalid URL, or [`InvalidationListener::abort`]).
    pub async fn wait_until_listening(&self, timeout: Duration) -> bool {
        self.wait_for_connections(1, timeout).await
    }

    /// Waits until the listener is listening on its `n`th connection or a later one (for
    /// tests and health checks after a database restart), for at most `timeout`.
    pub async fn wait_for_connections(&self, n: u64, timeout: Duration) -> bool {
        let mut status = self.status.clone();
        let ready = status.wait_for(|s| s.listening && s.connections >= n);
        matches!(tokio::time::timeout(timeout, ready).await, Ok(Ok(_)))
    }

    /// Stops the task. The cache keeps working on its TTL alone.
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Drop for InvalidationListener {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Listens on [`INVALIDATION_CHANNEL`] at `url` and drops each service named there from
/// `cache`, so a key revoked or created in the database takes effect in this process at once
/// rather than after the cache's TTL. The triggers of [`MIGRATION`] send the notifications.
///
/// The task holds one dedicated connection (not one of a store's pool). If it cannot connect
/// or the connection drops, it clears the whole cache, logs a warning and reconnects with
/// backoff (100 ms doubling to 5 s), clearing the cache again once it listens (notifications
/// sent meanwhile are lost). Meanwhile the cache works on its TTL alone, so nothing stale is
/// served for longer than the TTL. A notification whose payload is not a service id clears
/// the whole cache.
///
/// The TTL stays the bound in one race: a lookup that read the database just before a change
/// and stores its answer just after the notification was handled keeps the old answer until
/// the TTL.
///
/// An invalid `url` is logged as an error and the listener stops at once
/// ([`InvalidationListener::wait_until_listening`] answers false).
///
/// # Panics
///
/// Outside a Tokio runtime, as [`tokio::spawn`] does.
pub fn spawn_invalidation_listener<S: KeyStore + ?Sized>(
    url: &str,
    cache: CachedKeyStore<S>,
) -> InvalidationListener {
    let (sender, status) = watch::channel(Status::default());
    let task = match parse_url(url) {
        Ok(config) => Some(tokio::spawn(listen(config, cache, sender))),
        Err(e) => {
            tracing::error!("notify-auth invalidation listener not started: {e}");
            None
        }
    };
    InvalidationListener { task, status }
}

async fn listen<S: KeyStore + ?Sized>(
    config: tokio_postgres::Config,
    cache: CachedKeyStore<S>,
    status: watch::Sender<Status>,
) {
    let target = describe(&config);
    let mut backoff = MIN_BACKOFF;
    loop {
        let e = listen_once(&config, &cache, &status, &mut backoff).await;
        let was_listening = status.borrow().listening;
        status.send_modify(|s| s.listening = false);
        cache.invalidate_all();
        if was_listening {
            tracing::warn!(
                "notify-auth invalidation listener lost its connection to {target} ({e}); \
                 cache cleared, reconnecting in {backoff:?}"
            );
        } else {
            tracing::warn!(
                "notify-auth invalidation listener cannot listen at {target} ({e}); \
                 cache cleared, retrying in {backoff:?}"
            );
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects, listens and handles notifications until the connection fails; returns why.
async fn listen_once<S: KeyStore + ?Sized>(
    config: &tokio_postgres::Config,
    cache: &CachedKeyStore<S>,
    status: &watch::Sender<Status>,
    backoff: &mut Duration,
) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return chain(&e),
    };
    let command = format!("LISTEN {INVALIDATION_CHANNEL}");
    let listen = client.batch_execute(&command);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            result = &mut listen, if !listening => {
                if let Err(e) = result {
                    return chain(&e);
                }
                listening = true;
                *backoff = MIN_BACKOFF;
                // Whatever was cached before now may have missed a notification.
                cache.invalidate_all();
                status.send_modify(|s| {
                    s.listening = true;
                    s.connections += 1;
                });
                tracing::info!(
                    "notify-auth invalidation listener listening on {INVALIDATION_CHANNEL} at {}",
                    describe(config)
                );
            }
            message = poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if n.channel() == INVALIDATION_CHANNEL {
                        invalidate(cache, n.payload()).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return chain(&e),
                None => return "the server closed the connection".to_owned(),
            },
        }
    }
}

async fn invalidate<S: KeyStore + ?Sized>(cache: &CachedKeyStore<S>, payload: &str) {
    let payload = payload.trim();
    if let Ok(id) = Uuid::parse_str(payload) {
        cache.invalidate(id).await;
    } else if payload == "*" {
        cache.invalidate_all();
    } else {
        tracing::warn!(
            "notify-auth invalidation listener: a notification on {INVALIDATION_CHANNEL} \
             is not a service id ({} bytes); cache cleared",
            payload.len()
        );
        cache.invalidate_all();
    }
}
