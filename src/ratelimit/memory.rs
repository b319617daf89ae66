//! The in-memory backend: Notify's buckets in this process, for one instance.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use super::bucket::{self, Bucket, BucketState};
use super::window::{WINDOW_SECS, Window};
use super::{BucketError, BucketKey, TokenBuckets};

/// Shards of the map, each behind its own lock: requests for different services rarely wait
/// for each other.
const SHARDS: usize = 64;

/// A shard is swept of full buckets when it holds more than this, and then when it has doubled.
const FIRST_SWEEP: usize = 256;

/// Notify's token buckets in memory ([`super::bucket`]'s arithmetic), and GC Notify's and VA
/// Notify's sliding windows ([`super::window`]'s), for a single instance: a few tens of
/// nanoseconds a request, no allocation once a bucket exists (or a window has held its
/// service's limit), and an error only for a time that is not a finite number (as Redis
/// refuses it).
///
/// Memory stays bounded whatever the number of services: a bucket is dropped once it has had
/// time to fill up again (at Notify's default rate limit, 20 seconds after its last request),
/// when it would be the same as a new one but for when its next token falls, within one
/// token's time (the refill time of a full bucket lags behind the clock by less than one
/// token). So memory follows the services that sent requests in the last few tens of seconds. A
/// window goes 60 seconds after its last request, as the forks' sorted sets expire in Redis,
/// and holds at most its service's limit and one request's times, and never more than the
/// last minute's requests (for a limit past what a minute brings, a minute of traffic).
pub struct MemoryBuckets {
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    buckets: HashMap<BucketKey, Entry, foldhash::fast::RandomState>,
    sweep_at: usize,
    windows: HashMap<BucketKey, WindowEntry, foldhash::fast::RandomState>,
    windows_sweep_at: usize,
}

/// A window and when its last request came: it expires 60 seconds on.
struct WindowEntry {
    window: Window,
    touched: f64,
}

#[derive(Clone, Copy)]
struct Entry {
    state: BucketState,
    /// When the bucket is full again (Unix seconds): it may be dropped from then on.
    full_at: f64,
}

impl Default for MemoryBuckets {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBuckets {
    /// No buckets yet.
    pub fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    sweep_at: FIRST_SWEEP,
                    windows_sweep_at: FIRST_SWEEP,
                    ..Shard::default()
                })
            })
            .collect();
        MemoryBuckets { shards }
    }

    /// The buckets and windows held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
                shard.buckets.len() + shard.windows.len()
            })
            .sum()
    }

    /// Whether no bucket nor window is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bucket `key` holds now, if any (what Redis would hold under its key).
    pub fn state(&self, key: &BucketKey) -> Option<BucketState> {
        let shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        shard.buckets.get(key).map(|entry| entry.state)
    }

    /// The times `key`'s window holds now, oldest first, if any (the scores Redis would hold
    /// under its key, or the most recent of them).
    pub fn window(&self, key: &BucketKey) -> Option<Vec<f64>> {
        let shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        shard
            .windows
            .get(key)
            .map(|entry| entry.window.times().collect())
    }

    /// The shard of `key`, by its service id's low bits: service ids are random (UUIDs the
    /// operator's database made, version 4 in Notify), so they spread without hashing; only
    /// the map hashes.
    fn shard(&self, key: &BucketKey) -> &Mutex<Shard> {
        let spread = key.service_id.as_u128() as usize ^ key.key_type as usize;
        &self.shards[spread % SHARDS]
    }

    /// One request against `key`'s bucket at `now`: the tokens left.
    pub fn take(&self, key: &BucketKey, bucket: Bucket, now: f64) -> i64 {
        // A poisoned lock held a bucket mid-update: its last state is still whole (the map is
        // written once, at the end).
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        let tally = match shard.buckets.entry(*key) {
            std::collections::hash_map::Entry::Occupied(mut held) => {
                let tally = bucket::tally(Some(held.get().state), now, bucket);
                *held.get_mut() = Entry::after(tally.state, bucket, now);
                tally
            }
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let tally = bucket::tally(None, now, bucket);
                vacant.insert(Entry::after(tally.state, bucket, now));
                tally
            }
        };
        if shard.buckets.len() > shard.sweep_at && now.is_finite() {
            shard.buckets.retain(|_, entry| entry.full_at > now);
            shard.sweep_at = (shard.buckets.len() * 2).max(FIRST_SWEEP);
        }
        tally.remaining
    }

    /// One request against `key`'s sliding window at `now`, for a service limited to
    /// `rate_limit` requests a minute: the requests counted (over the limit: more than
    /// `rate_limit`).
    pub fn count(&self, key: &BucketKey, rate_limit: i32, now: f64) -> i64 {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        let entry = shard.windows.entry(*key).or_insert_with(|| WindowEntry {
            window: Window::new(),
            touched: now,
        });
        // `EXPIRE key 60` after each request: a window untouched for a minute is gone.
        if entry.touched + WINDOW_SECS <= now {
            entry.window.clear();
        }
        entry.touched = now;
        let count = entry.window.tally(now, rate_limit);
        if shard.windows.len() > shard.windows_sweep_at && now.is_finite() {
            shard
                .windows
                .retain(|_, entry| entry.touched + WINDOW_SECS > now);
            shard.windows_sweep_at = (shard.windows.len() * 2).max(FIRST_SWEEP);
        }
        count
    }
}

