//! A caching decorator for any [`KeyStore`] (feature `cache`), on `moka`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use uuid::Uuid;

use super::{KeyBySecret, KeyStore, KeyStoreError, ServiceMap};
use crate::model::Service;

/// How long a found service is kept by default: 2 seconds, as Notify caches a service's keys.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2);

/// How long an unknown service is remembered by default: long enough that a flood of random
/// ids costs one store call per id per 250 ms, short enough that a new service is found soon.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_millis(250);

/// How many services are kept at most by default.
pub const DEFAULT_MAX_SERVICES: u64 = 100_000;

/// Caches another store's answers, as Notify caches a service's keys for 2 seconds per process.
///
/// - found services for [`DEFAULT_TTL`], unknown ones for the shorter [`DEFAULT_NEGATIVE_TTL`];
///   store errors are not cached;
/// - at most [`DEFAULT_MAX_SERVICES`] services;
/// - concurrent misses for one service make one store call (single flight);
/// - [`CachedKeyStore::invalidate`] drops one service at once (the PostgreSQL store's
///   listener calls it when a key is revoked or created);
/// - what the inner store answers at once ([`KeyStore::service_now`]: an id it knows to be
///   absent, say) is answered so, and takes no place in the cache;
/// - a hit on a found service is answered at once too (`service_now`: a read lock, a hash
///   lookup and a clock read for the TTL, with no future to box: ~40 ns where the in-memory
///   store takes ~16, BENCHMARKS.md), from a map of what the cache's own loads fetched,
///   under the same TTL and invalidation.
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
///     .negative_ttl(Duration::from_millis(100))
///     .max_services(10_000)
///     .build();
/// let layer = NotifyAuthLayer::new(store.clone());
/// # let _ = layer;
/// ```
pub struct CachedKeyStore<S: ?Sized> {
    cache: Cache<Uuid, Option<Arc<Service>>>,
    hot: Arc<Hot>,
    counters: Arc<Counters>,
    inner: Arc<S>,
}

impl<S: ?Sized> Clone for CachedKeyStore<S> {
    fn clone(&self) -> Self {
        CachedKeyStore {
            cache: self.cache.clone(),
            hot: self.hot.clone(),
            counters: self.counters.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S: ?Sized> fmt::Debug for CachedKeyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStore")
            .field("entries", &self.cache.entry_count())
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
    negative_ttl: Duration,
    max_services: u64,
}

impl<S: KeyStore> CachedKeyStoreBuilder<S> {
    /// How long a found service is kept.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
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
        let cache = Cache::builder()
            .max_capacity(self.max_services)
            .expire_after(Ttl {
                found: self.ttl,
                unknown: self.negative_ttl,
            })
            .build();
        CachedKeyStore {
            cache,
            hot: Arc::new(Hot {
                map: RwLock::default(),
                ttl: self.ttl,
                max: usize::try_from(self.max_services).unwrap_or(usize::MAX),
            }),
            counters: Arc::default(),
            inner: Arc::new(self.inner),
        }
    }
}

/// The found services the cache's own loads fetched, with their expiry, read synchronously:
/// a hit is a read lock, a hash lookup and a clock read, where moka's reads are async. Same TTL as moka's, counted from when the load started; invalidation
/// clears both. Unknown services stay in moka alone.
struct Hot {
    map: RwLock<ServiceMap<(Arc<Service>, Instant)>>,
    ttl: Duration,
    max: usize,
}

impl Hot {
    fn get(&self, id: Uuid) -> Option<Arc<Service>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (service, expires) = map.get(&id)?;
        (Instant::now() < *expires).then(|| service.clone())
    }

    fn insert(&self, id: Uuid, service: Arc<Service>, loaded_at: Instant) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max && !map.contains_key(&id) {
            let now = Instant::now();
            map.retain(|_, (_, expires)| *expires > now);
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(id, (service, loaded_at + self.ttl));
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
}

struct Ttl {
    found: Duration,
    unknown: Duration,
}

impl Expiry<Uuid, Option<Arc<Service>>> for Ttl {
    fn expire_after_create(
        &self,
        _: &Uuid,
        value: &Option<Arc<Service>>,
        _: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.found
        } else {
            self.unknown
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
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

impl<S: ?Sized> CachedKeyStore<S> {
    /// Forgets one service now: its next lookup goes to the store.
    pub async fn invalidate(&self, id: Uuid) {
        self.hot.remove(id);
        self.cache.invalidate(&id).await;
    }

    /// Forgets every service now.
    pub fn invalidate_all(&self) {
        self.hot.clear();
        self.cache.invalidate_all();
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
    async fn service(&self, id: Uuid) -> Result<Option<Arc<Service>>, KeyStoreError> {
        if let Some(answer) = self.service_now(id) {
            return answer;
        }
        if let Some(found) = self.cache.get(&id).await {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let load = async {
            self.counters.store_calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let answer = self.inner.service(id).await;
            if let Ok(Some(service)) = &answer {
                self.hot.insert(id, service.clone(), started);
            }
            answer
        };
        self.cache
            .try_get_with(id, load)
            .await
            .map_err(|shared: Arc<KeyStoreError>| (*shared).clone())
    }

    /// A found service the cache holds, or what the inner store answers at once; anything
    /// else takes [`KeyStore::service`].
    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<Service>>, KeyStoreError>> {
        if let Some(found) = self.hot.get(id) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Some(Ok(Some(found)));
        }
        let answer = self.inner.service_now(id)?;
        let counter = match answer {
            Ok(None) => &self.counters.known_absent,
            _ => &self.counters.hits,
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
