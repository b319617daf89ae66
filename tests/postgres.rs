//! The PostgreSQL key store against a real server: lookups, Notify's seven-day window, the
//! cache over it, revocation pushed by LISTEN/NOTIFY to a second instance, the listener
//! reconnecting after a restart, and the store error while the server is down.
//!
//! Run with `scripts/with-postgres cargo test --features postgres --test postgres`. Without
//! `NOTIFY_AUTH_DATABASE_URL` the tests that need a server print `skipped: …` and pass. The
//! tests share one server (some restart or stop it), so each holds one global lock; each uses
//! fresh ids, so they never see each other's rows.
#![cfg(feature = "postgres")]

mod skip;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use notify_auth::layer::KEY_STORE_ERROR_BODY;
use notify_auth::store::{
    CachedKeyStore, INVALIDATION_CHANNEL, InvalidationListener, MIGRATION, PostgresKeyStore,
    Schema, SecretFormat, TRIGGERS,
};
use notify_auth::{
    ApiKey, KeyStore, KeyStoreError, KeyType, NotifyAuthLayer, Principal, Secret, ServiceRecord,
};
use skip::skipped;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};
use tokio::sync::{Mutex, MutexGuard};
use tower::{Layer, ServiceExt, service_fn};
use uuid::Uuid;

const REVOKED: &str = "Invalid token: API key revoked";
const KEY_NOT_FOUND: &str = "Invalid token: API key not found";
const NO_KEYS: &str = "Invalid token: service has no API keys";
const ARCHIVED: &str = "Invalid token: service is archived";
const NOT_FOUND: &str = "Invalid token: service not found";

/// One test at a time: they share the server, and some restart or stop it.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn database_url(test: &str) -> Option<String> {
    match std::env::var("NOTIFY_AUTH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped(&format!(
                "{test}: NOTIFY_AUTH_DATABASE_URL is not set (run under scripts/with-postgres)"
            ));
            None
        }
    }
}

fn log_to_test_output() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A fresh id: the clock's nanoseconds, the process id and a counter, as a v4-shaped UUID.
fn fresh_id() -> Uuid {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) as u32;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..12].copy_from_slice(&std::process::id().to_be_bytes());
    bytes[12..].copy_from_slice(&count.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn fresh_secret() -> String {
    fresh_id().to_string()
}

fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn utc(at: OffsetDateTime) -> PrimitiveDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(at.date(), at.time())
}

fn store(url: &str) -> PostgresKeyStore {
    PostgresKeyStore::builder(url)
        .pool_size(4)
        .connect_timeout(Duration::from_secs(2))
        .query_timeout(Duration::from_secs(2))
        .build()
        .expect("the store builds")
}

/// The lock, a SQL connection for arranging rows, and the migration applied.
struct Db {
    url: String,
    sql: deadpool_postgres::Object,
    _serial: MutexGuard<'static, ()>,
}

async fn setup(test: &str) -> Option<Db> {
    let url = database_url(test)?;
    let serial = SERIAL.lock().await;
    log_to_test_output();
    store(&url).migrate().await.expect("the migration applies");
    let sql = connect(&url).await;
    Some(Db {
        url,
        sql,
        _serial: serial,
    })
}

/// A SQL connection for arranging rows, with the store's connection settings (the test server
/// accepts TLS only).
async fn connect(url: &str) -> deadpool_postgres::Object {
    PostgresKeyStore::builder(url)
        .pool_size(1)
        .build()
        .expect("the store builds")
        .connection()
        .await
        .expect("a SQL connection")
}

impl Db {
    async fn service(&self, active: bool) -> Uuid {
        let id = fresh_id();
        self.sql
            .execute(
                "INSERT INTO services (id, name, active) VALUES ($1, 'test service', $2)",
                &[&id, &active],
            )
            .await
            .unwrap();
        id
    }

    /// A key of `service`; returns its id and secret.
    async fn key(
        &self,
        service: Uuid,
        key_type: &str,
        expiry_date: Option<PrimitiveDateTime>,
    ) -> (Uuid, String) {
        let (id, secret) = (fresh_id(), fresh_secret());
        self.sql
            .execute(
                "INSERT INTO api_keys (id, name, service_id, secret, key_type, expiry_date) \
                 VALUES ($1, 'test key', $2, $3, $4, $5)",
                &[&id, &service, &secret, &key_type, &expiry_date],
            )
            .await
            .unwrap();
        (id, secret)
    }

