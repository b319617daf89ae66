//! Notify's authentication on a plain hyper server, without axum: the layer with request
//! binding required, over hyper's own `Incoming` request bodies.
//!
//! ```text
//! cargo run --example hyper -- [--addr 127.0.0.1:6013] [--keys examples/keys.json]
//! ```
//!
//! Every request must carry a token bound to it (`req`, and `pay` when it has a body: mint one
//! with `cargo run --example token -- --bind METHOD PATH BODY_FILE|- KEY`). The handler answers
//! `{"service_id":…,"api_key_id":…,"key_type":…,"body_bytes":…}`: the principal, and the
//! length of the body it received (read once by the layer to check `pay`, and handed on).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use notify_auth::core::RequestBinding;
use notify_auth::{MemoryStore, NotifyAuthLayer, Principal};
use tower::ServiceBuilder;

/// What the layer hands on: the body it read to check `pay`, or hyper's own.
type Body = Either<Full<Bytes>, Incoming>;

async fn handler(request: Request<Body>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(principal) = request.extensions().get::<Principal>().copied() else {
        return Ok(Response::new(Full::new(Bytes::from_static(
            b"no principal",
        ))));
    };
    let body_bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => 0,
    };
    let answer = serde_json::json!({
        "service_id": principal.service_id,
        "api_key_id": principal.api_key_id,
        "key_type": principal.key_type,
        "body_bytes": body_bytes,
    });
    Ok(Response::new(Full::new(Bytes::from(answer.to_string()))))
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr: SocketAddr = "127.0.0.1:6013".parse().expect("a valid default address");
    let mut keys = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keys.json").to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => match value.parse() {
                Ok(parsed) => addr = parsed,
                Err(e) => {
                    eprintln!("--addr {value}: {e}");
                    return ExitCode::from(2);
                }
            },
            ("--keys", Some(value)) => keys = value,
            _ => {
                eprintln!("usage: hyper [--addr HOST:PORT] [--keys FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let store = match MemoryStore::from_json_file(&keys) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store).request_binding(RequestBinding::Required))
        .service_fn(handler);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "listening on http://{}",
        listener.local_addr().unwrap_or(addr)
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
