//! Notify's API rate limit, as a tower layer: one token bucket per service and key type,
//! HTTP 429 when it is empty, exactly as GOV.UK Notify's API answers, in memory or shared
//! through Redis with Notify's own buckets.
//!
//! Place [`RateLimitLayer`] inside the authentication layer (it reads the [`Principal`] and
//! the service's record the authentication layer puts in the request's extensions), on the
//! routes to limit: GOV.UK Notify limits `POST /v2/notifications/{notification_type}` (any
//! type, before anything else of the request is read) and `POST /v2/notifications/letter`
//! for precompiled letters.
//!
//! ```
//! use axum::{Router, routing::post};
//! use notify_auth::ratelimit::RateLimitLayer;
//! use notify_auth::{MemoryStore, NotifyAuthLayer};
//!
//! async fn send() -> &'static str {
//!     "sent"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/v2/notifications/{notification_type}", post(send).layer(RateLimitLayer::in_memory()))
//!     .layer(NotifyAuthLayer::new(MemoryStore::default()));
//! # let _ = app;
//! ```
//!
//! A service's limit is its record's [`rate_limit`](crate::ServiceRecord::rate_limit)
//! (requests a minute, per key type: Notify's `services.rate_limit`, 3000 by default). Over
//! it, the answer is Notify's, byte for byte:
//!
//! ```text
//! HTTP/1.1 429 Too Many Requests
//! Content-Type: application/json
//!
//! {"errors":[{"error":"RateLimitError","message":"Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"}],"status_code":429}
//! ```
//!
//! (`LIVE` for normal keys, `TEAM`, `TEST`.) GC Notify and VA Notify word it the same, and
//! count differently: the requests of the last 60 seconds in a sliding window ([`window`]),
//! more than the rate limit being over it, where GOV.UK Notify keeps a token bucket
//! ([`bucket`]). The layer counts as its [dialect](RateLimitLayer::dialect)'s fork does
//! ([`Algorithm::of`]); Notify.gov has no API rate limit, and a layer placed in its dialect
//! counts as GOV.UK Notify does.
//!
//! The buckets and windows are kept by a [`TokenBuckets`] backend: [`MemoryBuckets`] for one
//! instance, or `RedisBuckets` (feature `redis`) for several, sharing them with a fleet of
//! Python Notify instances of the same fork (same keys, same values, same arithmetic). A
//! backend that cannot answer (Redis unreachable, or slower than the timeout) lets the
//! request through, as Notify does, and says so in the log.

pub mod bucket;
mod memory;
#[cfg(feature = "redis")]
mod redis;
pub mod window;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower::{Layer, Service};
use uuid::Uuid;

pub use self::bucket::Bucket;
pub use self::memory::MemoryBuckets;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{DEFAULT_REDIS_TIMEOUT, RedisBuckets, TALLY_SCRIPT};
use crate::dialect::Dialect;
use crate::model::{DEFAULT_RATE_LIMIT, KeyType, Principal, ServiceRecord};

/// The `tracing` target of the line Notify logs when a service is rate limited.
pub const RATE_LIMITED_TARGET: &str = "notify_auth::rate_limited";

/// A bucket's name: a service and a key type. In Redis, `<service id>-tokens-<key type>`,
/// as GOV.UK Notify names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// The service.
    pub service_id: Uuid,
    /// The key type the request was made with.
    pub key_type: KeyType,
}

impl BucketKey {
    /// The bucket of `service_id`'s keys of `key_type`.
    pub fn new(service_id: Uuid, key_type: KeyType) -> Self {
        BucketKey {
            service_id,
            key_type,
        }
    }

    /// Notify's Redis key: `<service id>-tokens-<key type>`.
    pub fn redis_key(&self) -> String {
        format!("{}-tokens-{}", self.service_id, self.key_type)
    }

    /// GC Notify's and VA Notify's Redis key of the window: `<service id>-<key type>`.
    pub fn window_key(&self) -> String {
        format!("{}-{}", self.service_id, self.key_type)
    }
}

/// How a rate limit counts requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// GOV.UK Notify's token bucket ([`bucket`]): `rate_limit / 60` tokens a second, up to
    /// `min(ceil(rate_limit / 3) + 1, 1000)`; a request over it when fewer than one is left.
    TokenBucket,
    /// GC Notify's and VA Notify's sliding window ([`window`]): a request over it when more
    /// than `rate_limit` requests (rejected ones included) came in the last 60 seconds.
    SlidingWindow,
}

