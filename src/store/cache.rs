//! A caching decorator for any [`KeyStore`] (feature `cache`), on `moka`.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use uuid::Uuid;

use super::{KeyBySecret, KeyStore, KeyStoreError, ServiceMap};
use crate::model::ServiceRecord;

/// How long a found service is kept by default while nothing proves that every change reaches
/// the cache: 2 seconds, as Notify caches a service's keys.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2);

/// How long a found service is kept by default while a listener proves that every change
/// reaches the cache ([`CachedKeyStore::trust_invalidations`]): a safety net, should a change
/// ever slip past both the notifications and the reconciliation after a reconnection. Each
/// entry keeps between three quarters of it and all of it (spread by service id), so services
/// loaded together are not reloaded together.
pub const DEFAULT_SAFETY_TTL: Duration = Duration::from_secs(5 * 60);

/// How long an unknown service is remembered by default: long enough that a flood of random
/// ids costs one store call per id per 250 ms, short enough that a new service is found soon.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_millis(250);

/// How many services are kept at most by default.
pub const DEFAULT_MAX_SERVICES: u64 = 100_000;

/// Caches another store's answers: for 2 seconds, as Notify caches a service's keys per
/// process, or until they change.
///
/// - found services for [`DEFAULT_TTL`]; while a listener proves that every change reaches the
///   cache ([`CachedKeyStore::trust_invalidations`], which the PostgreSQL store's invalidation
///   listener sets), until [`CachedKeyStore::invalidate`] drops them, or at the latest after
///   the [`DEFAULT_SAFETY_TTL`]; back to the short TTL the moment that proof is gone;
/// - unknown services for the shorter [`DEFAULT_NEGATIVE_TTL`]; store errors are not cached;
/// - at most [`DEFAULT_MAX_SERVICES`] services;
/// - concurrent misses for one service make one store call (single flight);
/// - an invalidation always wins over a load in flight: every entry carries the generation of
///   its service (a counter that each invalidation of it moves on) taken before its load
///   started, and an entry of an older generation is never answered;
/// - what the inner store answers at once ([`KeyStore::service_now`]: an id it knows to be
///   absent, say) is answered so, and takes no place in the cache;
/// - a hit on a found service is answered at once too (`service_now`: a read lock, a hash
///   lookup, the generation and a clock read, with no future to box: ~40 ns where the
///   in-memory store takes ~16, BENCHMARKS.md), from a map of what the cache's own loads
///   fetched, under the same rules.
///
/// Cached records also keep each service's "last matched key" hint warm.
///
/// ```
/// use std::time::Duration;
/// use notify_auth::store::CachedKeyStore;
/// use notify_auth::{MemoryStore, NotifyAuthLayer};
///
/// let store = CachedKeyStore::builder(MemoryStore::default())
///     .ttl(Duration::from_secs(2))
///     .safety_ttl(Duration::from_secs(300))
///     .negative_ttl(Duration::from_millis(100))
///     .max_services(10_000)
///     .build();
/// let layer = NotifyAuthLayer::new(store.clone());
/// # let _ = layer;
/// ```
pub struct CachedKeyStore<S: ?Sized> {
    cache: Cache<Uuid, Cached>,
    hot: Arc<Hot>,
    freshness: Arc<Freshness>,
    counters: Arc<Counters>,
    inner: Arc<S>,
}

