//! The demo server's non-blocking log writer: requests append their line to a shared buffer,
//! and a thread of its own writes the buffer out in batches.
//!
//! Written here rather than taken from `tracing-appender` (which the demo server used before):
//! its `NonBlocking` copies each line into a new `Vec` and sends it through a channel, waking
//! the writer's thread whenever that thread had emptied the channel, which under load is most
//! lines. Measured under `scripts/load-test` with Notify's success line on every request
//! (`MODE=profile SERVER_LOG=info`), the allocation, the channel and the wake-ups cost about as
//! much as formatting the line. Here a line costs a lock and a copy; the thread is woken
//! once per batch (when the buffer stops being empty, or fills up), gathers lines for
//! [`GATHER`], and writes them in one call.
//!
//! Not lossy while it runs: when the buffer holds [`MAX_PENDING`] bytes the writing thread is
//! behind, and a request waits for it rather than drop its line (as `tracing-appender` does
//! with `lossy(false)`). Dropping the [`Flush`] guard writes what is pending and stops the
//! thread, waiting up to [`FLUSH_TIMEOUT`] for it (an output nobody reads must not keep the
//! server from exiting); lines logged after that, or after the thread stopped for any
//! reason, are dropped.

use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long the writing thread gathers lines once the first one of a batch is in.
pub const GATHER: Duration = Duration::from_millis(10);

/// The bytes pending at which a batch is written without waiting for [`GATHER`] to pass.
const BATCH: usize = 256 * 1024;

/// The bytes pending at which requests wait for the writing thread.
pub const MAX_PENDING: usize = 8 * 1024 * 1024;

/// How long dropping the [`Flush`] guard waits for the pending lines to be written.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The writer given to `tracing_subscriber::fmt().with_writer(…)`. Cheap to clone.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Writes what is pending and stops the writing thread when dropped.
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the writing thread ends.
    ended: mpsc::Receiver<()>,
}

struct Shared {
    state: Mutex<State>,
    /// The bytes pending at which a batch is written at once.
    batch: usize,
    /// The bytes pending at which requests wait.
    max_pending: usize,
    /// The writing thread waits on it for lines, or for the buffer to fill during a batch.
    lines: Condvar,
    /// Requests wait on it when the buffer is full.
    written: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// Whether the writing thread waits on `lines` (so only then is it notified).
    writer_waits: bool,
    /// Set when the guard is dropped or the writing thread ends: lines are dropped.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogWriter {
    /// A writer to `out`, written by a new thread, and the guard that flushes it.
    pub fn new(out: impl Write + Send + 'static) -> io::Result<(LogWriter, Flush)> {
        Self::with_max_pending(out, MAX_PENDING)
    }

    fn with_max_pending(
        out: impl Write + Send + 'static,
        max_pending: usize,
    ) -> io::Result<(LogWriter, Flush)> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            batch: BATCH.min(max_pending),
            max_pending,
            lines: Condvar::new(),
            written: Condvar::new(),
        });
        let (ending, ended) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn({
                let shared = shared.clone();
                move || {
                    let _ending = Ending {
                        shared: &shared,
                        _ended: ending,
                    };
                    write_batches(&shared, out);
                }
            })?;
        let flush = Flush {
            shared: shared.clone(),
            thread: Some(thread),
            ended,
        };
        Ok((LogWriter { shared }, flush))
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        while state.pending.len() >= self.shared.max_pending && !state.closed {
            state.writer_waits = false;
            self.shared.lines.notify_one();
            state = self
                .shared
                .written
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return;
        }
        let first = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        if state.writer_waits && (first || state.pending.len() >= self.shared.batch) {
            state.writer_waits = false;
            self.shared.lines.notify_one();
        }
    }
}

/// The writing thread: waits for a first line, gathers more for [`GATHER`] (less if the batch
/// fills up or the writer is closed), writes them in one call, and again. Write errors are
/// not reported anywhere: there is nowhere left to log them.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    let mut state = shared.lock();
    loop {
        while state.pending.is_empty() {
            if state.closed {
                return;
            }
            state.writer_waits = true;
            state = shared
                .lines
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let deadline = Instant::now() + GATHER;
        while state.pending.len() < shared.batch && !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state.writer_waits = true;
            state = shared
                .lines
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.writer_waits = false;
        let batch = mem::replace(&mut state.pending, mem::take(&mut spare));
        shared.written.notify_all();
        drop(state);
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        spare = batch;
        spare.clear();
        state = shared.lock();
    }
}