impl Algorithm {
    /// The way `dialect`'s fork counts: GOV.UK Notify's token bucket for the UK (and for
    /// Notify.gov, which has no API rate limit), the sliding window for GC Notify and VA
    /// Notify.
    pub fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Gc | Dialect::Va => Algorithm::SlidingWindow,
            Dialect::Uk | Dialect::Gov => Algorithm::TokenBucket,
        }
    }
}

/// Why a backend could not tally a request (the request is let through). Never shows a
/// credential: a Redis URL's password is not in it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct BucketError(String);

impl BucketError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        BucketError(message.into())
    }
}

/// Where the buckets are kept: [`MemoryBuckets`], `RedisBuckets` (feature `redis`), or your
/// own. [`TokenBuckets::tally`] and [`TokenBuckets::tally_now`] take one token from `key`'s
/// bucket at `now` (Unix seconds) as GOV.UK Notify's script does ([`bucket::tally`]) and
/// return the tokens left (below 1: over the limit). [`TokenBuckets::window`] and
/// [`TokenBuckets::window_now`] count a request in `key`'s sliding window as GC Notify and VA
/// Notify do ([`window::Window::tally`]) in a backend that [keeps
/// windows](TokenBuckets::keeps_windows); a layer that would count windows over a backend
/// that keeps only token buckets counts token buckets instead.
#[async_trait::async_trait]
pub trait TokenBuckets: Send + Sync + 'static {
    /// One request against `key`'s bucket.
    async fn tally(&self, key: &BucketKey, bucket: Bucket, now: f64) -> Result<i64, BucketError>;

    /// The same at once, for a backend that never waits (the layer then needs no future of
    /// its own); `None` (the default) to be awaited through [`TokenBuckets::tally`].
    fn tally_now(
        &self,
        key: &BucketKey,
        bucket: Bucket,
        now: f64,
    ) -> Option<Result<i64, BucketError>> {
        let _ = (key, bucket, now);
        None
    }

    /// Whether this backend keeps sliding windows ([`TokenBuckets::window`]); `false` by
    /// default. A layer that would count windows (GC Notify's and VA Notify's dialects) over
    /// a backend without them counts its token buckets instead, and says so in the log when
    /// it is made.
    fn keeps_windows(&self) -> bool {
        false
    }

    /// One request at `now` in `key`'s sliding window, for a service limited to `rate_limit`
    /// requests a minute: the requests the window counts, this one included (more than
    /// `rate_limit`: over the limit). By default, an error: this backend keeps no windows.
    async fn window(&self, key: &BucketKey, rate_limit: i32, now: f64) -> Result<i64, BucketError> {
        let _ = (key, rate_limit, now);
        Err(BucketError::new("this backend keeps no sliding windows"))
    }

    /// The same at once, for a backend that never waits; `None` (the default) to be awaited
    /// through [`TokenBuckets::window`].
    fn window_now(
        &self,
        key: &BucketKey,
        rate_limit: i32,
        now: f64,
    ) -> Option<Result<i64, BucketError>> {
        let _ = (key, rate_limit, now);
        None
    }
}

/// A request over its service's rate limit, in the 429 response's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    /// The service.
    pub service_id: Uuid,
    /// The key type whose bucket was empty.
    pub key_type: KeyType,
    /// The service's rate limit (requests a minute).
    pub rate_limit: i32,
}

impl RateLimited {
    /// Notify's message: `Exceeded rate limit for key type LIVE of 3000 requests per 60
    /// seconds`.
    pub fn message(&self) -> String {
        let key_type = match self.key_type {
            // Notify's documentation calls normal keys "live".
            KeyType::Normal => "LIVE",
            KeyType::Team => "TEAM",
            KeyType::Test => "TEST",
        };
        format!(
            "Exceeded rate limit for key type {key_type} of {} requests per {} seconds",
            self.rate_limit,
            bucket::RATE_LIMIT_INTERVAL_SECS
        )
    }