    /// Revokes a key exactly as the issue says an operator would.
    async fn revoke(&self, key: Uuid) {
        let n = self
            .sql
            .execute(
                "UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = $1",
                &[&key],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

fn bearer(service: Uuid, secret: &str) -> String {
    let token = notify_auth::token::create_token(secret, &service.to_string()).unwrap();
    format!("Bearer {token}")
}

/// Looks `service` up in `store` and decides a fresh token signed with `secret`: the
/// principal, or the message Notify would answer.
async fn authenticate(
    store: &(impl KeyStore + ?Sized),
    service: Uuid,
    secret: &str,
) -> Result<Principal, String> {
    let header = bearer(service, secret);
    let record = store
        .service(service)
        .await
        .map_err(|e| format!("store error: {e}"))?;
    notify_auth::core::authenticate([header.as_bytes()], unix_now(), |_| record.as_deref())
        .map_err(|e| e.message().to_owned())
}

/// Sends a request signed with `secret` for `service` through [`NotifyAuthLayer`] over
/// `store`, to a handler answering with the principal as JSON.
async fn through_layer(store: impl KeyStore, service: Uuid, secret: &str) -> (StatusCode, String) {
    let handler = service_fn(|req: Request<Full<Bytes>>| async move {
        let principal = req.extensions().get::<Principal>().copied();
        let body = serde_json::to_string(&principal).unwrap();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    });
    let request = Request::builder()
        .uri("/v2/notifications")
        .header(http::header::AUTHORIZATION, bearer(service, secret))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = NotifyAuthLayer::new(store)
        .layer(handler)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn principal(service: Uuid, key: Uuid, key_type: KeyType) -> Principal {
    Principal::new(service, key, key_type)
}

/// A store that counts the calls reaching it.
struct Counting<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

#[notify_auth::async_trait]
impl<S: KeyStore> KeyStore for Counting<S> {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.service(id).await
    }
}

/// Polls `check` every 20 ms for up to `limit`; the time it took, or None.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn lookup_returns_the_service_and_keys_of_every_type() {
    let Some(db) = setup("lookup_returns_the_service_and_keys_of_every_type").await else {
        return;
    };
    let service = db.service(true).await;
    let (normal, normal_secret) = db.key(service, "normal", None).await;
    let (team, team_secret) = db.key(service, "team", None).await;
    let (test, test_secret) = db.key(service, "test", None).await;
    let yesterday = utc(OffsetDateTime::now_utc() - time::Duration::days(1))
        .replace_nanosecond(0)
        .unwrap();
    let (revoked, revoked_secret) = db.key(service, "normal", Some(yesterday)).await;
    let store = store(&db.url);

    let record = store.service(service).await.unwrap().expect("the service");
    assert_eq!(record.id(), service);
    assert!(record.is_active());
    let mut keys: Vec<_> = record
        .api_keys()
        .iter()
        .map(|k| (k.id(), k.key_type(), k.expiry_date(), k.secret().expose()))
        .collect();
    keys.sort_by_key(|k| k.0);
    let mut expected = vec![
        (normal, KeyType::Normal, None, normal_secret.as_str()),
        (team, KeyType::Team, None, team_secret.as_str()),
        (test, KeyType::Test, None, test_secret.as_str()),
        (
            revoked,
            KeyType::Normal,
            Some(yesterday.assume_utc()),
            revoked_secret.as_str(),
        ),
    ];
    expected.sort_by_key(|k| k.0);
    assert_eq!(keys, expected);

    for (key, secret, key_type) in [
        (normal, &normal_secret, KeyType::Normal),
        (team, &team_secret, KeyType::Team),
        (test, &test_secret, KeyType::Test),
    ] {
        assert_eq!(
            authenticate(&store, service, secret).await,
            Ok(principal(service, key, key_type))
        );
    }
    assert_eq!(
        authenticate(&store, service, &revoked_secret).await,
        Err(REVOKED.to_owned())
    );
    assert_eq!(
        authenticate(&store, service, &fresh_secret()).await,
        Err(KEY_NOT_FOUND.to_owned())
    );

    // Through the layer, as an application sees it.
    let (status, body) = through_layer(store.clone(), service, &team_secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::to_string(&Some(principal(service, team, KeyType::Team))).unwrap()
    );

    // A service with no keys at all is still found, with none.
    let empty = db.service(true).await;
    let record = store.service(empty).await.unwrap().expect("the service");
    assert!(record.api_keys().is_empty());
    assert_eq!(
        authenticate(&store, empty, &fresh_secret()).await,
        Err(NO_KEYS.to_owned())
    );
}

#[tokio::test]
async fn an_archived_service_is_refused() {
    let Some(db) = setup("an_archived_service_is_refused").await else {
        return;
    };
    let service = db.service(false).await;
    let (_, secret) = db.key(service, "normal", None).await;
    let store = store(&db.url);
    let record = store.service(service).await.unwrap().expect("the service");
    assert!(!record.is_active());
    assert_eq!(record.api_keys().len(), 1);
    assert_eq!(
        authenticate(&store, service, &secret).await,
        Err(ARCHIVED.to_owned())
    );
    // "no API keys" wins over "archived".
    let bare = db.service(false).await;
    assert_eq!(
        authenticate(&store, bare, &secret).await,
        Err(NO_KEYS.to_owned())
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let Some(db) = setup("a_revoked_key_is_refused").await else {
        return;
    };
    let service = db.service(true).await;
    let (kept, kept_secret) = db.key(service, "normal", None).await;
    let (key, secret) = db.key(service, "test", None).await;
    let store = store(&db.url);
    assert!(authenticate(&store, service, &secret).await.is_ok());
    db.revoke(key).await;
    assert_eq!(
        authenticate(&store, service, &secret).await,
        Err(REVOKED.to_owned())
    );
    assert_eq!(
        authenticate(&store, service, &kept_secret).await,
        Ok(principal(service, kept, KeyType::Normal))
    );
}

#[tokio::test]
async fn revoked_keys_stay_visible_for_seven_days_by_calendar_date() {
    let Some(db) = setup("revoked_keys_stay_visible_for_seven_days_by_calendar_date").await else {
        return;
    };
    // Keep clear of midnight UTC, when "today" changes under the test.
    let now = OffsetDateTime::now_utc();
    let to_midnight = (Time::MIDNIGHT - now.time())
        .whole_seconds()
        .rem_euclid(86_400);
    if to_midnight < 5 {
        tokio::time::sleep(Duration::from_secs(to_midnight as u64 + 1)).await;
    }
    let now = OffsetDateTime::now_utc();
    let today: Date = now.date();
    let day = time::Duration::days(1);
    let at = |date: Date, time: Time| PrimitiveDateTime::new(date, time);
    let cases = [
        // (expiry date, visible?)
        (utc(now - 6 * day), true),
        (utc(now - 8 * day), false),
        // Visibility goes by the expiry's calendar date: the first moment of the day six days
        // ago is visible, the last moment of the day seven days ago is not, although less
        // than seven times 24 hours have passed since (unless now is 23:59:59).
        (at(today - 6 * day, Time::MIDNIGHT), true),
        (
            at(today - 7 * day, Time::from_hms(23, 59, 59).unwrap()),
            false,
        ),
        (at(today - 7 * day, Time::MIDNIGHT), false),
        (utc(now - time::Duration::minutes(1)), true),
    ];
    let service = db.service(true).await;
    let mut visible = BTreeSet::new();
    let mut keys = Vec::new();
    for (expiry, expect_visible) in cases {
        let (id, secret) = db.key(service, "normal", Some(expiry)).await;
        // The store agrees with the model's rule, which the memory store uses.
        let model =
            ApiKey::new(id, Secret::new("s"), KeyType::Normal).revoked_at(expiry.assume_utc());
        assert_eq!(
            model.is_visible_at(now.unix_timestamp()),
            expect_visible,
            "{expiry}"
        );
        if expect_visible {
            visible.insert(id);
        }
        keys.push((id, secret, expect_visible, expiry));
    }
    let store = store(&db.url);
    let record = store.service(service).await.unwrap().expect("the service");
    let listed: BTreeSet<Uuid> = record.api_keys().iter().map(|k| k.id()).collect();
    assert_eq!(listed, visible);
    for (_, secret, expect_visible, expiry) in &keys {
        let expected = if *expect_visible {
            REVOKED
        } else {
            KEY_NOT_FOUND
        };
        assert_eq!(
            authenticate(&store, service, secret).await,
            Err(expected.to_owned()),
            "key revoked at {expiry}"
        );
    }

    // A service whose only key was revoked eight days ago has "no API keys".
    let old = db.service(true).await;
    let (_, old_secret) = db.key(old, "normal", Some(utc(now - 8 * day))).await;
    let record = store.service(old).await.unwrap().expect("the service");
    assert!(record.api_keys().is_empty());
    assert_eq!(
        authenticate(&store, old, &old_secret).await,
        Err(NO_KEYS.to_owned())
    );
}

#[tokio::test]
async fn an_unknown_service_is_none() {
    let Some(db) = setup("an_unknown_service_is_none").await else {
        return;
    };
    let store = store(&db.url);
    assert!(store.service(fresh_id()).await.unwrap().is_none());
    assert_eq!(
        authenticate(&store, fresh_id(), &fresh_secret()).await,
        Err(NOT_FOUND.to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_over_postgres_hits_remembers_unknowns_and_loads_once() {
    let Some(db) = setup("the_cache_over_postgres_hits_remembers_unknowns_and_loads_once").await
    else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let cache = CachedKeyStore::builder(Counting {
        inner: store(&db.url),
        calls: calls.clone(),
    })
    .ttl(Duration::from_secs(60))
    .negative_ttl(Duration::from_secs(60))
    .build();

    // Hits.
    for _ in 0..5 {
        assert_eq!(
            authenticate(&cache, service, &secret).await,
            Ok(principal(service, key, KeyType::Normal))
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.store_calls), (4, 1, 1));

    // Negative hits: an unknown service is asked once.
    let unknown = fresh_id();
    for _ in 0..5 {
        assert!(cache.service(unknown).await.unwrap().is_none());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Single flight: 50 concurrent lookups of one uncached service, one query.
    let cold = db.service(true).await;
    let (cold_key, cold_secret) = db.key(cold, "team", None).await;
    let before = cache.stats().store_calls;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let lookups: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            let barrier = barrier.clone();
            let secret = cold_secret.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                authenticate(&cache, cold, &secret).await
            })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(
            lookup.await.unwrap(),
            Ok(principal(cold, cold_key, KeyType::Team))
        );
    }
    assert_eq!(cache.stats().store_calls - before, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Without a listener, a revocation waits for the TTL: the cache still answers from memory.
    db.revoke(key).await;
    assert!(authenticate(&cache, service, &secret).await.is_ok());
    cache.invalidate(service).await;
    assert_eq!(
        authenticate(&cache, service, &secret).await,
        Err(REVOKED.to_owned())
    );
}

#[tokio::test]
async fn the_migration_is_idempotent_and_safe_to_run_concurrently() {
    let Some(db) = setup("the_migration_is_idempotent_and_safe_to_run_concurrently").await else {
        return;
    };
    let service = db.service(true).await;
    let (a, b) = (store(&db.url), store(&db.url));
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.migrate().await.unwrap();
    // The data survives, and each trigger exists once.
    assert!(a.service(service).await.unwrap().is_some());
    let triggers: i64 = db
        .sql
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'notify_auth_%' \
             AND tgrelid IN ('services'::regclass, 'api_keys'::regclass, \
             'service_permissions'::regclass)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(triggers, 6);
    assert!(TRIGGERS.contains(INVALIDATION_CHANNEL));
    assert!(
        !MIGRATION.contains("TRIGGER"),
        "the tables' migration creates no trigger"
    );
    assert_eq!(Schema::default().triggers_sql().unwrap(), TRIGGERS);
    // The key type is checked.
    let bad = db
        .sql
        .execute(
            "INSERT INTO api_keys (id, service_id, secret, key_type) VALUES ($1, $2, 's', 'live')",
            &[&fresh_id(), &service],
        )
        .await;
    assert!(bad.is_err());
}

/// The migration's gate fields (GOV.UK Notify's defaults: 3000 requests a minute, not
/// restricted, no permissions) come with the keys, in the lookup's one query.
#[tokio::test]
async fn the_gate_fields_come_with_the_keys() {
    let Some(db) = setup("the_gate_fields_come_with_the_keys").await else {
        return;
    };
    let (plain, gated) = (db.service(true).await, db.service(true).await);
    db.key(plain, "normal", None).await;
    db.key(gated, "team", None).await;
    db.sql
        .execute(
            "UPDATE services SET rate_limit = 60, restricted = true WHERE id = $1",
            &[&gated],
        )
        .await
        .unwrap();
    for permission in ["sms", "international_sms", "email"] {
        db.sql
            .execute(
                "INSERT INTO service_permissions (service_id, permission) VALUES ($1, $2)",
                &[&gated, &permission],
            )
            .await
            .unwrap();
    }
    let store = store(&db.url);
    let plain = store.service(plain).await.unwrap().unwrap();
    assert_eq!(
        (
            plain.rate_limit(),
            plain.is_restricted(),
            plain.permissions()
        ),
        (notify_auth::DEFAULT_RATE_LIMIT, false, &[][..])
    );
    assert_eq!(plain.data::<serde_json::Value>(), None);
    let queries = store.stats().queries;
    let gated = store.service(gated).await.unwrap().unwrap();
    assert_eq!(store.stats().queries, queries + 1, "one query per lookup");
    assert_eq!(
        (
            gated.rate_limit(),
            gated.is_restricted(),
            gated.api_keys().len()
        ),
        (60, true, 1)
    );
    assert_eq!(gated.permissions(), ["email", "international_sms", "sms"]);
    assert!(gated.has_permission("sms") && !gated.has_permission("letter"));
}

#[tokio::test]
async fn other_table_and_column_names() {
    let Some(db) = setup("other_table_and_column_names").await else {
        return;
    };
    let schema_name = format!("custom_{}", fresh_id().simple());
    db.sql
        .batch_execute(&format!(
            "CREATE SCHEMA {schema_name};
             CREATE TABLE {schema_name}.svc (sid uuid PRIMARY KEY, is_live boolean NOT NULL);
             CREATE TABLE {schema_name}.keys (kid uuid PRIMARY KEY, owner uuid NOT NULL,
                 plain text, kind varchar(255), revoked timestamp);"
        ))
        .await
        .unwrap();
    let schema = Schema::default()
        .services_table(format!("{schema_name}.svc"))
        .service_id_column("sid")
        .service_active_column("is_live")
        .api_keys_table(format!("{schema_name}.keys"))
        .key_id_column("kid")
        .key_service_id_column("owner")
        .key_secret_column("plain")
        .key_type_column("kind")
        .key_expiry_date_column("revoked");
    let store = PostgresKeyStore::builder(&db.url)
        .schema(schema.clone())
        .build()
        .unwrap();
    assert_eq!(store.schema(), &schema);
    let (service, key, secret) = (fresh_id(), fresh_id(), fresh_secret());
    db.sql
        .execute(
            &format!("INSERT INTO {schema_name}.svc VALUES ($1, true)"),
            &[&service],
        )
        .await
        .unwrap();
    db.sql
        .execute(
            &format!("INSERT INTO {schema_name}.keys VALUES ($1, $2, $3, 'test', NULL)"),
            &[&key, &service, &secret],
        )
        .await
        .unwrap();
    assert_eq!(
        authenticate(&store, service, &secret).await,
        Ok(principal(service, key, KeyType::Test))
    );

    // A key of an unknown type is left out; the service's other key keeps working.
    let (bad_key, bad_secret) = (fresh_id(), "do-not-log-this-secret");
    db.sql
        .execute(
            &format!("INSERT INTO {schema_name}.keys VALUES ($1, $2, $3, 'live', NULL)"),
            &[&bad_key, &service, &bad_secret],
        )
        .await
        .unwrap();
    assert_eq!(
        authenticate(&store, service, &secret).await,
        Ok(principal(service, key, KeyType::Test))
    );
    assert_eq!(store.stats().skipped_keys, 1);
    // With no key left, the lookup fails, naming the key and the problem, never the secret.
    db.sql
        .execute(
            &format!("DELETE FROM {schema_name}.keys WHERE kid = $1"),
            &[&key],
        )
        .await
        .unwrap();
    let error = store.service(service).await.unwrap_err().to_string();
    assert!(error.contains(&bad_key.to_string()), "{error}");
    assert!(error.contains("live"), "{error}");
    assert!(!error.contains(bad_secret), "{error}");

    // Two keys sharing a secret: the service is refused, naming both keys, never the secret.
    let (twin_a, twin_b) = (fresh_id(), fresh_id());
    for twin in [twin_a, twin_b] {
        db.sql
            .execute(
                &format!("INSERT INTO {schema_name}.keys VALUES ($1, $2, $3, 'normal', NULL)"),
                &[&twin, &service, &"the-twins-secret"],
            )
            .await
            .unwrap();
    }
    let error = store.service(service).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "API keys {twin_a} and {twin_b} have the same secret"
        )),
        "{error}"
    );
    assert!(!error.contains("the-twins-secret"), "{error}");

    // migrate() only knows the default names.
    assert!(store.migrate().await.is_err());
}

/// Secrets as Notify's forks store them: itsdangerous-signed with a rotated key list (UK
/// Notify, GC Notify) and Fernet-encrypted (Notify.gov). A row that does not verify is left
/// out; the service's other keys keep working. (`tests/secret_formats.rs` checks the formats
/// against the Python libraries themselves.)
#[tokio::test]
async fn secrets_signed_or_encrypted_as_the_forks_store_them() {
    let Some(db) = setup("secrets_signed_or_encrypted_as_the_forks_store_them").await else {
        return;
    };
    let salt = "a-dangerous-salt-of-16+-bytes";
    let signed = SecretFormat::itsdangerous(["old-secret-key", "new-secret-key"], salt).unwrap();
    let signed_by_old = SecretFormat::itsdangerous(["old-secret-key"], salt).unwrap();
    let encrypted = SecretFormat::fernet("notify-gov-secret-key", salt).unwrap();
    for (format, older) in [(&signed, Some(&signed_by_old)), (&encrypted, None)] {
        let service = db.service(true).await;
        let row = |stored: String| {
            let (id, secret) = (fresh_id(), fresh_secret());
            let stored = if stored.is_empty() {
                format.encode(&secret)
            } else {
                stored
            };
            (id, secret, stored)
        };
        let current = row(String::new());
        let rotated = older.map(|older| {
            let secret = fresh_secret();
            (fresh_id(), secret.clone(), older.encode(&secret))
        });
        // One character changed inside the value (the last one could differ only in bits that
        // base64 decoding ignores).
        let mut tampered = row(String::new());
        let swap = if tampered.2.as_bytes()[5] == b'A' {
            "B"
        } else {
            "A"
        };
        tampered.2.replace_range(5..6, swap);
        for (id, _, stored) in [Some(&current), rotated.as_ref(), Some(&tampered)]
            .into_iter()
            .flatten()
        {
            db.sql
                .execute(
                    "INSERT INTO api_keys (id, name, service_id, secret, key_type) \
                     VALUES ($1, 'key', $2, $3, 'normal')",
                    &[id, &service, stored],
                )
                .await
                .unwrap();
        }
        let decoding = PostgresKeyStore::builder(&db.url)
            .secret_format(format.clone())
            .build()
            .unwrap();
        let ok = |key| Ok(principal(service, key, KeyType::Normal));
        assert_eq!(
            authenticate(&decoding, service, &current.1).await,
            ok(current.0),
            "{}",
            format.name()
        );
        if let Some((key, secret, _)) = &rotated {
            assert_eq!(authenticate(&decoding, service, secret).await, ok(*key));
        }
        assert_eq!(
            authenticate(&decoding, service, &tampered.1).await,
            Err(KEY_NOT_FOUND.to_owned())
        );
        assert!(decoding.stats().skipped_keys >= 1);
        // Read as plain text, the stored value is no secret any client signs with.
        assert_eq!(
            authenticate(&store(&db.url), service, &current.1).await,
            Err(KEY_NOT_FOUND.to_owned())
        );
    }
}

/// Tables laid out as Notify's models define them (extra NOT NULL columns, foreign keys to
/// `users` and `key_types`, history tables, secrets signed as GOV.UK Notify signs them): the
/// store and its listener read them and create or alter nothing, until `install_triggers` is
/// asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_tables_are_read_and_never_altered() {
    let Some(db) = setup("notify_tables_are_read_and_never_altered").await else {
        return;
    };
    let ns = format!("notify_{}", fresh_id().simple());
    db.sql
        .batch_execute(&format!(
            "CREATE SCHEMA {ns};
             CREATE TABLE {ns}.users (id uuid PRIMARY KEY, name text NOT NULL);
             CREATE TABLE {ns}.key_types (name varchar(255) PRIMARY KEY);
             INSERT INTO {ns}.key_types VALUES ('normal'), ('team'), ('test');
             CREATE TABLE {ns}.services (
                 id uuid PRIMARY KEY, name varchar(255) NOT NULL UNIQUE,
                 created_at timestamp NOT NULL, updated_at timestamp,
                 active boolean NOT NULL, message_limit bigint NOT NULL,
                 restricted boolean NOT NULL, email_from text NOT NULL UNIQUE,
                 created_by_id uuid NOT NULL REFERENCES {ns}.users (id),
                 version integer NOT NULL, rate_limit integer NOT NULL);
             CREATE TABLE {ns}.service_permission_types (name varchar(255) PRIMARY KEY);
             INSERT INTO {ns}.service_permission_types
                 VALUES ('email'), ('sms'), ('letter'), ('international_sms');
             CREATE TABLE {ns}.service_permissions (
                 service_id uuid NOT NULL REFERENCES {ns}.services (id),
                 permission varchar(255) NOT NULL
                     REFERENCES {ns}.service_permission_types (name),
                 created_at timestamp NOT NULL,
                 PRIMARY KEY (service_id, permission));
             CREATE TABLE {ns}.services_history (
                 id uuid NOT NULL, version integer NOT NULL, name varchar(255) NOT NULL,
                 active boolean NOT NULL, PRIMARY KEY (id, version));
             CREATE TABLE {ns}.api_keys (
                 id uuid PRIMARY KEY, name varchar(255) NOT NULL,
                 secret varchar(255) NOT NULL UNIQUE,
                 service_id uuid NOT NULL REFERENCES {ns}.services (id),
                 expiry_date timestamp, created_at timestamp NOT NULL,
                 created_by_id uuid NOT NULL REFERENCES {ns}.users (id),
                 updated_at timestamp, version integer NOT NULL,
                 key_type varchar(255) NOT NULL REFERENCES {ns}.key_types (name),
                 UNIQUE (service_id, name));
             CREATE INDEX ix_{ns}_api_keys_service_id ON {ns}.api_keys (service_id);
             CREATE TABLE {ns}.api_keys_history (
                 id uuid NOT NULL, version integer NOT NULL, secret varchar(255) NOT NULL,
                 service_id uuid NOT NULL, PRIMARY KEY (id, version));"
        ))
        .await
        .unwrap();
    let format = SecretFormat::itsdangerous(["uk-notify-secret-key"], "uk-dangerous-salt").unwrap();
    let (user, service) = (fresh_id(), fresh_id());
    db.sql
        .execute(
            &format!("INSERT INTO {ns}.users VALUES ($1, 'Test User')"),
            &[&user],
        )
        .await
        .unwrap();
    db.sql
        .execute(
            &format!(
                "INSERT INTO {ns}.services VALUES ($1, 'Service', now(), NULL, true, 250000, \
                 true, 'service', $2, 1, 1200)"
            ),
            &[&service, &user],
        )
        .await
        .unwrap();
    db.sql
        .execute(
            &format!(
                "INSERT INTO {ns}.service_permissions VALUES ($1, 'sms', now()), \
                 ($1, 'email', now())"
            ),
            &[&service],
        )
        .await
        .unwrap();
    let mut keys = Vec::new();
    for (name, expiry) in [
        ("live", None),
        ("revoked", Some(utc(OffsetDateTime::now_utc()))),
    ] {
        let (id, secret) = (fresh_id(), fresh_secret());
        db.sql
            .execute(
                &format!(
                    "INSERT INTO {ns}.api_keys VALUES ($1, $2, $3, $4, $5, now(), $6, NULL, 1, \
                     'normal')"
                ),
                &[
                    &id,
                    &name,
                    &format.encode(&secret),
                    &service,
                    &expiry,
                    &user,
                ],
            )
            .await
            .unwrap();
        keys.push((id, secret));
    }
    let [(live, live_secret), (_, revoked_secret)] = <[_; 2]>::try_from(keys).unwrap();

    // Relations in the schema, and triggers on its tables that are not the system's own.
    let ddl_state = || async {
        let row = db
            .sql
            .query_one(
                "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n \
                         ON n.oid = c.relnamespace WHERE n.nspname = $1), \
                        (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = $1 AND NOT t.tgisinternal)",
                &[&ns],
            )
            .await
            .unwrap();
        (row.get::<_, i64>(0), row.get::<_, i64>(1))
    };
    let before = ddl_state().await;
    assert_eq!(before.1, 0, "no trigger of ours yet");

    let schema = Schema::default()
        .services_table(format!("{ns}.services"))
        .api_keys_table(format!("{ns}.api_keys"))
        .permissions_table(format!("{ns}.service_permissions"))
        .service_data_columns(["name", "message_limit", "email_from"]);
    let store = PostgresKeyStore::builder(&db.url)
        .schema(schema)
        .secret_format(format.clone())
        .build()
        .unwrap();
    let cache = CachedKeyStore::new(store.clone());
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_listening(Duration::from_secs(5)).await);
    assert!(
        !store.stats().directory_complete,
        "without triggers the listener cannot keep a directory of services"
    );
    assert!(
        store.stats().known_services >= 1,
        "but the services it read skip the unknown-id lane"
    );
    assert_eq!(
        authenticate(&cache, service, &live_secret).await,
        Ok(principal(service, live, KeyType::Normal))
    );
    assert_eq!(
        authenticate(&cache, service, &revoked_secret).await,
        Err(REVOKED.to_owned())
    );
    assert_eq!(
        authenticate(&cache, fresh_id(), &live_secret).await,
        Err(NOT_FOUND.to_owned())
    );
    // Notify's gate fields and the application's columns, in the same query.
    let queries = store.stats().queries;
    let record = store.service(service).await.unwrap().unwrap();
    assert_eq!(store.stats().queries, queries + 1, "one query per lookup");
    assert_eq!(
        (
            record.rate_limit(),
            record.is_restricted(),
            record.permissions()
        ),
        (1200, true, &["email".to_owned(), "sms".to_owned()][..])
    );
    assert_eq!(
        record.data::<serde_json::Value>(),
        Some(
            &serde_json::json!({"name": "Service", "message_limit": 250000, "email_from": "service"})
        )
    );
    assert!(
        store.migrate().await.is_err(),
        "migrate() refuses other tables"
    );
    assert_eq!(ddl_state().await, before, "nothing created or altered");

