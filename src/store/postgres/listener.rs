//! The invalidation listener: `LISTEN` on a dedicated connection, the directory of service ids
//! kept current, the cache reconciled after every connection, and heartbeats that prove the
//! notifications still arrive.

use std::collections::HashSet;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Row};
use uuid::Uuid;

use super::schema::Schema;
use super::{INVALIDATION_CHANNEL, PostgresKeyStore, chain};
use crate::model::ServiceRecord;
use crate::store::cache::CachedKeyStore;
use crate::store::{KeyStore, KeyStoreError};

impl PostgresKeyStore {
    /// Starts the task that keeps `cache` (a cache in front of this store) and this store's
    /// directory of service ids in step with the database; see [`InvalidationListener`].
    ///
    /// It holds one dedicated connection, with the store's settings (not one of the pool),
    /// and runs `LISTEN` on [`INVALIDATION_CHANNEL`], whose notifications the triggers of
    /// [`TRIGGERS`](super::TRIGGERS) send. Once listening it loads every service id. Where the services table
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
    /// [`PostgresKeyStoreBuilder::unknown_lookups`](super::PostgresKeyStoreBuilder::unknown_lookups) at once). It logs a warning and reconnects
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
    /// [`PostgresStats::directory_complete`](super::PostgresStats::directory_complete)). False once aborted.
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

/// The directory's ids, and whether every table the lookup reads has the triggers that keep
/// them (and the cache) current.
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
    let mut found: std::collections::HashMap<Uuid, ServiceRecord> =
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
    let watched = inner.schema.watched_tables();
    let load_directory = || -> DirectoryFuture<'_> {
        Box::pin(async {
            let triggers = client
                .query_one(Schema::has_triggers_sql(), &[&watched])
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
                        "notify-auth invalidation listener: {} lack notify-auth triggers \
                         (PostgresKeyStore::install_triggers): changes take the cache's TTL, \
                         and unknown service ids are looked up in the database",
                        watched.join(", ")
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
