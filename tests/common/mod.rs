//! Shared fixture and helpers: the service set of `cases.md`, a raw JWT builder, and a layer
//! driven with `oneshot` and a fixed clock.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use notify_auth::{
    ApiKey, InternalAuthLayer, InternalCaller, InternalClient, KeyBySecret, KeyStore,
    KeyStoreError, KeyType, MemoryStore, NotifyAuthLayer, Principal, Rejection, Secret,
    ServiceRecord,
};
use sha2::Sha256;
use time::OffsetDateTime;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use uuid::{Uuid, uuid};

/// The fixed "now" of the tests: 2026-11-23T02:48:42Z.
pub const NOW: i64 = 1_795_394_922;

pub const S: Uuid = uuid!("26785a09-ab16-4eb0-8407-a37497a57506");
pub const A: Uuid = uuid!("0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c");
pub const E: Uuid = uuid!("7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a");
/// An archived service with no keys.
pub const AE: Uuid = uuid!("0e0e0e0e-1b0a-4f9e-8d7c-6b5a4f3e2d1c");
/// A service whose only key was revoked a month ago.
pub const OLD: Uuid = uuid!("11111111-2222-4333-8444-555555555555");

pub const K1: Uuid = uuid!("1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10");
pub const K2: Uuid = uuid!("5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c");
pub const K3: Uuid = uuid!("9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a");
pub const K4: Uuid = uuid!("3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a");
pub const KA: Uuid = uuid!("2e1d0c9b-8a7f-4e6d-9c5b-4a3f2e1d0c9b");
pub const KOLD: Uuid = uuid!("66666666-7777-4888-9999-aaaaaaaaaaaa");

pub const K1_SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";
pub const K2_SECRET: &str = "8b1e6f2a-4c3d-4b5e-a6f7-0e9d8c7b6a51";
pub const K3_SECRET: &str = "c0ffee00-1234-4abc-8def-0123456789ab";
pub const K4_SECRET: &str = "0badcafe-4321-4cba-8fed-ba9876543210";
pub const KA_SECRET: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
pub const KOLD_SECRET: &str = "deadbeef-0000-4000-8000-000000000000";
pub const WRONG_SECRET: &str = "ffffffff-ffff-4fff-8fff-ffffffffffff";

pub const GENERAL: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";
pub const CLOCK: &str = "Error: Your system clock must be accurate to within 30 seconds";

/// The contract's messages, numbered as in `cases.md`.
pub const M1: &str = "Unauthorized: authentication token must be provided";
pub const M2: &str = "Unauthorized: authentication bearer scheme must be used";
pub const M3: &str = "Invalid token: iss field not provided";
pub const M5: &str = "Unauthorized: not allowed to perform this action";
pub const M6: &str = "Invalid token: service id is not the right data type";
pub const M7: &str = "Invalid token: service not found";
pub const M8: &str = "Invalid token: service has no API keys";
pub const M9: &str = "Invalid token: service is archived";
pub const M11: &str = "Invalid token: algorithm used is not HS256";
pub const M12: &str = "Invalid token: API key revoked";
pub const M13: &str = "Invalid token: API key not found";

pub const DAY: i64 = 86_400;

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

fn key(id: Uuid, secret: &str, key_type: KeyType) -> ApiKey {
    ApiKey::new(id, Secret::new(secret), key_type)
}

/// Service S (active: K1 normal, K2 test, K3 revoked yesterday, K4 team revoked a month
/// ago), A (archived, one key), E (active, no keys), AE (archived, no keys), OLD (only a key revoked a month ago),
/// and the internal client `notify-admin` with secrets `s1`, `s2`.
pub fn store() -> MemoryStore {
    MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_key(key(K1, K1_SECRET, KeyType::Normal))
                .with_key(key(K2, K2_SECRET, KeyType::Test))
                .with_key(key(K3, K3_SECRET, KeyType::Normal).revoked_at(at(NOW - DAY)))
                .with_key(key(K4, K4_SECRET, KeyType::Team).revoked_at(at(NOW - 30 * DAY))),
        )
        .service(ServiceRecord::new(A, false).with_key(key(KA, KA_SECRET, KeyType::Normal)))
        .service(ServiceRecord::new(E, true))
        .service(ServiceRecord::new(AE, false))
        .service(
            ServiceRecord::new(OLD, true)
                .with_key(key(KOLD, KOLD_SECRET, KeyType::Normal).revoked_at(at(NOW - 30 * DAY))),
        )
        .internal_client(admin())
        .build()
        .unwrap()
}