    // The explicit step: the triggers, on these tables, once however often it runs.
    store.install_triggers().await.unwrap();
    store.install_triggers().await.unwrap();
    assert_eq!(ddl_state().await, (before.0, before.1 + 6));
    // Every table the lookup reads must announce its changes: without the permissions'
    // trigger (as a database whose triggers an earlier version installed), nothing is trusted.
    let drop_permissions_trigger =
        format!("DROP TRIGGER notify_auth_service_permissions_changed ON {ns}.service_permissions");
    db.sql
        .batch_execute(&drop_permissions_trigger)
        .await
        .unwrap();
    listener.abort();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_listening(Duration::from_secs(5)).await);
    assert!(
        !store.stats().directory_complete,
        "a table without its trigger"
    );
    store.install_triggers().await.unwrap();
    listener.abort();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_listening(Duration::from_secs(5)).await);
    assert!(store.stats().directory_complete);
    db.sql
        .execute(
            &format!("UPDATE {ns}.api_keys SET expiry_date = now() WHERE id = $1"),
            &[&live],
        )
        .await
        .unwrap();
    let took = within(Duration::from_secs(2), || async {
        authenticate(&cache, service, &live_secret).await == Err(REVOKED.to_owned())
    })
    .await;
    assert!(took.is_some(), "the revocation reached the cache");
    // A permission granted reaches the cache as a key's change does.
    db.sql
        .execute(
            &format!("INSERT INTO {ns}.service_permissions VALUES ($1, 'letter', now())"),
            &[&service],
        )
        .await
        .unwrap();
    let took = within(Duration::from_secs(2), || async {
        let record = cache.service(service).await.unwrap().unwrap();
        record.has_permission("letter")
    })
    .await;
    assert!(took.is_some(), "the new permission reached the cache");
    listener.abort();
    db.sql
        .batch_execute(&format!("DROP SCHEMA {ns} CASCADE"))
        .await
        .unwrap();
}

