//! The scale figures of BENCHMARKS.md ("At scale"): what the PostgreSQL store and its cache
//! cost the process and the database as services and instances grow. Run it against a
//! throwaway database (it creates and drops its own tables' rows):
//!
//! ```text
//! scripts/with-postgres cargo run --release --features postgres --example scale -- \
//!     --database-url "$NOTIFY_AUTH_DATABASE_URL" [--sizes 10000,100000,1000000] \
//!     [--services 1000] [--seconds 30] [--revocations 200]
//! ```
//!
//! 1. For each size: inserts that many services (one key each), then measures the listener's
//!    directory load (time from spawn to listening) and the process's resident memory for the
//!    directory, for a `MemoryStore` of the same services, and for a cache holding every one
//!    of them (filled from that `MemoryStore`: the cache's memory does not depend on its
//!    store).
//! 2. Steady traffic over `--services` services for `--seconds`, through 1 and then 4
//!    instances (each its own pool, cache and listener, in this process): the database's
//!    transactions per second, by PostgreSQL's own counters (`pg_stat_database`), counted from
//!    11 s after the warm-up to 11 s after the traffic (backends report when idle, up to 10 s
//!    late), over that whole time.
//! 3. With 4 instances listening, `--revocations` keys revoked one by one: the time until each
//!    instance refuses the key, as p50 and p99 over all instances and revocations.
//!
//! It prints a Markdown table per part.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_auth::store::{CachedKeyStore, PostgresKeyStore};
use notify_auth::{ApiKey, KeyStore, KeyType, MemoryStore, Secret, ServiceRecord};
use uuid::Uuid;

struct Args {
    url: String,
    sizes: Vec<usize>,
    services: usize,
    seconds: u64,
    revocations: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        sizes: vec![10_000, 100_000, 1_000_000],
        services: 1_000,
        seconds: 30,
        revocations: 200,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--database-url" => args.url = value,
            "--sizes" => args.sizes = value.split(',').map(number).collect::<Result<_, _>>()?,
            "--services" => args.services = number(&value)?,
            "--seconds" => args.seconds = number(&value)? as u64,
            "--revocations" => args.revocations = number(&value)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() {
        return Err("give --database-url URL (or set DATABASE_URL)".to_owned());
    }
    Ok(args)
}

/// The process's resident memory, in MiB (Linux).
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn store(url: &str) -> Result<PostgresKeyStore, String> {
    PostgresKeyStore::builder(url)
        .pool_size(8)
        // Filling a million rows takes longer than a lookup may.
        .query_timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())
}

