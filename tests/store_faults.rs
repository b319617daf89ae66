//! Key store faults: an error, a panic, a store that never answers, a slow one, and a store
//! failing half the time under 64 concurrent connections. Each answers as documented, and
//! the next request works.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use http_body_util::BodyExt;
use notify_auth::layer::{KEY_STORE_ERROR_BODY, KEY_STORE_TIMEOUT_BODY};
use notify_auth::{
    KeyStore, KeyStoreError, MemoryStore, NotifyAuthLayer, Rejection, ServiceRecord,
};
use tower::{Layer, ServiceExt};
use uuid::Uuid;

/// How each call of [`FaultyStore`] behaves, by call number.
#[derive(Clone, Copy)]
enum Fault {
    Panic,
    Never,
    Sleep(Duration),
    Error,
    Answer,
}

struct FaultyStore {
    inner: MemoryStore,
    plan: fn(usize) -> Fault,
    calls: AtomicUsize,
}

impl FaultyStore {
    fn new(plan: fn(usize) -> Fault) -> Arc<Self> {
        Arc::new(FaultyStore {
            inner: store(),
            plan,
            calls: AtomicUsize::new(0),
        })
    }
}

#[notify_auth::async_trait]
impl KeyStore for FaultyStore {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match (self.plan)(call) {
            Fault::Panic => panic!("the store fell over (call {call})"),
            Fault::Never => std::future::pending().await,
            Fault::Sleep(d) => tokio::time::sleep(d).await,
            Fault::Error => return Err(KeyStoreError::new("connection reset")),
            Fault::Answer => {}
        }
        self.inner.service(id).await
    }
}

async fn send(layer: &NotifyAuthLayer) -> (StatusCode, String, Option<Rejection>) {
    let header = bearer(&valid());
    let response = layer
        .layer(answering("ok"))
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    let status = response.status();
    let rejection = response.extensions().get::<Rejection>().cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap(), rejection)
}

#[tokio::test]
async fn a_panicking_store_answers_500_and_the_next_request_works() {
    let store = FaultyStore::new(|call| {
        if call == 0 {
            Fault::Panic
        } else {
            Fault::Answer
        }
    });
    let layer = NotifyAuthLayer::new(store.clone()).clock(|| NOW);
    let (status, body, rejection) = send(&layer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, KEY_STORE_ERROR_BODY)
    );
    let Some(Rejection::KeyStore(error)) = rejection else {
        panic!("expected a key store rejection");
    };
    assert_eq!(
        error.to_string(),
        "key store error: the key store panicked: the store fell over (call 0)"
    );
    assert_eq!(send(&layer).await.0, StatusCode::OK);
    assert_eq!(store.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_store_that_never_answers_times_out_with_503() {
    let store = FaultyStore::new(|call| {
        if call == 0 {
            Fault::Never
        } else {
            Fault::Answer
        }
    });
    assert_eq!(notify_auth::DEFAULT_STORE_TIMEOUT, Duration::from_secs(5));
    let timeout = Duration::from_millis(200);
    let layer = NotifyAuthLayer::new(store.clone())
        .clock(|| NOW)
        .store_timeout(timeout);
    let started = std::time::Instant::now();
    let (status, body, rejection) = send(&layer).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, KEY_STORE_TIMEOUT_BODY)
    );
    assert!(matches!(rejection, Some(Rejection::KeyStoreTimeout(d)) if d == timeout));
    let waited = started.elapsed();
    assert!(waited >= timeout && waited < timeout * 10, "{waited:?}");
    assert_eq!(send(&layer).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_timeout_is_configurable_and_a_slow_store_within_it_is_fine() {
    let store = FaultyStore::new(|call| match call {
        0 => Fault::Sleep(Duration::from_millis(20)),
        _ => Fault::Sleep(Duration::from_secs(2)),
    });
    let layer = NotifyAuthLayer::new(store)
        .clock(|| NOW)
        .store_timeout(Duration::from_millis(300));
    assert_eq!(send(&layer).await.0, StatusCode::OK);
    let (status, _, rejection) = send(&layer).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        matches!(rejection, Some(Rejection::KeyStoreTimeout(d)) if d == Duration::from_millis(300))
    );
}

/// The timeout needs no Tokio timer: a runtime without one (and any other executor) works.
#[test]
fn the_timeout_runs_on_a_runtime_without_a_timer() {
    let store = FaultyStore::new(|_| Fault::Never);
    let layer = NotifyAuthLayer::new(store)
        .clock(|| NOW)
        .store_timeout(Duration::from_millis(100));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (status, _, _) = runtime.block_on(send(&layer));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(start_paused = true)]
async fn without_a_timeout_the_layer_waits() {
    let store = FaultyStore::new(|_| Fault::Sleep(Duration::from_secs(60)));
    let layer = NotifyAuthLayer::new(store)
        .clock(|| NOW)
        .without_store_timeout();
    assert_eq!(send(&layer).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_connections_against_a_store_failing_half_the_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let store = FaultyStore::new(|call| match call % 4 {
        0 => Fault::Error,
        1 => Fault::Sleep(Duration::from_millis(2)),
        2 => Fault::Panic,
        _ => Fault::Answer,
    });
    let app = axum::Router::new()
        .route("/v2/{*path}", axum::routing::get(|| async { "ok" }))
        .layer(NotifyAuthLayer::new(store.clone()).clock(|| NOW));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let header = bearer(&valid());
    let clients = (0..64).map(|_| {
        let header = header.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..8 {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let request = format!(
                    "GET /v2/x HTTP/1.1\r\nHost: x\r\nAuthorization: {header}\r\nConnection: close\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).await.unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).await.unwrap();
                answers.push(response);
            }
            answers
        })
    });
    // A guard against hangs, not a timing assertion: every request must be answered.
    let all = tokio::time::timeout(Duration::from_secs(60), futures_join(clients.collect()))
        .await
        .expect("no request hangs");
    let (mut ok, mut failed) = (0, 0);
    for response in all.into_iter().flatten() {
        if response.starts_with("HTTP/1.1 200 OK\r\n") {
            assert!(response.ends_with("\r\n\r\nok"), "{response}");
            ok += 1;
        } else {
            assert!(
                response.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
                "{response}"
            );
            assert!(response.ends_with(KEY_STORE_ERROR_BODY), "{response}");
            failed += 1;
        }
    }
    assert_eq!(ok + failed, 512);
    assert_eq!(store.calls.load(Ordering::SeqCst), 512);
    assert_eq!(
        (ok, failed),
        (256, 256),
        "calls alternate between failing and answering"
    );
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Vec<String>>>) -> Vec<Vec<String>> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// A store whose at-once answer (`KeyStore::service_now`) panics: caught the same way.
struct PanicsAtOnce;

#[notify_auth::async_trait]
impl KeyStore for PanicsAtOnce {
    async fn service(&self, _: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        Ok(None)
    }

    fn service_now(&self, _: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        panic!("the store fell over at once")
    }
}

#[tokio::test]
async fn a_store_panicking_in_its_at_once_answer_answers_500() {
    let layer = NotifyAuthLayer::new(PanicsAtOnce).clock(|| NOW);
    let (status, body, rejection) = send(&layer).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, notify_auth::layer::KEY_STORE_ERROR_BODY);
    let Some(Rejection::KeyStore(error)) = rejection else {
        panic!("expected a key store rejection");
    };
    assert_eq!(
        error.to_string(),
        "key store error: the key store panicked: the store fell over at once"
    );
}
