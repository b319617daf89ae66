//! The tower layer's behaviour beyond the answers: store failures, custom rejections, the
//! clock, readiness, logs, and use with axum and plain hyper.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use notify_auth::{
    KeyStore, KeyStoreError, MemoryStore, NotifyAuthLayer, Principal, Rejection, ServiceRecord,
};
use tower::{Layer, Service as _, ServiceBuilder, ServiceExt};
use uuid::Uuid;

/// A store that always fails, counting its calls.
struct FailingStore(AtomicUsize);

#[notify_auth::async_trait]
impl KeyStore for FailingStore {
    async fn service(&self, _: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(KeyStoreError::new("connection refused (db.internal:5432)"))
    }
}

async fn body_of<B>(response: Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_failing_store_answers_500_with_a_fixed_body() {
    let store = Arc::new(FailingStore(AtomicUsize::new(0)));
    let service = NotifyAuthLayer::new(store.clone())
        .clock(|| NOW)
        .layer(answering("inner"));
    let header = bearer(&valid());
    let response = service
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(matches!(
        response.extensions().get::<Rejection>(),
        Some(Rejection::KeyStore(_))
    ));
    assert_eq!(
        body_of(response).await,
        "{\"errors\":[{\"error\":\"KeyStoreError\",\"message\":\"Internal server error\"}],\"status_code\":500}\n"
    );
    assert_eq!(store.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_store_is_not_called_for_tokens_that_fail_to_parse() {
    let store = Arc::new(FailingStore(AtomicUsize::new(0)));
    let layer = NotifyAuthLayer::new(store.clone());
    for header in [
        "",
        "Basic x",
        "Bearer x.y.z",
        "Bearer eyJ9.eyJ9.",
        "Bearer x",
    ] {
        let response = layer
            .layer(answering("inner"))
            .oneshot(request("/v2/x", &[header.as_bytes()]))
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    assert_eq!(store.0.load(Ordering::SeqCst), 0);
}

/// A store that counts how it is asked: at once (answering or not, as built) and through its
/// future.
struct CountingStore {
    inner: MemoryStore,
    answers_at_once: bool,
    at_once: AtomicUsize,
    awaited: AtomicUsize,
}

#[notify_auth::async_trait]
impl KeyStore for CountingStore {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.awaited.fetch_add(1, Ordering::SeqCst);
        self.inner.service(id).await
    }

    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        self.at_once.fetch_add(1, Ordering::SeqCst);
        self.answers_at_once
            .then(|| self.inner.service_now(id))
            .flatten()
    }
}

/// The layer decides in `call` when it can, and otherwise goes on from what the store already
/// answered there: one question to the store per request, whichever path decides it (a cache
/// would otherwise count a hit twice).
#[tokio::test]
async fn the_store_is_asked_once_per_request() {
    use notify_auth::{ApiKey, KeyType, Secret};

    // 300 keys: trying them all takes more than one slice of the key loop, so even a store
    // that answers at once leaves the decision to the async path, which yields between slices.
    let many = (0..300u128).fold(ServiceRecord::new(S, true), |service, i| {
        service.with_key(ApiKey::new(
            Uuid::from_u128(i + 1),
            Secret::new(format!("secret-{i}")),
            KeyType::Normal,
        ))
    });
    let signed_by = |secret: &str| bearer(&token(S, NOW, secret));
    for (answers_at_once, service, header, expected) in [
        (true, None, bearer(&valid()), StatusCode::OK),
        (false, None, bearer(&valid()), StatusCode::OK),
        (
            true,
            Some(many.clone()),
            signed_by("secret-299"),
            StatusCode::OK,
        ),
        (
            true,
            Some(many.clone()),
            signed_by(WRONG_SECRET),
            StatusCode::FORBIDDEN,
        ),
        (
            false,
            Some(many.clone()),
            signed_by("secret-299"),
            StatusCode::OK,
        ),
    ] {
        let inner = match service.clone() {
            Some(service) => MemoryStore::builder().service(service).build().unwrap(),
            None => store(),
        };
        let store = Arc::new(CountingStore {
            inner,
            answers_at_once,
            at_once: AtomicUsize::new(0),
            awaited: AtomicUsize::new(0),
        });
        let response = NotifyAuthLayer::from_shared(store.clone())
            .clock(|| NOW)
            .layer(answering("inner"))
            .oneshot(request("/v2/x", &[header.as_bytes()]))
            .await
            .unwrap();
        let case = (answers_at_once, service.is_some());
        assert_eq!(response.status(), expected, "{case:?}");
        assert_eq!(store.at_once.load(Ordering::SeqCst), 1, "{case:?}");
        let awaited = if answers_at_once { 0 } else { 1 };
        assert_eq!(store.awaited.load(Ordering::SeqCst), awaited, "{case:?}");
    }
}

#[tokio::test]
async fn the_rejection_response_can_be_replaced() {
    let service = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .rejection_response(|rejection: &Rejection| {
            let message = rejection.auth_error().map_or("store", |e| e.message());
            let mut response = Response::new(Full::new(Bytes::from(format!("custom: {message}"))));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        })
        .layer(answering("inner"));
    let response = service
        .oneshot(request("/v2/x", &[b"Basic x"]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    let rejection = response.extensions().get::<Rejection>().cloned().unwrap();
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_of(response).await,
        "custom: Unauthorized: authentication bearer scheme must be used"
    );
}

/// A store that moves the shared clock 100 seconds on while it looks the service up.
struct SlowClockStore {
    inner: MemoryStore,
    clock: Arc<AtomicI64>,
}

#[notify_auth::async_trait]
impl KeyStore for SlowClockStore {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.clock.fetch_add(100, Ordering::SeqCst);
        self.inner.service(id).await
    }
}

#[tokio::test]
async fn the_time_is_taken_when_the_request_arrives() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let store = SlowClockStore {
        inner: store(),
        clock: clock.clone(),
    };
    let read = clock.clone();
    let service = NotifyAuthLayer::new(store)
        .clock(move || read.load(Ordering::SeqCst))
        .layer(answering("inner"));
    let header = bearer(&valid());
    let response = service
        .clone()
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(clock.load(Ordering::SeqCst), NOW + 100);
    // The next request arrives at NOW + 100: the same token is now too old.
    let response = service
        .oneshot(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// An inner service that is ready only once it has been polled twice, each clone on its
/// own: a clone starts unready (as a clone of a real service may be, tower's "be careful when
/// cloning inner services"), and a call on an unready instance answers "unready".
struct SlowToReady {
    polls: usize,
    total_polls: Arc<AtomicUsize>,
}

impl Clone for SlowToReady {
    fn clone(&self) -> Self {
        SlowToReady {
            polls: 0,
            total_polls: self.total_polls.clone(),
        }
    }
}

impl tower::Service<Request<Full<Bytes>>> for SlowToReady {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.total_polls.fetch_add(1, Ordering::SeqCst);
        self.polls += 1;
        if self.polls < 2 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        let body: &'static [u8] = if self.polls >= 2 {
            b"ready"
        } else {
            b"unready"
        };
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(body)))))
    }
}