impl Entry {
    /// The bucket `state`, which may be dropped once full again: one token past the missing
    /// ones, so that a new bucket then is the same as this one but for its next token's time.
    /// A bucket that never refills (a rate limit of 0 or less: every request is over the
    /// limit, full or not) may go after a minute.
    fn after(state: BucketState, bucket: Bucket, now: f64) -> Entry {
        let rate = bucket.replenish_per_sec();
        let missing = (bucket.max() - i64::from(state.tokens)).max(0) as f64 + 1.0;
        let at = state.last_replenished + missing / rate;
        let full_at = if rate > 0.0 && at.is_finite() {
            at
        } else {
            now + super::bucket::RATE_LIMIT_INTERVAL_SECS as f64
        };
        Entry { state, full_at }
    }
}

impl fmt::Debug for MemoryBuckets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBuckets")
            .field("held", &self.len())
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenBuckets for MemoryBuckets {
    async fn tally(&self, key: &BucketKey, bucket: Bucket, now: f64) -> Result<i64, BucketError> {
        finite(now).map(|now| self.take(key, bucket, now))
    }

    fn tally_now(
        &self,
        key: &BucketKey,
        bucket: Bucket,
        now: f64,
    ) -> Option<Result<i64, BucketError>> {
        Some(finite(now).map(|now| self.take(key, bucket, now)))
    }

    fn keeps_windows(&self) -> bool {
        true
    }

    async fn window(&self, key: &BucketKey, rate_limit: i32, now: f64) -> Result<i64, BucketError> {
        finite(now).map(|now| self.count(key, rate_limit, now))
    }

    fn window_now(
        &self,
        key: &BucketKey,
        rate_limit: i32,
        now: f64,
    ) -> Option<Result<i64, BucketError>> {
        Some(finite(now).map(|now| self.count(key, rate_limit, now)))
    }
}

