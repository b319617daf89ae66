//! Notify's token bucket as plain arithmetic (sans-IO): what GOV.UK Notify's
//! `tally-bucket-rate-limit` Lua script does to one bucket in Redis
//! (alphagov/notifications-utils, `notifications_utils/clients/redis/redis_client.py` at
//! a9af02a), with the arguments GOV.UK Notify's API gives it (alphagov/notifications-api,
//! `app/notifications/validators.py` at 8ea2366), restated number for number.
//!
//! One bucket per service and key type. A request takes one token; the bucket is refilled at
//! `rate_limit / 60` tokens a second, up to `min(ceil(rate_limit / 3) + 1, 1000)` tokens, and
//! never holds fewer than 0; the refill time only moves forward, to the last whole token
//! granted. Fewer than one token left after the request: over the limit. The script computes
//! in Lua 5.1's numbers (doubles), so this does too, with Lua's `math.min` and `math.max`
//! (which keep their first argument unless another compares strictly beyond it: they differ
//! from Rust's on NaN) and C's conversions to integers.

/// The most tokens a bucket holds, whatever the rate limit (Notify's `TOKEN_BUCKET_MAX`).
pub const TOKEN_BUCKET_MAX: i64 = 1_000;

/// The fewest tokens a bucket holds (Notify's `TOKEN_BUCKET_MIN`): a request over the limit
/// does not count against later ones.
pub const TOKEN_BUCKET_MIN: i64 = 0;

/// The interval a rate limit is counted in (Notify's `SECONDS_IN_1_MINUTE`).
pub const RATE_LIMIT_INTERVAL_SECS: i64 = 60;

/// A bucket's parameters, as GOV.UK Notify derives them from a service's rate limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    replenish_per_sec: f64,
    max: i64,
    min: i64,
}

impl Bucket {
    /// The bucket of a service whose `rate_limit` is this many requests a minute:
    /// `rate_limit / 60` tokens a second, at most `min(ceil(rate_limit / 3) + 1, 1000)`,
    /// at least 0.
    pub fn for_rate_limit(rate_limit: i32) -> Self {
        // Python's `ceil(rate_limit / 3)` (a float division, exact for any 32-bit integer,
        // then its ceiling), in integers.
        let max = (i64::from(rate_limit) + 2).div_euclid(3) + 1;
        Bucket {
            replenish_per_sec: f64::from(rate_limit) / RATE_LIMIT_INTERVAL_SECS as f64,
            max: max.min(TOKEN_BUCKET_MAX),
            min: TOKEN_BUCKET_MIN,
        }
    }

    /// Tokens granted a second (the script's `replenish_per_sec`).
    pub fn replenish_per_sec(&self) -> f64 {
        self.replenish_per_sec
    }

    /// The most tokens it holds (`bucket_max`).
    pub fn max(&self) -> i64 {
        self.max
    }

    /// The fewest tokens it holds (`bucket_min`).
    pub fn min(&self) -> i64 {
        self.min
    }
}

/// What Redis holds for a bucket: 12 bytes, `struct.pack('di4', …)` on a little-endian
/// machine: the last refill time (Unix seconds) as a double, then the tokens left as a 32-bit
/// integer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketState {
    /// The time, in Unix seconds, up to which tokens have been granted.
    pub last_replenished: f64,
    /// The tokens left.
    pub tokens: i32,
}

impl BucketState {
    /// The bucket Redis holds in `value`, or `None` for a value shorter than 12 bytes (the
    /// script then starts a full bucket). Bytes past the 12th are ignored, as by the script.
    pub fn from_bytes(value: &[u8]) -> Option<Self> {
        let last = value.get(..8)?.try_into().ok()?;
        let tokens = value.get(8..12)?.try_into().ok()?;
        Some(BucketState {
            last_replenished: f64::from_le_bytes(last),
            tokens: i32::from_le_bytes(tokens),
        })
    }

    /// The 12 bytes the script stores.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&self.last_replenished.to_le_bytes());
        bytes[8..].copy_from_slice(&self.tokens.to_le_bytes());
        bytes
    }
}

/// One request against a bucket: what the bucket holds afterwards, and what the script
/// returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tally {
    /// The bucket to store.
    pub state: BucketState,
    /// The tokens left, as Redis returns the script's number (an integer).
    pub remaining: i64,
}

impl Tally {
    /// Whether the request is over the limit: fewer than one token left.
    pub fn is_over(&self) -> bool {
        self.remaining < 1
    }
}