/// The test server accepts TLS only (`scripts/with-postgres`), with a certificate from a
/// throwaway CA for localhost and 127.0.0.1: every `sslmode` against it, the listener over
/// `verify-full`, and the errors of a certificate that does not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_against_a_tls_only_server() {
    let Some(db) = setup("tls_modes_against_a_tls_only_server").await else {
        return;
    };
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let (Some(ca), Some(port)) = (env("NOTIFY_AUTH_PG_CA"), env("NOTIFY_AUTH_PG_PORT")) else {
        skipped("tls_modes_against_a_tls_only_server: NOTIFY_AUTH_PG_CA is not set");
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let ok = Ok(principal(service, key, KeyType::Normal));
    let url = |host: &str, params: &str| {
        format!("postgres://postgres@{host}:{port}/notify_auth?{params}")
    };
    let store = |url: &str| {
        PostgresKeyStore::builder(url)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap()
    };
    let verify_full = format!("sslmode=verify-full&sslrootcert={ca}");
    for (host, params) in [
        ("127.0.0.1", "sslmode=require".to_owned()),
        ("127.0.0.1", "sslmode=prefer".to_owned()),
        ("127.0.0.1", "sslmode=allow".to_owned()),
        ("127.0.0.1", verify_full.clone()),
        ("localhost", verify_full.clone()),
        // 127.0.0.2 is not a name the certificate carries: the chain alone is checked.
        ("127.0.0.2", format!("sslmode=verify-ca&sslrootcert={ca}")),
        ("127.0.0.2", format!("sslmode=require&sslrootcert={ca}")),
    ] {
        let store = store(&url(host, &params));
        assert_eq!(
            authenticate(&store, service, &secret).await,
            ok,
            "{host} {params}"
        );
    }

    let refused = |params: &str, host: &str| {
        let store = store(&url(host, params));
        async move { store.service(fresh_id()).await.unwrap_err().to_string() }
    };
    let plain = refused("sslmode=disable", "127.0.0.1").await;
    assert!(plain.contains("no encryption"), "{plain}");
    let wrong_name = refused(&verify_full, "127.0.0.2").await;
    assert!(
        wrong_name.contains("certificate not valid for name \"127.0.0.2\""),
        "{wrong_name}"
    );
    let unknown_issuer = refused("sslmode=verify-full", "127.0.0.1").await;
    assert!(unknown_issuer.contains("UnknownIssuer"), "{unknown_issuer}");
    // Checking the chain alone still checks it: another CA's certificates do not verify.
    if let Some(other) = env("NOTIFY_AUTH_PG_OTHER_CA") {
        for mode in ["verify-ca", "require", "verify-full"] {
            let params = format!("sslmode={mode}&sslrootcert={other}");
            let error = refused(&params, "127.0.0.2").await;
            assert!(error.contains("UnknownIssuer"), "{mode}: {error}");
        }
    }
    let bad_file = PostgresKeyStore::builder(&url("127.0.0.1", "sslmode=verify-ca"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(bad_file.contains("needs sslrootcert"), "{bad_file}");

    // The listener connects with the same settings.
    let verified = store(&url("localhost", &verify_full));
    let cache = CachedKeyStore::new(verified.clone());
    let listener = verified.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_listening(Duration::from_secs(5)).await);
    assert!(verified.stats().directory_complete);
    assert_eq!(authenticate(&cache, service, &secret).await, ok);
    db.revoke(key).await;
    let took = within(Duration::from_secs(2), || async {
        authenticate(&cache, service, &secret).await == Err(REVOKED.to_owned())
    })
    .await;
    assert!(took.is_some(), "the revocation arrived over TLS");
}

#[tokio::test]
async fn a_query_slower_than_the_query_timeout_is_a_store_error() {
    let Some(mut db) = setup("a_query_slower_than_the_query_timeout_is_a_store_error").await else {
        return;
    };
    let service = db.service(true).await;
    let (_, secret) = db.key(service, "normal", None).await;
    let store = PostgresKeyStore::builder(&db.url)
        .query_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(authenticate(&store, service, &secret).await.is_ok());
    // Another session holds the keys table: the lookup waits for it, then gives up.
    let tx = db.sql.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let start = Instant::now();
    let error = store.service(service).await.unwrap_err().to_string();
    let took = start.elapsed();
    eprintln!("a blocked lookup: {error} (after {took:?})");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(error.contains("time"), "{error}");
    tx.rollback().await.unwrap();
    // The pool is fine afterwards.
    assert!(authenticate(&store, service, &secret).await.is_ok());
}

/// Needs no server: settings are checked at build time, building does not connect, a
/// server that is not there is a store error, and no password is shown.
#[tokio::test]
async fn building_checks_names_and_never_shows_the_password() {
    let url = "postgres://notify:hunter2-password@127.0.0.1:1/notify";
    let builder = PostgresKeyStore::builder(url);
    assert!(!format!("{builder:?}").contains("hunter2"));
    let store = builder
        .connect_timeout(Duration::from_secs(1))
        .build()
        .expect("building does not connect");
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("127.0.0.1:1"), "{debug}");

    for bad in [
        Schema::default().services_table("services; DROP TABLE x"),
        Schema::default().api_keys_table("a.b.c"),
        Schema::default().services_table("\"quoted\""),
        Schema::default().key_secret_column(""),
        Schema::default().key_type_column("1st"),
        Schema::default().service_id_column("x".repeat(64)),
        Schema::default().key_expiry_date_column("a.b"),
    ] {
        let error = PostgresKeyStore::builder(url)
            .schema(bad.clone())
            .build()
            .expect_err("refused");
        assert!(
            error.to_string().contains("not allowed"),
            "{bad:?}: {error}"
        );
    }
    assert!(
        PostgresKeyStore::builder(url)
            .schema(Schema::default().services_table("notify.services"))
            .build()
            .is_ok()
    );
    assert!(PostgresKeyStore::builder(url).pool_size(0).build().is_err());
    let error = PostgresKeyStore::builder("postgres://u:hunter2@host:notaport/db")
        .build()
        .unwrap_err()
        .to_string();
    assert!(!error.contains("hunter2"), "{error}");

    // Nothing listens on port 1: connection refused, quickly, as a store error.
    let start = Instant::now();
    let error = store.service(fresh_id()).await.unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(!error.contains("hunter2"), "{error}");
    let (status, body) = through_layer(store.clone(), fresh_id(), "secret").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, KEY_STORE_ERROR_BODY);

    // A listener that cannot connect keeps trying, and the store never trusts an empty
    // directory: an unknown id still goes to the database.
    let cache = CachedKeyStore::new(store.clone());
    let listener = store.spawn_invalidation_listener(cache);
    assert!(!listener.wait_until_listening(Duration::from_secs(1)).await);
    assert!(!store.stats().directory_complete);
    assert!(!absent(&store, fresh_id()));
}

