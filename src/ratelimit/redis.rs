//! The Redis backend (feature `redis`): Notify's buckets in Redis, shared with every other
//! instance, GOV.UK Notify's own included; GC Notify's and VA Notify's sliding windows too.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::bucket::Bucket;
use super::window::WINDOW_SECS;
use super::{BucketError, BucketKey, TokenBuckets};

/// The script the backend runs: one request against one bucket, in one round trip and
/// atomically, as GOV.UK Notify's `tally-bucket-rate-limit` script does it (the same
/// arguments, the same steps in the same order, the same 12-byte value, the same answer), so
/// that both write and read each other's buckets. `ARGV`: the bucket's key, now (Unix
/// seconds), tokens a second, the most and the fewest tokens; it returns the tokens left.
pub const TALLY_SCRIPT: &str = r"-- notify-auth: one request against a service's token bucket, as GOV.UK Notify counts it.
local key, now, rate, most, fewest = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local last, tokens
local value = redis.call('get', key)
if value == false or string.len(value) < 12 then
  last, tokens = now, most
else
  last, tokens = struct.unpack('di4', value)
end
local granted = math.floor(math.max(now - last, 0) * rate)
tokens = math.max(math.min(tokens + granted, most) - 1, fewest)
-- The refill time moves to the last whole token granted, never to now.
last = last + (granted / rate)
redis.call('set', key, struct.pack('di4', last, tokens))
return tokens
";

/// How long a call to Redis may take by default, connecting included.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(100);

/// After a failed call, how long requests go through without asking Redis, by default.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Notify's token buckets in Redis: the key `<service id>-tokens-<key type>`, the value
/// Notify's 12 bytes, updated by [`TALLY_SCRIPT`] in one round trip (`EVALSHA`; the script is
/// loaded once). A fleet of instances, this crate's and GOV.UK Notify's Python API alike,
/// share one limit per service and key type.
///
/// GC Notify's and VA Notify's sliding windows too ([`TokenBuckets::window`]): the sorted set
/// `<service id>-<key type>`, updated as their `exceeded_rate_limit` does, in one round trip
/// (`MULTI`, `ZADD key now now`, `ZREMRANGEBYSCORE key -inf now-60`, `ZCARD key`, `EXPIRE key
/// 60`, `EXEC`, the times written as Python writes them), so that the crate's instances and
/// the fork's Python share them.
///
/// Each call is bounded by a timeout ([`DEFAULT_REDIS_TIMEOUT`], for connecting and for each
/// response, on the runtime's timer); a call that fails or times out lets the request
/// through, as Notify does, and for the next second
/// ([`RedisBuckets::retry_after`]) requests go through at once without asking a Redis that
/// just failed, so an outage costs the requests no time. The connection is made at the first
/// request (on the runtime serving it: Tokio), and made again after it breaks.
///
/// `Debug` shows the server, never a password.
pub struct RedisBuckets {
    client: redis::Client,
    target: String,
    manager: OnceLock<ConnectionManager>,
    script: redis::Script,
    timeout: Duration,
    retry_after: Duration,
    /// When the last call failed (milliseconds since `epoch`, 0: never, or it recovered).
    failed_at: AtomicU64,
    epoch: Instant,
    /// Serializes making the connection manager (it spawns a task).
    making: Mutex<()>,
}

impl RedisBuckets {
    /// The buckets in the Redis at `url`: `redis://[[user]:password@]host[:port][/db]`,
    /// `rediss://…` over TLS (the server's certificate checked against Mozilla's roots, for
    /// its host name; [`RedisBuckets::with_ca`] for a private CA), or `redis+unix:///path`.
    /// Nothing is connected yet: an error means the URL itself is unusable, and says why
    /// without showing it. A URL that would turn the certificate checks off (`#insecure`) is
    /// refused.
    pub fn new(url: &str) -> Result<Self, BucketError> {
        Self::open(url, None)
    }

    /// As [`RedisBuckets::new`] for a `rediss://` URL whose server's certificate is checked
    /// against the CA certificates in `ca_pem` (PEM) instead of Mozilla's roots: a Redis
    /// whose certificate a private CA issued.
    pub fn with_ca(url: &str, ca_pem: &[u8]) -> Result<Self, BucketError> {
        Self::open(url, Some(ca_pem))
    }

