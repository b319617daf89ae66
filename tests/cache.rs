//! The caching decorator, around a store that counts its calls.
#![cfg(feature = "cache")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use notify_auth::store::{CacheStats, CachedKeyStore};
use notify_auth::{KeyStore, KeyStoreError, MemoryStore, ServiceRecord};
use uuid::Uuid;

/// Counts calls; optionally slow, optionally failing.
struct Counting {
    inner: MemoryStore,
    calls: AtomicUsize,
    delay: Duration,
    fail: AtomicBool,
}

impl Counting {
    fn new(delay: Duration) -> Self {
        Counting {
            inner: store(),
            calls: AtomicUsize::new(0),
            delay,
            fail: AtomicBool::new(false),
        }
    }
}

#[notify_auth::async_trait]
impl KeyStore for Counting {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(KeyStoreError::new("database is down"));
        }
        self.inner.service(id).await
    }
}

fn calls(cache: &CachedKeyStore<Counting>) -> usize {
    cache.inner().calls.load(Ordering::SeqCst)
}

#[tokio::test]
async fn hits_come_from_the_cache_and_share_one_record() {
    let cache = CachedKeyStore::new(Counting::new(Duration::ZERO));
    let first = cache.service(S).await.unwrap().unwrap();
    let second = cache.service(S).await.unwrap().unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "one record, so the key hint stays warm"
    );
    assert_eq!(calls(&cache), 1);
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 1,
            misses: 1,
            known_absent: 0,
            store_calls: 1
        }
    );
    assert_eq!(cache.stats().hit_rate(), 0.5);
}

#[tokio::test]
async fn unknown_services_are_remembered_for_the_shorter_negative_ttl() {
    let cache = CachedKeyStore::builder(Counting::new(Duration::ZERO))
        .ttl(Duration::from_secs(60))
        .negative_ttl(Duration::from_millis(50))
        .build();
    let unknown = Uuid::from_u128(99);
    assert!(cache.service(unknown).await.unwrap().is_none());
    assert!(cache.service(unknown).await.unwrap().is_none());
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 2, "one call for the unknown id, one for S");
    // Well past the negative TTL (no upper bound is asserted): the unknown id is asked again,
    // the known one is still cached.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cache.service(unknown).await.unwrap().is_none());
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 3);
}

#[tokio::test]
async fn found_services_expire_after_the_ttl() {
    let cache = CachedKeyStore::builder(Counting::new(Duration::ZERO))
        .ttl(Duration::from_millis(50))
        .build();
    cache.service(S).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cache.service(S).await.unwrap();
    assert_eq!(calls(&cache), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_store_call() {
    let cache = CachedKeyStore::new(Counting::new(Duration::from_millis(100)));
    let lookups: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.service(S).await.unwrap().unwrap().id() })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap(), S);
    }
    assert_eq!(calls(&cache), 1);
    assert_eq!(cache.stats().store_calls, 1);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let cache = CachedKeyStore::new(Counting::new(Duration::ZERO));
    cache.inner().fail.store(true, Ordering::SeqCst);
    let err = cache.service(S).await.unwrap_err();
    assert_eq!(err.to_string(), "key store error: database is down");
    cache.inner().fail.store(false, Ordering::SeqCst);
    assert!(cache.service(S).await.unwrap().is_some());
    assert_eq!(calls(&cache), 2);
}

#[tokio::test]
async fn invalidation_drops_one_service_or_all() {
    let cache = CachedKeyStore::new(Counting::new(Duration::ZERO));
    cache.service(S).await.unwrap();
    cache.service(A).await.unwrap();
    cache.invalidate(S).await;
    cache.service(S).await.unwrap();
    cache.service(A).await.unwrap();
    assert_eq!(calls(&cache), 3, "only S was asked again");
    cache.invalidate_all();
    cache.service(S).await.unwrap();
    cache.service(A).await.unwrap();
    assert_eq!(calls(&cache), 5);
}

#[tokio::test]
async fn the_layer_works_over_the_cache() {
    use notify_auth::NotifyAuthLayer;
    use tower::{Layer, ServiceExt, service_fn};

    let cache = CachedKeyStore::new(Counting::new(Duration::ZERO));
    let layer = NotifyAuthLayer::new(cache.clone()).clock(|| NOW);
    for _ in 0..3 {
        let header = bearer(&valid());
        let service = layer.layer(service_fn(
            |_req: http::Request<http_body_util::Full<bytes::Bytes>>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::new(),
                )))
            },
        ));
        let response = service
            .oneshot(request("/v2/x", &[header.as_bytes()]))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(calls(&cache), 1);
    assert_eq!(cache.stats().hits, 2);
}

/// A store that knows which ids exist, as the PostgreSQL store does while its listener runs.
struct Directory(MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for Directory {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.0.service(id).await
    }

    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        (id != S).then_some(Ok(None))
    }
}

