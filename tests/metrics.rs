//! The series the layers and the cache count on the paths every request takes, as a
//! Prometheus recorder renders them: each label set exactly once per request, under the names
//! and labels the `metrics` module documents.
#![cfg(all(feature = "metrics", feature = "cache"))]

mod common;

use axum::body::Body;
use axum::routing::post;
use common::*;
use http::{Request, header};
use metrics_exporter_prometheus::PrometheusBuilder;
use notify_auth::ratelimit::RateLimitLayer;
use notify_auth::store::CachedKeyStore;
use notify_auth::{
    ApiKey, InternalAuthLayer, KeyStore, KeyStoreError, KeyType, MemoryStore, NotifyAuthLayer,
    Secret, ServiceRecord,
};
use std::sync::Arc;
use tower::ServiceExt;
use uuid::Uuid;

/// A store that answers only when awaited, as a database does (the cache then counts its
/// misses and its calls to it).
struct Awaited(MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for Awaited {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.0.service(id).await
    }
}

/// Service S (2 requests a minute: a bucket of 2 tokens, one request through) with a key of
/// each type, behind the cache.
fn store() -> CachedKeyStore<Awaited> {
    let key = |id, secret: &str, key_type| ApiKey::new(id, Secret::new(secret), key_type);
    let store = MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_rate_limit(2)
                .with_key(key(K1, K1_SECRET, KeyType::Normal))
                .with_key(key(K2, K2_SECRET, KeyType::Team))
                .with_key(key(K3, K3_SECRET, KeyType::Test)),
        )
        .build()
        .unwrap();
    CachedKeyStore::new(Awaited(store))
}

async fn send(app: &axum::Router, path: &str, authorization: &str) -> u16 {
    let request = Request::post(path)
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .unwrap();
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn requests_cache_lookups_and_tallies_are_counted_by_their_labels() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // A current-thread runtime: the whole test runs on this thread, with this recorder.
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let app = axum::Router::new()
        .route(
            "/v2/notifications/{notification_type}",
            post(|| async { "sent" }).layer(RateLimitLayer::in_memory().clock(|| 5.0)),
        )
        .layer(NotifyAuthLayer::new(store()).clock(|| NOW));
    let internal = axum::Router::new()
        .route("/service", post(|| async { "ok" }))
        .layer(InternalAuthLayer::new(admin()).clock(|| NOW));

    let sms = "/v2/notifications/sms";
    let normal = bearer(&token(S, NOW, K1_SECRET));
    assert_eq!(send(&app, sms, &normal).await, 200);
    assert_eq!(send(&app, sms, &normal).await, 429);
    assert_eq!(
        send(&app, sms, &bearer(&token(S, NOW, K2_SECRET))).await,
        200
    );
    assert_eq!(
        send(&app, sms, &bearer(&token(S, NOW, K3_SECRET))).await,
        200
    );
    assert_eq!(
        send(&app, sms, &bearer(&token(A, NOW, K1_SECRET))).await,
        403
    );
    assert_eq!(send(&app, sms, "Bearer x").await, 403);
    let admin = bearer(&token("notify-admin", NOW, "s1"));
    assert_eq!(send(&internal, "/service", &admin).await, 200);

    let text = handle.render();
    let mut counted: Vec<&str> = text
        .lines()
        // The store's histogram by its count (its times vary).
        .filter(|line| line.starts_with("notify_auth_") && !line.contains("seconds{"))
        .filter(|line| !line.starts_with("notify_auth_store_seconds_sum"))
        .collect();
    counted.sort_unstable();
    assert_eq!(
        counted,
        [
            "notify_auth_cache_lookups_total{result=\"hit\"} 3",
            "notify_auth_cache_lookups_total{result=\"miss\"} 2",
            "notify_auth_cache_store_calls_total 2",
            "notify_auth_rate_limit_total{key_type=\"normal\",outcome=\"allowed\"} 1",
            "notify_auth_rate_limit_total{key_type=\"normal\",outcome=\"limited\"} 1",
            "notify_auth_rate_limit_total{key_type=\"team\",outcome=\"allowed\"} 1",
            "notify_auth_rate_limit_total{key_type=\"test\",outcome=\"allowed\"} 1",
            "notify_auth_requests_total{route=\"internal\",outcome=\"authorised\",kind=\"internal\"} 1",
            "notify_auth_requests_total{route=\"public\",outcome=\"authorised\",kind=\"normal\"} 2",
            "notify_auth_requests_total{route=\"public\",outcome=\"authorised\",kind=\"team\"} 1",
            "notify_auth_requests_total{route=\"public\",outcome=\"authorised\",kind=\"test\"} 1",
            "notify_auth_requests_total{route=\"public\",outcome=\"rejected\",kind=\"invalid_token\"} 1",
            "notify_auth_requests_total{route=\"public\",outcome=\"rejected\",kind=\"service_not_found\"} 1",
            "notify_auth_store_seconds_count{lookup=\"service\",outcome=\"ok\"} 2",
        ]
    );
}