    fn open(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, BucketError> {
        let unusable = |why: &dyn fmt::Display| {
            BucketError::new(format!("the Redis URL is not usable: {why}"))
        };
        if is_tls(url) {
            // redis-rs makes its TLS configuration with rustls's process-wide default crypto
            // provider: ring, the crate's, unless the application installed one already (with
            // two providers compiled in and none installed, rustls would panic).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        if url.contains('#') {
            return Err(unusable(
                &"a fragment (#insecure would turn the certificate checks off) is not accepted",
            ));
        }
        let client = match ca_pem {
            None => redis::Client::open(url),
            Some(_) if !is_tls(url) => {
                return Err(unusable(&"a CA certificate is for a rediss:// URL (TLS)"));
            }
            Some(pem) if !holds_certificates(pem) => {
                return Err(unusable(&"the CA holds no PEM certificate"));
            }
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
        }
        .map_err(|e| unusable(&e))?;
        let info = client.get_connection_info();
        let target = format!("{}/{}", info.addr(), info.redis_settings().db());
        Ok(RedisBuckets {
            client,
            target,
            manager: OnceLock::new(),
            script: redis::Script::new(TALLY_SCRIPT),
            timeout: DEFAULT_REDIS_TIMEOUT,
            retry_after: DEFAULT_RETRY_AFTER,
            failed_at: AtomicU64::new(0),
            epoch: Instant::now(),
            making: Mutex::new(()),
        })
    }

    /// Bounds each call (connecting included) by `timeout` instead of
    /// [`DEFAULT_REDIS_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// After a failed call, lets requests through without asking Redis for `pause` (1 s by
    /// default; zero asks every time).
    pub fn retry_after(mut self, pause: Duration) -> Self {
        self.retry_after = pause;
        self
    }

    /// The server, as `host:port/db`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The connection manager, made at the first call (on the caller's Tokio runtime).
    fn manager(&self) -> Result<ConnectionManager, BucketError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let _making = self.making.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| self.error(&e))?;
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    fn error(&self, e: &redis::RedisError) -> BucketError {
        BucketError::new(format!("Redis at {}: {e}", self.target))
    }

    fn millis(&self) -> u64 {
        // Never 0, which means "no failure".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether a call failed less than `retry_after` ago.
    fn resting(&self) -> bool {
        let failed_at = self.failed_at.load(Ordering::Relaxed);
        failed_at != 0
            && self.millis().saturating_sub(failed_at) < self.retry_after.as_millis() as u64
    }
}

impl fmt::Debug for RedisBuckets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBuckets")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisBuckets {
    /// The connection for a call, unless a call failed less than `retry_after` ago.
    fn begin(&self) -> Result<ConnectionManager, BucketError> {
        if self.resting() {
            return Err(BucketError::new(format!(
                "Redis at {} failed less than {} ms ago",
                self.target,
                self.retry_after.as_millis()
            )));
        }
        self.manager()
    }

    /// A call's answer, its failure remembered.
    fn end(&self, answer: Result<i64, redis::RedisError>) -> Result<i64, BucketError> {
        let answer = answer.map_err(|e| self.error(&e));
        match &answer {
            Ok(_) => self.failed_at.store(0, Ordering::Relaxed),
            Err(_) => self.failed_at.store(self.millis(), Ordering::Relaxed),
        }
        answer
    }
}