#[tokio::test]
async fn ids_the_store_knows_to_be_absent_take_no_store_call() {
    let store = MemoryStore::builder()
        .service(ServiceRecord::new(S, true))
        .build()
        .unwrap();
    let cache = CachedKeyStore::new(Directory(store));
    for i in 0..100 {
        assert!(cache.service(Uuid::from_u128(i)).await.unwrap().is_none());
    }
    assert!(cache.service(S).await.unwrap().is_some());
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 0,
            misses: 1,
            known_absent: 100,
            store_calls: 1
        }
    );
    assert!(matches!(
        cache.service_now(Uuid::from_u128(1)),
        Some(Ok(None))
    ));
}

/// A found service is answered at once (`KeyStore::service_now`, no future), the same record
/// moka holds, until it is invalidated or its TTL passes.
#[tokio::test]
async fn hits_are_answered_at_once_until_invalidated_or_expired() {
    let cache = CachedKeyStore::builder(Counting::new(Duration::ZERO))
        .ttl(Duration::from_millis(300))
        .build();
    assert!(cache.service_now(S).is_none(), "nothing is cached yet");
    let loaded = cache.service(S).await.unwrap().unwrap();
    let at_once = cache.service_now(S).unwrap().unwrap().unwrap();
    assert!(Arc::ptr_eq(&loaded, &at_once), "one record, one key hint");
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(calls(&cache), 1);

    cache.invalidate(S).await;
    assert!(cache.service_now(S).is_none(), "invalidated");
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 2);
    assert!(cache.service_now(S).is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(cache.service_now(S).is_none(), "expired with the TTL");
    cache.invalidate_all();
    // Unknown services are not held for the at-once answer (moka keeps them).
    assert!(cache.service(Uuid::from_u128(7)).await.unwrap().is_none());
    assert!(cache.service_now(Uuid::from_u128(7)).is_none());
}

/// A store whose lookups read when they start, then wait until the test lets them go: a
/// database read whose answer is slow to come back.
struct Gated {
    inner: std::sync::Mutex<MemoryStore>,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
    calls: AtomicUsize,
}

#[notify_auth::async_trait]
impl KeyStore for Gated {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        let read = self.inner.lock().unwrap().get(id).cloned();
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        self.release.notified().await;
        Ok(read)
    }
}

/// An invalidation that arrives while a load is in flight wins: the load's answer (read
/// before the change) is given to the lookups that waited for it, but never again from the
/// cache; the next lookup reads the store.
#[tokio::test]
async fn an_invalidation_wins_over_a_load_in_flight() {
    let gated = Gated {
        inner: std::sync::Mutex::new(store()),
        started: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
        calls: AtomicUsize::new(0),
    };
    let cache = Arc::new(CachedKeyStore::new(gated));
    let loading = tokio::spawn({
        let cache = cache.clone();
        async move { cache.service(S).await }
    });
    cache.inner().started.notified().await;
    // The service changes (its keys are gone), and the change is announced mid-load.
    *cache.inner().inner.lock().unwrap() = MemoryStore::builder()
        .service(ServiceRecord::new(S, true))
        .build()
        .unwrap();
    cache.invalidate(S).await;
    cache.inner().release.notify_one();
    let stale = loading.await.unwrap().unwrap().unwrap();
    assert_eq!(stale.api_keys().len(), 4, "read before the change");
    assert!(
        cache.service_now(S).is_none(),
        "never answered from the cache"
    );
    let next = tokio::spawn({
        let cache = cache.clone();
        async move { cache.service(S).await }
    });
    cache.inner().started.notified().await;
    cache.inner().release.notify_one();
    let fresh = next.await.unwrap().unwrap().unwrap();
    assert!(fresh.api_keys().is_empty(), "read again after the change");
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 2);
    assert!(cache.service_now(S).is_some(), "and that one is held");
}

/// While invalidations are trusted, found services outlive the short TTL (until the safety
/// TTL); the moment trust is withdrawn, the short TTL applies again, to services loaded
/// before as well.
#[tokio::test]
async fn trusted_invalidations_keep_services_until_they_change() {
    let cache = CachedKeyStore::builder(Counting::new(Duration::ZERO))
        .ttl(Duration::from_millis(100))
        .safety_ttl(Duration::from_millis(800))
        .build();
    assert!(!cache.invalidations_trusted());
    cache.trust_invalidations(true);
    cache.service(S).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        cache.service_now(S).is_some(),
        "past the short TTL, still held"
    );
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 1);
    // An invalidation drops it at once.
    cache.invalidate(S).await;
    assert!(cache.service_now(S).is_none());
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 2);
    // The safety TTL (between 600 and 800 ms here) bounds trust.
    tokio::time::sleep(Duration::from_millis(850)).await;
    assert!(cache.service_now(S).is_none(), "past the safety TTL");
    cache.service(S).await.unwrap().unwrap();
    assert_eq!(calls(&cache), 3);
    // Trust withdrawn: the short TTL again, for what was loaded while trusted.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(cache.service_now(S).is_some());
    cache.trust_invalidations(false);
    assert!(cache.service_now(S).is_none(), "older than the short TTL");
    // Unknown services keep the negative TTL whatever the trust.
    cache.trust_invalidations(true);
    assert!(cache.service(Uuid::from_u128(9)).await.unwrap().is_none());
    assert_eq!(calls(&cache), 4);
}
