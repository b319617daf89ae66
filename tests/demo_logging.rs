//! The demo server's log format and writer (`examples/server/log_line.rs` and
//! `log_writer.rs`), with their own unit tests, compiled here: an example built as a test by
//! `cargo test` is built only as a test, and the other suites run the demo server's binary.

#[path = "../examples/server/log_line.rs"]
mod log_line;
#[path = "../examples/server/log_writer.rs"]
mod log_writer;

use std::io::Write;
use std::sync::{Arc, Mutex};

/// What the writer wrote, readable by the test.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The format and the writer together, as the demo server sets them up: the line's shape,
/// strings quoted, values escaped, spans named, and every line out once the guard is dropped.
#[test]
fn lines_as_the_demo_server_writes_them() {
    let written = Written::default();
    let (writer, flush) = log_writer::LogWriter::new(written.clone()).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .event_format(log_line::LogLine)
        .with_writer(writer)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            target: "notify_auth::authorised",
            service_id = %"26785a09-ab16-4eb0-8407-a37497a57506",
            user_agent = "curl/8\t\u{1b}[2J",
            "API authorised for {}",
            "line\nbreak"
        );
        let span = tracing::info_span!("request", id = 7);
        let _entered = span.enter();
        tracing::warn!(r#type = 3, "in a span");
    });
    drop(flush);
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let after_time = |line: &str| line.split_once(' ').unwrap().1.to_owned();
    assert_eq!(
        after_time(lines[0]),
        " INFO notify_auth::authorised: API authorised for line\\x0abreak \
         service_id=26785a09-ab16-4eb0-8407-a37497a57506 user_agent=\"curl/8\\t\\u{1b}[2J\""
    );
    assert_eq!(
        after_time(lines[1]),
        " WARN request{id=7}: demo_logging: in a span type=3"
    );
}
