//! The demo server: Notify-style authentication in front of a few routes.
//!
//! ```text
//! cargo run --example server -- [--addr 127.0.0.1:6011] [--keys examples/keys.json]
//! cargo run --example server --features postgres -- --database-url postgres://…  [--keys …]
//! ```
//!
//! - `GET /_status`: 200 `{"status":"ok"}`, no authentication (with `--database-url`, also the
//!   key cache's and the database's counters and the invalidation listener's state:
//!   `{"status":"ok","cache":{"hits":…,"misses":…,"known_absent":…,"store_calls":…},
//!   "database":{"queries":…,…},"listener":{"listening":…,"trusted":…,…}}`).
//! - any method, any path under `/v2/`: public authentication; 200
//!   `{"service_id":…,"api_key_id":…,"key_type":…}`. Services and keys come from the key file,
//!   or with `--database-url URL` (or `DATABASE_URL`) from PostgreSQL through a cache that
//!   keeps services until they change while its listener is proven (LISTEN/NOTIFY), for 2
//!   seconds otherwise.
//! - any method, `/service` and any path under it: internal authentication for the client
//!   `notify-admin` with the key file's `internal_clients` secrets; 200
//!   `{"client_id":"notify-admin"}`.
//!
//! `--secret-format plain|itsdangerous|fernet` (default `plain`) says how the database's
//! `api_keys.secret` column holds each secret: as clients sign with it, itsdangerous-signed as
//! GOV.UK Notify and GC Notify store it, or Fernet-encrypted as Notify.gov does. The last two
//! read `SECRET_KEY` (for itsdangerous, several separated by commas, newest last) and
//! `DANGEROUS_SALT` from the environment, as the forks' configurations do, and never print
//! them. A missing or unusable setting is a one-line error and exit code 2.
//!
//! `--request-binding off|verify-if-present|required` (default `off`) sets the request-binding
//! mode of the `/v2/` routes (contract §10: the `req` and `pay` claims).
//!
//! `--dialect uk|gc|gov|va` (default `uk`) answers every route as GOV.UK Notify, GC Notify,
//! Notify.gov or VA Notify does (`notify_auth::Dialect`): with `gc`, the `/v2/` routes also
//! take GC Notify's raw keys (`Authorization: ApiKey-v1 gcntfy-…`) and let `OPTIONS` through.
//! With `--database-url`, the dialect also says which keys a lookup reads (GC and VA: all of
//! them), and `--gc-raw-keys exact|any` (default `exact`, GC Notify's own behaviour) how a raw
//! key is found when `SECRET_KEY` lists several signing keys (`RawKeyLookup`).
//!
//! With the `metrics` feature (`cargo run --example server --features metrics`), `GET /metrics`
//! answers the crate's metrics in Prometheus's text format (`notify_auth::metrics` lists
//! them), through `metrics-exporter-prometheus`.
//!
//! `--no-auth` serves the same routes without authentication (handlers answer a fixed body of
//! the same shape): the baseline of the load test, never for real use.
//!
//! Logs go to stderr through a non-blocking writer (`RUST_LOG` filters them, default `info`;
//! `RUST_LOG=info,notify_auth::rejected=warn` keeps the success lines and drops the lines of
//! rejected requests, which a flood of bad tokens multiplies).

mod log_line;
mod log_writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::routing::{any, get};
use axum::{Json, Router};
use notify_auth::core::RequestBinding;
use notify_auth::{
    Dialect, InternalAuthLayer, InternalCaller, InternalClient, KeyStore, KeyType, MemoryStore,
    NotifyAuthLayer, Principal,
};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

const ADMIN_CLIENT_ID: &str = "notify-admin";

struct Args {
    addr: SocketAddr,
    keys: PathBuf,
    database_url: Option<String>,
    secret_format: String,
    binding: RequestBinding,
    dialect: Dialect,
    gc_raw_keys: String,
    no_auth: bool,
}