/// Whether `store` answers "no such service" for `id` from memory, without a query.
fn absent(store: &PostgresKeyStore, id: Uuid) -> bool {
    matches!(store.service_now(id), Some(Ok(None)))
}

/// Two instances, two pools, two caches with a long TTL, each with its own listener.
struct Instance {
    cache: CachedKeyStore<PostgresKeyStore>,
    listener: InvalidationListener,
}

async fn instance(url: &str) -> Instance {
    let store = store(url);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_secs(60))
        .negative_ttl(Duration::from_secs(60))
        .build();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(
        listener.wait_until_listening(Duration::from_secs(5)).await,
        "the listener listens"
    );
    Instance { cache, listener }
}

/// Polls `instance` until `service` with `secret` answers `expected`, for up to 2 s.
async fn answers(
    instance: &Instance,
    service: Uuid,
    secret: &str,
    expected: &Result<Principal, String>,
) -> Option<Duration> {
    within(Duration::from_secs(2), || async {
        &authenticate(&instance.cache, service, secret).await == expected
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_another_instance_at_once() {
    let Some(db) = setup("a_revocation_reaches_another_instance_at_once").await else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let (one, two) = (instance(&db.url).await, instance(&db.url).await);
    let ok = Ok(principal(service, key, KeyType::Normal));
    // Warm both caches.
    for instance in [&one, &two] {
        assert_eq!(authenticate(&instance.cache, service, &secret).await, ok);
        assert_eq!(authenticate(&instance.cache, service, &secret).await, ok);
        assert_eq!(instance.cache.stats().store_calls, 1);
    }

    db.revoke(key).await;
    let revoked = Err(REVOKED.to_owned());
    let took = answers(&two, service, &secret, &revoked).await;
    eprintln!("revocation reached instance two in {took:?}");
    assert!(took.is_some(), "instance two still accepts the revoked key");
    assert!(answers(&one, service, &secret, &revoked).await.is_some());

    // A new key, and a new service, are found at once although "no key" was cached.
    let (new_key, new_secret) = db.key(service, "team", None).await;
    let took = answers(
        &two,
        service,
        &new_secret,
        &Ok(principal(service, new_key, KeyType::Team)),
    )
    .await;
    eprintln!("a new key reached instance two in {took:?}");
    assert!(took.is_some());
    let later = fresh_id();
    assert!(two.cache.service(later).await.unwrap().is_none());
    db.sql
        .execute(
            "INSERT INTO services (id, active) VALUES ($1, true)",
            &[&later],
        )
        .await
        .unwrap();
    let found = within(Duration::from_secs(2), || async {
        two.cache.service(later).await.unwrap().is_some()
    })
    .await;
    assert!(found.is_some(), "the new service is found");

    // Archiving the service reaches it too.
    db.sql
        .execute(
            "UPDATE services SET active = false WHERE id = $1",
            &[&service],
        )
        .await
        .unwrap();
    assert!(
        answers(&two, service, &new_secret, &Err(ARCHIVED.to_owned()))
            .await
            .is_some()
    );

    // A key moved to another service invalidates both. (The new service is known once its
    // notification arrives, as fast as a revocation.)
    let other = db.service(true).await;
    assert!(
        answers(&two, other, &new_secret, &Err(NO_KEYS.to_owned()))
            .await
            .is_some()
    );
    db.sql
        .execute(
            "UPDATE api_keys SET service_id = $1 WHERE id = $2",
            &[&other, &new_key],
        )
        .await
        .unwrap();
    assert!(
        answers(
            &two,
            other,
            &new_secret,
            &Ok(principal(other, new_key, KeyType::Team))
        )
        .await
        .is_some()
    );
    // (The old service, archived, keeps only its revoked key.)
    let moved_out = within(Duration::from_secs(2), || async {
        let record = two.cache.service(service).await.unwrap().unwrap();
        record.api_keys().iter().map(|k| k.id()).collect::<Vec<_>>() == [key]
    })
    .await;
    assert!(moved_out.is_some(), "the old service lost the key");

    // A payload that is not a service id clears the whole cache.
    let calls = two.cache.stats().store_calls;
    assert!(authenticate(&two.cache, other, &new_secret).await.is_ok());
    assert_eq!(two.cache.stats().store_calls, calls);
    db.sql
        .batch_execute(&format!("NOTIFY {INVALIDATION_CHANNEL}, 'not a uuid'"))
        .await
        .unwrap();
    let cleared = within(Duration::from_secs(2), || async {
        let _ = authenticate(&two.cache, other, &new_secret).await;
        two.cache.stats().store_calls > calls
    })
    .await;
    assert!(cleared.is_some(), "the cache was cleared");

    assert!(one.listener.is_listening() && two.listener.is_listening());
    assert_eq!(two.listener.connections(), 1);
    two.listener.abort();
}

/// While the listener is connected, ids of services that do not exist never reach the
/// database and take no place in the cache (counted: queries and store calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_services_never_reach_the_database() {
    let Some(db) = setup("unknown_services_never_reach_the_database").await else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let one = instance(&db.url).await;
    let postgres = one.cache.inner();
    let before = (postgres.stats(), one.cache.stats());
    assert!(before.0.directory_complete);
    assert!(before.0.known_services >= 1);
    for _ in 0..1_000 {
        assert_eq!(
            authenticate(&one.cache, fresh_id(), &secret).await,
            Err(NOT_FOUND.to_owned())
        );
    }
    let after = (postgres.stats(), one.cache.stats());
    assert_eq!(
        after.0.queries, before.0.queries,
        "no query for an unknown id"
    );
    assert_eq!(after.1.store_calls, before.1.store_calls);
    assert_eq!(after.1.known_absent - before.1.known_absent, 1_000);
    assert_eq!(after.0.answered_absent - before.0.answered_absent, 1_000);
    // A service that exists is looked up as before.
    assert_eq!(
        authenticate(&one.cache, service, &secret).await,
        Ok(principal(service, key, KeyType::Normal))
    );
    assert_eq!(postgres.stats().queries, before.0.queries + 1);

    // A service created now is found as soon as a revocation would be.
    let created = db.service(true).await;
    let (new_key, new_secret) = db.key(created, "team", None).await;
    let took = answers(
        &one,
        created,
        &new_secret,
        &Ok(principal(created, new_key, KeyType::Team)),
    )
    .await;
    eprintln!("a new service was found in {took:?}");
    assert!(took.is_some());

    // A service that arrives without its notification (triggers off for this session) is
    // unknown until a TRUNCATE's `*` makes the listener read the ids again.
    let silent = fresh_id();
    db.sql
        .batch_execute(&format!(
            "BEGIN; SET LOCAL session_replication_role = replica; \
             INSERT INTO services (id, active) VALUES ('{silent}', true); COMMIT;"
        ))
        .await
        .unwrap();
    assert!(absent(postgres, silent));
    db.sql
        .batch_execute(&format!("NOTIFY {INVALIDATION_CHANNEL}, '*'"))
        .await
        .unwrap();
    let reloaded = within(Duration::from_secs(2), || async {
        postgres.stats().directory_complete && !absent(postgres, silent)
    })
    .await;
    assert!(reloaded.is_some(), "the ids were read again");
    assert!(!absent(postgres, created) && !absent(postgres, service));

    // Heartbeats (the listener's own, or another process's) change nothing.
    assert!(authenticate(&one.cache, service, &secret).await.is_ok());
    let calls = one.cache.stats().store_calls;
    db.sql
        .batch_execute(&format!(
            "NOTIFY {INVALIDATION_CHANNEL}, 'notify-auth-heartbeat 1 1'"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(authenticate(&one.cache, service, &secret).await.is_ok());
    assert_eq!(
        one.cache.stats().store_calls,
        calls,
        "the cache was not cleared"
    );

    // A stopped listener leaves nothing trusted behind.
    one.listener.abort();
    assert!(!postgres.stats().directory_complete);
    assert!(!absent(postgres, fresh_id()));
}

/// Without a directory (no listener), lookups of ids the store has not seen are bounded: at
/// most `unknown_lookups` at once, so a flood of made-up ids leaves the pool to the services
/// that exist, which skip the lane once found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_directory_unknown_lookups_are_bounded() {
    let Some(db) = setup("without_a_directory_unknown_lookups_are_bounded").await else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let store = PostgresKeyStore::builder(&db.url)
        .pool_size(4)
        .unknown_lookups(1)
        .build()
        .unwrap();
    let ok = Ok(principal(service, key, KeyType::Normal));
    assert_eq!(authenticate(&store, service, &secret).await, ok);
    assert_eq!(
        store.stats().unknown_queries,
        1,
        "found once, through the lane"
    );

    let flood: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.service(fresh_id()).await.unwrap().is_none() })
        })
        .collect();
    for _ in 0..16 {
        assert_eq!(authenticate(&store, service, &secret).await, ok);
    }
    for lookup in flood {
        assert!(lookup.await.unwrap());
    }
    let stats = store.stats();
    assert_eq!(stats.unknown_peak, 1, "one unknown lookup at a time");
    assert_eq!(stats.unknown_queries, 65);
    assert_eq!(stats.queries, 1 + 64 + 16);
    assert!(!stats.directory_complete);
}

