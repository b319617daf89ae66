//! Notify's API rate limit in memory, behind the authentication layer: Notify's buckets and
//! answers, per key type, and a backend that cannot answer letting requests through.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::post;
use common::*;
use http::{Request, header};
use notify_auth::ratelimit::{
    Algorithm, Bucket, BucketError, BucketKey, MemoryBuckets, RateLimitLayer, RateLimited,
    TokenBuckets,
};
use notify_auth::testing::FixedPrincipalLayer;
use notify_auth::{
    ApiKey, Dialect, InternalAuthLayer, KeyType, MemoryStore, NotifyAuthLayer, Principal, Secret,
    ServiceRecord,
};
use tower::ServiceExt;

/// A clock the test moves: Unix seconds, in thousandths.
#[derive(Clone, Default)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn at(seconds: f64) -> Self {
        let clock = Clock::default();
        clock.set(seconds);
        clock
    }

    fn set(&self, seconds: f64) {
        self.0.store((seconds * 1000.0) as u64, Ordering::SeqCst);
    }

    fn now(&self) -> f64 {
        self.0.load(Ordering::SeqCst) as f64 / 1000.0
    }
}

/// Service S with a rate limit of 60 a minute (a bucket of 21 tokens, one a second), a
/// normal key K1 and a team key K2.
fn limited_store(rate_limit: i32) -> MemoryStore {
    let key = |id, secret: &str, key_type| ApiKey::new(id, Secret::new(secret), key_type);
    MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_rate_limit(rate_limit)
                .with_key(key(K1, K1_SECRET, KeyType::Normal))
                .with_key(key(K2, K2_SECRET, KeyType::Team)),
        )
        .build()
        .unwrap()
}

fn app(store: MemoryStore, limit: RateLimitLayer) -> axum::Router {
    axum::Router::new()
        .route(
            "/v2/notifications/{notification_type}",
            post(|| async { "sent" }).layer(limit),
        )
        .layer(NotifyAuthLayer::new(store).clock(|| NOW))
}

async fn send(app: &axum::Router, secret: &str) -> Answer {
    let request = Request::post("/v2/notifications/sms")
        .header(header::AUTHORIZATION, bearer(&token(S, NOW, secret)))
        .body(Body::empty())
        .unwrap();
    into_answer(app.clone().oneshot(request).await.unwrap()).await
}

const LIMITED_60_LIVE: &str = "{\"errors\":[{\"error\":\"RateLimitError\",\"message\":\"Exceeded \
     rate limit for key type LIVE of 60 requests per 60 seconds\"}],\"status_code\":429}\n";

/// A full bucket of 21 tokens lets 20 requests through (the 21st would leave none), and each
/// key type has its own bucket; refilled at one token a second.
#[tokio::test]
async fn a_service_gets_its_bucket_per_key_type_and_notifys_429() {
    let clock = Clock::at(1_000_000.0);
    let c = clock.clone();
    let app = app(
        limited_store(60),
        RateLimitLayer::in_memory().clock(move || c.now()),
    );
    for _ in 0..20 {
        assert_eq!(send(&app, K1_SECRET).await.body, "sent");
    }
    let over = send(&app, K1_SECRET).await;
    assert_eq!((over.status, over.body.as_str()), (429, LIMITED_60_LIVE));
    assert_eq!(over.content_type.as_deref(), Some("application/json"));
    // The team key's bucket is another one.
    assert_eq!(send(&app, K2_SECRET).await.body, "sent");
    // As in Notify, a request goes through only if a token is left after it: one token
    // granted a second later is taken, and the request is still over.
    clock.set(1_000_001.5);
    assert_eq!(send(&app, K1_SECRET).await.status, 429);
    // Two whole seconds after the last token granted (the refill time moved to 1_000_001):
    // two tokens, one request through.
    clock.set(1_000_003.0);
    assert_eq!(send(&app, K1_SECRET).await.body, "sent");
    assert_eq!(send(&app, K1_SECRET).await.status, 429);
}