const USAGE: &str = "usage: server [--addr HOST:PORT] [--keys FILE] [--database-url URL] \
     [--secret-format plain|itsdangerous|fernet] \
     [--request-binding off|verify-if-present|required] [--dialect uk|gc|gov|va] \
     [--gc-raw-keys exact|any] [--no-auth]";

// A handful of flags do not justify a command-line parsing dependency for an example.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:6011".parse().expect("a valid default address"),
        keys: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keys.json")),
        database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        secret_format: "plain".to_owned(),
        binding: RequestBinding::Off,
        dialect: Dialect::Uk,
        gc_raw_keys: "exact".to_owned(),
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
            "--database-url" => args.database_url = Some(value()?),
            "--secret-format" => args.secret_format = value()?,
            "--request-binding" => {
                let v = value()?;
                args.binding = v.parse().map_err(|e| format!("--request-binding: {e}"))?;
            }
            "--dialect" => {
                let v = value()?;
                args.dialect = v.parse().map_err(|e| format!("--dialect: {e}"))?;
            }
            "--gc-raw-keys" => args.gc_raw_keys = value()?,
            "--no-auth" => args.no_auth = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// Where the public routes' keys come from, and what `/_status` reports about it.
struct Keys {
    store: Arc<dyn KeyStore>,
    status: Arc<dyn Fn() -> Value + Send + Sync>,
}

fn file_keys(store: MemoryStore) -> Keys {
    Keys {
        store: Arc::new(store),
        status: Arc::new(|| json!({"status": "ok"})),
    }
}

/// Keys from PostgreSQL, cached, with revocations pushed by LISTEN/NOTIFY. The secret column
/// is read in `secret_format`, keyed as the forks' configurations are: `SECRET_KEY` (several
/// separated by commas, newest last) and `DANGEROUS_SALT` from the environment.
#[cfg(feature = "postgres")]
fn database_keys(args: &Args, url: &str) -> Result<Keys, String> {
    use notify_auth::store::{CachedKeyStore, PostgresKeyStore, RawKeyLookup, SecretFormat};

    let secret_format = &args.secret_format;
    let setting = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (secret_key, salt) = (
        zeroize::Zeroizing::new(setting("SECRET_KEY")),
        zeroize::Zeroizing::new(setting("DANGEROUS_SALT")),
    );
    let format = SecretFormat::from_settings(secret_format, secret_key.as_deref(), salt.as_deref())
        .map_err(|e| format!("--secret-format {secret_format}: {e}"))?;
    let raw_key_lookup = match args.gc_raw_keys.as_str() {
        "exact" => RawKeyLookup::Exact,
        "any" => RawKeyLookup::AnySigningKey,
        other => return Err(format!("--gc-raw-keys {other:?}: expected exact or any")),
    };
    let postgres = PostgresKeyStore::builder(url)
        .dialect(args.dialect)
        .raw_key_lookup(raw_key_lookup)
        .secret_format(format)
        .build()
        .map_err(|e| format!("--database-url: {e}"))?;
    let cache = CachedKeyStore::new(postgres.clone());
    // The listener lives as long as the server (its handle in the status route).
    let listener = postgres.spawn_invalidation_listener(cache.clone());
    let stats = cache.clone();
    Ok(Keys {
        store: Arc::new(cache),
        status: Arc::new(move || {
            let s = stats.stats();
            let db = postgres.stats();
            json!({
                "status": "ok",
                "cache": {
                    "hits": s.hits,
                    "misses": s.misses,
                    "known_absent": s.known_absent,
                    "store_calls": s.store_calls,
                },
                "database": {
                    "queries": db.queries,
                    "unknown_queries": db.unknown_queries,
                    "unknown_peak": db.unknown_peak,
                    "known_services": db.known_services,
                    "directory_complete": db.directory_complete,
                },
                "listener": {
                    "listening": listener.status().listening,
                    "trusted": listener.status().trusted,
                    "connections": listener.status().connections,
                    "reconciliations": listener.status().reconciliations,
                    "notifications": listener.status().notifications,
                },
            })
        }),
    })
}