/// Controls the shared server with `pg_ctl`, from NOTIFY_AUTH_PGDATA and NOTIFY_AUTH_PG_CTL.
struct Server {
    pgdata: PathBuf,
    pg_ctl: Vec<String>,
}

impl Server {
    fn from_env(test: &str) -> Option<Server> {
        let pgdata = std::env::var("NOTIFY_AUTH_PGDATA")
            .ok()
            .filter(|v| !v.is_empty());
        let pg_ctl = std::env::var("NOTIFY_AUTH_PG_CTL")
            .ok()
            .filter(|v| !v.is_empty());
        match (pgdata, pg_ctl) {
            (Some(pgdata), Some(pg_ctl)) => Some(Server {
                pgdata: pgdata.into(),
                pg_ctl: pg_ctl.split_whitespace().map(str::to_owned).collect(),
            }),
            _ => {
                skipped(&format!(
                    "{test}: NOTIFY_AUTH_PGDATA or NOTIFY_AUTH_PG_CTL is not set \
                     (run under scripts/with-postgres)"
                ));
                None
            }
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.pg_ctl[0])
            .args(&self.pg_ctl[1..])
            .arg("-D")
            .arg(&self.pgdata)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl runs")
    }

    fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).status.success()
    }

    fn stop(&self) {
        let out = self.pg_ctl(&["-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }

    /// Restarts the server, or starts it again after [`Server::stop`] (`restart` reuses the
    /// options it was started with).
    fn restart(&self) -> std::process::Output {
        let log = self
            .pgdata
            .parent()
            .map(|dir| dir.join("server.log"))
            .unwrap_or_else(|| PathBuf::from("/dev/null"));
        let log = log.to_string_lossy().into_owned();
        self.pg_ctl(&["-l", &log, "-m", "fast", "-w", "-t", "60", "restart"])
    }
}

/// Starts the server again when a test ends, however it ends.
struct RestartOnDrop<'a>(&'a Server);

impl Drop for RestartOnDrop<'_> {
    fn drop(&mut self) {
        if !self.0.is_running() {
            let out = self.0.restart();
            if !out.status.success() {
                eprintln!("could not start the server again: {out:?}");
            }
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_server_restart_the_listener_reconnects() {
    let test = "with_server_restart_the_listener_reconnects";
    let Some(db) = setup(test).await else {
        return;
    };
    let Some(server) = Server::from_env(test).map(Arc::new) else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    drop(db.sql);
    let one = instance(&db.url).await;
    let ok = Ok(principal(service, key, KeyType::Normal));
    assert_eq!(authenticate(&one.cache, service, &secret).await, ok);
    assert_eq!(one.cache.stats().store_calls, 1);

    {
        let _restart = RestartOnDrop(&server);
        let server = server.clone();
        let out = blocking(move || server.restart()).await;
        assert!(out.status.success(), "pg_ctl restart: {out:?}");
    }
    let start = Instant::now();
    assert!(
        one.listener
            .wait_for_connections(2, Duration::from_secs(30))
            .await,
        "the listener listens again"
    );
    eprintln!(
        "the listener listened again {:?} after the restart",
        start.elapsed()
    );
    // The cache was reconciled (its services read again in one query, not one lookup each),
    // and trusts the listener again once its heartbeat is back.
    assert!(
        one.listener
            .wait_until_trusted(Duration::from_secs(30))
            .await
    );
    assert!(one.listener.status().reconciliations >= 2);
    assert_eq!(authenticate(&one.cache, service, &secret).await, ok);
    assert_eq!(one.cache.stats().store_calls, 1);
    // The directory was loaded again: unknown ids are answered from memory.
    let queries = one.cache.inner().stats().queries;
    assert!(one.cache.service(fresh_id()).await.unwrap().is_none());
    assert_eq!(one.cache.inner().stats().queries, queries);

    // And a revocation still reaches the cache.
    let sql = connect(&db.url).await;
    sql.execute(
        "UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = $1",
        &[&key],
    )
    .await
    .unwrap();
    let took = answers(&one, service, &secret, &Err(REVOKED.to_owned())).await;
    eprintln!("after the restart, the revocation reached the cache in {took:?}");
    assert!(took.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_server_stopped_lookups_fail_then_recover() {
    let test = "with_server_stopped_lookups_fail_then_recover";
    let Some(db) = setup(test).await else {
        return;
    };
    let Some(server) = Server::from_env(test).map(Arc::new) else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "test", None).await;
    drop(db.sql);
    let store = store(&db.url);
    // The pool holds a connection from before the stop.
    assert!(authenticate(&store, service, &secret).await.is_ok());

    {
        let _restart = RestartOnDrop(&server);
        let stopping = server.clone();
        blocking(move || stopping.stop()).await;

        let start = Instant::now();
        let error = store.service(service).await.unwrap_err();
        eprintln!(
            "with the server down: {error} (after {:?})",
            start.elapsed()
        );
        let (status, body) = through_layer(store.clone(), service, &secret).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, KEY_STORE_ERROR_BODY);
        // Through the cache too: errors are not cached.
        let cache = CachedKeyStore::new(store.clone());
        assert!(cache.service(service).await.is_err());
        assert!(cache.service(service).await.is_err());
        assert_eq!(cache.stats().store_calls, 2);

        let starting = server.clone();
        let out = blocking(move || starting.restart()).await;
        assert!(out.status.success(), "pg_ctl restart: {out:?}");
    }
    let (status, body) = through_layer(store.clone(), service, &secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::to_string(&Some(principal(service, key, KeyType::Test))).unwrap()
    );
}

/// The dialects on PostgreSQL: GC and VA Notify read every key (GOV.UK Notify hides keys
/// revoked more than about seven days ago), and GC Notify's raw keys are found by their stored
/// secret, signed as GC signs it: exactly (giving up at the first signing key whose
/// signature no row holds) or, fixed, by any signing key.
#[tokio::test]
async fn dialects_list_keys_and_find_raw_keys_as_their_forks_do() {
    use notify_auth::store::RawKeyLookup;
    use notify_auth::{Dialect, KeyBySecret};

    let Some(db) = setup("dialects_list_keys_and_find_raw_keys_as_their_forks_do").await else {
        return;
    };
    let service = db.service(true).await;
    let month_ago = utc(OffsetDateTime::now_utc() - time::Duration::days(30));
    let (old_key, old_secret) = db.key(service, "normal", Some(month_ago)).await;
    let (key, secret) = db.key(service, "team", None).await;
    let in_dialect = |dialect| {
        PostgresKeyStore::builder(&db.url)
            .dialect(dialect)
            .build()
            .unwrap()
    };
    for (dialect, listed) in [
        (Dialect::Uk, 1),
        (Dialect::Gov, 1),
        (Dialect::Gc, 2),
        (Dialect::Va, 2),
    ] {
        let record = in_dialect(dialect).service(service).await.unwrap().unwrap();
        assert_eq!(record.api_keys().len(), listed, "{dialect}");
    }
    let gc = in_dialect(Dialect::Gc);
    let found = |key_id| KeyBySecret::Found {
        service_id: service,
        key_id,
    };
    assert_eq!(gc.key_by_secret(&secret).await.unwrap(), found(key));
    assert_eq!(gc.key_by_secret(&old_secret).await.unwrap(), found(old_key));
    assert_eq!(
        gc.key_by_secret(&fresh_secret()).await.unwrap(),
        KeyBySecret::Absent
    );

    // GC Notify's own column: itsdangerous, salt "api_key", by the newest key at the time.
    let signed_by =
        |keys: &[&str]| SecretFormat::itsdangerous(keys.iter().copied(), "api_key").unwrap();
    let signed_service = db.service(true).await;
    let (by_old, by_old_secret) = (fresh_id(), fresh_secret());
    let (by_new, by_new_secret) = (fresh_id(), fresh_secret());
    for (id, stored) in [
        (by_old, signed_by(&["old"]).encode(&by_old_secret)),
        (by_new, signed_by(&["old", "new"]).encode(&by_new_secret)),
    ] {
        db.sql
            .execute(
                "INSERT INTO api_keys (id, name, service_id, secret, key_type) \
                 VALUES ($1, 'key', $2, $3, 'normal')",
                &[&id, &signed_service, &stored],
            )
            .await
            .unwrap();
    }
    let lookup = |keys: &[&str], how| {
        PostgresKeyStore::builder(&db.url)
            .dialect(Dialect::Gc)
            .secret_format(signed_by(keys))
            .raw_key_lookup(how)
            .build()
            .unwrap()
    };
    let at = |key_id| KeyBySecret::Found {
        service_id: signed_service,
        key_id,
    };
    let exact = lookup(&["old"], RawKeyLookup::Exact);
    assert_eq!(
        exact.key_by_secret(&by_old_secret).await.unwrap(),
        at(by_old)
    );
    // A rotation: GC Notify finds no raw key, whichever key signed the row.
    let exact = lookup(&["old", "new"], RawKeyLookup::Exact);
    for secret in [&by_old_secret, &by_new_secret] {
        assert_eq!(
            exact.key_by_secret(secret).await.unwrap(),
            KeyBySecret::Absent
        );
    }
    let fixed = lookup(&["old", "new"], RawKeyLookup::AnySigningKey);
    assert_eq!(
        fixed.key_by_secret(&by_old_secret).await.unwrap(),
        at(by_old)
    );
    assert_eq!(
        fixed.key_by_secret(&by_new_secret).await.unwrap(),
        at(by_new)
    );
    // Fernet tokens are random: no row is found by equality.
    let fernet = PostgresKeyStore::builder(&db.url)
        .secret_format(SecretFormat::fernet("key", "a-salt-of-sixteen-bytes").unwrap())
        .build()
        .unwrap();
    assert_eq!(
        fernet.key_by_secret(&secret).await.unwrap(),
        KeyBySecret::Unsupported
    );
}

/// VA Notify's `revoked` column is read where the table has it; a table without it has no
/// revoked keys but by their expiry date.
#[tokio::test]
async fn the_revoked_column_is_read_when_the_table_has_it() {
    use notify_auth::Dialect;

    let Some(db) = setup("the_revoked_column_is_read_when_the_table_has_it").await else {
        return;
    };
    db.sql
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS va_notify; \
             CREATE TABLE IF NOT EXISTS va_notify.services (id uuid PRIMARY KEY, \
                 active boolean NOT NULL); \
             CREATE TABLE IF NOT EXISTS va_notify.api_keys (id uuid PRIMARY KEY, \
                 service_id uuid NOT NULL REFERENCES va_notify.services (id), \
                 secret text NOT NULL, key_type text NOT NULL, \
                 expiry_date timestamp, revoked boolean NOT NULL DEFAULT false)",
        )
        .await
        .unwrap();
    let (service, revoked, active) = (fresh_id(), fresh_id(), fresh_id());
    let expires = utc(OffsetDateTime::now_utc() + time::Duration::days(90));
    db.sql
        .execute(
            "INSERT INTO va_notify.services (id, active) VALUES ($1, true)",
            &[&service],
        )
        .await
        .unwrap();
    for (id, flag) in [(revoked, true), (active, false)] {
        db.sql
            .execute(
                "INSERT INTO va_notify.api_keys (id, service_id, secret, key_type, \
                 expiry_date, revoked) VALUES ($1, $2, $3, 'normal', $4, $5)",
                &[&id, &service, &fresh_secret(), &expires, &flag],
            )
            .await
            .unwrap();
    }
    let va = PostgresKeyStore::builder(&db.url)
        .dialect(Dialect::Va)
        .schema(
            Schema::default()
                .services_table("va_notify.services")
                .api_keys_table("va_notify.api_keys"),
        )
        .build()
        .unwrap();
    let record = va.service(service).await.unwrap().unwrap();
    let flags: BTreeSet<(Uuid, bool)> = record
        .api_keys()
        .iter()
        .map(|k| (k.id(), k.is_revoked()))
        .collect();
    assert_eq!(flags, BTreeSet::from([(revoked, true), (active, false)]));
    // The default tables have no such column.
    let plain = db.service(true).await;
    db.key(plain, "normal", None).await;
    let record = store(&db.url).service(plain).await.unwrap().unwrap();
    assert!(!record.api_keys()[0].is_revoked());
}

/// The transactions the database has committed or rolled back, as PostgreSQL counts them
/// (its statistics, flushed first).
async fn transactions(sql: &deadpool_postgres::Object) -> i64 {
    sql.batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
    sql.query_one(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
         WHERE datname = current_database()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Under steady traffic over many services, a cache whose listener is proven reloads
/// nothing: one load per service, then hits, far past the short TTL; the database, by its own
/// counters, sees about the heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_traffic_is_served_from_the_cache_until_a_change() {
    let Some(db) = setup("steady_traffic_is_served_from_the_cache_until_a_change").await else {
        return;
    };
    let mut services = Vec::new();
    for _ in 0..200 {
        let service = db.service(true).await;
        let (_, secret) = db.key(service, "normal", None).await;
        services.push((service, secret));
    }
    let store = store(&db.url);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(300))
        .build();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
    for (service, secret) in &services {
        assert!(authenticate(&cache, *service, secret).await.is_ok());
    }
    // PostgreSQL's backends report their counts when idle, up to 10 s late: let the warm-up's
    // be counted before the window opens, and the window's before it closes.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = transactions(&db.sql).await;
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < Duration::from_secs(3) {
        for (service, secret) in &services {
            assert!(authenticate(&cache, *service, secret).await.is_ok());
            requests += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    let elapsed = started.elapsed().as_secs_f64();
    // Our own two statistics queries count too.
    let spent = transactions(&db.sql).await - before - 2;
    eprintln!(
        "{requests} requests over {} services in {elapsed:.1} s: {spent} transactions",
        services.len()
    );
    assert_eq!(cache.stats().store_calls, 200, "one load per service");
    assert!(
        (spent as f64) / elapsed <= 5.0,
        "{spent} transactions in {elapsed:.1} s"
    );
    // A change still reaches it at once.
    let (service, secret) = &services[0];
    let key = store.service(*service).await.unwrap().unwrap().api_keys()[0].id();
    db.revoke(key).await;
    let refused = within(Duration::from_secs(2), || async {
        authenticate(&cache, *service, secret).await == Err(REVOKED.to_owned())
    })
    .await;
    assert!(refused.is_some(), "the revocation reached the cache");
}

/// A key revoked right after every connection of the server was cut (a failover, a pooler
/// restart) is refused within half a second: the listener reconnects and reconciles what
/// the cache held before trusting it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_made_during_a_cut_is_refused_within_half_a_second() {
    let Some(db) = setup("a_revocation_made_during_a_cut_is_refused_within_half_a_second").await
    else {
        return;
    };
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let store = store(&db.url);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_secs(30))
        .build();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
    let ok = Ok(principal(service, key, KeyType::Normal));
    assert_eq!(authenticate(&cache, service, &secret).await, ok);
    // Every other connection to the database, the listener's and the pool's, cut; then the
    // key revoked at once, while nobody listens.
    let admin = connect(&db.url).await;
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = $1",
            &[&key],
        )
        .await
        .unwrap();
    let revoked_at = Instant::now();
    let refused = within(Duration::from_secs(5), || async {
        authenticate(&cache, service, &secret).await == Err(REVOKED.to_owned())
    })
    .await;
    let took = refused.map(|_| revoked_at.elapsed());
    eprintln!("refused {took:?} after the revocation");
    assert!(
        took.is_some_and(|t| t <= Duration::from_millis(500)),
        "refused after {took:?}"
    );
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
    assert!(listener.status().reconciliations >= 2);
}

/// Whatever ends the listener, the directory stops answering "no such service" and the cache
/// stops trusting it at once: `abort`, and a runtime shutting down under it (a drop guard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_withdraws_its_word_the_moment_it_ends() {
    let Some(db) = setup("the_listener_withdraws_its_word_the_moment_it_ends").await else {
        return;
    };
    let store = store(&db.url);
    let cache = CachedKeyStore::new(store.clone());
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
    assert!(store.stats().directory_complete && cache.invalidations_trusted());
    assert!(listener.is_listening());
    listener.abort();
    assert!(!listener.is_listening(), "false as soon as abort returns");
    assert!(!listener.status().trusted);
    assert!(!store.stats().directory_complete && !cache.invalidations_trusted());

    // A runtime that shuts down with the listener on it.
    let cache = CachedKeyStore::new(store.clone());
    let (inside, other) = (cache.clone(), store.clone());
    blocking(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let listener = other.spawn_invalidation_listener(inside.clone());
            assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
            listener.detach();
        });
        assert!(inside.invalidations_trusted());
        drop(runtime);
    })
    .await;
    assert!(
        !cache.invalidations_trusted(),
        "withdrawn by the drop guard"
    );
    assert!(!store.stats().directory_complete);
}