    /// The 429 body: `{"errors":[{"error":"RateLimitError","message":…}],"status_code":429}`
    /// and a newline, the same in every dialect (every fork's `RateLimitError` says the same).
    pub fn body(&self) -> String {
        let status = StatusCode::TOO_MANY_REQUESTS;
        crate::error::v2_error_body("RateLimitError", &self.message(), status)
    }

    /// The whole answer: 429, `Content-Type: application/json`, [`RateLimited::body`], and
    /// this in its extensions.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let body = Bytes::from(self.body());
        let mut response = crate::layer::rejection::json(StatusCode::TOO_MANY_REQUESTS, body);
        response.extensions_mut().insert(*self);
        response
    }
}

/// The time source: Unix seconds with their fraction, as Python's `time()` gives them.
type FloatClock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The system clock in Unix seconds. Multiplying the nanoseconds, rather than dividing them
/// as `Duration::as_secs_f64` does, saves a division on every request (the two differ by at
/// most a rounding in the last bit, far below what a clock reading means).
fn system_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| {
            d.as_secs() as f64 + f64::from(d.subsec_nanos()) * 1e-9
        })
}

/// Notify's API rate limit on the routes it wraps: see the [module](self).
#[derive(Clone)]
pub struct RateLimitLayer {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    buckets: Arc<dyn TokenBuckets>,
    dialect: Dialect,
    /// What [`RateLimitLayer::algorithm`] chose, if it was called.
    chosen: Option<Algorithm>,
    clock: FloatClock,
    timeout: Option<Duration>,
}

impl RateLimitLayer {
    /// The limit with `buckets` as the backend, GOV.UK Notify's dialect (its token bucket)
    /// and the system clock.
    /// A backend that does not answer at once is awaited as long as it takes: the backend
    /// bounds its calls (`RedisBuckets` does), or [`RateLimitLayer::timeout`] does.
    pub fn new(buckets: impl TokenBuckets) -> Self {
        Self::from_shared(Arc::new(buckets))
    }

    /// As [`RateLimitLayer::new`], for a backend already shared (several layers, or a
    /// backend the application also reads).
    pub fn from_shared(buckets: Arc<dyn TokenBuckets>) -> Self {
        RateLimitLayer {
            settings: Arc::new(Settings {
                buckets,
                dialect: Dialect::Uk,
                chosen: None,
                clock: Arc::new(system_time),
                timeout: None,
            }),
        }
    }

    /// The limit in memory, for one instance ([`MemoryBuckets`]).
    pub fn in_memory() -> Self {
        Self::new(MemoryBuckets::new())
    }

    fn with(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self
    }

    /// Counts and answers as `dialect`'s fork does: its [`Algorithm::of`] (GC Notify and VA
    /// Notify: the sliding window, where the backend [keeps
    /// windows](TokenBuckets::keeps_windows)), its log line; the 429 body is the same in every
    /// dialect.
    pub fn dialect(self, dialect: Dialect) -> Self {
        self.with(|s| s.dialect = dialect)
    }

    /// Counts with `algorithm` whatever the dialect (in either order with
    /// [`RateLimitLayer::dialect`]); a sliding window only where the backend keeps windows.
    pub fn algorithm(self, algorithm: Algorithm) -> Self {
        self.with(|s| s.chosen = Some(algorithm))
    }

    /// Reads the time from `clock` (Unix seconds, with their fraction) instead of the system
    /// clock.
    pub fn clock(self, clock: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.with(|s| s.clock = Arc::new(clock))
    }

    /// Waits at most `timeout` for a backend that does not answer at once; past it, the
    /// request goes through. For a backend of yours that does not bound its own calls
    /// (`RedisBuckets` does, on the runtime's timer); this one is `futures-timer`'s (any
    /// executor), which costs a wake-up of its thread per waiting request.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|s| s.timeout = Some(timeout))
    }
}

impl Settings {
    /// The algorithm asked for: the chosen one, or the dialect's.
    fn wanted(&self) -> Algorithm {
        self.chosen.unwrap_or(Algorithm::of(self.dialect))
    }

    /// How requests are counted: the algorithm asked for, as the backend can (token buckets
    /// where it keeps no windows).
    fn algorithm(&self) -> Algorithm {
        match self.wanted() {
            Algorithm::SlidingWindow if !self.buckets.keeps_windows() => Algorithm::TokenBucket,
            wanted => wanted,
        }
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("dialect", &self.settings.dialect)
            .field("algorithm", &self.settings.algorithm())
            .field("timeout", &self.settings.timeout)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        if self.settings.algorithm() != self.settings.wanted() {
            tracing::warn!(
                "the rate limit's backend keeps no sliding windows: it counts token buckets instead"
            );
        }
        RateLimit {
            inner,
            settings: Arc::clone(&self.settings),
        }
    }
}