#[async_trait::async_trait]
impl TokenBuckets for RedisBuckets {
    async fn tally(&self, key: &BucketKey, bucket: Bucket, now: f64) -> Result<i64, BucketError> {
        let mut manager = self.begin()?;
        // The key and the numbers as Python's redis client writes them (shortest round-trip
        // decimals), written on the stack: `EVALSHA`, and the script loaded if Redis has not
        // got it yet. Bounded by the connection's own timeouts (connecting, and each
        // response), on the runtime's timer: no timer of our own per request.
        let mut text = Args::default();
        let (key, now) = (text.key(key), text.number(now));
        let rate = text.number(bucket.replenish_per_sec());
        let (key, now, rate) = (&text.buffer[key], &text.buffer[now], &text.buffer[rate]);
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha
            .arg(self.script.get_hash())
            .arg(0)
            .arg(key)
            .arg(now)
            .arg(rate);
        evalsha.arg(bucket.max()).arg(bucket.min());
        let answer = match evalsha.query_async::<i64>(&mut manager).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                let mut invocation = self.script.prepare_invoke();
                invocation.arg(key).arg(now).arg(rate);
                invocation.arg(bucket.max()).arg(bucket.min());
                invocation.invoke_async::<i64>(&mut manager).await
            }
            answer => answer,
        };
        self.end(answer)
    }

    fn keeps_windows(&self) -> bool {
        true
    }

    async fn window(&self, key: &BucketKey, rate_limit: i32, now: f64) -> Result<i64, BucketError> {
        let _ = rate_limit; // The count is compared with it by the caller.
        let mut manager = self.begin()?;
        let mut text = Args::default();
        let key = text.window_key(key);
        let (when, horizon) = (text.number(now), text.number(now - WINDOW_SECS));
        let (key, when, horizon) = (&text.buffer[key], &text.buffer[when], &text.buffer[horizon]);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("ZADD").arg(key).arg(when).arg(when).ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(key)
            .arg("-inf")
            .arg(horizon)
            .ignore();
        pipe.cmd("ZCARD").arg(key);
        pipe.cmd("EXPIRE").arg(key).arg(WINDOW_SECS as i64).ignore();
        let answer = pipe
            .query_async::<(i64,)>(&mut manager)
            .await
            .map(|(count,)| count);
        self.end(answer)
    }
}

/// Whether `url` asks for TLS: `rediss://` (or Valkey's `valkeys://`), in any case.
fn is_tls(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
}

/// Whether `pem` holds certificates, and nothing unreadable (redis-rs would take an empty
/// list of roots, and refuse every server at the first request).
fn holds_certificates(pem: &[u8]) -> bool {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut certificates = CertificateDer::pem_slice_iter(pem).peekable();
    certificates.peek().is_some() && certificates.all(|c| c.is_ok())
}

/// A call's text arguments, written into one buffer on the stack.
struct Args {
    buffer: [u8; 128],
    len: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            buffer: [0; 128],
            len: 0,
        }
    }
}

impl Args {
    /// Appends `text`'s bytes; where they are.
    fn push(&mut self, text: &[u8]) -> std::ops::Range<usize> {
        let start = self.len;
        self.buffer[start..start + text.len()].copy_from_slice(text);
        self.len += text.len();
        start..self.len
    }

    /// Notify's key of the bucket: `<service id>-tokens-<key type>` (at most 49 bytes).
    fn key(&mut self, key: &BucketKey) -> std::ops::Range<usize> {
        self.named(key, b"-tokens-")
    }

    /// GC Notify's and VA Notify's key of the window: `<service id>-<key type>`.
    fn window_key(&mut self, key: &BucketKey) -> std::ops::Range<usize> {
        self.named(key, b"-")
    }

    /// `<service id><between><key type>`.
    fn named(&mut self, key: &BucketKey, between: &[u8]) -> std::ops::Range<usize> {
        let mut id = uuid::Uuid::encode_buffer();
        let id = key.service_id.hyphenated().encode_lower(&mut id);
        let start = self.len;
        self.push(id.as_bytes());
        self.push(between);
        self.push(key.key_type.as_str().as_bytes());
        start..self.len
    }