impl<S: ?Sized> Clone for CachedKeyStore<S> {
    fn clone(&self) -> Self {
        CachedKeyStore {
            cache: self.cache.clone(),
            hot: self.hot.clone(),
            freshness: self.freshness.clone(),
            counters: self.counters.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S: ?Sized> fmt::Debug for CachedKeyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStore")
            .field("entries", &self.cache.entry_count())
            .field("trusted", &self.freshness.trusted.load(Ordering::Relaxed))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    known_absent: AtomicU64,
    store_calls: AtomicU64,
}

/// Each counted here and, with the `metrics` feature, in the metrics.
impl Counters {
    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        crate::metrics::series!(crate::metrics::CACHE_LOOKUPS, "result" => "hit").count();
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        crate::metrics::series!(crate::metrics::CACHE_LOOKUPS, "result" => "miss").count();
    }

    fn known_absent(&self) {
        self.known_absent.fetch_add(1, Ordering::Relaxed);
        crate::metrics::series!(crate::metrics::CACHE_LOOKUPS, "result" => "known_absent").count();
    }

    fn store_call(&self) {
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        crate::metrics::series!(crate::metrics::CACHE_STORE_CALLS).count();
    }
}

/// What the cache has done since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that were not in the cache (and that the store did not know to be absent).
    pub misses: u64,
    /// Lookups the store answered "no such service" at once ([`KeyStore::service_now`]):
    /// neither a store call nor a cache entry.
    pub known_absent: u64,
    /// Calls made to the inner store (fewer than misses when concurrent misses coalesce).
    pub store_calls: u64,
}

impl CacheStats {
    /// Hits as a fraction of lookups (0 when there were none).
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// Builds a [`CachedKeyStore`].
#[derive(Debug)]
pub struct CachedKeyStoreBuilder<S> {
    inner: S,
    ttl: Duration,
    safety_ttl: Duration,
    negative_ttl: Duration,
    max_services: u64,
}

impl<S: KeyStore> CachedKeyStoreBuilder<S> {
    /// How long a found service is kept while nothing proves that every change reaches the
    /// cache ([`DEFAULT_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a found service is kept at most while a listener proves that every change
    /// reaches the cache ([`DEFAULT_SAFETY_TTL`]; never shorter than the TTL).
    pub fn safety_ttl(mut self, ttl: Duration) -> Self {
        self.safety_ttl = ttl;
        self
    }

    /// How long an unknown service is remembered.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How many services are kept at most.
    pub fn max_services(mut self, max: u64) -> Self {
        self.max_services = max;
        self
    }

    /// The cache.
    pub fn build(self) -> CachedKeyStore<S> {
        let freshness = Arc::new(Freshness {
            ttl: self.ttl,
            safety_ttl: self.safety_ttl.max(self.ttl),
            negative_ttl: self.negative_ttl,
            trusted: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            seed: foldhash::fast::RandomState::default(),
        });
        let cache = Cache::builder()
            .max_capacity(self.max_services)
            .expire_after(Ttl {
                found: freshness.safety_ttl,
                unknown: self.negative_ttl,
            })
            .build();
        CachedKeyStore {
            cache,
            hot: Arc::new(Hot {
                map: RwLock::default(),
                max: usize::try_from(self.max_services).unwrap_or(usize::MAX),
            }),
            freshness,
            counters: Arc::default(),
            inner: Arc::new(self.inner),
        }
    }
}

/// A cached answer: the service (or `None`, unknown), the generation of its id when its load
/// started, and when it started.
#[derive(Clone)]
struct Cached {
    service: Option<Arc<ServiceRecord>>,
    generation: u64,
    loaded_at: Instant,
}

/// The number of generation counters ids are spread over. An invalidation moves on the counter
/// of its id's stripe: entries of the other ids of that stripe are then reloaded too, a
/// harmless extra load, and the memory stays fixed whatever the number of ids.
const STRIPES: usize = 4096;

/// What decides whether a cached answer may still be given: the TTLs, whether invalidations
/// are trusted, and the generations.
struct Freshness {
    ttl: Duration,
    safety_ttl: Duration,
    negative_ttl: Duration,
    /// Whether every change reaches the cache through `invalidate` (a listener says so).
    trusted: AtomicBool,
    /// Moved on by `invalidate_all`.
    epoch: AtomicU64,
    /// Moved on by `invalidate`, one stripe per id.
    stripes: Box<[AtomicU64]>,
    /// Spreads ids over the stripes and the safety TTL (a per-process random seed).
    seed: foldhash::fast::RandomState,
}

impl Freshness {
    fn hash(&self, id: Uuid) -> u64 {
        self.seed.hash_one(id)
    }

