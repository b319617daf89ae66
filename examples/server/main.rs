//! The demo server: Notify-style authentication in front of a few routes.
//!
//! ```text
//! cargo run --example server -- [--addr 127.0.0.1:6011] [--keys examples/keys.json]
//! cargo run --example server --features postgres -- --database-url postgres://…  [--keys …]
//! cargo run --example server -- --help
//! ```
//!
//! Every flag can also be set from the environment (`NOTIFY_AUTH_ADDR`, `NOTIFY_AUTH_KEYS`,
//! `DATABASE_URL`, `NOTIFY_AUTH_SECRET_FORMAT`, `NOTIFY_AUTH_REQUEST_BINDING`,
//! `NOTIFY_AUTH_DIALECT`, `NOTIFY_AUTH_GC_RAW_KEYS`, `NOTIFY_AUTH_NO_AUTH`, `REDIS_URL`,
//! `NOTIFY_AUTH_NO_RATE_LIMIT`); a flag wins over its variable. `--help` lists them with their
//! defaults. A bad value is a one-line error and exit code 2.
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
//! - `POST /v2/notifications/{notification_type}` (any type, as Notify routes it): the same,
//!   after the API rate limit (`notify_auth::ratelimit`): the service's `rate_limit` (the key
//!   file's, or the database's) requests a minute per key type, then 429 as Notify answers;
//!   counted as the dialect's fork counts (GOV.UK Notify's token bucket; GC Notify's and VA
//!   Notify's sliding window; none for Notify.gov, which has no API rate limit). The buckets
//!   are in memory, or with `--redis-url URL` (or `REDIS_URL`; feature `redis`) in Redis,
//!   shared with other instances and with the fork's own; a Redis that does not answer lets
//!   requests through. `--no-rate-limit` turns it off.
//! - any method, `/service` and any path under it: internal authentication for the client
//!   `notify-admin` with the key file's `internal_clients` secrets; 200
//!   `{"client_id":"notify-admin"}`.
//!
//! `--secret-format plain|itsdangerous|fernet` (default `plain`) says how the database's
//! `api_keys.secret` column holds each secret: as clients sign with it, itsdangerous-signed as
//! GOV.UK Notify and GC Notify store it, or Fernet-encrypted as Notify.gov does. The last two
//! read `SECRET_KEY` (for itsdangerous, several separated by commas, newest last) and
//! `DANGEROUS_SALT` from the environment, as the forks' configurations do, and never print
//! them.
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
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::{Json, Router};
use notify_auth::core::RequestBinding;
use notify_auth::ratelimit::RateLimitLayer;
use notify_auth::{
    Dialect, InternalAuthLayer, InternalCaller, InternalClient, KeyStore, KeyType, MemoryStore,
    NotifyAuthLayer, Principal,
};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

const ADMIN_CLIENT_ID: &str = "notify-admin";

/// Notify-style authentication in front of a few demo routes: `/v2/…` (public, a service's
/// API key), `/service/…` (internal, the client `notify-admin`) and `/_status`.
#[derive(clap::Parser)]
#[command(name = "server", version)]
struct Args {
    /// The address to listen on (port 0: any free port).
    #[arg(long, env = "NOTIFY_AUTH_ADDR", default_value = "127.0.0.1:6011")]
    addr: SocketAddr,

    /// The JSON key file: the services and their keys (unless --database-url), and the
    /// internal client `notify-admin`'s secrets.
    #[arg(long, env = "NOTIFY_AUTH_KEYS", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keys.json"))]
    keys: PathBuf,

    /// Read services and keys from this PostgreSQL database (Notify's schema) instead of the
    /// key file; needs the `postgres` feature (the variable's value is never shown: a URL may
    /// hold a password).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// How the database's secret column holds each secret: plain, itsdangerous (GOV.UK and
    /// GC Notify; reads SECRET_KEY and DANGEROUS_SALT) or fernet (Notify.gov; the same).
    #[arg(long, env = "NOTIFY_AUTH_SECRET_FORMAT", default_value = "plain", value_parser = secret_format)]
    secret_format: String,

