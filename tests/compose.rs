//! The layer where tower users put it: outside tower-http's body-changing layers, on a plain
//! hyper server with `Incoming` bodies, and over stores implemented with this crate alone.
//! (Under axum's nested routers: `tests/binding.rs`.)

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, Full};
use notify_auth::core::RequestBinding;
use notify_auth::token::create_bound_token_at;
use notify_auth::{KeyStore, KeyStoreError, NotifyAuthLayer, Principal, ServiceRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Layer, ServiceBuilder, ServiceExt};
use uuid::Uuid;

/// `NotifyAuthLayer` outside `TraceLayer` and `CompressionLayer`: the inner body is
/// tower-http's, the layer still answers, with Notify's exact body when it rejects.
#[tokio::test]
async fn outside_trace_and_compression_layers() {
    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store()).clock(|| NOW))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::compression::CompressionLayer::new())
        .service_fn(|request: Request<Full<Bytes>>| async move {
            let principal = *request.extensions().get::<Principal>().unwrap();
            let body = format!("{} {}", principal.api_key_id, "x".repeat(2_000));
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });
    let send = |authorization: String| {
        let service = service.clone();
        async move {
            let request = Request::builder()
                .uri("/v2/notifications")
                .header(header::AUTHORIZATION, authorization)
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Full::new(Bytes::new()))
                .unwrap();
            service.oneshot(request).await.unwrap()
        }
    };
    let ok = send(bearer(&valid())).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()[header::CONTENT_ENCODING], "gzip");
    let gzipped = ok.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "a gzip stream");

    let denied = into_answer(send(bearer(&token(S, NOW, WRONG_SECRET))).await).await;
    denied.assert_v2(403, M13);
}

/// A store implemented with the re-exported attribute: the implementor needs no other crate.
struct OneService(Arc<ServiceRecord>);

#[notify_auth::async_trait]
impl KeyStore for OneService {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        Ok((id == self.0.id()).then(|| self.0.clone()))
    }
}

#[tokio::test]
async fn a_store_implemented_through_the_re_export() {
    let record = store().service(S).await.unwrap().unwrap();
    let service = NotifyAuthLayer::new(OneService(record))
        .clock(|| NOW)
        .layer(answering("through the re-export"));
    let response = service
        .oneshot(request("/v2/x", &[bearer(&valid()).as_bytes()]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Request binding on a plain hyper server (no axum) on 127.0.0.1, with hyper's `Incoming`
/// request bodies: the body is read to check `pay` and reaches the handler intact.
#[tokio::test]
async fn binding_over_a_hyper_server_with_incoming_bodies() {
    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    let service = ServiceBuilder::new()
        .layer(
            NotifyAuthLayer::new(store())
                .clock(|| NOW)
                .request_binding(RequestBinding::Required),
        )
        .service_fn(
            |request: Request<Either<Full<Bytes>, Incoming>>| async move {
                let key = request.extensions().get::<Principal>().unwrap().api_key_id;
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let answer = format!("{key} {}", String::from_utf8_lossy(&body));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer))))
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    let post = |token: String, body: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /v2/notifications/sms HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    };
    let body = r#"{"phone_number":"07700900000"}"#;
    let signed = |body: Option<&[u8]>| {
        create_bound_token_at(
            K1_SECRET,
            &S.to_string(),
            NOW,
            "POST",
            "/v2/notifications/sms",
            body,
        )
        .unwrap()
    };
    assert_eq!(
        post(signed(Some(body.as_bytes())), body).await,
        ("HTTP/1.1 200 OK".to_owned(), format!("{K1} {body}"))
    );
    let (status, answer) = post(signed(Some(b"{}")), body).await;
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert_eq!(
        answer,
        "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Invalid token: payload\"}],\"status_code\":403}\n"
    );
}
