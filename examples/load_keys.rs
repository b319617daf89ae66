//! Loads a JSON key file (the demo server's `--keys` format) into PostgreSQL, so the same
//! fixtures serve both stores.
//!
//! ```text
//! cargo run --example load_keys --features postgres -- \
//!     --database-url postgres://postgres@127.0.0.1:5432/notify_auth --keys examples/keys.json
//! ```
//!
//! `--secret-format itsdangerous|fernet` writes each secret as GOV.UK Notify / GC Notify or
//! Notify.gov store it (keyed by `SECRET_KEY` and `DANGEROUS_SALT` from the environment), for
//! the demo server's `--secret-format`. The URL may come from `DATABASE_URL` instead. The
//! example applies the migrations (`migrations/0001_notify_auth.sql`, the tables and the
//! index; `0002`, the notification triggers; `0003`, the gate's columns and permissions) if
//! needed, then inserts or updates every service (with its rate limit, restricted flag and
//! permissions) and API key of the file in one transaction (`INSERT … ON CONFLICT (id) DO
//! UPDATE`), and prints the counts. Rows that are
//! in the database but not in the file are left alone. Internal clients are not stored in
//! the database: the demo server still reads them from `--keys`.
//!
//! Revoking a key afterwards is plain SQL:
//!
//! ```sql
//! UPDATE api_keys SET expiry_date = now() at time zone 'utc' WHERE id = '…';
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use notify_auth::MemoryStore;
use notify_auth::store::{PostgresKeyStore, SecretFormat};
use serde::Deserialize;
use time::PrimitiveDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

const USAGE: &str = "usage: load_keys --database-url URL --keys FILE [--secret-format FORMAT]

  --database-url URL      postgres://user:password@host:port/database (default: $DATABASE_URL)
  --keys FILE             a JSON key file, as the demo server's --keys reads
  --secret-format FORMAT  plain (default), itsdangerous or fernet: how the secret column holds
                          each secret; the last two are keyed by $SECRET_KEY and
                          $DANGEROUS_SALT, as the demo server's --secret-format";

struct Args {
    database_url: String,
    keys: PathBuf,
    secret_format: SecretFormat,
}

fn parse_args() -> Result<Args, String> {
    let mut database_url = None;
    let mut keys = None;
    let mut secret_format = "plain".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.into())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--database-url" => database_url = Some(value("--database-url")?),
            "--keys" => keys = Some(PathBuf::from(value("--keys")?)),
            "--secret-format" => secret_format = value("--secret-format")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let database_url = database_url
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
        .ok_or("give --database-url URL (or set DATABASE_URL)")?;
    let keys = keys.ok_or("give --keys FILE")?;
    let setting = |name| Zeroizing::new(std::env::var(name).ok().filter(|v| !v.is_empty()));
    let (secret_key, salt) = (setting("SECRET_KEY"), setting("DANGEROUS_SALT"));
    let secret_format =
        SecretFormat::from_settings(&secret_format, secret_key.as_deref(), salt.as_deref())
            .map_err(|e| format!("--secret-format {secret_format}: {e}"))?;
    Ok(Args {
        database_url,
        keys,
        secret_format,
    })
}

/// The services' ids, in the file's order: everything else comes from the MemoryStore's
/// own reading of the file, which checks it (and never quotes a secret in an error).
#[derive(Deserialize)]
struct ServiceIds {
    services: Vec<ServiceId>,
}

#[derive(Deserialize)]
struct ServiceId {
    id: Uuid,
}

#[derive(Default)]
struct Counts {
    inserted: usize,
    updated: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} new, {} updated)",
            self.inserted + self.updated,
            self.inserted,
            self.updated
        )
    }
}

