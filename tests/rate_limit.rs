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
    Bucket, BucketError, BucketKey, MemoryBuckets, RateLimitLayer, RateLimited, TokenBuckets,
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

/// The 429 carries what was limited, and reads the same in every dialect (every fork words
/// it the same way).
#[test]
fn the_answer_is_notifys_in_every_dialect() {
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
        for dialect in Dialect::ALL {
            assert_eq!(limited.body(dialect), expected);
            let response = limited.response(dialect);
            assert_eq!(response.status(), 429);
            assert_eq!(response.extensions().get::<RateLimited>(), Some(&limited));
        }
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
