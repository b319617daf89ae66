//! The time source: read once per request, when it arrives.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where the layer reads "now" (whole unix seconds, UTC). Inject a fixed clock in tests to
/// check the `iat` window to the second without sleeping:
///
/// ```
/// use notify_auth::{MemoryStore, NotifyAuthLayer};
///
/// let layer = NotifyAuthLayer::new(MemoryStore::default()).clock(|| 1_795_394_922_i64);
/// # let _ = layer;
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current unix time in whole seconds (rounded down).
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // Before 1970: floor of a negative time.
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                -secs - i64::from(d.subsec_nanos() > 0)
            }
        }
    }
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now(&self) -> i64 {
        self()
    }
}