/// The service made by [`RateLimitLayer`].
pub struct RateLimit<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        RateLimit {
            inner: self.inner.clone(),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Counts a tally of `$key_type`'s bucket with its outcome (a series made at compile time).
macro_rules! count {
    ($key_type:expr, $outcome:literal) => {
        match $key_type {
            KeyType::Normal => crate::metrics::series!(
                crate::metrics::RATE_LIMIT, "key_type" => "normal", "outcome" => $outcome
            ),
            KeyType::Team => crate::metrics::series!(
                crate::metrics::RATE_LIMIT, "key_type" => "team", "outcome" => $outcome
            ),
            KeyType::Test => crate::metrics::series!(
                crate::metrics::RATE_LIMIT, "key_type" => "test", "outcome" => $outcome
            ),
        }
        .count()
    };
}

/// What one request is tallied against: its bucket or window, and what to answer if it is
/// over.
struct Ask {
    key: BucketKey,
    algorithm: Algorithm,
    rate_limit: i32,
}

impl Ask {
    /// The request's bucket: none if the request was not authenticated as a service (no
    /// `Principal`, as for the internal client or an optional layer's anonymous requests).
    /// The limit is the service's record's, or Notify's default without one.
    fn of<B>(request: &Request<B>, algorithm: Algorithm) -> Option<Ask> {
        let extensions = request.extensions();
        let principal = extensions.get::<Principal>()?;
        let rate_limit = extensions
            .get::<Arc<ServiceRecord>>()
            .map_or(DEFAULT_RATE_LIMIT, |service| service.rate_limit());
        Some(Ask {
            key: BucketKey::new(principal.service_id, principal.key_type),
            algorithm,
            rate_limit,
        })
    }

    /// What a 429 carries.
    fn limited(&self) -> RateLimited {
        RateLimited {
            service_id: self.key.service_id,
            key_type: self.key.key_type,
            rate_limit: self.rate_limit,
        }
    }

    /// The backend's answer now, if it answers at once.
    fn tally_now(&self, buckets: &dyn TokenBuckets, now: f64) -> Option<Result<i64, BucketError>> {
        let rate_limit = self.rate_limit;
        match self.algorithm {
            Algorithm::TokenBucket => {
                buckets.tally_now(&self.key, Bucket::for_rate_limit(rate_limit), now)
            }
            Algorithm::SlidingWindow => buckets.window_now(&self.key, rate_limit, now),
        }
    }

    /// The backend's answer, to await.
    fn tally<'a>(&'a self, buckets: &'a dyn TokenBuckets, now: f64) -> BackendFuture<'a> {
        let rate_limit = self.rate_limit;
        match self.algorithm {
            Algorithm::TokenBucket => {
                buckets.tally(&self.key, Bucket::for_rate_limit(rate_limit), now)
            }
            Algorithm::SlidingWindow => buckets.window(&self.key, rate_limit, now),
        }
    }

    /// Whether the backend's answer is over the limit: an empty bucket, or a window holding
    /// more than the limit.
    fn is_over(&self, answer: i64) -> bool {
        match self.algorithm {
            Algorithm::TokenBucket => answer < 1,
            Algorithm::SlidingWindow => window::is_over(answer, self.rate_limit),
        }
    }

