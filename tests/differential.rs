//! The differential conformance suite (conformance/README.md): the demo server against GOV.UK
//! Notify's own validator and official clients.
//!
//! Runs `conformance/differential.py` with the Python named by `NOTIFY_AUTH_ORACLE_PYTHON`
//! (a virtual environment with `notifications-python-client==12.1.0` and `pyjwt==2.13.0`),
//! against the `server` example that `cargo test` builds. Without that variable the test
//! says it was skipped and passes. `NOTIFY_AUTH_DIFF_SEED` replays a seed;
//! `NOTIFY_AUTH_DIFF_SKIP_NODE=1` leaves out the official Node client.

mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `server` example next to this test binary: target/<profile>/deps/differential-<hash>
/// → target/<profile>/examples/server.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

/// The newest modification time of the Rust files under `dir` (recursively): the files whose
/// changes make cargo rebuild the example.
fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_mtime(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            entry.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        newest = newest.max(time);
    }
    newest
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[test]
fn differential_against_notify() {
    run_driver(&[]);
}

/// The same suite once more, with the services and keys served from PostgreSQL through the
/// cache (the demo server's `--database-url`): needs `NOTIFY_AUTH_DATABASE_URL` too
/// (`scripts/with-postgres` sets it).
#[cfg(feature = "postgres")]
#[test]
fn differential_against_notify_on_postgres() {
    run_on_postgres(&[], &[]);
}

/// Again on PostgreSQL, with the secrets signed as GOV.UK Notify and GC Notify keep them, by an
/// older key than the server's newest (GC Notify's key rotation: `SECRET_KEY` is a list).
#[cfg(feature = "postgres")]
#[test]
fn differential_against_notify_on_postgres_itsdangerous_rotation() {
    run_on_postgres(
        &[
            "--secret-format",
            "itsdangerous",
            "--load-secret-key",
            "older-secret-key",
        ],
        &[
            ("SECRET_KEY", "older-secret-key,newest-secret-key"),
            ("DANGEROUS_SALT", "a-dangerous-salt"),
        ],
    );
}

/// Again on PostgreSQL, with the secrets encrypted as Notify.gov keeps them.
#[cfg(feature = "postgres")]
#[test]
fn differential_against_notify_on_postgres_fernet() {
    run_on_postgres(
        &["--secret-format", "fernet"],
        &[
            ("SECRET_KEY", "notify-gov-secret-key"),
            ("DANGEROUS_SALT", "a-salt-of-sixteen-bytes-or-more"),
        ],
    );
}

/// The suite against the PostgreSQL-backed demo server (over TLS where the server takes TLS
/// only, as `scripts/with-postgres` starts it), with `args` and `env` for the driver.
#[cfg(feature = "postgres")]
fn run_on_postgres(args: &[&str], env: &[(&str, &str)]) {
    // One run at a time: they share the database, and a replayed seed gives them the same ids.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(url) = non_empty_env("NOTIFY_AUTH_DATABASE_URL") else {
        skip::skipped(
            "set NOTIFY_AUTH_DATABASE_URL (scripts/with-postgres does) to run the \
             differential suite against the PostgreSQL-backed demo server",
        );
        return;
    };
    let load_keys =
        server_binary().with_file_name(format!("load_keys{}", std::env::consts::EXE_SUFFIX));
    let mut extra: Vec<&std::ffi::OsStr> = vec![
        "--database-url".as_ref(),
        url.as_ref(),
        "--load-keys".as_ref(),
        load_keys.as_os_str(),
        "--skip-clients".as_ref(),
    ];
    extra.extend(args.iter().map(std::ffi::OsStr::new));
    run_driver_with_env(&extra, env);
}

fn run_driver(extra: &[&std::ffi::OsStr]) {
    run_driver_with_env(extra, &[]);
}

fn run_driver_with_env(extra: &[&std::ffi::OsStr], env: &[(&str, &str)]) {
    let Some(python) = non_empty_env("NOTIFY_AUTH_ORACLE_PYTHON") else {
        skip::skipped(
            "set NOTIFY_AUTH_ORACLE_PYTHON to a Python with notifications-python-client==12.1.0 \
             and pyjwt==2.13.0 (see conformance/README.md) to run the differential suite",
        );
        return;
    };
    let server = server_binary();
    assert!(
        server.is_file(),
        "no demo server at {} (cargo test builds the examples; or run `cargo build --example server`)",
        server.display()
    );
    // `cargo test` rebuilds the examples; `cargo test --test differential` alone does not.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = std::fs::metadata(&server).and_then(|m| m.modified()).ok();
    let sources = newest_mtime(&root.join("src")).max(newest_mtime(&root.join("examples")));
    assert!(
        built >= sources,
        "{} is older than the sources: run `cargo build --example server` (or plain `cargo test`)",
        server.display()
    );
    let script = root.join("conformance/differential.py");

    let mut command = Command::new(&python);
    command
        .envs(env.iter().copied())
        .arg(&script)
        .arg("--server")
        .arg(&server)
        .args(extra);
    if let Some(seed) = non_empty_env("NOTIFY_AUTH_DIFF_SEED") {
        command.arg("--seed").arg(seed.trim());
    }
    if non_empty_env("NOTIFY_AUTH_DIFF_SKIP_NODE").is_some_and(|v| v != "0") {
        command.arg("--skip-node");
    }
    // The driver's output goes straight to this process's stdout and stderr, as it comes.
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", script.display()));
    assert!(
        status.success(),
        "the differential suite failed ({status}): see the FAIL lines above"
    );
}