    fn stripe(&self, id: Uuid) -> &AtomicU64 {
        &self.stripes[self.hash(id) as usize % STRIPES]
    }

    /// The id's generation: it changes whenever the id (or every id) is invalidated, and never
    /// comes back to an earlier value.
    fn generation(&self, id: Uuid) -> u64 {
        self.epoch
            .load(Ordering::Acquire)
            .wrapping_add(self.stripe(id).load(Ordering::Acquire))
    }

    /// Whether `cached` may still answer for `id` at `now`.
    fn fresh(&self, id: Uuid, cached: &Cached, now: Instant) -> bool {
        let lifetime = match &cached.service {
            None => self.negative_ttl,
            Some(_) if self.trusted.load(Ordering::Acquire) => {
                // Between three quarters and all of the safety TTL, by id.
                let spread = self.hash(id) % 1024;
                self.safety_ttl - self.safety_ttl * u32::try_from(spread).unwrap_or(0) / 4096
            }
            Some(_) => self.ttl,
        };
        cached.generation == self.generation(id) && now < cached.loaded_at + lifetime
    }
}

/// The found services the cache's own loads fetched, read synchronously: a hit is a read
/// lock, a hash lookup, the generation and a clock read, where moka's reads are async. Under
/// the same freshness; invalidation clears both. Unknown services stay in moka alone.
struct Hot {
    map: RwLock<ServiceMap<Cached>>,
    max: usize,
}

impl Hot {
    fn get(&self, id: Uuid, freshness: &Freshness) -> Option<Arc<ServiceRecord>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let cached = map.get(&id)?;
        freshness
            .fresh(id, cached, Instant::now())
            .then(|| cached.service.clone())
            .flatten()
    }

    fn insert(&self, id: Uuid, cached: Cached, freshness: &Freshness) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max && !map.contains_key(&id) {
            let now = Instant::now();
            map.retain(|id, cached| freshness.fresh(*id, cached, now));
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(id, cached);
    }

    fn remove(&self, id: Uuid) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn ids(&self) -> Vec<Uuid> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }
}

/// moka's own expiry: the longest an entry may be answered (its freshness is checked on read).
struct Ttl {
    found: Duration,
    unknown: Duration,
}

impl Expiry<Uuid, Cached> for Ttl {
    fn expire_after_create(&self, _: &Uuid, value: &Cached, _: Instant) -> Option<Duration> {
        Some(match value.service {
            Some(_) => self.found,
            None => self.unknown,
        })
    }
}

impl<S: KeyStore> CachedKeyStore<S> {
    /// A cache around `inner` with the default settings.
    pub fn new(inner: S) -> Self {
        Self::builder(inner).build()
    }