    /// Whether the request goes through, given the backend's answer: yes, unless it is over
    /// the limit; yes, too, when the backend could not answer.
    fn passes(&self, answer: Result<i64, BucketError>) -> bool {
        let key_type = self.key.key_type.as_str();
        match answer {
            Ok(answer) if self.is_over(answer) => {
                // Each fork's line (VA Notify's also names the service: here, its id only).
                let counted = match self.algorithm {
                    Algorithm::TokenBucket => "token bucket",
                    Algorithm::SlidingWindow => "throughput",
                };
                tracing::info!(
                    target: RATE_LIMITED_TARGET,
                    service_id = %self.key.service_id,
                    key_type,
                    rate_limit = self.rate_limit,
                    "service {} has been rate limited for {counted}",
                    self.key.service_id
                );
                count!(self.key.key_type, "limited");
                false
            }
            Ok(_) => {
                count!(self.key.key_type, "allowed");
                true
            }
            Err(e) => {
                tracing::warn!(
                    service_id = %self.key.service_id,
                    key_type,
                    "the rate limit could not be checked, the request is allowed: {e}"
                );
                count!(self.key.key_type, "unavailable");
                true
            }
        }
    }
}

/// The backend's verdict to come: whether the request goes through.
type Tallying = Pin<Box<dyn Future<Output = bool> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let settings = &self.settings;
        let Some(ask) = Ask::of(&request, settings.algorithm()) else {
            let future = self.inner.call(request);
            return ResponseFuture {
                state: State::Inner { future },
            };
        };
        let now = (settings.clock)();
        match ask.tally_now(&*settings.buckets, now) {
            Some(answer) => {
                let state = match ask.passes(answer) {
                    true => State::Inner {
                        future: self.inner.call(request),
                    },
                    false => State::Limited {
                        limited: ask.limited(),
                    },
                };
                ResponseFuture { state }
            }
            None => {
                let (buckets, timeout) = (Arc::clone(&settings.buckets), settings.timeout);
                let limited = ask.limited();
                let tally: Tallying = Box::pin(async move {
                    let tally = ask.tally(&*buckets, now);
                    let answer = match timeout {
                        Some(timeout) => Bounded::new(tally, timeout).await,
                        None => tally.await,
                    };
                    ask.passes(answer)
                });
                // The ready inner service goes with the request (see the auth layer's `call`).
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                // Boxed, so that the future of a request decided at once stays small.
                let pending = Box::new(Pending {
                    tally,
                    service: Some(service),
                    request: Some(request),
                    limited,
                });
                ResponseFuture {
                    state: State::Tally { pending },
                }
            }
        }
    }
}

/// A backend's answer to come.
type BackendFuture<'a> = Pin<Box<dyn Future<Output = Result<i64, BucketError>> + Send + 'a>>;

/// A backend's future, given up on after a timeout (futures-timer's: any executor).
struct Bounded<'a> {
    future: BackendFuture<'a>,
    timeout: Duration,
    deadline: Option<futures_timer::Delay>,
}

impl<'a> Bounded<'a> {
    fn new(future: BackendFuture<'a>, timeout: Duration) -> Self {
        Bounded {
            future,
            timeout,
            deadline: None,
        }
    }
}

impl Future for Bounded<'_> {
    type Output = Result<i64, BucketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(answer) = this.future.as_mut().poll(cx) {
            return Poll::Ready(answer);
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| futures_timer::Delay::new(timeout));
        ready!(Pin::new(deadline).poll(cx));
        Poll::Ready(Err(BucketError(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))))
    }
}

pin_project_lite::pin_project! {
    /// The future of [`RateLimit`]: the inner service's, or Notify's 429 (`Either::Left`).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, S::Future, ReqBody>,
    }
}

/// A request waiting for its backend, with the ready inner service to call then.
struct Pending<S, ReqBody> {
    tally: Tallying,
    service: Option<S>,
    request: Option<Request<ReqBody>>,
    limited: RateLimited,
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, F, ReqBody> {
        Tally { pending: Box<Pending<S, ReqBody>> },
        Inner { #[pin] future: F },
        // What to answer: the response itself is made when polled, so that the future stays
        // small for the requests that go through.
        Limited { limited: RateLimited },
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<Either<Full<Bytes>, ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Tally { pending } => {
                    let next = match ready!(pending.tally.as_mut().poll(cx)) {
                        true => {
                            let (service, request) =
                                (pending.service.take(), pending.request.take());
                            let (mut service, request) = service.zip(request).expect(
                                "the service and the request are kept until the tally ends",
                            );
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        false => State::Limited {
                            limited: pending.limited,
                        },
                    };
                    this.state.set(next);
                }
                StateProj::Inner { future } => {
                    return future
                        .poll(cx)
                        .map(|result| result.map(|response| response.map(Either::Right)));
                }
                StateProj::Limited { limited } => {
                    let response = limited.response();
                    return Poll::Ready(Ok(response.map(Either::Left)));
                }
            }
        }
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