/// The 429 carries what was limited, names the key type as Notify does, and reads the same
/// in every dialect, whichever way it counts (every fork words it the same way).
#[tokio::test]
async fn the_answer_is_notifys_in_every_dialect() {
    for (key_type, name) in [
        (KeyType::Normal, "LIVE"),
        (KeyType::Team, "TEAM"),
        (KeyType::Test, "TEST"),
    ] {
        let limited = RateLimited {
            service_id: S,
            key_type,
            rate_limit: 3000,
        };
        let expected = format!(
            "{{\"errors\":[{{\"error\":\"RateLimitError\",\"message\":\"Exceeded rate limit for key \
             type {name} of 3000 requests per 60 seconds\"}}],\"status_code\":429}}\n"
        );
        assert_eq!(limited.body(), expected);
        let response = limited.response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.extensions().get::<RateLimited>(), Some(&limited));
    }
    // A limit of 0 refuses every request, by the bucket and by the window alike.
    for dialect in Dialect::ALL {
        let limit = RateLimitLayer::in_memory().dialect(dialect).clock(|| 9.0);
        let over = send(&app(limited_store(0), limit), K1_SECRET).await;
        let expected = LIMITED_60_LIVE.replace(" 60 requests", " 0 requests");
        assert_eq!((over.status, over.body), (429, expected), "{dialect:?}");
        assert_eq!(over.content_type.as_deref(), Some("application/json"));
    }
}

/// Without the service's record, Notify's default limit (3000 a minute: 1000 tokens); without
/// a principal (the internal client, an optional layer's anonymous requests), no limit.
#[tokio::test]
async fn the_default_limit_and_requests_that_are_not_a_services() {
    let principal = Principal::new(S, K1, KeyType::Test);
    let limit = RateLimitLayer::in_memory().clock(|| 5.0);
    let app = axum::Router::new()
        .route(
            "/v2/notifications/sms",
            post(|| async { "sent" }).layer(limit),
        )
        .layer(FixedPrincipalLayer::service(principal));
    let send = || async {
        let request = Request::post("/v2/notifications/sms")
            .body(Body::empty())
            .unwrap();
        into_answer(app.clone().oneshot(request).await.unwrap()).await
    };
    for _ in 0..999 {
        assert_eq!(send().await.status, 200);
    }
    let over = send().await;
    assert_eq!(over.status, 429);
    assert!(
        over.body.contains("key type TEST of 3000 requests"),
        "{}",
        over.body
    );

    let limit = RateLimitLayer::new(MemoryBuckets::new()).clock(|| 5.0);
    let internal = axum::Router::new()
        .route("/service", post(|| async { "ok" }).layer(limit))
        .layer(InternalAuthLayer::new(admin()).clock(|| NOW));
    for _ in 0..5 {
        let request = Request::post("/service")
            .header(
                header::AUTHORIZATION,
                bearer(&token("notify-admin", NOW, "s1")),
            )
            .body(Body::empty())
            .unwrap();
        let answer = into_answer(internal.clone().oneshot(request).await.unwrap()).await;
        assert_eq!(answer.status, 200);
    }
}

/// A backend that answers only through its future: the same answers as in memory.
struct Awaited(MemoryBuckets);

#[notify_auth::async_trait]
impl TokenBuckets for Awaited {
    async fn tally(&self, key: &BucketKey, bucket: Bucket, now: f64) -> Result<i64, BucketError> {
        tokio::task::yield_now().await;
        Ok(self.0.take(key, bucket, now))
    }
}

#[tokio::test]
async fn a_backend_that_is_awaited_answers_the_same() {
    let limit = RateLimitLayer::new(Awaited(MemoryBuckets::new())).clock(|| 7.5);
    let app = app(limited_store(60), limit);
    for _ in 0..20 {
        assert_eq!(send(&app, K1_SECRET).await.body, "sent");
    }
    let over = send(&app, K1_SECRET).await;
    assert_eq!((over.status, over.body.as_str()), (429, LIMITED_60_LIVE));
}

/// A backend that fails, or does not answer in time, lets the request through (as Notify
/// does when Redis is unreachable), within the timeout.
#[tokio::test]
async fn a_backend_that_cannot_answer_lets_requests_through_in_bounded_time() {
    struct Failing;
    #[notify_auth::async_trait]
    impl TokenBuckets for Failing {
        async fn tally(&self, _: &BucketKey, _: Bucket, _: f64) -> Result<i64, BucketError> {
            Err(BucketError::new("connection refused"))
        }
    }
    struct Silent;
    #[notify_auth::async_trait]
    impl TokenBuckets for Silent {
        async fn tally(&self, _: &BucketKey, _: Bucket, _: f64) -> Result<i64, BucketError> {
            std::future::pending().await
        }
    }
    let failing = app(limited_store(0), RateLimitLayer::new(Failing));
    for _ in 0..3 {
        assert_eq!(send(&failing, K1_SECRET).await.body, "sent");
    }
    let silent = app(
        limited_store(0),
        RateLimitLayer::new(Silent).timeout(Duration::from_millis(50)),
    );
    let started = Instant::now();
    assert_eq!(send(&silent, K1_SECRET).await.body, "sent");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    // With a working backend, a rate limit of 0 refuses everything, as Notify's script does.
    let zero = app(limited_store(0), RateLimitLayer::in_memory());
    assert_eq!(send(&zero, K1_SECRET).await.status, 429);
}

