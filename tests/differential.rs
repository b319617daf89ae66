//! The differential conformance suite (conformance/README.md): the demo server against each
//! Notify's own validator and official clients, once per dialect.
//!
//! Runs `conformance/differential.py` against the `server` example that `cargo test` builds,
//! with the Python of each dialect's pinned libraries: `NOTIFY_AUTH_ORACLE_PYTHON` (GOV.UK
//! Notify and Notify.gov: `notifications-python-client==12.1.0`, `pyjwt==2.13.0`),
//! `NOTIFY_AUTH_ORACLE_PYTHON_GC` (6.4.1, 2.12.0) and `NOTIFY_AUTH_ORACLE_PYTHON_VA` (10.0.1,
//! 2.11.0). Without the variable a test says it was skipped and passes. `NOTIFY_AUTH_DIFF_SEED`
//! replays a seed; `NOTIFY_AUTH_DIFF_SKIP_NODE=1` leaves out the official Node client.

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

/// The oracle's Python for a dialect, and the variable that names it.
fn oracle_python(dialect: &str) -> (&'static str, Option<String>) {
    let variable = match dialect {
        "gc" => "NOTIFY_AUTH_ORACLE_PYTHON_GC",
        "va" => "NOTIFY_AUTH_ORACLE_PYTHON_VA",
        _ => "NOTIFY_AUTH_ORACLE_PYTHON",
    };
    (variable, non_empty_env(variable))
}

#[test]
fn differential_against_notify() {
    run_driver(&[]);
}

#[test]
fn differential_against_notify_gov() {
    run_driver(&["--dialect".as_ref(), "gov".as_ref()]);
}

#[test]
fn differential_against_gc_notify() {
    run_driver(&["--dialect".as_ref(), "gc".as_ref()]);
}

#[test]
fn differential_against_va_notify() {
    run_driver(&["--dialect".as_ref(), "va".as_ref()]);
}

/// GC Notify on PostgreSQL with its own secret column: itsdangerous-signed with the salt
/// `api_key` by its one `SECRET_KEY`, raw keys found by their signature.
#[cfg(feature = "postgres")]
#[test]
fn differential_against_gc_notify_on_postgres() {
    run_on_postgres(
        &["--dialect", "gc", "--secret-format", "itsdangerous"],
        &[
            ("SECRET_KEY", "gc-secret-key"),
            ("DANGEROUS_SALT", "api_key"),
        ],
    );
}

/// GC Notify during a key rotation (`SECRET_KEY` lists two keys, the rows signed by the
/// older): exactly as GC, no raw key is found (tokens still work).
#[cfg(feature = "postgres")]
#[test]
fn differential_against_gc_notify_on_postgres_rotation() {
    run_on_postgres(
        &[
            "--dialect",
            "gc",
            "--secret-format",
            "itsdangerous",
            "--load-secret-key",
            "older-gc-key",
        ],
        &[
            ("SECRET_KEY", "older-gc-key,newest-gc-key"),
            ("DANGEROUS_SALT", "api_key"),
        ],
    );
}

/// The same rotation with the fixed lookup (`RawKeyLookup::AnySigningKey`): raw keys are
/// found by the older key's signature.
#[cfg(feature = "postgres")]
#[test]
fn differential_against_gc_notify_on_postgres_rotation_fixed() {
    run_on_postgres(
        &[
            "--dialect",
            "gc",
            "--secret-format",
            "itsdangerous",
            "--load-secret-key",
            "older-gc-key",
            "--gc-raw-keys",
            "any",
        ],
        &[
            ("SECRET_KEY", "older-gc-key,newest-gc-key"),
            ("DANGEROUS_SALT", "api_key"),
        ],
    );
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
    let dialect = extra
        .windows(2)
        .find(|w| w[0] == "--dialect")
        .and_then(|w| w[1].to_str())
        .unwrap_or("uk");
    let (variable, python) = oracle_python(dialect);
    let Some(python) = python else {
        skip::skipped(&format!(
            "set {variable} to a Python with the {dialect} dialect's pinned \
             notifications-python-client and pyjwt (see conformance/README.md; scripts/test \
             makes it) to run its differential suite"
        ));
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