/// The database stopped for 8 s, then started again, under a cache with its listener: every
/// request is answered within the layer's store timeout meanwhile (a 500 or a 503, never a
/// hang), and valid tokens pass again within a second of the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_server_stopped_for_8_s_answers_stay_quick_and_recover() {
    let test = "with_server_stopped_for_8_s_answers_stay_quick_and_recover";
    let Some(db) = setup(test).await else {
        return;
    };
    let Some(server) = Server::from_env(test).map(Arc::new) else {
        return;
    };
    let service = db.service(true).await;
    let (_, secret) = db.key(service, "normal", None).await;
    drop(db.sql);
    let store = store(&db.url);
    let cache = CachedKeyStore::builder(store.clone())
        .ttl(Duration::from_millis(500))
        .build();
    let listener = store.spawn_invalidation_listener(cache.clone());
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
    let timeout = Duration::from_secs(1);
    let handler = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let layered = NotifyAuthLayer::new(cache.clone())
        .store_timeout(timeout)
        .layer(handler);
    let ask = || {
        let request = Request::builder()
            .uri("/v2/notifications")
            .header(http::header::AUTHORIZATION, bearer(service, &secret))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let layered = layered.clone();
        async move {
            let started = Instant::now();
            let status = layered.oneshot(request).await.unwrap().status();
            (status, started.elapsed())
        }
    };
    assert_eq!(ask().await.0, StatusCode::OK);
    {
        let _restart = RestartOnDrop(&server);
        let stopping = server.clone();
        blocking(move || stopping.stop()).await;
        let stopped = Instant::now();
        let mut slowest = Duration::ZERO;
        while stopped.elapsed() < Duration::from_secs(8) {
            let (status, took) = ask().await;
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::SERVICE_UNAVAILABLE
                ]
                .contains(&status),
                "{status}"
            );
            slowest = slowest.max(took);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("the slowest answer while the database was down: {slowest:?}");
        assert!(
            slowest <= timeout + Duration::from_millis(250),
            "{slowest:?}"
        );
        let starting = server.clone();
        let out = blocking(move || starting.restart()).await;
        assert!(out.status.success(), "pg_ctl restart: {out:?}");
    }
    let restarted = Instant::now();
    let passing = within(Duration::from_secs(5), || async {
        ask().await.0 == StatusCode::OK
    })
    .await
    .map(|_| restarted.elapsed());
    eprintln!("valid tokens pass again {passing:?} after the restart");
    assert!(
        passing.is_some_and(|t| t <= Duration::from_secs(1)),
        "{passing:?}"
    );
    assert!(listener.wait_until_trusted(Duration::from_secs(10)).await);
}