    /// A float as Python's `repr` writes it, as redis-py sends floats (so that a time is the
    /// same sorted-set member whoever wrote it): its shortest round-trip digits, positional
    /// with `.0` for a whole number when its decimal exponent is in -4..16 (`1764950000.0`,
    /// `0.0001`), else as `1.5e-05` or `1e+16`; `inf`, `-inf`, `nan`. At most 24 bytes.
    fn number(&mut self, number: f64) -> std::ops::Range<usize> {
        use std::io::Write as _;
        let start = self.len;
        if !number.is_finite() {
            return self.push(match number {
                n if n.is_nan() => b"nan",
                n if n > 0.0 => b"inf",
                _ => b"-inf",
            });
        }
        // `{:e}`: the shortest round-trip digits and the decimal exponent (at most 24 bytes:
        // a sign, 17 digits, a point, `e-324`).
        let mut scientific = [0u8; 32];
        let mut rest = &mut scientific[..];
        let room = rest.len();
        let _ = write!(rest, "{number:e}");
        let written = room - rest.len();
        let scientific = &scientific[..written];
        let e = scientific
            .iter()
            .position(|&b| b == b'e')
            .unwrap_or(written);
        let exponent: i32 = std::str::from_utf8(&scientific[(e + 1).min(written)..])
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        if (-4..16).contains(&exponent) {
            // Positional: at most a sign, `0.000`, 17 digits and a point.
            let mut rest = &mut self.buffer[start..start + 24];
            let room = rest.len();
            let _ = write!(rest, "{number}");
            self.len += room - rest.len();
            if !self.buffer[start..self.len].contains(&b'.') {
                self.push(b".0");
            }
        } else {
            self.push(&scientific[..e]);
            self.push(if exponent < 0 { b"e-" } else { b"e+" });
            let digits = exponent.unsigned_abs();
            if digits < 10 {
                self.push(b"0");
            }
            let mut text = [0u8; 3];
            let mut rest = &mut text[..];
            let _ = write!(rest, "{digits}");
            let used = 3 - rest.len();
            self.push(&text[..used]);
        }
        start..self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_written_as_notify_writes_them() {
        let mut args = Args::default();
        let key = BucketKey::new(uuid::Uuid::from_u128(0x2678_5a09), crate::KeyType::Team);
        let key = args.key(&key);
        let numbers = [1_764_950_000.125, 50.0, 1000.0 / 60.0, 1e30, -0.5].map(|n| args.number(n));
        assert_eq!(
            &args.buffer[key],
            b"00000000-0000-0000-0000-000026785a09-tokens-team"
        );
        let written: Vec<&[u8]> = numbers.into_iter().map(|n| &args.buffer[n]).collect();
        assert_eq!(
            written,
            [
                &b"1764950000.125"[..],
                b"50.0",
                b"16.666666666666668",
                b"1e+30",
                b"-0.5"
            ]
        );
    }

    #[test]
    fn windows_are_named_and_timed_as_python_writes_them() {
        let mut args = Args::default();
        let key = BucketKey::new(uuid::Uuid::from_u128(0x2678_5a09), crate::KeyType::Normal);
        let key = args.window_key(&key);
        let times = [1_764_950_000.125, 1_764_950_000.0, -3.0, 0.1 + 0.2].map(|n| args.number(n));
        assert_eq!(
            &args.buffer[key],
            b"00000000-0000-0000-0000-000026785a09-normal"
        );
        let written: Vec<&[u8]> = times.into_iter().map(|n| &args.buffer[n]).collect();
        assert_eq!(
            written,
            [
                &b"1764950000.125"[..],
                b"1764950000.0",
                b"-3.0",
                b"0.30000000000000004"
            ]
        );
    }

    /// Python's `repr` of each, as `python3 -c 'print(repr(x))'` writes it.
    #[test]
    fn floats_are_written_as_pythons_repr() {
        let cases: [(f64, &str); 16] = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-123.456, "-123.456"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (number, python) in cases {
            let mut args = Args::default();
            let written = args.number(number);
            assert_eq!(
                std::str::from_utf8(&args.buffer[written]).unwrap(),
                python,
                "{number:e}"
            );
        }
    }

    #[test]
    fn a_url_is_checked_and_never_shown() {
        for (url, expected) in [
            ("redis://:hunter2@127.0.0.1:6379/2", Ok("127.0.0.1:6379/2")),
            (
                "redis://user:hunter2@cache.internal/0",
                Ok("cache.internal:6379/0"),
            ),
            ("http://:hunter2@cache.internal/0", Err(())),
            ("redis://:hunter2@cache.internal:notaport/0", Err(())),
            (
                "rediss://:hunter2@cache.internal/0",
                Ok("cache.internal:6379/0"),
            ),
            ("rediss://:hunter2@cache.internal/0#insecure", Err(())),
            ("hunter2", Err(())),
        ] {
            match (RedisBuckets::new(url), expected) {
                (Ok(buckets), Ok(target)) => {
                    assert_eq!(buckets.target(), target);
                    assert!(!format!("{buckets:?}").contains("hunter2"));
                }
                (Err(e), Err(())) => {
                    assert!(!e.to_string().contains("hunter2"), "{url}: {e}");
                    println!("{url}: {e}");
                }
                (answer, expected) => panic!("{url}: {answer:?}, expected {expected:?}"),
            }
        }
    }
}