/// `now`, if it is a time: Redis refuses a score or a script's time that is not a finite
/// number, and the request goes through.
fn finite(now: f64) -> Result<f64, BucketError> {
    match now.is_finite() {
        true => Ok(now),
        false => Err(BucketError::new(format!(
            "the clock read {now}, not a time"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyType;
    use uuid::Uuid;

    #[test]
    fn buckets_that_filled_up_are_dropped_and_come_back_as_new_ones() {
        let buckets = MemoryBuckets::new();
        let bucket = Bucket::for_rate_limit(60); // 1 a second, 21 at most: full 22 s on
        let keys: Vec<BucketKey> = (0..40_000u128)
            .map(|i| BucketKey::new(Uuid::from_u128(i), KeyType::Normal))
            .collect();
        for key in &keys {
            assert_eq!(buckets.take(key, bucket, 1000.0), 20);
        }
        assert_eq!(buckets.len(), 40_000, "none full yet");
        // Much later, a new wave of services: the old buckets are swept as the shards grow.
        for i in 0..40_000u128 {
            let key = BucketKey::new(Uuid::from_u128(1 << 64 | i), KeyType::Team);
            buckets.take(&key, bucket, 2000.0);
        }
        assert!(buckets.len() < 60_000, "{} buckets held", buckets.len());
        // A dropped bucket answers as a new one.
        assert_eq!(buckets.take(&keys[0], bucket, 2000.0), 20);
    }

    #[test]
    fn a_window_counts_as_the_arithmetic_and_expires_a_minute_after_its_last_request() {
        let buckets = MemoryBuckets::new();
        let key = BucketKey::new(Uuid::from_u128(9), KeyType::Normal);
        let mut expected = Window::new();
        for i in 0..300 {
            let now = 100.0 + f64::from(i) * 0.5;
            assert_eq!(buckets.count(&key, 50, now), expected.tally(now, 50));
        }
        assert_eq!(buckets.window(&key), Some(expected.times().collect()));
        // A request scored ahead of the clock (it went back) is counted until the set expires.
        assert_eq!(buckets.count(&key, 50, 1000.0), 1);
        assert_eq!(buckets.count(&key, 50, 900.0), 2);
        assert_eq!(buckets.count(&key, 50, 959.9), 3);
        assert_eq!(
            buckets.count(&key, 50, 1019.9),
            1,
            "expired 60 s after 959.9"
        );
    }

    #[test]
    fn a_clock_that_is_not_a_time_is_an_error_and_sweeps_nothing() {
        let buckets = MemoryBuckets::new();
        let key = BucketKey::new(Uuid::from_u128(3), KeyType::Normal);
        let bucket = Bucket::for_rate_limit(60);
        assert_eq!(buckets.tally_now(&key, bucket, 10.0).unwrap().unwrap(), 20);
        for now in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(buckets.tally_now(&key, bucket, now).unwrap().is_err());
            assert!(buckets.window_now(&key, 5, now).unwrap().is_err());
        }
        assert_eq!(buckets.tally_now(&key, bucket, 10.0).unwrap().unwrap(), 19);
        // A shard filled to its sweep's threshold; the next request, at a NaN time (through
        // the methods that take any), must not sweep it (every comparison with NaN is false:
        // everything would go).
        let buckets = MemoryBuckets::new();
        let in_shard_0 =
            |i: u128| BucketKey::new(Uuid::from_u128(i * SHARDS as u128), KeyType::Normal);
        for i in 1..=FIRST_SWEEP as u128 {
            buckets.count(&in_shard_0(i), 10, 100.0);
            buckets.take(&in_shard_0(i), bucket, 100.0);
        }
        let held = buckets.len();
        assert_eq!(held, 2 * FIRST_SWEEP);
        let next = in_shard_0(FIRST_SWEEP as u128 + 1);
        buckets.count(&next, 10, f64::NAN);
        buckets.take(&next, bucket, f64::NAN);
        assert_eq!(buckets.len(), held + 2);
    }

    #[test]
    fn windows_of_services_gone_quiet_are_swept() {
        let buckets = MemoryBuckets::new();
        for i in 0..20_000u128 {
            let key = BucketKey::new(Uuid::from_u128(i), KeyType::Team);
            buckets.count(&key, 3000, 1000.0);
        }
        assert_eq!(buckets.len(), 20_000);
        for i in 0..20_000u128 {
            let key = BucketKey::new(Uuid::from_u128(1 << 64 | i), KeyType::Team);
            buckets.count(&key, 3000, 1060.0);
        }
        assert!(buckets.len() < 30_000, "{} windows held", buckets.len());
    }

    #[test]
    fn a_bucket_is_the_scripts_bucket() {
        let buckets = MemoryBuckets::new();
        let key = BucketKey::new(Uuid::from_u128(7), KeyType::Test);
        let bucket = Bucket::for_rate_limit(3000);
        let mut expected = None;
        for i in 0..1200 {
            let now = 5000.0 + f64::from(i) * 0.001;
            let tally = bucket::tally(expected, now, bucket);
            assert_eq!(buckets.take(&key, bucket, now), tally.remaining);
            expected = Some(tally.state);
            assert_eq!(buckets.state(&key), expected);
        }
    }
}