#[tokio::test]
async fn poll_ready_is_the_inner_services() {
    let polls = Arc::new(AtomicUsize::new(0));
    let mut service = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .layer(SlowToReady {
            polls: 0,
            total_polls: polls.clone(),
        });
    let waker = futures_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(service.poll_ready(&mut cx).is_pending());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    let header = bearer(&valid());
    let response = service
        .call(request("/v2/x", &[header.as_bytes()]))
        .await
        .unwrap();
    assert_eq!(body_of(response).await, "ready");
}

fn futures_waker() -> std::task::Waker {
    std::task::Waker::noop().clone()
}

#[tokio::test]
async fn with_axum_layer_and_route_layer() {
    use axum::Router;
    use axum::routing::get;

    async fn who(principal: Principal) -> String {
        format!("{} {}", principal.service_id, principal.key_type)
    }
    async fn maybe(principal: Option<Principal>) -> String {
        principal.map_or("anonymous".to_owned(), |p| p.api_key_id.to_string())
    }
    let layered: Router = Router::new()
        .route("/v2/who", get(who))
        .layer(NotifyAuthLayer::new(store()).clock(|| NOW));
    let route_layered: Router = Router::new()
        .route("/v2/maybe", get(maybe))
        .route_layer(NotifyAuthLayer::new(store()).clock(|| NOW))
        .route("/open", get(maybe));
    let header = bearer(&token(S, NOW, K2_SECRET));
    let call = |app: Router, path: &'static str, auth: Option<String>| async move {
        let mut builder = Request::builder().uri(path);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let response = app
            .oneshot(builder.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    };
    assert_eq!(
        call(layered.clone(), "/v2/who", Some(header.clone())).await,
        (StatusCode::OK, format!("{S} test"))
    );
    let (status, body) = call(layered, "/v2/who", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("authentication token must be provided"));
    assert_eq!(
        call(route_layered.clone(), "/v2/maybe", Some(header)).await,
        (StatusCode::OK, K2.to_string())
    );
    assert_eq!(
        call(route_layered.clone(), "/v2/maybe", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(route_layered, "/open", None).await,
        (StatusCode::OK, "anonymous".to_owned())
    );
}

#[tokio::test]
async fn plain_hyper_over_real_http() {
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store()).clock(|| NOW))
        .service_fn(|req: Request<hyper::body::Incoming>| async move {
            let p = *req.extensions().get::<Principal>().unwrap();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                p.key_type.to_string(),
            ))))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
                .unwrap();
        }
    });
    let exchange = |auth: String| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /v2/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let ok = exchange(bearer(&token(S, NOW, K2_SECRET))).await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\ntest"), "{ok}");
    let rejected = exchange(format!("Bearer\t{}", valid())).await;
    assert!(
        rejected.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{rejected}"
    );
    assert!(
        rejected.contains("content-type: application/json\r\n"),
        "{rejected}"
    );
    assert!(rejected.ends_with(
        "\r\n\r\n{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Unauthorized: authentication bearer scheme must be used\"}],\"status_code\":401}\n"
    ), "{rejected}");
    server.await.unwrap();
}
