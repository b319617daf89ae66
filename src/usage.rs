//! Recording when each API key was last used (GC Notify keeps `api_keys.last_used_timestamp`),
//! off the request's path.
//!
//! A [`KeyUsage`] takes each successful key use from the layer
//! ([`AuthLayer::record_key_usage`](crate::layer::AuthLayer::record_key_usage)): a lock and a
//! map insert, nothing more. Its task, which you run on your executor, writes what gathered
//! once per interval, as one batch to a [`UsageSink`] (one statement:
//! [`PostgresKeyStore::key_usage_sink`](crate::store::PostgresKeyStore::key_usage_sink) for
//! the column). So a key is written at most once per interval whatever its traffic, and the
//! memory is bounded: at most [`KeyUsageBuilder::max_pending`] keys wait for the next write
//! (only keys that authenticated a request are recorded; past the bound, uses are dropped
//! and counted).
//!
//! ```
//! use std::time::Duration;
//! use notify_auth::usage::{KeyUsage, UsageSink};
//! use notify_auth::{KeyStoreError, MemoryStore, NotifyAuthLayer};
//! use uuid::Uuid;
//!
//! struct Print;
//!
//! #[notify_auth::async_trait]
//! impl UsageSink for Print {
//!     async fn write(&self, uses: &[(Uuid, i64)]) -> Result<(), KeyStoreError> {
//!         println!("{} keys used", uses.len());
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (usage, task) = KeyUsage::builder(Print).interval(Duration::from_secs(10)).build();
//! tokio::spawn(task); // writes every 10 s until every handle is dropped
//! let layer = NotifyAuthLayer::new(MemoryStore::default()).record_key_usage(usage);
//! # let _ = layer;
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::store::KeyStoreError;

/// How often the recorded uses are written by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// How many keys may wait for the next write by default.
pub const DEFAULT_MAX_PENDING: usize = 100_000;

/// Where a [`KeyUsage`] writes: each key used since the last write, with the unix second of
/// its last use.
#[async_trait::async_trait]
pub trait UsageSink: Send + Sync + 'static {
    /// Writes one batch. An error is logged and counted; the batch is not retried (the next
    /// use of each key records it again).
    async fn write(&self, uses: &[(Uuid, i64)]) -> Result<(), KeyStoreError>;
}

/// Takes key uses from the layer and hands them, batched, to its task. Cheap to clone.
#[derive(Clone)]
pub struct KeyUsage {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<HashMap<Uuid, i64, foldhash::fast::RandomState>>,
    max_pending: usize,
    counters: UsageCounters,
}

#[derive(Default)]
struct UsageCounters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    batches: AtomicU64,
    failed: AtomicU64,
}

/// What a [`KeyUsage`] has done since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageStats {
    /// Uses taken (a key used twice before a write counts twice, and is written once).
    pub recorded: u64,
    /// Uses dropped because [`KeyUsageBuilder::max_pending`] keys were already waiting.
    pub dropped: u64,
    /// Batches written.
    pub batches: u64,
    /// Batches the sink failed to write.
    pub failed: u64,
}

impl fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUsage")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builds a [`KeyUsage`] and its task.
pub struct KeyUsageBuilder<K> {
    sink: K,
    interval: Duration,
    max_pending: usize,
}

impl<K: UsageSink> KeyUsageBuilder<K> {
    /// How often the gathered uses are written ([`DEFAULT_INTERVAL`]): the most often any key
    /// is written.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many keys may wait for the next write ([`DEFAULT_MAX_PENDING`]).
    pub fn max_pending(mut self, max: usize) -> Self {
        self.max_pending = max;
        self
    }

    /// The recorder, and the task that writes for it: run the task on your executor (any: its
    /// timer is `futures-timer`'s). It ends, after a last write, once every [`KeyUsage`]
    /// handle (the layers holding one included) is dropped.
    pub fn build(self) -> (KeyUsage, impl Future<Output = ()> + Send + 'static) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::default()),
            max_pending: self.max_pending,
            counters: UsageCounters::default(),
        });
        let task = write_every(shared.clone(), self.sink, self.interval);
        (KeyUsage { shared }, task)
    }
}

impl KeyUsage {
    /// A builder writing to `sink`.
    pub fn builder<K: UsageSink>(sink: K) -> KeyUsageBuilder<K> {
        KeyUsageBuilder {
            sink,
            interval: DEFAULT_INTERVAL,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }

    /// Records that `key_id` authenticated a request at unix second `at`: a lock and a map
    /// insert (the latest use of a key wins).
    pub fn record(&self, key_id: Uuid, at: i64) {
        let shared = &*self.shared;
        shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
        let queued = {
            let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            let room = pending.len() < shared.max_pending;
            match pending.get_mut(&key_id) {
                Some(last) => {
                    *last = (*last).max(at);
                    true
                }
                None if room => {
                    pending.insert(key_id, at);
                    true
                }
                None => false,
            }
        };
        if !queued {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        let result = if queued { "queued" } else { "dropped" };
        crate::metrics::count(crate::metrics::KEY_USAGE_RECORDED, &[("result", result)]);
    }

    /// Uses taken, dropped, and batches written so far.
    pub fn stats(&self) -> UsageStats {
        let c = &self.shared.counters;
        UsageStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

/// Writes what gathered every `interval`, until every handle is gone (then once more).
async fn write_every<K: UsageSink>(live: Arc<Shared>, sink: K, interval: Duration) {
    loop {
        futures_timer::Delay::new(interval).await;
        // Only this task left: the handles are gone, this is the last write.
        let last = Arc::strong_count(&live) == 1;
        let batch: Vec<(Uuid, i64)> = {
            let mut pending = live.pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *pending).into_iter().collect()
        };
        if !batch.is_empty() {
            let outcome = match sink.write(&batch).await {
                Ok(()) => {
                    live.counters.batches.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
                Err(e) => {
                    live.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        keys = batch.len(),
                        "notify-auth: the key usage of {} keys could not be written: {e}",
                        batch.len()
                    );
                    "error"
                }
            };
            crate::metrics::count(crate::metrics::KEY_USAGE_WRITES, &[("outcome", outcome)]);
        }
        if last {
            return;
        }
    }
}