    /// Request binding on the /v2/ routes (the `req` and `pay` claims): off,
    /// verify-if-present or required.
    #[arg(
        long = "request-binding",
        env = "NOTIFY_AUTH_REQUEST_BINDING",
        default_value = "off"
    )]
    binding: RequestBinding,

    /// Whose answers to give: uk (GOV.UK Notify), gc (GC Notify), gov (Notify.gov) or va (VA
    /// Notify).
    #[arg(long, env = "NOTIFY_AUTH_DIALECT", default_value = "uk")]
    dialect: Dialect,

    /// With --database-url and --dialect gc, how a raw key is found when SECRET_KEY lists
    /// several signing keys: exact (GC Notify's own behaviour) or any.
    #[arg(long, env = "NOTIFY_AUTH_GC_RAW_KEYS", default_value = "exact", value_parser = ["exact", "any"])]
    gc_raw_keys: String,

    /// Serve the same routes without authentication (the load test's baseline; never for
    /// real use).
    #[arg(long, env = "NOTIFY_AUTH_NO_AUTH")]
    no_auth: bool,

    /// Keep the API rate limit's buckets in this Redis (`redis://…`; `rediss://…` over TLS),
    /// shared with other instances and with the dialect's Notify; needs the `redis` feature.
    /// Without it, in memory (the variable's value is never shown: a URL may hold a password).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,

    /// Check a rediss:// server's certificate against the CA certificates in this PEM file
    /// instead of Mozilla's roots (a private CA).
    #[arg(
        long,
        env = "NOTIFY_AUTH_REDIS_CA_FILE",
        value_name = "PATH",
        requires = "redis_url"
    )]
    redis_ca_file: Option<PathBuf>,

    /// Serve POST /v2/notifications/… without the API rate limit (the load test's baseline).
    #[arg(long, env = "NOTIFY_AUTH_NO_RATE_LIMIT")]
    no_rate_limit: bool,
}

/// `--secret-format`'s value, checked (the secret key and salt are read later, and only with
/// `--database-url`).
fn secret_format(value: &str) -> Result<String, String> {
    match value {
        "plain" | "itsdangerous" | "fernet" => Ok(value.to_owned()),
        other => Err(format!(
            "unknown secret format {other:?} (expected plain, itsdangerous or fernet)"
        )),
    }
}

/// The arguments, or what to print and the exit code: the help and version on stdout with 0,
/// an error in one line on stderr with 2 (the flag, the value, and why).
fn parse_args() -> Result<Args, (String, u8)> {
    use clap::Parser as _;
    use clap::error::ErrorKind;

    match Args::try_parse() {
        Ok(mut args) => {
            args.database_url = args.database_url.filter(|url| !url.is_empty());
            args.redis_url = args.redis_url.filter(|url| !url.is_empty());
            Ok(args)
        }
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            Err((e.render().to_string(), 0))
        }
        Err(e) => {
            // clap's message, its lines (the error, the possible values, a tip) joined.
            let rendered = e.render().to_string();
            let line: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .filter(|l| !l.starts_with("Usage:"))
                .collect();
            Err((line.join(" "), 2))
        }
    }
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
    // clap lets only `exact` and `any` through.
    let raw_key_lookup = match args.gc_raw_keys.as_str() {
        "any" => RawKeyLookup::AnySigningKey,
        _ => RawKeyLookup::Exact,
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

/// The API rate limit of `POST /v2/notifications/…`: in Redis with `--redis-url`, else in
/// memory; none with `--no-rate-limit`, nor in Notify.gov's dialect (it has none; a Redis URL
/// is still checked).
fn rate_limit(args: &Args) -> Result<Option<RateLimitLayer>, String> {
    if args.no_rate_limit {
        return Ok(None);
    }
    let layer = match &args.redis_url {
        None => RateLimitLayer::in_memory(),
        Some(url) => redis_rate_limit(url, args.redis_ca_file.as_deref())?,
    };
    if args.dialect == Dialect::Gov {
        return Ok(None);
    }
    Ok(Some(layer.dialect(args.dialect)))
}

#[cfg(feature = "redis")]
fn redis_rate_limit(url: &str, ca_file: Option<&Path>) -> Result<RateLimitLayer, String> {
    use notify_auth::ratelimit::RedisBuckets;
    let buckets = match ca_file {
        None => RedisBuckets::new(url),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("--redis-ca-file {}: {e}", path.display()))?;
            RedisBuckets::with_ca(url, &pem)
        }
    };
    Ok(RateLimitLayer::new(
        buckets.map_err(|e| format!("--redis-url: {e}"))?,
    ))
}

#[cfg(not(feature = "redis"))]
fn redis_rate_limit(_: &str, _: Option<&Path>) -> Result<RateLimitLayer, String> {
    Err(
        "--redis-url needs the redis feature: cargo run --example server --features redis -- …"
            .to_owned(),
    )
}

/// The demo application.
fn app(
    keys: Keys,
    admin: InternalClient,
    binding: RequestBinding,
    dialect: Dialect,
    no_auth: bool,
    limit: Option<RateLimitLayer>,
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
    let mut public = Router::new()
        .route("/v2/", any(whoami))
        .route("/v2/{*path}", any(whoami));
    // Sending a notification meets Notify's API rate limit first (any other method on the
    // path is answered as any other /v2/ path is).
    if let Some(limit) = limit {
        let send = post(whoami).layer(limit).fallback(whoami);
        public = public.route("/v2/notifications/{notification_type}", send);
    }
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
        Err((message, 0)) => {
            println!("{}", message.trim_end());
            return ExitCode::SUCCESS;
        }
        Err((message, code)) => {
            eprintln!("{message}");
            return ExitCode::from(code);
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
    let limit = match rate_limit(&args) {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
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
    if let Err(e) = axum::serve(
        listener,
        app(keys, admin, args.binding, args.dialect, args.no_auth, limit),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
