//! A [`KeyStore`] on PostgreSQL with Notify's schema (feature `postgres`), and the listener
//! that pushes revocations into a [`CachedKeyStore`](super::CachedKeyStore).
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

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::Semaphore;
use tokio_postgres::Row;
use tokio_postgres::config::Host;
use tokio_postgres::types::Type;
use uuid::Uuid;

mod directory;
mod listener;
mod schema;
mod secrets;
mod tls;
mod usage;

use self::directory::Directory;
pub use self::listener::{InvalidationListener, ListenerStatus};
use self::schema::Optional;
pub use self::schema::Schema;
pub use self::secrets::{SecretFormat, SecretFormatError};
use self::tls::Connector;
pub use self::usage::PostgresUsageSink;
use super::{KeyBySecret, KeyStore, KeyStoreError};
use crate::dialect::Dialect;
use crate::model::{ApiKey, KeyType, ServiceRecord};

/// The migration creating Notify's `services` and `api_keys` tables (the columns
/// authentication reads) and an index, for a database of the crate's own: never for a real
/// Notify-family database, whose tables exist. Idempotent; [`PostgresKeyStore::migrate`]
/// applies it with [`TRIGGERS`]. The file is `migrations/0001_notify_auth.sql` in the crate,
/// for migration tools and `psql`.
pub const MIGRATION: &str = include_str!("../../../migrations/0001_notify_auth.sql");

/// The triggers that announce changes to the default tables on [`INVALIDATION_CHANNEL`], and
/// their two functions: `migrations/0002_notify_auth_triggers.sql`. The one thing a real
/// Notify-family database may be asked to take, as a separate, explicit step
/// ([`PostgresKeyStore::install_triggers`]; [`Schema::triggers_sql`] for other table names).
/// Idempotent.
pub const TRIGGERS: &str = include_str!("../../../migrations/0002_notify_auth_triggers.sql");

/// What Notify's request gate reads of a service, for a database of the crate's own:
/// `services.rate_limit` and `services.restricted`, the `service_permissions` table, and its
/// triggers: `migrations/0003_notify_auth_gate.sql`. Idempotent; [`PostgresKeyStore::migrate`]
/// applies it after [`MIGRATION`] and [`TRIGGERS`]. Never for a real Notify-family database,
/// which has all of it.
pub const GATE_MIGRATION: &str = include_str!("../../../migrations/0003_notify_auth_gate.sql");

/// Where [`TRIGGERS`]' functions end and its table-specific part begins.
pub(crate) const TRIGGERS_MARKER: &str = "-- The triggers, created only when missing";

/// The PostgreSQL channel [`TRIGGERS`] notify with the id of a service whose row, keys or
/// permissions changed (or `*` after a `TRUNCATE`).
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

/// A [`KeyStore`] reading services and keys from PostgreSQL, on a pool of connections.
///
/// Each lookup is one prepared query returning the service's `active` flag and its visible
/// keys (active ones, and ones revoked within about seven days, exactly as Notify lists them;
/// see [`ApiKey::revoked_at`]). Connection failures, timeouts and query errors are
/// [`KeyStoreError`]s, which the layer answers with a 500 (or its own timeout's 503).
///
/// Put a [`CachedKeyStore`](super::CachedKeyStore) in front of it, as Notify caches a service's keys for 2 seconds,
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
    /// The lookups of one service and of a batch ([`Schema::lookup_sql`]), made at the first
    /// lookup for the optional columns the database has.
    lookups: tokio::sync::OnceCell<[String; 2]>,
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
        // Every name is checked now; the query is made at the first lookup.
        let every = Optional {
            revoked: true,
            rate_limit: true,
            restricted: true,
            permissions: true,
        };
        self.schema.lookup_sql(false, &every, false)?;
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
                lookups: tokio::sync::OnceCell::new(),
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
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
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
    /// Applies [`MIGRATION`], [`TRIGGERS`] and [`GATE_MIGRATION`]: creates the tables, columns,
    /// indexes and triggers that are missing, in one transaction under an advisory lock (so processes starting together do
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
        self.apply("the migration", &[MIGRATION, TRIGGERS, GATE_MIGRATION])
            .await
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
    /// `client`: the optional columns are looked for at the first lookup.
    async fn lookup_rows(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        ids: &(dyn tokio_postgres::types::ToSql + Sync),
        batch: bool,
        since: PrimitiveDateTime,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let inner = &*self.inner;
        let lookups = inner
            .lookups
            .get_or_try_init(|| async {
                let has = inner.schema.optional(client).await?;
                let seven_days = !inner.dialect.tries_every_key();
                let sql = |batch| inner.schema.lookup_sql(seven_days, &has, batch);
                // The names were checked when the store was built.
                Ok::<_, tokio_postgres::Error>(
                    [sql(false), sql(true)].map(|sql| sql.unwrap_or_default()),
                )
            })
            .await?;
        let sql = &lookups[usize::from(batch)];
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
    async fn services(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, ServiceRecord)>, KeyStoreError> {
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
    fn service_from_rows(&self, id: Uuid, rows: &[Row]) -> Result<ServiceRecord, KeyStoreError> {
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
        let mut service = self.gate(id, first, ServiceRecord::new(id, active))?;
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

    /// The service's gate fields and data (the same in each of its rows), on `service`.
    fn gate(
        &self,
        id: Uuid,
        row: &Row,
        service: ServiceRecord,
    ) -> Result<ServiceRecord, KeyStoreError> {
        let s = &self.inner.schema;
        let fail = |column: &str, e: &dyn std::error::Error| {
            self.error(format_args!("service {id}: column {column}: {}", chain(e)))
        };
        let rate_limit: Option<i32> = row
            .try_get(7)
            .map_err(|e| fail(&s.service_rate_limit, &e))?;
        let restricted: Option<bool> = row
            .try_get(8)
            .map_err(|e| fail(&s.service_restricted, &e))?;
        let permissions: Option<Vec<String>> =
            row.try_get(9).map_err(|e| fail(&s.permission, &e))?;
        let data: Option<String> = row
            .try_get(10)
            .map_err(|e| fail("(the data columns)", &e))?;
        let mut service = service
            .with_rate_limit(rate_limit.unwrap_or(crate::model::DEFAULT_RATE_LIMIT))
            .with_restricted(restricted.unwrap_or(false))
            .with_permissions(permissions.unwrap_or_default());
        if let Some(data) = data {
            let data: serde_json::Value =
                serde_json::from_str(&data).map_err(|e| fail("(the data columns)", &e))?;
            service = service.with_data(data);
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
    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        if !self.inner.directory.knows_absent(id) {
            return None;
        }
        self.inner.counters.absent.fetch_add(1, Ordering::Relaxed);
        Some(Ok(None))
    }

    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
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