/// A store that answers only through its future, as a database does, so that a cache in
/// front of it holds what it loads (an answer at once is not cached).
struct Awaited(MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for Awaited {
    async fn service(
        &self,
        id: Uuid,
    ) -> Result<Option<Arc<ServiceRecord>>, notify_auth::KeyStoreError> {
        self.0.service(id).await
    }
}

/// A database error with its details.
fn db_error(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Empties the tables and inserts `n` services with one key each (secret = the key's id).
async fn fill(sql: &deadpool_postgres::Object, n: usize) -> Result<(), String> {
    sql.batch_execute(&format!(
        "TRUNCATE api_keys, services; \
         INSERT INTO services (id, active) \
           SELECT md5('s' || i)::uuid, true FROM generate_series(1, {n}) AS i; \
         INSERT INTO api_keys (id, service_id, secret, key_type) \
           SELECT md5('k' || i)::uuid, md5('s' || i)::uuid, md5('k' || i)::uuid::text, 'normal' \
           FROM generate_series(1, {n}) AS i; \
         ANALYZE services; ANALYZE api_keys;"
    ))
    .await
    .map_err(db_error)
}

async fn ids(sql: &deadpool_postgres::Object, n: usize) -> Result<Vec<(Uuid, Uuid)>, String> {
    let rows = sql
        .query(
            "SELECT md5('s' || i)::uuid, md5('k' || i)::uuid FROM generate_series(1, $1::int) AS i",
            &[&(n as i32)],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn transactions(sql: &deadpool_postgres::Object) -> Result<i64, String> {
    sql.batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .map_err(|e| e.to_string())?;
    let row = sql
        .query_one(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
             WHERE datname = current_database()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

struct Instance {
    cache: CachedKeyStore<PostgresKeyStore>,
    _listener: notify_auth::store::InvalidationListener,
}

async fn instance(url: &str) -> Result<Instance, String> {
    let postgres = store(url)?;
    let cache = CachedKeyStore::new(postgres.clone());
    let listener = postgres.spawn_invalidation_listener(cache.clone());
    if !listener.wait_until_trusted(Duration::from_secs(60)).await {
        return Err("the listener did not become trusted".to_owned());
    }
    Ok(Instance {
        cache,
        _listener: listener,
    })
}

async fn sizes(args: &Args, sql: &deadpool_postgres::Object) -> Result<(), String> {
    println!(
        "| services | directory load | RSS: directory | RSS: MemoryStore | RSS: + a cache holding every service |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in &args.sizes {
        fill(sql, n).await?;
        let all = ids(sql, n).await?;
        let base = resident_mib();
        let postgres = store(&args.url)?;
        let started = Instant::now();
        let listener = postgres.spawn_invalidation_listener(CachedKeyStore::new(postgres.clone()));
        if !listener
            .wait_until_listening(Duration::from_secs(600))
            .await
        {
            return Err("the listener did not listen".to_owned());
        }
        let load = started.elapsed();
        let directory = resident_mib() - base;
        drop((listener, postgres));
        // The cache's memory does not depend on the store behind it: the in-memory one
        // fills it quickly.
        let before = resident_mib();
        let memory = all
            .iter()
            .fold(MemoryStore::builder(), |b, (service, key)| {
                b.service(ServiceRecord::new(*service, true).with_key(ApiKey::new(
                    *key,
                    Secret::new(key.to_string()),
                    KeyType::Normal,
                )))
            })
            .build()
            .map_err(|e| e.to_string())?;
        let in_memory = resident_mib() - before;
        let cache = CachedKeyStore::builder(Awaited(memory))
            .max_services(n as u64 + 1)
            .build();
        let before = resident_mib();
        for (service, _) in &all {
            cache.service(*service).await.map_err(|e| e.to_string())?;
        }
        let cached = resident_mib() - before;
        drop(cache);
        println!(
            "| {n} | {load:.2?} | {directory:.1} MiB | {in_memory:.1} MiB | {cached:.1} MiB |"
        );
    }
    Ok(())
}

async fn traffic(args: &Args, sql: &deadpool_postgres::Object) -> Result<(), String> {
    fill(sql, args.services).await?;
    let all = Arc::new(ids(sql, args.services).await?);
    println!(
        "| instances | services | requests | transactions / s (all instances) | per instance |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for count in [1usize, 4] {
        let mut instances = Vec::new();
        for _ in 0..count {
            instances.push(Arc::new(instance(&args.url).await?));
        }
        // Warm: one load per service per instance, then measure the steady state.
        for instance in &instances {
            for (service, _) in all.iter() {
                instance
                    .cache
                    .service(*service)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        // PostgreSQL's backends report their counts when idle, up to 10 s late: let the
        // warm-up's be counted before the window opens, and the window's before it closes.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let before = transactions(sql).await?;
        let started = Instant::now();
        let mut requests = 0u64;
        while started.elapsed() < Duration::from_secs(args.seconds) {
            for instance in &instances {
                for (service, _) in all.iter() {
                    instance
                        .cache
                        .service(*service)
                        .await
                        .map_err(|e| e.to_string())?;
                    requests += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_secs(11)).await;
        let elapsed = started.elapsed().as_secs_f64();
        let spent = (transactions(sql).await? - before - 2) as f64 / elapsed;
        println!(
            "| {count} | {} | {requests} | {spent:.2} | {:.2} |",
            args.services,
            spent / count as f64
        );
    }
    Ok(())
}

async fn revocations(args: &Args, sql: &deadpool_postgres::Object) -> Result<(), String> {
    let n = args.revocations.max(1);
    fill(sql, n).await?;
    let all = ids(sql, n).await?;
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(instance(&args.url).await?);
    }
    for instance in &instances {
        for (service, _) in &all {
            instance
                .cache
                .service(*service)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let mut latencies = Vec::new();
    for (service, key) in &all {
        sql.execute(
            "UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = $1",
            &[key],
        )
        .await
        .map_err(|e| e.to_string())?;
        let revoked = Instant::now();
        let mut pending: Vec<&Instance> = instances.iter().collect();
        while !pending.is_empty() && revoked.elapsed() < Duration::from_secs(10) {
            let mut still = Vec::new();
            for instance in pending {
                let record = instance
                    .cache
                    .service(*service)
                    .await
                    .map_err(|e| e.to_string())?;
                let refused = record.is_some_and(|s| s.api_keys()[0].expiry_date().is_some());
                if refused {
                    latencies.push(revoked.elapsed());
                } else {
                    still.push(instance);
                }
            }
            pending = still;
            tokio::task::yield_now().await;
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!("| instances | revocations | refused | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| 4 | {n} | {} | {:.2?} | {:.2?} | {:.2?} |",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::from(2);
        }
    };
    let run = async {
        let admin = store(&args.url)?;
        admin.migrate().await.map_err(|e| e.to_string())?;
        let sql = admin.connection().await.map_err(|e| e.to_string())?;
        sizes(&args, &sql).await?;
        traffic(&args, &sql).await?;
        revocations(&args, &sql).await?;
        sql.batch_execute("TRUNCATE api_keys, services")
            .await
            .map_err(|e| e.to_string())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            ExitCode::FAILURE
        }
    }
}