pub fn admin() -> InternalClient {
    InternalClient::new("notify-admin", [Secret::new("s1"), Secret::new("s2")])
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and claims JSON, signed HS256 with `secret`.
pub fn jwt(header: &str, claims: &str, secret: &str) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

pub const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The official clients' claims: `{"iss": iss, "iat": iat}`.
pub fn claims(iss: &str, iat: i64) -> String {
    format!(r#"{{"iss":"{iss}","iat":{iat}}}"#)
}

/// A token for `iss` at `iat`, signed with `secret`.
pub fn token(iss: impl std::fmt::Display, iat: i64, secret: &str) -> String {
    jwt(HEADER, &claims(&iss.to_string(), iat), secret)
}

/// A valid token for S with K1, issued now.
pub fn valid() -> String {
    token(S, NOW, K1_SECRET)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// What a test request got back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    pub rejection: Option<Rejection>,
}

impl Answer {
    /// Asserts the public (v2) error answer.
    #[track_caller]
    pub fn assert_v2(&self, status: u16, message: &str) {
        let expected = format!(
            "{{\"errors\":[{{\"error\":\"AuthError\",\"message\":\"{message}\"}}],\"status_code\":{status}}}\n"
        );
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, expected.as_str())
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert!(
            self.rejection.is_some(),
            "the rejection is in the response extensions"
        );
    }

    /// Asserts the internal (v1) error answer.
    #[track_caller]
    pub fn assert_v1(&self, status: u16, message: &str) {
        let expected =
            format!("{{\"message\":{{\"token\":[\"{message}\"]}},\"result\":\"error\"}}\n");
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, expected.as_str())
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
    }

    /// Asserts success as `key` of `service` with `key_type`.
    #[track_caller]
    pub fn assert_ok(&self, service: Uuid, key: Uuid, key_type: &str) {
        let expected = format!(
            "{{\"service_id\":\"{service}\",\"api_key_id\":\"{key}\",\"key_type\":\"{key_type}\"}}"
        );
        assert_eq!((self.status, self.body.as_str()), (200, expected.as_str()));
    }
}

pub async fn into_answer<B>(response: Response<B>) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let rejection = response.extensions().get::<Rejection>().cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
        rejection,
    }
}

/// An inner service that answers 200 with `body`, whatever the request.
pub fn answering(
    body: &'static str,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(move |_req: Request<Full<Bytes>>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            body.as_bytes(),
        ))))
    })
}

/// A request to `path` with these raw `Authorization` values.
pub fn request(path: &str, authorization: &[&[u8]]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().uri(path);
    for value in authorization {
        builder = builder.header(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// The fixture store behind a wrapper that answers only through its futures, as a database
/// does: the layer's async path (a boxed future, the store's own) instead of its at-once one.
pub struct AsyncOnly(pub MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for AsyncOnly {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        tokio::task::yield_now().await;
        self.0.service(id).await
    }

    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        tokio::task::yield_now().await;
        self.0.key_by_secret(secret).await
    }
}

/// Sends `authorization` through the public layer (fixture store, clock at `now`) to a
/// handler that answers with the principal as JSON: once over the in-memory store (decided in
/// the layer's `call`) and once over the same store answering only through its futures (the
/// layer's async path), and checks that both answers are the same, byte for byte.
pub async fn public_at(now: i64, authorization: &[&[u8]]) -> Answer {
    let at_once = public_over(store(), now, authorization).await;
    let awaited = public_over(AsyncOnly(store()), now, authorization).await;
    assert_eq!(
        (
            awaited.status,
            &awaited.content_type,
            &awaited.body,
            awaited.rejection.as_ref().map(|r| r.status())
        ),
        (
            at_once.status,
            &at_once.content_type,
            &at_once.body,
            at_once.rejection.as_ref().map(|r| r.status())
        ),
        "the async path answers as the at-once one"
    );
    at_once
}

async fn public_over(store: impl KeyStore, now: i64, authorization: &[&[u8]]) -> Answer {
    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store).clock(move || now))
        .service(service_fn(|req: Request<Full<Bytes>>| async move {
            let principal = req
                .extensions()
                .get::<Principal>()
                .expect("the layer sets it");
            let body = serde_json::to_string(principal).unwrap();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }));
    into_answer(
        service
            .oneshot(request("/v2/notifications", authorization))
            .await
            .unwrap(),
    )
    .await
}

/// [`public_at`] at [`NOW`] with one header value.
pub async fn public(authorization: &str) -> Answer {
    public_at(NOW, &[authorization.as_bytes()]).await
}

/// Sends `authorization` through the internal layer for `notify-admin`.
pub async fn internal_at(now: i64, authorization: &[&[u8]]) -> Answer {
    let service = ServiceBuilder::new()
        .layer(InternalAuthLayer::new(admin()).clock(move || now))
        .service(service_fn(|req: Request<Full<Bytes>>| async move {
            let caller = req
                .extensions()
                .get::<InternalCaller>()
                .expect("the layer sets it");
            let body = format!("{{\"client_id\":\"{}\"}}", caller.client_id());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }));
    into_answer(
        service
            .oneshot(request("/service/x", authorization))
            .await
            .unwrap(),
    )
    .await
}

/// [`internal_at`] at [`NOW`] with one header value.
pub async fn internal(authorization: &str) -> Answer {
    internal_at(NOW, &[authorization.as_bytes()]).await
}
