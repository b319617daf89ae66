//! conformance/rate_limit.py, the forks' rate limits restated in Python (redis-py), for the
//! tests that share buckets and windows with it.

use std::process::Command;

use super::skip::skipped;

/// The Python that runs conformance/rate_limit.py, or `None` (the test skipped).
pub fn oracle_python(test: &str) -> Option<String> {
    let python = std::env::var("NOTIFY_AUTH_ORACLE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        skipped(&format!(
            "{test}: set NOTIFY_AUTH_ORACLE_PYTHON to a Python with redis==8.1.0 (scripts/test \
             makes it)"
        ));
    }
    python
}

/// conformance/rate_limit.py run with `args`: its line of JSON.
pub fn rate_limit_py<T: serde::de::DeserializeOwned>(python: &str, args: &[&str]) -> T {
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/conformance/rate_limit.py"
        ))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
