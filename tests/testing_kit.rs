//! The testing kit (feature `testing`): minted headers pass the real layer; the fixed
//! principal reaches handlers as the layer would put it.
#![cfg(feature = "testing")]

mod common;

use axum::body::Body;
use axum::routing::get;
use common::*;
use http::{Request, header};
use notify_auth::testing::{
    FixedPrincipalLayer, MintError, authorization, authorization_with, internal_authorization,
    internal_authorization_at,
};
use notify_auth::{
    ApiKey, Caller, Dialect, InternalAuthLayer, InternalCaller, KeyType, MemoryStore,
    NotifyAuthLayer, Principal, Secret, ServiceRecord,
};
use time::OffsetDateTime;
use tower::ServiceExt;

async fn whoami(principal: Principal) -> String {
    format!(
        "{} {} {}",
        principal.service_id, principal.api_key_id, principal.key_type
    )
}

async fn caller(
    caller: Caller,
    principal: Option<Principal>,
    internal: Option<InternalCaller>,
) -> String {
    format!("{caller:?} / {principal:?} / {internal:?}")
}

async fn get_with(app: axum::Router, authorization: Option<http::HeaderValue>) -> (u16, String) {
    let mut request = Request::get("/whoami");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let answer = into_answer(response).await;
    (answer.status, answer.body)
}

fn key(id: uuid::Uuid, secret: &str, key_type: KeyType) -> ApiKey {
    ApiKey::new(id, Secret::new(secret), key_type)
}

/// A minted header authenticates through the real layer, as the first key the layer accepts
/// (a revoked one is passed over).
#[tokio::test]
async fn a_minted_header_passes_the_layer_as_a_usable_key() {
    let store = MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_key(key(K3, K3_SECRET, KeyType::Normal).revoked_at(OffsetDateTime::now_utc()))
                .with_key(key(K2, K2_SECRET, KeyType::Test)),
        )
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .layer(NotifyAuthLayer::new(store.clone()));
    let header = authorization(&store, S).unwrap();
    assert_eq!(
        get_with(app, Some(header)).await,
        (200, format!("{S} {K2} test"))
    );
}

/// For a layer with a fixed clock and another dialect: VA Notify takes only keys with an
/// expiry date after now.
#[tokio::test]
async fn a_minted_header_follows_the_layers_dialect_and_clock() {
    let later = OffsetDateTime::from_unix_timestamp(NOW + DAY).unwrap();
    let store = MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_key(key(K1, K1_SECRET, KeyType::Normal))
                .with_key(key(K2, K2_SECRET, KeyType::Team).revoked_at(later)),
        )
        .build()
        .unwrap();
    let app = axum::Router::new().route("/whoami", get(whoami)).layer(
        NotifyAuthLayer::new(store.clone())
            .dialect(Dialect::Va)
            .clock(|| NOW),
    );
    let header = authorization_with(&store, S, Dialect::Va, NOW).unwrap();
    assert_eq!(
        get_with(app, Some(header)).await,
        (200, format!("{S} {K2} team"))
    );
}

#[test]
fn a_header_that_cannot_be_minted_says_why() {
    let store = store();
    assert_eq!(authorization(&store, K1), Err(MintError::NoSuchService(K1)));
    assert_eq!(authorization(&store, A), Err(MintError::ServiceArchived(A)));
    assert_eq!(authorization(&store, E), Err(MintError::NoUsableKey(E)));
    let client = notify_auth::InternalClient::new("nobody", []);
    assert_eq!(internal_authorization(&client), Err(MintError::NoSecret));
    assert_eq!(
        MintError::NoUsableKey(E).to_string(),
        format!("service {E} has no key the layer would accept")
    );
}

#[tokio::test]
async fn a_minted_internal_header_passes_the_internal_layer() {
    async fn client(caller: InternalCaller) -> String {
        caller.client_id().to_owned()
    }
    let app = axum::Router::new()
        .route("/whoami", get(client))
        .layer(InternalAuthLayer::new(admin()).clock(|| NOW));
    let header = internal_authorization_at(&admin(), NOW).unwrap();
    assert_eq!(
        get_with(app.clone(), Some(header)).await,
        (200, "notify-admin".to_owned())
    );
    let stale = internal_authorization_at(&admin(), NOW - 31).unwrap();
    assert_eq!(get_with(app, Some(stale)).await.0, 403);
}

/// The fixed principal reaches handlers as the layers put it: the principal or the internal
/// client, and the caller.
#[tokio::test]
async fn the_fixed_principal_reaches_the_handler_as_the_layer_puts_it() {
    let principal = Principal::new(S, K1, KeyType::Team);
    let app = axum::Router::new()
        .route("/whoami", get(caller))
        .layer(FixedPrincipalLayer::service(principal));
    assert_eq!(
        get_with(app, None).await,
        (
            200,
            format!("Service({principal:?}) / Some({principal:?}) / None")
        )
    );
    let app = axum::Router::new()
        .route("/whoami", get(caller))
        .layer(FixedPrincipalLayer::internal("notify-admin"));
    let internal = r#"InternalCaller { client_id: "notify-admin" }"#;
    assert_eq!(
        get_with(app, None).await,
        (
            200,
            format!("Internal({internal}) / None / Some({internal})")
        )
    );
}
