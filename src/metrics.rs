//! What the crate measures, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): install any recorder (Prometheus, StatsD, OpenTelemetry…) and these series
//! appear. Without the feature nothing is recorded and nothing is compiled in.
//!
//! | series | type | labels | what |
//! |---|---|---|---|
//! | `notify_auth_requests_total` | counter | `route` (`public`, `internal`), `outcome`, `kind` | every request the layers decide: `outcome` `authorised` with `kind` the key type (`normal`, `team`, `test`; `internal` on internal routes); `rejected` with `kind` the answer's code ([`ErrorKind::as_str`](crate::ErrorKind::as_str), `payload_too_large`, `unreadable_body`); `failed` with `kind` `key_store_error` or `key_store_timeout`; `unauthenticated` with `kind` `options` (GC Notify's CORS preflight) or `anonymous` (no `Authorization` header, on an [`optional`](crate::layer::AuthLayer::optional) layer). A layer taking both services and the internal client ([`or_internal`](crate::layer::AuthLayer::or_internal)) counts successes by who came, rejections as `public` |
//! | `notify_auth_store_seconds` | histogram | `lookup` (`service`, `secret`), `outcome` (`ok`, `error`, `timeout`) | how long the layer waited for a key store that did not answer at once (an answer from memory is not waited for, nor measured) |
//! | `notify_auth_cache_lookups_total` | counter | `result` (`hit`, `miss`, `known_absent`) | the cache's lookups: answered from the cache, not in it, or answered "no such service" at once by the store behind it |
//! | `notify_auth_cache_store_calls_total` | counter | | calls the cache made to the store behind it (fewer than misses: concurrent misses share one) |
//! | `notify_auth_listener_connected` | gauge | | 1 while the invalidation listener is connected, listening and has read the service ids |
//! | `notify_auth_listener_trusted` | gauge | | 1 while the cache keeps services until they change (the listener reconciled, its heartbeat back) |
//! | `notify_auth_listener_connections_total` | counter | | the listener's connections (1, then one per reconnection) |
//! | `notify_auth_listener_reconciliations_total` | counter | | reconciliations after a connection (the cached services read again) |
//! | `notify_auth_listener_notifications_total` | counter | | change notifications handled (heartbeats not counted) |
//! | `notify_auth_directory_services` | gauge | | service ids the PostgreSQL store's directory holds |
//! | `notify_auth_directory_complete` | gauge | | 1 while the directory answers "no such service" from memory |
//! | `notify_auth_key_usage_recorded_total` | counter | `result` (`queued`, `dropped`) | successful key uses offered to a [`KeyUsage`](crate::usage::KeyUsage) recorder: queued for the next write (a key already waiting counts again, and is written once), or dropped (the queue full) |
//! | `notify_auth_key_usage_writes_total` | counter | `outcome` (`ok`, `error`) | batches written by a key-usage recorder (one statement each) |
//! | `notify_auth_rate_limit_total` | counter | `key_type`, `outcome` (`allowed`, `limited`, `unavailable`) | requests the [rate limit](crate::ratelimit) tallied: let through, answered 429, or let through because the buckets' backend could not answer |
//!
//! Labels carry no token, no secret and nothing unbounded: no service or key id (a service's
//! traffic is in the logs and on the request's span, not in metrics).

/// The requests the layers decided (see the table above).
pub const REQUESTS: &str = "notify_auth_requests_total";
/// The time spent waiting for a key store.
pub const STORE_SECONDS: &str = "notify_auth_store_seconds";
/// The cache's lookups.
pub const CACHE_LOOKUPS: &str = "notify_auth_cache_lookups_total";
/// The cache's calls to the store behind it.
pub const CACHE_STORE_CALLS: &str = "notify_auth_cache_store_calls_total";
/// Whether the invalidation listener is listening.
pub const LISTENER_CONNECTED: &str = "notify_auth_listener_connected";
/// Whether the cache trusts the listener.
pub const LISTENER_TRUSTED: &str = "notify_auth_listener_trusted";
/// The listener's connections.
pub const LISTENER_CONNECTIONS: &str = "notify_auth_listener_connections_total";
/// The listener's reconciliations.
pub const LISTENER_RECONCILIATIONS: &str = "notify_auth_listener_reconciliations_total";
/// The change notifications the listener handled.
pub const LISTENER_NOTIFICATIONS: &str = "notify_auth_listener_notifications_total";
/// The directory's size.
pub const DIRECTORY_SERVICES: &str = "notify_auth_directory_services";
/// Whether the directory is complete.
pub const DIRECTORY_COMPLETE: &str = "notify_auth_directory_complete";
/// Key uses offered to a recorder.
pub const KEY_USAGE_RECORDED: &str = "notify_auth_key_usage_recorded_total";
/// Batches a key-usage recorder wrote.
pub const KEY_USAGE_WRITES: &str = "notify_auth_key_usage_writes_total";
/// `notify_auth_rate_limit_total`.
pub const RATE_LIMIT: &str = "notify_auth_rate_limit_total";