/// A database error without its DETAIL line, which may quote a row's values (a secret, if
/// the table has a unique constraint on it).
fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => {
            let mut text = e.to_string();
            if let Some(cause) = std::error::Error::source(e) {
                text = format!("{text}: {cause}");
            }
            text
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(&args.keys)
            .map_err(|e| format!("{}: cannot read the file: {e}", args.keys.display()))?,
    );
    let store = MemoryStore::from_json_str(&text, &args.keys).map_err(|e| e.to_string())?;
    let ids: ServiceIds =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.keys.display()))?;
    let internal_clients = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("internal_clients")?.as_object().map(|o| o.len()))
        .unwrap_or(0);
    drop(text);

    let postgres = PostgresKeyStore::builder(&args.database_url)
        .pool_size(1)
        .build()
        .map_err(|e| e.to_string())?;
    postgres.migrate().await.map_err(|e| e.to_string())?;
    println!("migration applied (tables, index and triggers are in place)");

    // The store's own connection: the URL's sslmode and sslrootcert apply.
    let mut client = postgres.connection().await.map_err(|e| e.to_string())?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| format!("cannot start a transaction: {}", db_error(&e)))?;
    let upsert_service = tx
        .prepare(
            "INSERT INTO services (id, active, rate_limit, restricted) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET active = EXCLUDED.active, \
             rate_limit = EXCLUDED.rate_limit, restricted = EXCLUDED.restricted \
             RETURNING (xmax = 0) AS inserted",
        )
        .await
        .map_err(|e| db_error(&e))?;
    let upsert_key = tx
        .prepare(
            "INSERT INTO api_keys (id, service_id, secret, key_type, expiry_date, name) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET service_id = EXCLUDED.service_id, \
             secret = EXCLUDED.secret, key_type = EXCLUDED.key_type, \
             expiry_date = EXCLUDED.expiry_date, name = EXCLUDED.name \
             RETURNING (xmax = 0) AS inserted",
        )
        .await
        .map_err(|e| db_error(&e))?;

    let (mut services, mut keys) = (Counts::default(), Counts::default());
    let count = |counts: &mut Counts, inserted: bool| {
        if inserted {
            counts.inserted += 1;
        } else {
            counts.updated += 1;
        }
    };
    for ServiceId { id } in ids.services {
        let service = store
            .get(id)
            .ok_or_else(|| format!("service {id} was not read from the file"))?;
        let (rate_limit, restricted) = (service.rate_limit(), service.is_restricted());
        let row = tx
            .query_one(
                &upsert_service,
                &[&id, &service.is_active(), &rate_limit, &restricted],
            )
            .await
            .map_err(|e| format!("service {id}: {}", db_error(&e)))?;
        count(&mut services, row.get(0));
        // The file's permissions replace the service's.
        tx.execute(
            "DELETE FROM service_permissions WHERE service_id = $1",
            &[&id],
        )
        .await
        .map_err(|e| format!("service {id}: permissions: {}", db_error(&e)))?;
        for permission in service.permissions() {
            tx.execute(
                "INSERT INTO service_permissions (service_id, permission) VALUES ($1, $2)",
                &[&id, permission],
            )
            .await
            .map_err(|e| format!("service {id}: permission {permission}: {}", db_error(&e)))?;
        }
        for key in service.api_keys() {
            let expiry_date = key.expiry_date().map(|at| {
                let at = at.to_offset(time::UtcOffset::UTC);
                PrimitiveDateTime::new(at.date(), at.time())
            });
            let row = tx
                .query_one(
                    &upsert_key,
                    &[
                        &key.id(),
                        &id,
                        &*Zeroizing::new(args.secret_format.encode(key.secret().expose())),
                        &key.key_type().as_str(),
                        &expiry_date,
                        &key.name(),
                    ],
                )
                .await
                .map_err(|e| format!("API key {}: {}", key.id(), db_error(&e)))?;
            count(&mut keys, row.get(0));
            if key.is_revoked() {
                // VA Notify's flag, in a table that has it (the migration does not make it).
                tx.execute(
                    "UPDATE api_keys SET revoked = true WHERE id = $1",
                    &[&key.id()],
                )
                .await
                .map_err(|e| format!("API key {}: revoked: {}", key.id(), db_error(&e)))?;
            }
        }
    }
    tx.commit()
        .await
        .map_err(|e| format!("cannot commit: {}", db_error(&e)))?;
    drop(client);

    println!("services: {services}");
    println!("API keys: {keys}");
    if internal_clients > 0 {
        println!(
            "internal clients: {internal_clients} not stored (the demo server reads them from --keys)"
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("load_keys: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("load_keys: {problem}");
            ExitCode::FAILURE
        }
    }
}
