//! The decision allocates nothing on the success path, and the layer little more: counted
//! with an instrumented global allocator, in this test binary only.
//!
//! (A JSON string with escapes, such as `"a\nb"`, costs one allocation when a rule reads its
//! text decoded: `iss` on public routes, `iat`, `nbf`, `exp`, `kid`, `req` or `pay`. The
//! official clients never write one.)

mod common;

use std::alloc::System;

use common::*;
use notify_auth::core::authenticate;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The counts are process-wide: the tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations made by `f` (the tests of this file run one at a time).
fn allocations(f: impl Fn()) -> usize {
    f(); // warm up: one-time initialisation is not the request path
    fewest(|| {
        let region = Region::new(GLOBAL);
        f();
        region.change().allocations
    })
}

/// The fewest of three counts: the counter is the process's, and the test harness's own
/// thread allocates when another test ends (its result, its output), which may fall inside a
/// count now and then, never in all three.
fn fewest(count: impl Fn() -> usize) -> usize {
    (0..3).map(|_| count()).min().unwrap_or(0)
}

#[test]
fn deciding_allocates_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let store = store();
    let lookup = |id| store.get(id).map(|s| &**s);
    let official = bearer(&valid());
    let hand_rolled = bearer(&jwt(
        r#"{"typ": "JWT", "alg": "HS256", "kid": "k"}"#,
        &format!(
            r#"{{"iat": {NOW}, "iss": "{}", "jti": "x", "aud": []}}"#,
            S.simple()
        ),
        K2_SECRET,
    ));
    let rejected = bearer(&token(S, NOW - 60, K1_SECRET));
    let cases: [(&str, &str); 3] = [
        ("official client token", &official),
        ("hand-rolled token (full JSON parser)", &hand_rolled),
        ("rejected token", &rejected),
    ];
    for (name, header) in cases {
        let count = allocations(|| {
            let _ = std::hint::black_box(authenticate([header.as_bytes()], NOW, lookup));
        });
        assert_eq!(count, 0, "{name}");
    }
    assert!(authenticate([official.as_bytes()], NOW, lookup).is_ok());
    assert!(authenticate([hand_rolled.as_bytes()], NOW, lookup).is_ok());
}

/// The layer around a no-op service on the success path. With the in-memory store, only the
/// four allocations `http::Extensions` takes to hold the principal and the service's record
/// (the map's box, its table, and each boxed value: the record's is an `Arc`, shared, not
/// copied): the store answers at once (`KeyStore::service_now`), so the layer
/// decides in `call` and hands the request to the ready inner service, with no future of its
/// own. So does a cache holding the service. A store that does not answer at once (here the
/// same store behind a wrapper that only implements `service`) costs the layer's boxed
/// authorization future, the copy of the token's signed part it carries (the header is
/// parsed once, in `call`), the store's boxed future and the wrapped store's.
#[test]
fn the_layer_allocates_only_for_the_extensions_on_success() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use notify_auth::{
        Dialect, KeyStore, KeyStoreError, MemoryStore, NotifyAuthLayer, ServiceRecord,
    };
    use tower::{Layer, ServiceExt};
    use uuid::Uuid;

    struct AsyncOnly(MemoryStore);

    #[notify_auth::async_trait]
    impl KeyStore for AsyncOnly {
        async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
            self.0.service(id).await
        }
    }

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let header = bearer(&valid());
    let count = |store: Arc<dyn KeyStore>, header: &str, dialect: Dialect| {
        let service = NotifyAuthLayer::from_shared(store)
            .dialect(dialect)
            .clock(|| NOW)
            .layer(answering("ok"));
        let decide = || {
            let request = request("/v2/notifications", &[header.as_bytes()]);
            let service = service.clone();
            let mut cx = Context::from_waker(Waker::noop());
            let region = Region::new(GLOBAL);
            let mut response = std::pin::pin!(service.oneshot(request));
            let Poll::Ready(response) = response.as_mut().poll(&mut cx) else {
                panic!("the in-memory store answers at once");
            };
            let allocations = region.change().allocations;
            assert_eq!(response.unwrap().status(), 200);
            allocations
        };
        decide(); // warm up
        fewest(decide)
    };
    assert_eq!(count(Arc::new(store()), &header, Dialect::Uk), 4);
    assert_eq!(count(Arc::new(AsyncOnly(store())), &header, Dialect::Uk), 8);
    // GC Notify's raw key, found by its secret in the in-memory store's index: the same.
    let raw = format!(
        "ApiKey-v1 {}",
        notify_auth::token::gc_key_string("k", S, K1_SECRET)
    );
    assert_eq!(count(Arc::new(store()), &raw, Dialect::Gc), 4);
    assert_eq!(count(Arc::new(store()), &header, Dialect::Gc), 4);
    // A cache hit over a store that only answers through its future (as PostgreSQL does)
    // costs what the in-memory store's lookup costs.
    #[cfg(feature = "cache")]
    {
        let cache = notify_auth::store::CachedKeyStore::new(AsyncOnly(store()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(cache.service(S)).unwrap().unwrap();
        assert_eq!(count(Arc::new(cache.clone()), &header, Dialect::Uk), 4);
        assert_eq!(cache.stats().store_calls, 1);
    }
}