/// A series whose name and labels are all written where it is counted: its key is a
/// `static` made at compile time (its hash too), so counting it is the recorder's call and
/// nothing more. For the paths every request takes; [`count`] for the others.
#[derive(Clone, Copy)]
pub(crate) struct Series(#[cfg(feature = "metrics")] pub(super) &'static metrics::Key);

impl Series {
    /// Counts one.
    #[inline]
    pub(crate) fn count(self) {
        #[cfg(feature = "metrics")]
        metrics::with_recorder(|r| r.register_counter(self.0, &METADATA).increment(1));
    }
}

/// `series!(NAME, "label" => "value", …)`: the [`Series`], its key a `static`.
macro_rules! series {
    ($name:expr $(, $label:literal => $value:literal)* $(,)?) => {{
        #[cfg(feature = "metrics")]
        {
            static LABELS: &[::metrics::Label] =
                &[$(::metrics::Label::from_static_parts($label, $value)),*];
            static KEY: ::metrics::Key = ::metrics::Key::from_static_parts($name, LABELS);
            $crate::metrics::Series(&KEY)
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = $name;
            $crate::metrics::Series()
        }
    }};
}
pub(crate) use series;

/// The series of a request granted to a service's key of `key_type`.
#[inline]
pub(crate) fn authorised(key_type: crate::KeyType) -> Series {
    use crate::KeyType::*;
    match key_type {
        Normal => {
            series!(REQUESTS, "route" => "public", "outcome" => "authorised", "kind" => "normal")
        }
        Team => series!(REQUESTS, "route" => "public", "outcome" => "authorised", "kind" => "team"),
        Test => series!(REQUESTS, "route" => "public", "outcome" => "authorised", "kind" => "test"),
    }
}

/// The series of a request granted to the internal client.
#[inline]
pub(crate) fn authorised_internal() -> Series {
    series!(REQUESTS, "route" => "internal", "outcome" => "authorised", "kind" => "internal")
}

/// Counts one in a series whose labels are chosen as it runs (see [`Series`] for the paths
/// every request takes).
#[inline]
pub(crate) fn count(name: &'static str, labels: &[(&'static str, &'static str)]) {
    #[cfg(feature = "metrics")]
    metrics::with_recorder(|r| {
        r.register_counter(key(name, labels), &METADATA)
            .increment(1)
    });
    #[cfg(not(feature = "metrics"))]
    let _ = (name, labels);
}

/// Sets a gauge.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[inline]
pub(crate) fn gauge(name: &'static str, value: f64) {
    #[cfg(feature = "metrics")]
    metrics::with_recorder(|r| r.register_gauge(key(name, &[]), &METADATA).set(value));
    #[cfg(not(feature = "metrics"))]
    let _ = (name, value);
}

/// Records one observation of a histogram.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
#[inline]
pub(crate) fn observe(name: &'static str, labels: &[(&'static str, &'static str)], value: f64) {
    #[cfg(feature = "metrics")]
    metrics::with_recorder(|r| {
        r.register_histogram(key(name, labels), &METADATA)
            .record(value)
    });
    #[cfg(not(feature = "metrics"))]
    let _ = (name, labels, value);
}

#[cfg(feature = "metrics")]
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// At most three labels, for the table of keys.
#[cfg(feature = "metrics")]
type Labels = [(&'static str, &'static str); 3];

/// The key of a series, made once per name and labels (the series are a small, fixed set)
/// and kept for the life of the process: counting then allocates nothing.
///
/// Every name and label is a `&'static str` written in this crate, so each thread first looks
/// the key up by the strings' addresses (integers to hash and compare, no lock); the shared
/// table, by the strings' contents, is read once per thread and series.
#[cfg(feature = "metrics")]
fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> &'static metrics::Key {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::{LazyLock, RwLock};

    type Table =
        HashMap<(&'static str, Labels), &'static metrics::Key, foldhash::fast::RandomState>;
    /// A string by where it is: its address and length.
    type Addresses = [(usize, usize); 7];
    static KEYS: LazyLock<RwLock<Table>> = LazyLock::new(Default::default);
    thread_local! {
        static NEAR: RefCell<HashMap<Addresses, &'static metrics::Key, foldhash::fast::FixedState>> =
            RefCell::default();
    }

    debug_assert!(labels.len() <= 3, "at most three labels: {labels:?}");
    let mut fixed: Labels = [("", ""); 3];
    for (slot, label) in fixed.iter_mut().zip(labels) {
        *slot = *label;
    }
    let at = |s: &str| (s.as_ptr() as usize, s.len());
    let mut addresses: Addresses = [at(name); 7];
    for (i, (k, v)) in fixed.iter().enumerate() {
        addresses[1 + 2 * i] = at(k);
        addresses[2 + 2 * i] = at(v);
    }
    let shared = || {
        if let Some(key) = KEYS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(name, fixed))
        {
            return *key;
        }
        let mut keys = KEYS.write().unwrap_or_else(|e| e.into_inner());
        keys.entry((name, fixed)).or_insert_with(|| {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|&(k, v)| metrics::Label::from_static_parts(k, v))
                .collect();
            Box::leak(Box::new(metrics::Key::from_parts(name, labels)))
        })
    };
    // A thread being torn down has no table of its own: the shared one answers.
    NEAR.try_with(|near| *near.borrow_mut().entry(addresses).or_insert_with(shared))
        .unwrap_or_else(|_| shared())
}