#[cfg(not(feature = "postgres"))]
fn database_keys(_: &Args, _: &str) -> Result<Keys, String> {
    Err("--database-url needs the postgres feature: cargo run --example server --features postgres -- …".to_owned())
}

/// The demo application.
fn app(
    keys: Keys,
    admin: InternalClient,
    binding: RequestBinding,
    dialect: Dialect,
    no_auth: bool,
) -> Router {
    let status = keys.status.clone();
    let status = get(move || {
        let status = status.clone();
        async move { Json(status()) }
    });
    let router = Router::new().route("/_status", status);
    #[cfg(feature = "metrics")]
    let router = match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => router.route("/metrics", get(move || std::future::ready(handle.render()))),
        Err(e) => {
            tracing::error!("cannot install the metrics recorder: {e}");
            router
        }
    };
    if no_auth {
        return router
            .route("/v2/", any(anonymous))
            .route("/v2/{*path}", any(anonymous))
            .route("/service", any(anonymous))
            .route("/service/{*path}", any(anonymous));
    }
    let public = Router::new()
        .route("/v2/", any(whoami))
        .route("/v2/{*path}", any(whoami));
    // Without binding, the plain layer: the inner routes then receive the request's own body
    // type (a bound layer hands on `Either<Full<Bytes>, Body>`, which axum boxes again).
    let layer = NotifyAuthLayer::from_shared(keys.store).dialect(dialect);
    let public = match binding {
        RequestBinding::Off => public.route_layer(layer),
        mode => public.route_layer(layer.request_binding(mode)),
    };
    let internal = Router::new()
        .route("/service", any(internal_whoami))
        .route("/service/{*path}", any(internal_whoami))
        .route_layer(InternalAuthLayer::new(admin).dialect(dialect));
    router.merge(public).merge(internal)
}

/// The principal, or `null` for a request the layer let through unauthenticated (GC Notify's
/// `OPTIONS`).
async fn whoami(principal: Option<Principal>) -> Json<Option<Principal>> {
    Json(principal)
}

/// What `--no-auth` answers: the shape and size of a principal, with nil ids.
async fn anonymous() -> Json<Principal> {
    Json(Principal::new(
        uuid::Uuid::nil(),
        uuid::Uuid::nil(),
        KeyType::Normal,
    ))
}

async fn internal_whoami(caller: InternalCaller) -> Json<Value> {
    Json(json!({"client_id": caller.client_id()}))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Lines are formatted on the request's task (`log_line`: the default format's shape,
    // cheaper per line) and written by a thread of their own (`log_writer`), as production
    // servers do, so a slow stderr never holds a worker: lines gathered for up to 10 ms, one
    // system call per batch. Not lossy: under a flood that outruns the writer, requests wait
    // rather than lose Notify's lines (filter the rejections instead:
    // `RUST_LOG=info,notify_auth::rejected=warn`). Colours only on a terminal.
    let stderr = std::io::stderr();
    let ansi = std::io::IsTerminal::is_terminal(&stderr);
    let (writer, _flush_on_exit) = match log_writer::LogWriter::new(stderr) {
        Ok(writer) => writer,
        Err(e) => {
            eprintln!("error: cannot start the log writer's thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(ansi)
        .event_format(log_line::LogLine)
        .with_writer(writer)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let file = match MemoryStore::from_json_file(&args.keys) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin = file.internal_client(ADMIN_CLIENT_ID).cloned().unwrap_or_else(|| {
        tracing::warn!(
            "the key file has no internal client {ADMIN_CLIENT_ID:?}: /service rejects every token"
        );
        InternalClient::new(ADMIN_CLIENT_ID, [])
    });
    let keys = match &args.database_url {
        None if args.secret_format != "plain" => {
            eprintln!(
                "error: --secret-format {} needs --database-url",
                args.secret_format
            );
            return ExitCode::from(2);
        }
        None => file_keys(file),
        Some(url) => match database_keys(&args, url) {
            Ok(keys) => keys,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
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
    if let Err(e) = axum::serve(
        listener,
        app(keys, admin, args.binding, args.dialect, args.no_auth),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
