//! The demo server: Notify-style authentication in front of a few routes.
//!
//! ```text
//! cargo run --example server -- [--addr 127.0.0.1:6011] [--keys examples/keys.json]
//! ```
//!
//! - `GET /_status`: 200 `{"status":"ok"}`, no authentication.
//! - any method, any path under `/v2/`: public authentication against the key file's
//!   services; 200 `{"service_id":…,"api_key_id":…,"key_type":…}`.
//! - any method, `/service` and any path under it: internal authentication for the client
//!   `notify-admin` with the key file's `internal_clients` secrets; 200
//!   `{"client_id":"notify-admin"}`.
//!
//! `--no-auth` serves the same routes without authentication (handlers answer a fixed body of
//! the same shape): the baseline of the load test, never for real use.
//!
//! Logs go to stderr (`RUST_LOG` filters them, default `info`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::routing::{any, get};
use axum::{Json, Router};
use notify_auth::{
    InternalAuthLayer, InternalCaller, InternalClient, KeyType, MemoryStore, NotifyAuthLayer,
    Principal,
};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

const ADMIN_CLIENT_ID: &str = "notify-admin";

struct Args {
    addr: SocketAddr,
    keys: PathBuf,
    no_auth: bool,
}

// Two flags do not justify a command-line parsing dependency for an example.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:6011".parse().expect("a valid default address"),
        keys: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keys.json")),
        no_auth: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                args.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--keys" => args.keys = PathBuf::from(value()?),
            "--no-auth" => args.no_auth = true,
            "-h" | "--help" => {
                return Err("usage: server [--addr HOST:PORT] [--keys FILE] [--no-auth]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// The demo application for a key store.
fn app(store: MemoryStore, no_auth: bool) -> Router {
    if no_auth {
        return Router::new()
            .route("/_status", get(status))
            .route("/v2/", any(anonymous))
            .route("/v2/{*path}", any(anonymous))
            .route("/service", any(anonymous))
            .route("/service/{*path}", any(anonymous));
    }
    let admin = store
        .internal_client(ADMIN_CLIENT_ID)
        .cloned()
        .unwrap_or_else(|| {
            tracing::warn!("the key file has no internal client {ADMIN_CLIENT_ID:?}: /service rejects every token");
            InternalClient::new(ADMIN_CLIENT_ID, [])
        });
    let public = Router::new()
        .route("/v2/", any(whoami))
        .route("/v2/{*path}", any(whoami))
        .route_layer(NotifyAuthLayer::new(store));
    let internal = Router::new()
        .route("/service", any(internal_whoami))
        .route("/service/{*path}", any(internal_whoami))
        .route_layer(InternalAuthLayer::new(admin));
    Router::new()
        .route("/_status", get(status))
        .merge(public)
        .merge(internal)
}

async fn status() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn whoami(principal: Principal) -> Json<Principal> {
    Json(principal)
}

/// What `--no-auth` answers: the shape and size of a principal, with nil ids.
async fn anonymous() -> Json<Principal> {
    Json(Principal {
        service_id: uuid::Uuid::nil(),
        api_key_id: uuid::Uuid::nil(),
        key_type: KeyType::Normal,
    })
}

async fn internal_whoami(caller: InternalCaller) -> Json<Value> {
    Json(json!({"client_id": caller.client_id()}))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let store = match MemoryStore::from_json_file(&args.keys) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(args.addr);
    println!("listening on http://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app(store, args.no_auth))
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