/// GC Notify and VA Notify count the requests of the last 60 seconds (a request past the
/// rate limit is over it, and counts too), per key type, with the same 429.
#[tokio::test]
async fn gc_and_va_count_a_sliding_window_of_the_last_minute() {
    for dialect in [Dialect::Gc, Dialect::Va] {
        let clock = Clock::at(1000.0);
        let c = clock.clone();
        let limit = RateLimitLayer::in_memory()
            .dialect(dialect)
            .clock(move || c.now());
        let app = app(limited_store(60), limit);
        for i in 0..60 {
            clock.set(1000.0 + f64::from(i) * 0.5);
            assert_eq!(send(&app, K1_SECRET).await.body, "sent", "{dialect:?} {i}");
        }
        clock.set(1030.5);
        let over = send(&app, K1_SECRET).await;
        assert_eq!((over.status, over.body.as_str()), (429, LIMITED_60_LIVE));
        clock.set(1031.0);
        assert_eq!(
            send(&app, K1_SECRET).await.status,
            429,
            "rejected requests count"
        );
        assert_eq!(send(&app, K2_SECRET).await.body, "sent", "another key type");
        // At 1061.0 the requests at or before 1001.0 have left: 59 of the 62, and this one.
        clock.set(1061.0);
        assert_eq!(send(&app, K1_SECRET).await.body, "sent");
        clock.set(1061.25);
        assert_eq!(send(&app, K1_SECRET).await.status, 429);
    }
}

/// As in Redis, where the time is the sorted set's member: requests at the very same moment
/// are one member, counted once (the forks' own quirk, kept).
#[tokio::test]
async fn requests_at_the_same_moment_are_counted_once_in_a_window() {
    let limit = RateLimitLayer::in_memory()
        .dialect(Dialect::Gc)
        .clock(|| 1000.0);
    let app = app(limited_store(1), limit);
    for _ in 0..5 {
        assert_eq!(send(&app, K1_SECRET).await.body, "sent");
    }
}

/// Each dialect counts as its fork does unless told otherwise: Notify.gov (no limit of its
/// own) and the UK with the token bucket; `algorithm` overrides.
#[tokio::test]
async fn the_algorithm_follows_the_dialect_unless_set() {
    assert_eq!(Algorithm::of(Dialect::Uk), Algorithm::TokenBucket);
    assert_eq!(Algorithm::of(Dialect::Gov), Algorithm::TokenBucket);
    assert_eq!(Algorithm::of(Dialect::Gc), Algorithm::SlidingWindow);
    assert_eq!(Algorithm::of(Dialect::Va), Algorithm::SlidingWindow);
    // A bucket of 21 tokens: 20 through at one moment (a window would let them all through).
    let gov = RateLimitLayer::in_memory()
        .dialect(Dialect::Gov)
        .clock(|| 50.0);
    let app_gov = app(limited_store(60), gov);
    for _ in 0..20 {
        assert_eq!(send(&app_gov, K1_SECRET).await.body, "sent");
    }
    assert_eq!(send(&app_gov, K1_SECRET).await.status, 429);
    // A window of 2 in the UK's dialect (chosen before the dialect is set, or after): the
    // third request in the minute is over.
    let clock = Clock::at(50.0);
    let c = clock.clone();
    let window = RateLimitLayer::in_memory()
        .algorithm(Algorithm::SlidingWindow)
        .dialect(Dialect::Uk)
        .clock(move || c.now());
    let app_window = app(limited_store(2), window);
    for (i, expected) in [200, 200, 429].into_iter().enumerate() {
        clock.set(50.0 + i as f64);
        assert_eq!(send(&app_window, K1_SECRET).await.status, expected);
    }
}

/// A backend that keeps only token buckets, under a layer in a dialect that counts windows:
/// it counts token buckets (20 of a bucket of 21 through at one moment, where a window would
/// have let every one through), never letting everything through, never a 5xx.
#[tokio::test]
async fn a_backend_without_windows_counts_token_buckets() {
    let limit = RateLimitLayer::new(Awaited(MemoryBuckets::new()))
        .dialect(Dialect::Va)
        .clock(|| 7.5);
    let app = app(limited_store(60), limit);
    for _ in 0..20 {
        assert_eq!(send(&app, K1_SECRET).await.body, "sent");
    }
    let over = send(&app, K1_SECRET).await;
    assert_eq!((over.status, over.body.as_str()), (429, LIMITED_60_LIVE));
}