    /// A builder for a cache around `inner`.
    pub fn builder(inner: S) -> CachedKeyStoreBuilder<S> {
        CachedKeyStoreBuilder {
            inner,
            ttl: DEFAULT_TTL,
            safety_ttl: DEFAULT_SAFETY_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

impl<S: ?Sized> CachedKeyStore<S> {
    /// Forgets one service now: its next lookup goes to the store, and a load of it already
    /// in flight will not be answered from the cache.
    pub async fn invalidate(&self, id: Uuid) {
        self.freshness.stripe(id).fetch_add(1, Ordering::AcqRel);
        self.hot.remove(id);
        self.cache.invalidate(&id).await;
    }

    /// Forgets every service now, loads in flight included.
    pub fn invalidate_all(&self) {
        self.freshness.epoch.fetch_add(1, Ordering::AcqRel);
        self.hot.clear();
        self.cache.invalidate_all();
    }

    /// Says whether every change to the store reaches the cache through
    /// [`CachedKeyStore::invalidate`] (a listener that is connected, has caught up with what
    /// changed while it was away, and whose heartbeat comes back): while it does, found
    /// services are kept until invalidated (or the safety TTL); otherwise, and from the moment
    /// it is withdrawn, for the short TTL. The PostgreSQL store's invalidation listener sets
    /// it; a listener of your own (another database's notifications, a message bus) may too.
    pub fn trust_invalidations(&self, trusted: bool) {
        self.freshness.trusted.store(trusted, Ordering::Release);
    }

    /// Whether invalidations are trusted ([`CachedKeyStore::trust_invalidations`]).
    pub fn invalidations_trusted(&self) -> bool {
        self.freshness.trusted.load(Ordering::Acquire)
    }

    /// Begins a reconciliation (after a listener reconnects): every cached answer becomes
    /// stale at once, so that a load read before a change missed while disconnected is never
    /// answered again; returns the found services held, with their new generations, to be
    /// read again and held ([`CachedKeyStore::hold`]).
    pub(crate) fn begin_reconciliation(&self) -> Vec<(Uuid, u64)> {
        self.freshness.epoch.fetch_add(1, Ordering::AcqRel);
        self.hot
            .ids()
            .into_iter()
            .map(|id| (id, self.freshness.generation(id)))
            .collect()
    }

    /// Holds `service` as read at `loaded_at`, for `id` as of `generation` (from
    /// [`CachedKeyStore::begin_reconciliation`]): an invalidation since then makes it stale at
    /// once.
    pub(crate) async fn hold(
        &self,
        id: Uuid,
        service: Option<Arc<ServiceRecord>>,
        generation: u64,
        loaded_at: Instant,
    ) {
        let cached = Cached {
            service,
            generation,
            loaded_at,
        };
        match cached.service {
            Some(_) => self.hot.insert(id, cached.clone(), &self.freshness),
            None => self.hot.remove(id),
        }
        self.cache.insert(id, cached).await;
    }

    /// The number of services held (found or unknown; moka's count, updated as it runs its
    /// maintenance).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits, misses and store calls so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            known_absent: self.counters.known_absent.load(Ordering::Relaxed),
            store_calls: self.counters.store_calls.load(Ordering::Relaxed),
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait::async_trait]
impl<S: KeyStore + ?Sized> KeyStore for CachedKeyStore<S> {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        if let Some(answer) = self.service_now(id) {
            return answer;
        }
        if let Some(cached) = self.cache.get(&id).await {
            if self.freshness.fresh(id, &cached, Instant::now()) {
                self.counters.hit();
                return Ok(cached.service);
            }
            // Stale: make the single-flight load below read the store again.
            self.cache.invalidate(&id).await;
        }
        self.counters.miss();
        // Taken before the store is read: an invalidation during the read makes it stale.
        let generation = self.freshness.generation(id);
        let load = async {
            self.counters.store_call();
            let loaded_at = Instant::now();
            let service = self.inner.service(id).await?;
            let cached = Cached {
                service,
                generation,
                loaded_at,
            };
            if cached.service.is_some() {
                self.hot.insert(id, cached.clone(), &self.freshness);
            }
            Ok(cached)
        };
        self.cache
            .try_get_with(id, load)
            .await
            .map(|cached| cached.service)
            .map_err(|shared: Arc<KeyStoreError>| (*shared).clone())
    }

    /// A found service the cache holds, or what the inner store answers at once; anything
    /// else takes [`KeyStore::service`].
    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        if let Some(found) = self.hot.get(id, &self.freshness) {
            self.counters.hit();
            return Some(Ok(Some(found)));
        }
        let answer = self.inner.service_now(id)?;
        match answer {
            Ok(None) => self.counters.known_absent(),
            _ => self.counters.hit(),
        }
        Some(answer)
    }

    /// The inner store's answer: the service it names is then read through the cache.
    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        self.inner.key_by_secret(secret).await
    }

    fn key_by_secret_now(&self, secret: &str) -> Option<Result<KeyBySecret, KeyStoreError>> {
        self.inner.key_by_secret_now(secret)
    }
}