/// One request against `stored` (`None`: no bucket yet) at `now` (Unix seconds, as Python's
/// `time()` gives it), the script's steps in its order.
pub fn tally(stored: Option<BucketState>, now: f64, bucket: Bucket) -> Tally {
    let (max, min) = (bucket.max as f64, bucket.min as f64);
    let (last, tokens) = match stored {
        None => (now, max),
        Some(state) => (state.last_replenished, f64::from(state.tokens)),
    };
    let elapsed = lua_max(now - last, 0.0);
    let replenishment = (elapsed * bucket.replenish_per_sec).floor();
    let tokens = lua_min(tokens + replenishment, max);
    let tokens = lua_max(tokens - 1.0, min);
    let last = last + replenishment / bucket.replenish_per_sec;
    let remaining = c_long_long(tokens);
    Tally {
        state: BucketState {
            last_replenished: last,
            // `struct.pack`'s `i4`: the number cast to a C `long long`, its low four bytes.
            tokens: remaining as i32,
        },
        remaining,
    }
}

/// Lua 5.1's `math.max(a, b)`: `a`, unless `b` is greater.
fn lua_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Lua 5.1's `math.min(a, b)`: `a`, unless `b` is less.
fn lua_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// A double cast to C's `long long` as Redis does it on x86-64: truncated toward zero, and
/// the "integer indefinite" value (the lowest) for NaN and for what does not fit (Rust's `as`
/// saturates instead, hence this). Only a NaN, from a rate limit of 0, ever reaches those
/// cases; on arm64 Redis makes it 0: over the limit all the same.
fn c_long_long(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_tokens_are_pythons_ceiling() {
        for rate_limit in (-1000..1000).chain([i32::MIN, i32::MIN + 1, i32::MAX - 1, i32::MAX]) {
            let python = (f64::from(rate_limit) / 3.0).ceil() as i64 + 1;
            let expected = python.min(TOKEN_BUCKET_MAX);
            assert_eq!(
                Bucket::for_rate_limit(rate_limit).max(),
                expected,
                "{rate_limit}"
            );
        }
    }

    #[test]
    fn buckets_follow_notifys_arguments() {
        let bucket = Bucket::for_rate_limit(3000);
        assert_eq!(
            (bucket.replenish_per_sec(), bucket.max(), bucket.min()),
            (50.0, 1000, 0)
        );
        let bucket = Bucket::for_rate_limit(1000);
        assert_eq!(bucket.replenish_per_sec(), 1000.0 / 60.0);
        assert_eq!(bucket.max(), 335);
        assert_eq!(Bucket::for_rate_limit(60).max(), 21);
        assert_eq!(Bucket::for_rate_limit(3).max(), 2);
        assert_eq!(Bucket::for_rate_limit(0).max(), 1);
        assert_eq!(Bucket::for_rate_limit(-60).max(), -19);
    }

    #[test]
    fn a_new_bucket_starts_full_and_fills_at_the_rate() {
        let bucket = Bucket::for_rate_limit(60); // 1 a second, 21 at most
        let first = tally(None, 100.0, bucket);
        assert_eq!(first.remaining, 20);
        assert_eq!(
            first.state,
            BucketState {
                last_replenished: 100.0,
                tokens: 20
            }
        );
        let mut state = first.state;
        for left in (0..20).rev() {
            let t = tally(Some(state), 100.5, bucket);
            assert_eq!(t.remaining, left);
            state = t.state;
        }
        let over = tally(Some(state), 100.9, bucket);
        assert!(over.is_over());
        assert_eq!(over.state.tokens, 0, "never below the minimum");
        // 2.5 s later: two whole tokens, and the refill time moves to the last one granted.
        let later = tally(Some(over.state), 102.5, bucket);
        assert_eq!(later.remaining, 1);
        assert_eq!(later.state.last_replenished, 102.0);
    }

    #[test]
    fn a_clock_going_backwards_grants_nothing_and_moves_nothing_back() {
        let bucket = Bucket::for_rate_limit(60);
        let state = BucketState {
            last_replenished: 200.0,
            tokens: 5,
        };
        let t = tally(Some(state), 150.0, bucket);
        assert_eq!(
            t.state,
            BucketState {
                last_replenished: 200.0,
                tokens: 4
            }
        );
    }

    #[test]
    fn a_zero_rate_limit_refuses_everything_as_the_script_does() {
        let bucket = Bucket::for_rate_limit(0);
        let first = tally(None, 10.0, bucket);
        assert!(first.is_over());
        // 0 / 0: the refill time becomes NaN, and stays so.
        assert!(first.state.last_replenished.is_nan());
        let next = tally(Some(first.state), 20.0, bucket);
        assert!(next.is_over());
        assert_eq!(next.remaining, i64::MIN, "Redis's integer of a NaN");
        assert_eq!(next.state.tokens, 0);
    }

    #[test]
    fn the_state_is_twelve_little_endian_bytes() {
        let state = BucketState {
            last_replenished: 1_764_950_000.25,
            tokens: 999,
        };
        let bytes = state.to_bytes();
        assert_eq!(&bytes[8..], &[0xe7, 0x03, 0, 0]);
        assert_eq!(BucketState::from_bytes(&bytes), Some(state));
        assert_eq!(BucketState::from_bytes(&bytes[..11]), None);
        let mut longer = bytes.to_vec();
        longer.push(7);
        assert_eq!(BucketState::from_bytes(&longer), Some(state));
    }
}
