//! How a test that needs an outside component (PostgreSQL, Notify's Python validator) says it
//! was skipped.

/// Says why a test is skipped, on the stderr handle itself (the test harness does not capture
/// it, so the line shows in every run). Under `scripts/test`, which sets every component up and
/// sets `NOTIFY_AUTH_NO_SKIP=1`, a skip is a failure instead: nothing is skipped there.
pub fn skipped(why: &str) {
    assert!(
        std::env::var_os("NOTIFY_AUTH_NO_SKIP").is_none(),
        "nothing may be skipped under scripts/test, but: {why}"
    );
    let line = format!("skipped: {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}