/// Held by the writing thread: however it ends (a panic in the output included), requests
/// stop waiting for it and their lines are dropped, and the guard stops waiting too.
struct Ending<'a> {
    shared: &'a Shared,
    /// Dropped last, when the thread ends: what the guard waits for.
    _ended: mpsc::Sender<()>,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.written.notify_all();
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines.notify_one();
        self.shared.written.notify_all();
        // The thread writes what is pending, then ends (disconnecting `ended`).
        let _ = self.ended.recv_timeout(FLUSH_TIMEOUT);
        if let Some(thread) = self.thread.take()
            && thread.is_finished()
        {
            let _ = thread.join();
        }
    }
}

impl Write for &LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read, written to slowly when asked.
    #[derive(Clone, Default)]
    struct Output {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        slow: bool,
    }

    impl Write for Output {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.slow {
                thread::sleep(Duration::from_millis(2));
            }
            *self.writes.lock().unwrap() += 1;
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An output that never finishes a write (a pipe nobody reads).
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An output that panics on its first write.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("the output broke");
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_delays_the_exit_by_the_timeout_only() {
        let (writer, flush) = LogWriter::new(Stuck).unwrap();
        (&writer).write_all(b"never written\n").unwrap();
        let started = Instant::now();
        drop(flush);
        let waited = started.elapsed();
        assert!(
            waited < FLUSH_TIMEOUT + Duration::from_secs(5),
            "{waited:?}"
        );
        // Later lines are dropped, not queued without bound.
        (&writer).write_all(b"dropped\n").unwrap();
        assert!(writer.shared.lock().pending.is_empty());
    }

    #[test]
    fn requests_do_not_wait_for_a_writer_that_died() {
        let (writer, _flush) = LogWriter::with_max_pending(Broken, 16).unwrap();
        (&writer)
            .write_all(b"this write panics the thread\n")
            .unwrap();
        // The buffer is over its limit: without the thread's `Ending`, these would wait forever.
        let (done, finished) = mpsc::channel();
        let more = writer.clone();
        thread::spawn(move || {
            for _ in 0..3 {
                (&more).write_all(b"more\n").unwrap();
            }
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(10))
            .expect("requests waited for a writer thread that had died");
        let started = Instant::now();
        while !writer.shared.lock().closed {
            assert!(started.elapsed() < Duration::from_secs(10), "never closed");
            thread::sleep(Duration::from_millis(1));
        }
        (&writer).write_all(b"dropped\n").unwrap();
    }

    fn lines(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn every_line_is_written_in_order_in_few_writes_and_all_by_the_flush() {
        let output = Output::default();
        let (writer, flush) = LogWriter::new(output.clone()).unwrap();
        let lines = lines(10_000);
        for line in &lines {
            (&writer).write_all(line.as_bytes()).unwrap();
        }
        drop(flush);
        assert_eq!(
            String::from_utf8(output.bytes.lock().unwrap().clone()).unwrap(),
            lines.concat()
        );
        let writes = *output.writes.lock().unwrap();
        assert!(
            (1..100).contains(&writes),
            "{writes} writes for 10,000 lines"
        );
    }

    #[test]
    fn a_lone_line_is_written_soon() {
        let output = Output::default();
        let (writer, _flush) = LogWriter::new(output.clone()).unwrap();
        (&writer).write_all(b"alone\n").unwrap();
        let started = Instant::now();
        while output.bytes.lock().unwrap().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(10), "never written");
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*output.bytes.lock().unwrap(), b"alone\n");
    }

    #[test]
    fn when_the_output_is_slow_requests_wait_and_no_line_is_lost() {
        let output = Output {
            slow: true,
            ..Output::default()
        };
        let (writer, flush) = LogWriter::with_max_pending(output.clone(), 64).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                thread::spawn(move || {
                    for i in 0..200 {
                        (&writer)
                            .write_all(format!("{t}:{i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(flush);
        let written = String::from_utf8(output.bytes.lock().unwrap().clone()).unwrap();
        for t in 0..4 {
            let of_thread: Vec<&str> = written
                .lines()
                .filter(|l| l.starts_with(&format!("{t}:")))
                .collect();
            let expected: Vec<String> = (0..200).map(|i| format!("{t}:{i}")).collect();
            assert_eq!(of_thread, expected);
        }
    }
}
