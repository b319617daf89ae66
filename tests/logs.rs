//! What the layer logs: Notify's success line, rejections with the ids known, store failures
//! at error level, and never a secret or a token.
//!
//! Every test here shares one global subscriber (thread-local ones race in `tracing`'s
//! callsite cache when tests run in parallel) and takes a lock, so each sees only its own logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use notify_auth::{KeyStore, KeyStoreError, NotifyAuthLayer, Principal, ServiceRecord};
use tower::{Layer, ServiceExt};
use uuid::Uuid;

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Installs the global subscriber once, takes the lock, and empties the buffer.
async fn capture() -> tokio::sync::MutexGuard<'static, ()> {
    let buffer = BUFFER.get_or_init(|| {
        let buffer = Buffer(Arc::default());
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    });
    let guard = SERIAL.lock().await;
    buffer.0.lock().unwrap().clear();
    guard
}

fn logs() -> String {
    String::from_utf8(BUFFER.get().unwrap().0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn notify_success_line_and_rejections_with_ids() {
    let _lock = capture().await;
    let service = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .layer(answering("inner"));
    let header = bearer(&valid());
    let req = Request::builder()
        .uri("/v2/notifications/sms?secret=query")
        .header("authorization", &header)
        .header("host", "api.notify.example")
        .header("user-agent", "NOTIFY-API-PYTHON-CLIENT/10.0.0")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let revoked = bearer(&token(S, NOW, K3_SECRET));
    service
        .clone()
        .oneshot(request("/v2/x", &[revoked.as_bytes()]))
        .await
        .unwrap();
    // No User-Agent and no host: Python's `None`, and the path alone.
    let response = service
        .clone()
        .oneshot(request("/v2/y?q=1", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A clock 100 s behind: the token's iat, the server's time and the difference.
    let early = bearer(&token(S, NOW - 100, K1_SECRET));
    service
        .oneshot(request("/v2/z", &[early.as_bytes()]))
        .await
        .unwrap();
    let logs = logs();
    let expected = format!(
        "API authorised for service {S} with api key {K1}, using issuer NOTIFY-API-PYTHON-CLIENT/10.0.0 for URL: http://api.notify.example/v2/notifications/sms"
    );
    assert!(logs.contains(&expected), "{logs}");
    assert!(
        logs.contains(&format!("service_id={S} api_key_id={K1} key_type=normal")),
        "{logs}"
    );
    let expected = format!(
        "API authorised for service {S} with api key {K1}, using issuer None for URL: /v2/y"
    );
    assert!(logs.contains(&expected), "{logs}");
    let skew = format!(
        "token_iat={} local_unix_time={NOW} skew_seconds=-100",
        NOW - 100
    );
    assert!(
        logs.contains("API request rejected: Error: Your system clock must be accurate")
            && logs.contains(&skew),
        "{logs}"
    );
    assert!(
        !logs.contains("secret=query"),
        "the query string is not logged: {logs}"
    );
    assert!(
        logs.contains(" INFO ")
            && logs.contains("API request rejected: Invalid token: API key revoked"),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("service_id={S} api_key_id={K3}")),
        "{logs}"
    );
    for secret in [K1_SECRET, K3_SECRET, &header[7..], &revoked[7..]] {
        assert!(!logs.contains(secret), "no secret or token in logs: {logs}");
    }
}

struct FailingStore;

#[notify_auth::async_trait]
impl KeyStore for FailingStore {
    async fn service(&self, _: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        Err(KeyStoreError::new("connection refused (db.internal:5432)"))
    }
}

#[tokio::test]
async fn store_failures_are_logged_at_error_with_the_cause() {
    let _lock = capture().await;
    let service = NotifyAuthLayer::new(FailingStore)
        .clock(|| NOW)
        .layer(answering("inner"));
    let header = bearer(&valid());
    let response = service
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let logs = logs();
    assert!(logs.contains("ERROR"), "{logs}");
    assert!(
        logs.contains("key store error: connection refused (db.internal:5432)"),
        "{logs}"
    );
    assert!(
        !logs.contains(&header[7..]),
        "the token is never logged: {logs}"
    );
}

#[tokio::test]
async fn a_missing_layer_is_a_500_logged_at_error() {
    use axum::Router;
    use axum::routing::get;

    async fn who(principal: Principal) -> String {
        principal.service_id.to_string()
    }
    let _lock = capture().await;
    let app: Router = Router::new().route("/v2/who", get(who));
    let response = app
        .oneshot(
            Request::builder()
                .uri("/v2/who")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, notify_auth::axum::MISSING_LAYER_BODY.as_bytes());
    let logs = logs();
    assert!(
        logs.contains("ERROR") && logs.contains("is the notify-auth layer applied to this route?"),
        "{logs}"
    );
}

struct PanickingStore;

#[notify_auth::async_trait]
impl KeyStore for PanickingStore {
    async fn service(&self, _: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        panic!("index out of bounds in the store")
    }
}

#[tokio::test]
async fn a_store_panic_is_logged_at_error_with_its_message() {
    let _lock = capture().await;
    let service = NotifyAuthLayer::new(PanickingStore)
        .clock(|| NOW)
        .layer(answering("inner"));
    let header = bearer(&valid());
    let response = service
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let logs = logs();
    assert!(
        logs.contains("ERROR")
            && logs.contains("the key store panicked: index out of bounds in the store"),
        "{logs}"
    );
}

/// Every conformance-style request, through both layers, with every log captured: no secret
/// and no token appears in the logs, nor in any `Debug` or `Display` of the values involved.
#[tokio::test]
async fn no_secret_or_token_in_any_log_or_debug_output() {
    let _lock = capture().await;
    let s = S.to_string();
    let secrets = [
        K1_SECRET,
        K2_SECRET,
        K3_SECRET,
        K4_SECRET,
        KA_SECRET,
        KOLD_SECRET,
        WRONG_SECRET,
        "s1",
        "s2",
    ];
    let mut tokens = Vec::new();
    for secret in secrets {
        for iss in [
            s.as_str(),
            &A.to_string(),
            &E.to_string(),
            &OLD.to_string(),
            "notify-admin",
            "bad",
        ] {
            for iat in [NOW, NOW - 31, NOW + 31, NOW - 3600] {
                tokens.push(token(iss, iat, secret));
            }
        }
        for header in [
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"HS256","kid":1}"#,
            r#"{"alg":"none"}"#,
        ] {
            tokens.push(jwt(header, &claims(&s, NOW), secret));
        }
        for claims in [
            format!(r#"{{"iss":"{s}"}}"#),
            format!(r#"{{"iss":"{s}","iat":{NOW},"aud":"x"}}"#),
            format!(r#"{{"iss":"{s}","iat":null}}"#),
            format!(r#"{{"iat":{NOW}}}"#),
        ] {
            tokens.push(jwt(HEADER, &claims, secret));
        }
    }
    let public = NotifyAuthLayer::new(store()).clock(|| NOW);
    let internal = notify_auth::InternalAuthLayer::new(admin()).clock(|| NOW);
    let mut debug = String::new();
    for token in &tokens {
        for scheme in ["Bearer ", "bearer ", "Basic ", "Bearer  "] {
            let header = format!("{scheme}{token}");
            for internal_route in [false, true] {
                let req = Request::builder()
                    .uri("/v2/x")
                    .header("authorization", &header)
                    .header("user-agent", "NOTIFY-API-PYTHON-CLIENT/10.0.0")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let response = if internal_route {
                    internal
                        .layer(answering("inner"))
                        .oneshot(req)
                        .await
                        .unwrap()
                } else {
                    public.layer(answering("inner")).oneshot(req).await.unwrap()
                };
                if let Some(rejection) = response.extensions().get::<notify_auth::Rejection>() {
                    debug.push_str(&format!("{rejection:?} {}\n", rejection.status()));
                    if let Some(e) = rejection.auth_error() {
                        debug.push_str(&format!("{e} {e:?}\n"));
                    }
                }
            }
        }
    }
    let store = store();
    debug.push_str(&format!(
        "{store:?} {:?} {:?} {public:?} {internal:?}",
        store.get(S),
        admin()
    ));
    let key: notify_auth::token::CombinedApiKey = format!("name-{s}-{K1_SECRET}").parse().unwrap();
    debug.push_str(&format!("{key:?}"));
    let logs = logs();
    assert!(
        logs.contains("API authorised for service"),
        "the run logged successes"
    );
    assert!(
        logs.contains("API request rejected"),
        "the run logged rejections"
    );
    for secret in secrets.iter().filter(|s| s.len() > 2) {
        assert!(!logs.contains(secret), "a secret in the logs");
        assert!(
            !debug.contains(secret),
            "a secret in Debug or Display output"
        );
    }
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token in the logs");
        assert!(
            !debug.contains(signature),
            "a token in Debug or Display output"
        );
    }
    assert!(!debug.contains("\"s1\"") && !debug.contains("\"s2\""));
}

/// Each fork's success line, and GC Notify's clock rejection in GC's words.
#[tokio::test]
async fn each_dialect_logs_its_own_lines() {
    use notify_auth::Dialect;

    let _lock = capture().await;
    // VA Notify's keys all have an expiry date.
    let va_store = || {
        let expires = time::OffsetDateTime::from_unix_timestamp(NOW + 86_400).unwrap();
        let key = notify_auth::ApiKey::new(
            K1,
            notify_auth::Secret::new(K1_SECRET),
            notify_auth::KeyType::Normal,
        );
        notify_auth::MemoryStore::builder()
            .service(ServiceRecord::new(S, true).with_key(key.revoked_at(expires)))
            .build()
            .unwrap()
    };
    let send = |dialect: Dialect, header: String| async move {
        let store = match dialect {
            Dialect::Va => va_store(),
            _ => store(),
        };
        let service = NotifyAuthLayer::new(store)
            .dialect(dialect)
            .clock(|| NOW)
            .layer(answering("inner"));
        let req = Request::builder()
            .uri("/v2/notifications")
            .header("authorization", header)
            .header("host", "api.example")
            .header("user-agent", "NOTIFY-API-PYTHON-CLIENT/6.4.1")
            .body(Full::new(Bytes::new()))
            .unwrap();
        service.oneshot(req).await.unwrap().status()
    };
    assert_eq!(send(Dialect::Gc, bearer(&valid())).await, StatusCode::OK);
    assert_eq!(send(Dialect::Va, bearer(&valid())).await, StatusCode::OK);
    assert_eq!(send(Dialect::Gov, bearer(&valid())).await, StatusCode::OK);
    let early = bearer(&token(S, NOW - 100, K1_SECRET));
    assert_eq!(send(Dialect::Gc, early).await, StatusCode::FORBIDDEN);
    let logs = logs();
    let client = format!(
        "API authorised for service {S} with api key {K1}, using client NOTIFY-API-PYTHON-CLIENT/6.4.1"
    );
    assert_eq!(logs.matches(&client).count(), 2, "GC and VA: {logs}");
    let issuer = format!(
        "API authorised for service {S} with api key {K1}, using issuer NOTIFY-API-PYTHON-CLIENT/6.4.1 for URL: http://api.example/v2/notifications"
    );
    assert_eq!(logs.matches(&issuer).count(), 1, "Notify.gov: {logs}");
    let clock = format!(
        "Rejected expired JWT for service {S}, client NOTIFY-API-PYTHON-CLIENT/6.4.1: iat value \
         was {} while server clock is {NOW}",
        NOW - 100
    );
    assert!(logs.contains(&clock), "{logs}");
    assert!(!logs.contains(K1_SECRET), "{logs}");
}

/// Behind tower-http's `TraceLayer` whose span declares the fields, the principal's ids are
/// recorded on the request's span: the handler's own events carry them.
#[tokio::test]
async fn the_principal_is_recorded_on_the_requests_span() {
    use tower::ServiceBuilder;
    use tower_http::trace::TraceLayer;

    let _lock = capture().await;
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<Full<Bytes>>| {
        tracing::info_span!(
            "request",
            path = %request.uri().path(),
            service_id = tracing::field::Empty,
            api_key_id = tracing::field::Empty,
            key_type = tracing::field::Empty,
        )
    });
    let service = ServiceBuilder::new()
        .layer(trace)
        .layer(NotifyAuthLayer::new(store()).clock(|| NOW))
        .service(tower::service_fn(|_: Request<Full<Bytes>>| async {
            tracing::info!("the handler runs");
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
        }));
    let header = bearer(&valid());
    let response = service
        .oneshot(request("/v2/notifications", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains("the handler runs"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        line.contains(&format!("service_id={S}"))
            && line.contains(&format!("api_key_id={K1}"))
            && line.contains("key_type=\"normal\""),
        "{line}"
    );
}
