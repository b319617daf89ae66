//! Notify's request gate after authentication: the service's record, in the request's
//! extensions and as an extractor, with its gate fields from the key file.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::post;
use common::*;
use http::{Request, header};
use notify_auth::axum::AuthenticatedService;
use notify_auth::{KeyStore, MemoryStore, NotifyAuthLayer, ServiceRecord};
use tower::ServiceExt;

const KEY_FILE: &str = r#"{
  "services": [
    {"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true,
     "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10",
                   "secret": "3d844edf-8d35-48ac-975b-e847b4f122b0", "key_type": "normal"}],
     "rate_limit": 1200, "restricted": true, "permissions": ["sms", "email", "sms"],
     "data": {"name": "Test service", "sms_message_limit": 250000}},
    {"id": "0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c", "active": true, "api_keys": []}
  ]
}"#;

fn gated() -> MemoryStore {
    MemoryStore::from_json_str(KEY_FILE, "gate.json").unwrap()
}

/// What a handler reads of the service: its gate fields and the application's data.
async fn gate(service: AuthenticatedService) -> String {
    let data = service.data::<serde_json::Value>().cloned();
    format!(
        "{} {} {} {:?} {}",
        service.id(),
        service.rate_limit(),
        service.is_restricted(),
        service.permissions(),
        data.unwrap_or_default()
    )
}

#[test]
fn the_key_file_holds_the_gate_fields_with_notifys_defaults() {
    let store = gated();
    let service = store.get(S).unwrap();
    assert_eq!(
        (service.rate_limit(), service.is_restricted()),
        (1200, true)
    );
    assert_eq!(service.permissions(), ["email", "sms"]);
    assert_eq!(
        service.data::<serde_json::Value>(),
        Some(&serde_json::json!({"name": "Test service", "sms_message_limit": 250000}))
    );
    let plain = store.get(A).unwrap();
    assert_eq!(
        (
            plain.rate_limit(),
            plain.is_restricted(),
            plain.permissions()
        ),
        (3000, false, &[][..])
    );
    assert!(plain.data::<serde_json::Value>().is_none());
    let wrong = KEY_FILE.replace("\"rate_limit\": 1200", "\"rate_limit\": \"fast\"");
    let error = MemoryStore::from_json_str(&wrong, "gate.json").unwrap_err();
    assert!(error.to_string().contains("gate.json"), "{error}");
}

/// The record the key came from reaches the handler, decided at once or after the store's
/// future: the same `Arc` the store holds, not a copy.
#[tokio::test]
async fn the_handler_gets_the_service_record_the_key_came_from() {
    let expected = format!(
        "{S} 1200 true [\"email\", \"sms\"] {}",
        r#"{"name":"Test service","sms_message_limit":250000}"#
    );
    for store in [
        Arc::new(gated()) as Arc<dyn KeyStore>,
        Arc::new(AsyncOnly(gated())),
    ] {
        let app = axum::Router::new()
            .route("/v2/notifications/sms", post(gate))
            .layer(NotifyAuthLayer::from_shared(store).clock(|| NOW));
        let request = Request::post("/v2/notifications/sms")
            .header(header::AUTHORIZATION, bearer(&valid()))
            .body(Body::empty())
            .unwrap();
        let answer = into_answer(app.oneshot(request).await.unwrap()).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, expected.as_str())
        );
    }
    let store = gated();
    let held = Arc::clone(store.get(S).unwrap());
    let service = tower::Layer::layer(
        &NotifyAuthLayer::new(store).clock(|| NOW),
        tower::service_fn(|request: Request<Body>| async move {
            let record = request.extensions().get::<Arc<ServiceRecord>>().cloned();
            Ok::<_, std::convert::Infallible>(http::Response::new(record))
        }),
    );
    let request = Request::post("/v2/notifications/sms")
        .header(header::AUTHORIZATION, bearer(&valid()))
        .body(Body::empty())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let http_body_util::Either::Right(record) = response.into_body() else {
        panic!("the request was rejected");
    };
    assert!(
        Arc::ptr_eq(&record.unwrap(), &held),
        "the store's own record"
    );
}

/// Without the layer, a handler that takes the record is a server bug: 500, logged.
#[tokio::test]
async fn without_the_layer_the_record_extractor_answers_500() {
    let app = axum::Router::new().route("/v2/notifications/sms", post(gate));
    let request = Request::post("/v2/notifications/sms")
        .body(Body::empty())
        .unwrap();
    let answer = into_answer(app.oneshot(request).await.unwrap()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (500, notify_auth::axum::MISSING_LAYER_BODY)
    );
}