/// Key uses written to `last_used_timestamp` (GC Notify's column) in batches, one statement a
/// batch, through the layer; a table without the column is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_uses_are_written_in_batches_where_the_column_is() {
    use notify_auth::usage::KeyUsage;

    let Some(db) = setup("key_uses_are_written_in_batches_where_the_column_is").await else {
        return;
    };
    db.sql
        .batch_execute(
            "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_timestamp timestamp",
        )
        .await
        .unwrap();
    let service = db.service(true).await;
    let (key, secret) = db.key(service, "normal", None).await;
    let (other, other_secret) = db.key(service, "test", None).await;
    let store = store(&db.url);
    let (usage, task) = KeyUsage::builder(store.key_usage_sink())
        .interval(Duration::from_millis(200))
        .build();
    let writing = tokio::spawn(task);
    let layer = NotifyAuthLayer::new(store.clone()).record_key_usage(usage.clone());
    let handler = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let service_layer = layer.layer(handler);
    for (_, secret) in [(key, &secret), (other, &other_secret), (key, &secret)] {
        let request = Request::builder()
            .uri("/v2/notifications")
            .header(http::header::AUTHORIZATION, bearer(service, secret))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = service_layer.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let last_used = |id: Uuid| {
        let sql = &db.sql;
        async move {
            sql.query_one(
                "SELECT last_used_timestamp FROM api_keys WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, Option<PrimitiveDateTime>>(0)
        }
    };
    let written = within(Duration::from_secs(5), || async {
        last_used(key).await.is_some() && last_used(other).await.is_some()
    })
    .await;
    assert!(written.is_some(), "both keys written");
    let now = utc(OffsetDateTime::now_utc());
    let at = last_used(key).await.unwrap();
    assert!((now - at).whole_seconds().abs() <= 5, "{at} against {now}");
    let stats = usage.stats();
    assert_eq!((stats.recorded, stats.dropped, stats.failed), (3, 0, 0));
    assert_eq!(stats.batches, 1, "three uses, two keys, one batch");
    drop((usage, service_layer, layer));
    tokio::time::timeout(Duration::from_secs(5), writing)
        .await
        .expect("the task ends with its handles")
        .unwrap();
    db.sql
        .batch_execute("ALTER TABLE api_keys DROP COLUMN last_used_timestamp")
        .await
        .unwrap();

    // Without the column: nothing written, no error.
    let (usage, task) = KeyUsage::builder(store.key_usage_sink())
        .interval(Duration::from_millis(50))
        .build();
    let writing = tokio::spawn(task);
    usage.record(key, unix_now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((usage.stats().batches, usage.stats().failed), (1, 0));
    drop(usage);
    writing.await.unwrap();
}

/// conformance/orm_issuer.py's restatement of what GC and VA Notify's database lookup makes of
/// `iss` (which `core` follows, and the GC and VA oracles use) against the real SQLAlchemy
/// 1.4.54, psycopg2 2.9.11 and this PostgreSQL, both forks' queries, for every kind of value.
#[test]
fn the_orm_restatement_matches_sqlalchemy_and_postgresql() {
    let Some(url) = database_url("the_orm_restatement_matches_sqlalchemy_and_postgresql") else {
        return;
    };
    let Some(python) = std::env::var("NOTIFY_AUTH_ORACLE_PYTHON_GC")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        skipped(
            "the_orm_restatement_matches_sqlalchemy_and_postgresql: set \
             NOTIFY_AUTH_ORACLE_PYTHON_GC to a Python with sqlalchemy==1.4.54 and \
             psycopg2-binary==2.9.11 (scripts/test makes it)",
        );
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/orm_issuer.py");
    let output = Command::new(&python)
        .args([script, "--check", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(", 0 differences"), "{stdout}");
}
