//! GC Notify's and VA Notify's API rate limit as plain arithmetic (sans-IO): a sliding window
//! of the last minute's requests, what their `RedisClient.exceeded_rate_limit` does in Redis
//! (cds-snc/notifier-utils `notifications_utils/clients/redis/redis_client.py` at ec2de5f,
//! the same in department-of-veterans-affairs/notification-utils at ce3a68a), with the
//! arguments their APIs give it (cds-snc/notification-api `app/notifications/validators.py`
//! at 72e3ae1, department-of-veterans-affairs/notification-api at 742080a).
//!
//! One sorted set per service and key type, `<service id>-<key type>`. A request adds its
//! time (as both member and score: two requests at the very same time are one member), drops
//! every member scored at or before 60 seconds ago, and counts what is left: over the limit
//! when that count exceeds the service's rate limit. Requests over the limit count too (a
//! service that keeps sending stays over), and the set expires 60 seconds after its last
//! request.

/// The interval the forks count requests in, in seconds.
pub const WINDOW_SECS: f64 = 60.0;

/// The requests a window holds: their times, in increasing order, each once.
///
/// Only the most recent `rate_limit + 1` are kept: whether a request is over the limit
/// depends on whether the `rate_limit + 1`-th most recent time is still in the window, never
/// on older ones, so a window's memory is bounded by its service's limit whatever the
/// traffic, and its answers are Redis's. (Where they could differ: a limit raised within the
/// minute counts only the requests the lower limit kept, and a clock that goes back to the
/// very time of a forgotten request counts it again.)
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    times: std::collections::VecDeque<f64>,
}

impl Window {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// The times held, oldest first.
    pub fn times(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.times.iter().copied()
    }

    /// One request at `now` (Unix seconds) against a service limited to `rate_limit`
    /// requests a minute: the pipeline's `ZADD`, `ZREMRANGEBYSCORE -inf now-60` and
    /// `ZCARD`. Returns the count, over the limit when greater than `rate_limit` (once past
    /// `rate_limit + 1`, the count of what is kept: at least `rate_limit + 1`, where Redis
    /// may count more; the verdict is the same).
    pub fn tally(&mut self, now: f64, rate_limit: i32) -> i64 {
        // ZADD key {now: now}: a member already there (the same time) is not added again. A
        // NaN time cannot be a score: Redis refuses it, and so the request is not counted.
        if !now.is_nan() {
            let at = self.times.partition_point(|&t| t < now);
            if self.times.get(at) != Some(&now) {
                self.times.insert(at, now);
            }
        }
        // ZREMRANGEBYSCORE key -inf now-60: inclusive.
        let horizon = now - WINDOW_SECS;
        let gone = self.times.partition_point(|&t| t <= horizon);
        self.times.drain(..gone);
        let count = self.times.len() as i64;
        // What decides a later request: the `rate_limit + 1` most recent times.
        let keep = usize::try_from(i64::from(rate_limit) + 1)
            .unwrap_or(0)
            .max(1);
        if self.times.len() > keep {
            let excess = self.times.len() - keep;
            self.times.drain(..excess);
        }
        count
    }

    /// Forgets every time (the set expired).
    pub fn clear(&mut self) {
        self.times.clear();
    }

    /// Whether the window holds nothing.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The latest time held.
    pub fn latest(&self) -> Option<f64> {
        self.times.back().copied()
    }
}

/// Whether a window's count is over `rate_limit`.
pub fn is_over(count: i64, rate_limit: i32) -> bool {
    count > i64::from(rate_limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_exceeded_by_the_request_past_it() {
        let mut window = Window::new();
        for n in 1..=3 {
            assert_eq!(window.tally(100.0 + n as f64, 3), n);
        }
        assert!(!is_over(3, 3));
        assert_eq!(window.tally(104.0, 3), 4);
        assert!(is_over(4, 3));
    }

    #[test]
    fn requests_leave_the_window_sixty_seconds_on_inclusively() {
        let mut window = Window::new();
        window.tally(100.0, 10);
        window.tally(130.0, 10);
        // At 160.0 the request at 100.0 is exactly 60 s old: dropped.
        assert_eq!(window.tally(160.0, 10), 2);
        assert_eq!(window.times().collect::<Vec<_>>(), [130.0, 160.0]);
    }

    #[test]
    fn the_same_time_is_one_member() {
        let mut window = Window::new();
        for _ in 0..10 {
            assert_eq!(window.tally(100.0, 1), 1);
        }
    }

    #[test]
    fn rejected_requests_count_and_memory_stays_at_the_limit() {
        let mut window = Window::new();
        for n in 0..1000 {
            window.tally(100.0 + f64::from(n) * 0.01, 5);
        }
        assert_eq!(window.times().len(), 6);
        assert!(is_over(window.tally(110.0, 5), 5));
    }

    #[test]
    fn a_clock_going_back_counts_what_is_scored_ahead() {
        let mut window = Window::new();
        window.tally(200.0, 10);
        assert_eq!(window.tally(150.0, 10), 2);
        assert_eq!(window.times().collect::<Vec<_>>(), [150.0, 200.0]);
    }

    #[test]
    fn a_limit_of_zero_or_less_refuses_every_request() {
        for limit in [0, -5, i32::MIN] {
            let mut window = Window::new();
            assert!(is_over(window.tally(1.0, limit), limit));
            assert!(is_over(window.tally(2.0, limit), limit));
        }
    }
}
