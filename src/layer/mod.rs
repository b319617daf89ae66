//! The tower middleware: [`NotifyAuthLayer`] for public routes, [`InternalAuthLayer`] for
//! internal ones.
//!
//! The shape follows tower-http's own middleware: a layer, a service ([`NotifyAuth`],
//! [`InternalAuth`]) and a [`ResponseFuture`]. `poll_ready` is the inner service's; `call` takes
//! the time and decides at once when nothing needs waiting for (the store has the service in
//! memory, as [`MemoryStore`](crate::MemoryStore) and a cache hit do): it then calls the ready
//! inner service itself (allocating nothing but the request's extensions), or answers the rejection
//! (its body made once per answer, not per request). Otherwise it swaps in a clone of the ready
//! inner service and returns a future that authenticates (waiting for the store, or reading the
//! body to check `pay`) and then calls it. The success or rejection line is logged when the request
//! is decided: in `call` for a decision taken at once (inside the span of a tracing layer outside
//! this one, as tower-http's `TraceLayer` enters its span around `call`). Request and response
//! bodies are generic, whatever they are: the layer answers `Response<Either<R, B>>`, the
//! rejection's body (`Full<Bytes>` for Notify's JSON, or your own with
//! [`AuthLayer::rejection_response`]) or the inner service's, so it composes outside compression,
//! tracing, timeout and limit layers. With request binding, the inner service receives
//! `Request<Either<Full<Bytes>, B>>`: the body read to check `pay`, or the request's own,
//! untouched.
//!
//! On success the [`Principal`] (public) or [`InternalCaller`] (internal) is in the request's
//! extensions. On failure the response carries the [`Rejection`] in its extensions.
//!
//! The public layer also guards against its key store: a store that panics answers 500, one
//! that does not answer within [`DEFAULT_STORE_TIMEOUT`] (see [`AuthLayer::store_timeout`])
//! 503. [`AuthLayer::request_binding`] adds the `req`/`pay` checks of contract §10.

mod rejection;

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use tower::{Layer, Service};
use tracing::Instrument as _;
use uuid::Uuid;

pub use self::rejection::{
    KEY_STORE_ERROR_BODY, KEY_STORE_TIMEOUT_BODY, Rejection, RejectionResponse, UNREADABLE_BODY,
    V1Errors, V2Errors,
};
use crate::clock::{Clock, SystemClock};
use crate::core::{
    ApiKeyString, Authorization, Authorized, Credential, InternalToken, PublicToken, RequestBinding,
};
use crate::dialect::Dialect;
use crate::error::{AuthError, ErrorKind, InternalRole, InvalidReason};
use crate::model::{InternalClient, Principal, ServiceRecord};
use crate::store::{KeyBySecret, KeyStore, KeyStoreError};

/// How a layer authenticates a request with body `B`: [`Public`], [`Bound`] (public, with
/// request binding) or [`Internal`]. Sealed.
pub trait Scheme<B>: Clone + Send + Sync + 'static + private::Sealed {
    /// What a successful request carries in its extensions.
    type Granted: Clone + Send + Sync + 'static;

    /// The body the inner service receives.
    type Body: Send + 'static;

    /// Logs a success (from the request's head: its body may not be the inner service's yet),
    /// and records the key's use at `now` if asked to.
    fn log_success<Head>(&self, granted: &Self::Granted, request: &Request<Head>, now: i64);

    /// The route's name and what a success is counted as, for the metrics: `public` and the
    /// key type, or `internal`.
    #[doc(hidden)]
    fn counted(granted: &Self::Granted) -> (&'static str, &'static str);

    /// The route's name, for the metrics.
    #[doc(hidden)]
    const ROUTE: &'static str;

    /// Decides `request` at once when nothing needs waiting for (the store has the service in
    /// memory, no body must be read, the key loop is short): the layer's `call` then needs no
    /// future of its own, and hands the request on with [`Scheme::pass_on`]. Otherwise says
    /// what the store answered, for [`Scheme::authorize_after`] to go on from.
    #[doc(hidden)]
    fn authorize_now(&self, request: &Request<B>, now: i64) -> private::Now<Self::Granted>;

    /// Decides `request` at unix second `now` when [`Scheme::authorize_now`] could not, and
    /// hands it on (with its body intact, even if the scheme had to read it), knowing what the
    /// key store already answered in `call` (so that it is not asked twice, which a cache
    /// would count twice).
    #[doc(hidden)]
    fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        asked: private::Asked,
    ) -> impl Future<Output = Result<(Request<Self::Body>, Self::Granted), Rejection>> + Send;

    /// The request as the inner service receives it after [`Scheme::authorize_now`] granted
    /// it (its body untouched).
    #[doc(hidden)]
    fn pass_on(request: Request<B>) -> Request<Self::Body>;
}

mod private {
    use std::sync::Arc;

    /// What [`Scheme::authorize_now`](super::Scheme::authorize_now) made of a request.
    pub enum Now<Granted> {
        /// Decided at once.
        Decided(Result<Granted, super::Rejection>),
        /// Something must be waited for.
        Pending(Asked),
        /// Passed on unauthenticated (GC Notify's CORS preflight: `OPTIONS`).
        Unauthenticated,
    }

    /// What the key store answered before the async path took over.
    pub enum Asked {
        /// It was not asked.
        Nothing,
        /// It had no answer at once: its future must be awaited.
        Await,
        /// It answered at once, but the key loop is too long to run without yielding.
        Answered(Option<Arc<crate::model::ServiceRecord>>),
    }

    pub trait Sealed {
        /// Whose answers the scheme gives.
        fn dialect_mut(&mut self) -> &mut crate::Dialect;
    }

    impl Sealed for super::Public {
        fn dialect_mut(&mut self) -> &mut crate::Dialect {
            &mut self.dialect
        }
    }

    impl Sealed for super::Bound {
        fn dialect_mut(&mut self) -> &mut crate::Dialect {
            &mut self.public.dialect
        }
    }

    impl Sealed for super::Internal {
        fn dialect_mut(&mut self) -> &mut crate::Dialect {
            &mut self.dialect
        }
    }

    /// The public-route schemes, with or without request binding: what the key store
    /// settings apply to.
    pub trait PublicScheme {
        fn public_mut(&mut self) -> &mut super::Public;
    }

    impl PublicScheme for super::Public {
        fn public_mut(&mut self) -> &mut super::Public {
            self
        }
    }

    impl PublicScheme for super::Bound {
        fn public_mut(&mut self) -> &mut super::Public {
            &mut self.public
        }
    }
}

fn authorization(headers: &HeaderMap) -> Authorization<'_> {
    Authorization::from_values(
        headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|v| v.as_bytes()),
    )
}

/// The `tracing` target of the success lines (Notify's "API authorised for service …", at
/// info).
pub const AUTHORISED_TARGET: &str = "notify_auth::authorised";

/// The `tracing` target of the lines that say why a request was rejected (at info; key store
/// failures are errors under the layer's own module). Under a flood of rejected tokens each
/// costs a line: `RUST_LOG=info,notify_auth::rejected=warn` keeps Notify's success lines and
/// drops these.
pub const REJECTED_TARGET: &str = "notify_auth::rejected";

/// How long the public layer waits for the key store by default.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Public routes: the token names a service, whose keys come from a [`KeyStore`].
#[derive(Clone)]
pub struct Public {
    store: Arc<dyn KeyStore>,
    store_timeout: Option<Duration>,
    dialect: Dialect,
    usage: Option<crate::usage::KeyUsage>,
}

impl fmt::Debug for Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Public")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// A store's answer if it has one at once (`now`: [`KeyStore::service_now`] or
/// [`KeyStore::key_by_secret_now`]), through the panic guard.
fn answer_now<T>(
    now: impl FnOnce() -> Option<Result<T, KeyStoreError>>,
) -> Option<Result<T, Rejection>> {
    match panic::catch_unwind(AssertUnwindSafe(now)) {
        Ok(answer) => answer.map(|answer| answer.map_err(|e| Rejection::KeyStore(Arc::new(e)))),
        Err(payload) => Some(Err(panicked(payload))),
    }
}

/// A store's answer, through the panic guard and, if given, the timeout: at once when the
/// store has it in memory ([`KeyStore::service_now`]), else through its future; or what it
/// already answered (`asked`).
async fn lookup(
    store: &dyn KeyStore,
    id: Uuid,
    timeout: Option<Duration>,
    asked: private::Asked,
) -> Result<Option<Arc<ServiceRecord>>, Rejection> {
    match asked {
        private::Asked::Answered(service) => return Ok(service),
        private::Asked::Await => {}
        private::Asked::Nothing => {
            if let Some(answer) = answer_now(|| store.service_now(id)) {
                return answer;
            }
        }
    }
    let span = tracing::info_span!("notify_auth.store", lookup = "service", service_id = %id);
    Guarded::new(store.service(id), timeout, "service")
        .instrument(span)
        .await
}

/// The key with this secret ([`KeyStore::key_by_secret`]), guarded as [`lookup`] is.
async fn lookup_secret(
    store: &dyn KeyStore,
    secret: &str,
    timeout: Option<Duration>,
) -> Result<KeyBySecret, Rejection> {
    if let Some(answer) = answer_now(|| store.key_by_secret_now(secret)) {
        return answer;
    }
    let span = tracing::info_span!("notify_auth.store", lookup = "secret");
    Guarded::new(store.key_by_secret(secret), timeout, "secret")
        .instrument(span)
        .await
}

/// Decides a public request from its headers with `store`, at unix second `now` (taken when
/// the request arrived): the layer's own path, for callers outside tower (a tonic
/// interceptor, actix, a custom server). A store that panics is a [`Rejection::KeyStore`];
/// bound the store's time yourself if it needs bounding (the layer's timeout is a layer
/// setting). Answer a rejection with [`V2Errors`] to give Notify's exact response.
///
/// ```
/// use http::HeaderMap;
/// use notify_auth::{MemoryStore, RejectionResponse, V2Errors, authorize_headers};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::from_json_file("examples/keys.json")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer not-a-token".parse()?);
/// let now = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH)?
///     .as_secs() as i64;
/// let rejection = authorize_headers(&headers, &store, now).await.unwrap_err();
/// let response = V2Errors.response(&rejection);
/// assert_eq!(response.status(), 403);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn authorize_headers(
    headers: &HeaderMap,
    store: &dyn KeyStore,
    now: i64,
) -> Result<Principal, Rejection> {
    authorize_headers_in(headers, store, Dialect::Uk, now).await
}

/// [`authorize_headers`] as `dialect`'s fork decides (GC Notify's raw keys included; its
/// `OPTIONS` rule is the layer's, which sees the method).
pub async fn authorize_headers_in(
    headers: &HeaderMap,
    store: &dyn KeyStore,
    dialect: Dialect,
    now: i64,
) -> Result<Principal, Rejection> {
    let authorization = authorization(headers);
    let credential = Credential::parse(&authorization, dialect)?;
    let mut found = Found::default();
    let asked = private::Asked::Nothing;
    let authorized = authorize_public(&credential, store, None, now, asked, &mut found).await?;
    Ok(authorized.principal())
}

/// What the key store answered for one request, kept by the caller so that the decision can
/// borrow it (and not the request, which goes on).
#[derive(Default)]
struct Found {
    service: Option<Arc<ServiceRecord>>,
    key: Option<Uuid>,
}

/// Steps 6 to 9 for a parsed public credential, asking the store (guarded) what `asked` does
/// not already say.
async fn authorize_public<'s>(
    credential: &Credential<'_>,
    store: &dyn KeyStore,
    timeout: Option<Duration>,
    now: i64,
    asked: private::Asked,
    found: &'s mut Found,
) -> Result<Authorized<'s>, Rejection> {
    match credential {
        Credential::Token(token) => {
            found.service = lookup(store, token.service_id(), timeout, asked).await?;
            let found: &'s Found = found;
            Ok(authorize_key(token, found.service.as_deref(), now).await?)
        }
        Credential::ApiKey(key) => {
            let secret = key.secret()?;
            if let Some((service_id, key_id)) =
                key_location(lookup_secret(store, &secret, timeout).await?)?
            {
                let asked = private::Asked::Nothing;
                found.service = lookup(store, service_id, timeout, asked).await?;
                found.key = Some(key_id);
            }
            let found: &'s Found = found;
            Ok(key.authorize_key(found.service.as_deref().zip(found.key))?)
        }
    }
}

/// Where the store says the key with a raw key's secret is (`None`: nowhere).
fn key_location(found: KeyBySecret) -> Result<Option<(Uuid, Uuid)>, Rejection> {
    match found {
        KeyBySecret::Found { service_id, key_id } => Ok(Some((service_id, key_id))),
        KeyBySecret::Absent => Ok(None),
        KeyBySecret::Unsupported => {
            tracing::warn!(
                "an ApiKey-v1 key string was refused: the key store cannot find keys by their \
                 secret (KeyStore::key_by_secret)"
            );
            let error = AuthError::new(ErrorKind::ApiKeysUnsupported).in_dialect(Dialect::Gc);
            Err(error.into())
        }
    }
}

/// Steps 1 to 9 for a public request when they need no waiting (the store answers at once,
/// the key loop fits in one slice), then `finish` with the key that matched. Otherwise what
/// the store answered: the async path goes on from there, repeating only the parsing.
fn decide_now<T>(
    headers: &HeaderMap,
    public: &Public,
    now: i64,
    finish: impl FnOnce(Authorized<'_>) -> Result<T, Rejection>,
) -> private::Now<T> {
    use private::{Asked, Now};
    let (store, dialect) = (&*public.store, public.dialect);
    let authorization = authorization(headers);
    // Borrowed where it was parsed: moving the token out of the `Result` copies it.
    let parsed = Credential::parse(&authorization, dialect);
    let token = match parsed {
        Ok(Credential::Token(ref token)) => token,
        Ok(Credential::ApiKey(ref key)) => return api_key_now(key, store, finish),
        Err(e) => return Now::Decided(Err(e.into())),
    };
    let service = match answer_now(|| store.service_now(token.service_id())) {
        None => return Now::Pending(Asked::Await),
        Some(Err(rejection)) => return Now::Decided(Err(rejection)),
        Some(Ok(service)) => service,
    };
    let mut keys = match token.key_loop(service.as_deref(), now) {
        Ok(keys) => keys,
        Err(e) => return Now::Decided(Err(e.into())),
    };
    match keys
        .fits(KEY_LOOP_SLICE)
        .then(|| keys.run(KEY_LOOP_SLICE))
        .flatten()
    {
        Some(answer) => Now::Decided(answer.map_err(Rejection::from).and_then(finish)),
        None => Now::Pending(Asked::Answered(service)),
    }
}

/// GC Notify's raw key when the store has the answers in memory, as [`decide_now`].
fn api_key_now<T>(
    key: &ApiKeyString<'_>,
    store: &dyn KeyStore,
    finish: impl FnOnce(Authorized<'_>) -> Result<T, Rejection>,
) -> private::Now<T> {
    use private::{Asked, Now};
    let secret = match key.secret() {
        Ok(secret) => secret,
        Err(e) => return Now::Decided(Err(e.into())),
    };
    let location = match answer_now(|| store.key_by_secret_now(&secret))
        .map(|found| found.and_then(key_location))
    {
        None => return Now::Pending(Asked::Await),
        Some(Err(rejection)) => return Now::Decided(Err(rejection)),
        Some(Ok(location)) => location,
    };
    let service = match location {
        None => None,
        Some((service_id, _)) => match answer_now(|| store.service_now(service_id)) {
            None => return Now::Pending(Asked::Await),
            Some(Err(rejection)) => return Now::Decided(Err(rejection)),
            Some(Ok(service)) => service,
        },
    };
    let found = service.as_deref().zip(location.map(|(_, key_id)| key_id));
    Now::Decided(
        key.authorize_key(found)
            .map_err(Rejection::from)
            .and_then(finish),
    )
}

/// The bytes hashed between two yields to the runtime (about 50 µs of work), so that a
/// service with thousands of keys never holds an async worker for long.
pub const KEY_LOOP_SLICE: usize = 64 * 1024;

/// Steps 6 to 9 through [`KeyLoop`](crate::core::KeyLoop) slices of [`KEY_LOOP_SLICE`],
/// yielding between them.
async fn authorize_key<'s>(
    token: &PublicToken<'_>,
    service: Option<&'s ServiceRecord>,
    now: i64,
) -> Result<Authorized<'s>, AuthError> {
    let mut keys = token.key_loop(service, now)?;
    loop {
        if let Some(answer) = keys.run(KEY_LOOP_SLICE) {
            return answer;
        }
        YieldNow { yielded: false }.await;
    }
}

/// Gives other tasks a turn: pending once (waking itself at once), then ready. Written out
/// rather than taken from a runtime, so the layer runs on any executor.
struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Public {
    /// Logs a success, and records the key's use if asked to.
    fn succeeded<B>(&self, p: &Principal, request: &Request<B>, now: i64) {
        log_public_success(p, request, self.dialect);
        if let Some(usage) = &self.usage {
            usage.record(p.api_key_id, now);
        }
    }

    /// GC Notify lets CORS preflight requests (`OPTIONS`) through its public routes without
    /// authentication.
    fn passes_unauthenticated<B>(&self, request: &Request<B>) -> bool {
        self.dialect == Dialect::Gc && request.method() == http::Method::OPTIONS
    }
}

impl<B: Send + 'static> Scheme<B> for Public {
    const ROUTE: &'static str = "public";

    type Granted = Principal;
    type Body = B;

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        asked: private::Asked,
    ) -> Result<(Request<B>, Principal), Rejection> {
        let principal = {
            let authorization = authorization(request.headers());
            let credential = Credential::parse(&authorization, self.dialect)?;
            let mut found = Found::default();
            let (store, timeout) = (&*self.store, self.store_timeout);
            authorize_public(&credential, store, timeout, now, asked, &mut found)
                .await?
                .principal()
        };
        Ok((request, principal))
    }

    fn log_success<Head>(&self, p: &Principal, request: &Request<Head>, now: i64) {
        self.succeeded(p, request, now);
    }

    fn counted(p: &Principal) -> (&'static str, &'static str) {
        record_on_span(p);
        ("public", p.key_type.as_str())
    }

    fn authorize_now(&self, request: &Request<B>, now: i64) -> private::Now<Principal> {
        if self.passes_unauthenticated(request) {
            return private::Now::Unauthenticated;
        }
        decide_now(request.headers(), self, now, |authorized| {
            Ok(authorized.principal())
        })
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }
}

/// Public routes with request binding (contract §10): [`Public`]'s checks, then `req`, the
/// body's size, and `pay`, as the [`RequestBinding`] mode asks. Made by
/// [`AuthLayer::request_binding`]. `req` is checked against the path the client sent: under
/// axum's `Router::nest` or `nest_service`, the original one (`OriginalUri`, feature `axum`).
///
/// Any request body will do, hyper's `Incoming` included. The body is read only when `pay`
/// must be checked, up to the size limit, and handed on as `Either::Left(Full<Bytes>)` with
/// the same bytes (its trailers, if it had any, are not: no Notify client sends them);
/// otherwise the request's own body goes on untouched, as `Either::Right`.
#[derive(Clone, Debug)]
pub struct Bound {
    public: Public,
    mode: RequestBinding,
    max_body: usize,
}

/// The default limit on the body read to check `pay`: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

impl<B> Scheme<B> for Bound
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    const ROUTE: &'static str = "public";
    type Granted = Principal;
    type Body = Either<Full<Bytes>, B>;

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        asked: private::Asked,
    ) -> Result<(Request<Self::Body>, Principal), Rejection> {
        let mut found = Found::default();
        let authorized = {
            let authorization = authorization(request.headers());
            let credential = Credential::parse(&authorization, self.public.dialect)?;
            let (store, timeout) = (&*self.public.store, self.public.store_timeout);
            authorize_public(&credential, store, timeout, now, asked, &mut found).await?
        };
        let (method, path) = (request.method().as_str(), original_path(&request));
        authorized.check_request(self.mode, method, path)?;
        if request.body().is_end_stream() || !authorized.wants_payload(self.mode) {
            authorized.check_payload(self.mode, b"", false)?;
            return Ok((request.map(Either::Right), authorized.principal()));
        }
        let (parts, body) = request.into_parts();
        if body.size_hint().lower() > self.max_body as u64 {
            return Err(Rejection::PayloadTooLarge(self.max_body));
        }
        let bytes = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Err(Rejection::PayloadTooLarge(self.max_body));
            }
            Err(_) => return Err(Rejection::UnreadableBody),
        };
        authorized.check_payload(self.mode, &bytes, !bytes.is_empty())?;
        Ok((
            Request::from_parts(parts, Either::Left(Full::new(bytes))),
            authorized.principal(),
        ))
    }

    fn log_success<Head>(&self, p: &Principal, request: &Request<Head>, now: i64) {
        self.public.succeeded(p, request, now);
    }

    fn counted(p: &Principal) -> (&'static str, &'static str) {
        record_on_span(p);
        ("public", p.key_type.as_str())
    }

    /// At once only for a request without a body to read (the body's end is known).
    fn authorize_now(&self, request: &Request<B>, now: i64) -> private::Now<Principal> {
        if self.public.passes_unauthenticated(request) {
            return private::Now::Unauthenticated;
        }
        if !request.body().is_end_stream() {
            return private::Now::Pending(private::Asked::Nothing);
        }
        let (method, path) = (request.method().as_str(), original_path(request));
        decide_now(request.headers(), &self.public, now, |authorized| {
            authorized.check_request(self.mode, method, path)?;
            authorized.check_payload(self.mode, b"", false)?;
            Ok(authorized.principal())
        })
    }

    fn pass_on(request: Request<B>) -> Request<Self::Body> {
        request.map(Either::Right)
    }
}

/// The path the client sent, which `req` signs: axum's `OriginalUri` when the request went
/// through an axum router (under `Router::nest` the inner router sees the path without its
/// prefix), else the request's own.
fn original_path<B>(request: &Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(original) = request.extensions().get::<axum::extract::OriginalUri>() {
        return original.0.path();
    }
    request.uri().path()
}

/// Records the principal on the request's span (the current one: a tracing layer outside
/// this one, such as tower-http's `TraceLayer`, enters its span around `call` and the
/// response future), where the span declares the fields `service_id`, `api_key_id` and
/// `key_type` (as `tracing::field::Empty`): the handler's own events and exported traces
/// then carry them.
fn record_on_span(p: &Principal) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("service_id", tracing::field::display(p.service_id));
    span.record("api_key_id", tracing::field::display(p.api_key_id));
    span.record("key_type", p.key_type.as_str());
}

/// Notify's success line: `API authorised for service <id> with api key <id>, using issuer
/// <User-Agent> for URL: <url>`, the URL as Flask's `request.base_url` gives it (scheme, host
/// and path, no query string) and `None` for a missing User-Agent, as Python writes it. The
/// ids are encoded once, for the message and the fields alike.
fn log_public_success<B>(p: &Principal, request: &Request<B>, dialect: Dialect) {
    // Nothing to prepare when nobody listens (the load test's servers log at warn).
    if !tracing::enabled!(target: AUTHORISED_TARGET, tracing::Level::INFO) {
        return;
    }
    let (mut service_buf, mut key_buf) = (Uuid::encode_buffer(), Uuid::encode_buffer());
    let service_id = &*p.service_id.hyphenated().encode_lower(&mut service_buf);
    let api_key_id = &*p.api_key_id.hyphenated().encode_lower(&mut key_buf);
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    let user_agent = user_agent.as_deref().unwrap_or("None");
    let url = BaseUrl(request);
    match dialect {
        Dialect::Uk | Dialect::Gov => tracing::info!(
            target: AUTHORISED_TARGET,
            service_id = %service_id,
            api_key_id = %api_key_id,
            key_type = %p.key_type,
            user_agent,
            url = %url,
            "API authorised for service {service_id} with api key {api_key_id}, using issuer \
             {user_agent} for URL: {url}",
        ),
        // GC and VA Notify name the client, not the URL (VA also the service's name).
        Dialect::Gc | Dialect::Va => tracing::info!(
            target: AUTHORISED_TARGET,
            service_id = %service_id,
            api_key_id = %api_key_id,
            key_type = %p.key_type,
            user_agent,
            url = %url,
            "API authorised for service {service_id} with api key {api_key_id}, using client \
             {user_agent}",
        ),
    }
}

/// A request's URL without its query string, as Flask's `request.base_url`: scheme (that of
/// the request's URI, else `http`), host (the URI's authority, else the `Host` header) and
/// the path the client sent (under axum's nested routers too); the path alone when neither
/// names a host.
struct BaseUrl<'a, B>(&'a Request<B>);

impl<B> fmt::Display for BaseUrl<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0.uri();
        let host = uri.authority().map(|a| a.as_str()).or_else(|| {
            self.0
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        match host {
            Some(host) => write!(
                f,
                "{}://{host}{}",
                uri.scheme_str().unwrap_or("http"),
                original_path(self.0)
            ),
            None => f.write_str(original_path(self.0)),
        }
    }
}

type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KeyStoreError>> + Send + 'a>>;

/// A key store call that cannot take the request down with it: a panic in the store
/// becomes a [`Rejection::KeyStore`], and a store that does not answer within the timeout a
/// [`Rejection::KeyStoreTimeout`]. The timer is started only if the first poll is pending.
/// With the `metrics` feature, the wait is measured (`notify_auth_store_seconds`).
struct Guarded<'a, T> {
    future: StoreFuture<'a, T>,
    timeout: Option<Duration>,
    deadline: Option<futures_timer::Delay>,
    /// `service` or `secret`, for the metrics.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    lookup: &'static str,
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl<'a, T> Guarded<'a, T> {
    fn new(future: StoreFuture<'a, T>, timeout: Option<Duration>, lookup: &'static str) -> Self {
        Guarded {
            future,
            timeout,
            deadline: None,
            lookup,
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// The answer, measured.
    fn answer(&self, answer: Result<T, Rejection>) -> Poll<Result<T, Rejection>> {
        #[cfg(feature = "metrics")]
        {
            let outcome = match &answer {
                Ok(_) => "ok",
                Err(Rejection::KeyStoreTimeout(_)) => "timeout",
                Err(_) => "error",
            };
            crate::metrics::observe(
                crate::metrics::STORE_SECONDS,
                &[("lookup", self.lookup), ("outcome", outcome)],
                self.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(answer)
    }
}

impl<T> Future for Guarded<'_, T> {
    type Output = Result<T, Rejection>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let polled = panic::catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Ready(result)) => {
                return this.answer(result.map_err(|e| Rejection::KeyStore(Arc::new(e))));
            }
            Ok(Poll::Pending) => {}
            Err(payload) => return this.answer(Err(panicked(payload))),
        }
        let Some(timeout) = this.timeout else {
            return Poll::Pending;
        };
        let deadline = this
            .deadline
            .get_or_insert_with(|| futures_timer::Delay::new(timeout));
        ready!(Pin::new(deadline).poll(cx));
        this.answer(Err(Rejection::KeyStoreTimeout(timeout)))
    }
}

/// The rejection for a key store that panicked, with the panic's message for the log.
fn panicked(payload: Box<dyn std::any::Any + Send>) -> Rejection {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    let error = KeyStoreError::new(format!("the key store panicked: {message}"));
    Rejection::KeyStore(Arc::new(error))
}

/// Internal routes: the token's `iss` must be one client id, signed with one of its secrets.
#[derive(Clone, Debug)]
pub struct Internal {
    client: Arc<InternalClient>,
    caller: InternalCaller,
    dialect: Dialect,
    role: InternalRole,
}

impl Internal {
    fn decide(&self, headers: &HeaderMap, now: i64) -> Result<InternalCaller, Rejection> {
        let authorization = authorization(headers);
        let (id, dialect, role) = (self.client.id(), self.dialect, self.role);
        let token = InternalToken::parse_in(&authorization, id, dialect, role)?;
        token.authorize(self.client.secrets(), now)?;
        Ok(self.caller.clone())
    }
}

/// The internal client a request to an internal route was authenticated as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InternalCaller {
    client_id: Arc<str>,
}

impl InternalCaller {
    /// The client id (the token's `iss`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl<B: Send + 'static> Scheme<B> for Internal {
    const ROUTE: &'static str = "internal";

    type Granted = InternalCaller;
    type Body = B;

    /// No store to ask: the client's secrets are in the layer.
    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        _: private::Asked,
    ) -> Result<(Request<B>, InternalCaller), Rejection> {
        let caller = self.decide(request.headers(), now)?;
        Ok((request, caller))
    }

    /// Always at once.
    fn authorize_now(&self, request: &Request<B>, now: i64) -> private::Now<InternalCaller> {
        private::Now::Decided(self.decide(request.headers(), now))
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }

    fn counted(_: &InternalCaller) -> (&'static str, &'static str) {
        ("internal", "internal")
    }

    fn log_success<Head>(&self, caller: &InternalCaller, request: &Request<Head>, _: i64) {
        tracing::info!(
            target: AUTHORISED_TARGET,
            client_id = caller.client_id(),
            path = original_path(request),
            "internal client authorised"
        );
    }
}

/// The layer. Use it through its names: [`NotifyAuthLayer`], [`BoundNotifyAuthLayer`] and
/// [`InternalAuthLayer`].
#[derive(Clone)]
pub struct AuthLayer<A, R> {
    scheme: A,
    clock: Arc<dyn Clock>,
    rejection: R,
}

/// Authenticates public routes as Notify's API does, with keys from a [`KeyStore`].
pub type NotifyAuthLayer<R = V2Errors> = AuthLayer<Public, R>;

/// [`NotifyAuthLayer`] with request binding, as [`AuthLayer::request_binding`] makes it.
pub type BoundNotifyAuthLayer<R = V2Errors> = AuthLayer<Bound, R>;

/// Authenticates internal routes for one client id and its secrets (Notify's admin routes).
pub type InternalAuthLayer<R = V1Errors> = AuthLayer<Internal, R>;

/// The service made by [`NotifyAuthLayer`].
pub type NotifyAuth<S, R = V2Errors> = Auth<S, Public, R>;

/// The service made by [`BoundNotifyAuthLayer`].
pub type BoundNotifyAuth<S, R = V2Errors> = Auth<S, Bound, R>;

/// The service made by [`InternalAuthLayer`].
pub type InternalAuth<S, R = V1Errors> = Auth<S, Internal, R>;

impl AuthLayer<Public, V2Errors> {
    /// Public-route authentication over `store` (any [`KeyStore`], `Arc<dyn KeyStore>`
    /// included), with the system clock, Notify's v2 error bodies, and a key store timeout of
    /// [`DEFAULT_STORE_TIMEOUT`].
    pub fn new(store: impl KeyStore) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// As [`AuthLayer::new`], for a store already shared as `Arc<dyn KeyStore>` (saves the
    /// indirection `new` would add around it).
    pub fn from_shared(store: Arc<dyn KeyStore>) -> Self {
        AuthLayer {
            scheme: Public {
                store,
                store_timeout: Some(DEFAULT_STORE_TIMEOUT),
                dialect: Dialect::Uk,
                usage: None,
            },
            clock: Arc::new(SystemClock),
            rejection: V2Errors,
        }
    }
}

impl<A: private::PublicScheme, R> AuthLayer<A, R> {
    /// Gives up on a key store lookup after `timeout`, answering 503 (see [`Rejection`]).
    ///
    /// The timer starts only if the store does not answer at once (the in-memory store
    /// always does). It is `futures-timer`'s (one helper thread for the whole process), so it
    /// runs on any executor: Tokio with or without its time driver, async-std, smol, or a
    /// hand-driven future.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.scheme.public_mut().store_timeout = Some(timeout);
        self
    }

    /// Waits for the key store as long as it takes (the store must then bound its own
    /// work).
    pub fn without_store_timeout(mut self) -> Self {
        self.scheme.public_mut().store_timeout = None;
        self
    }

    /// Records each successful key use in `usage` (a lock and a map insert on the request's
    /// path; its task writes them, batched: see [`crate::usage`]).
    pub fn record_key_usage(mut self, usage: crate::usage::KeyUsage) -> Self {
        self.scheme.public_mut().usage = Some(usage);
        self
    }
}

impl<R> AuthLayer<Public, R> {
    /// Binds tokens to their request (contract §10): checks the `req` and `pay` claims as
    /// `mode` asks, after every other check, in this order: `req`, the body's size
    /// ([`DEFAULT_MAX_BODY`], see [`AuthLayer::max_body_size`]), `pay`. Answers 403
    /// `Invalid token: request` or `Invalid token: payload`, and 413 for a body over the limit.
    ///
    /// ```
    /// use notify_auth::core::RequestBinding;
    /// use notify_auth::{MemoryStore, NotifyAuthLayer};
    ///
    /// let layer = NotifyAuthLayer::new(MemoryStore::default())
    ///     .request_binding(RequestBinding::Required)
    ///     .max_body_size(64 * 1024);
    /// # let _ = layer;
    /// ```
    pub fn request_binding(self, mode: RequestBinding) -> AuthLayer<Bound, R> {
        AuthLayer {
            scheme: Bound {
                public: self.scheme,
                mode,
                max_body: DEFAULT_MAX_BODY,
            },
            clock: self.clock,
            rejection: self.rejection,
        }
    }
}

impl<R> AuthLayer<Bound, R> {
    /// The largest body read to check `pay`; larger ones are answered 413 without being
    /// read further.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.scheme.max_body = bytes;
        self
    }
}

impl AuthLayer<Internal, V1Errors> {
    /// Internal-route authentication for `client`, with the system clock and Notify's v1
    /// error bodies.
    pub fn new(client: InternalClient) -> Self {
        let caller = InternalCaller {
            client_id: Arc::from(client.id()),
        };
        AuthLayer {
            scheme: Internal {
                client: Arc::new(client),
                caller,
                dialect: Dialect::Uk,
                role: InternalRole::Admin,
            },
            clock: Arc::new(SystemClock),
            rejection: V1Errors,
        }
    }
}

impl<R> AuthLayer<Internal, R> {
    /// Words the route's 401 answers for GC Notify's `role` (its SRE, cache-clear and Cypress
    /// routes say so; [`InternalRole::Admin`] by default). Other dialects have one wording.
    pub fn role(mut self, role: InternalRole) -> Self {
        self.scheme.role = role;
        self
    }
}

impl<A: private::Sealed, R> AuthLayer<A, R> {
    /// Answers as `dialect`'s fork does ([`Dialect::Uk`] by default): its header schemes, its
    /// reading of `iss` and of the keys, its order of checks and every message (see
    /// [`Dialect`]). With [`Dialect::Gc`], public routes also take raw keys (`ApiKey-v1`,
    /// found with [`KeyStore::key_by_secret`]) and let `OPTIONS` requests through without
    /// authentication, as GC Notify does.
    ///
    /// ```
    /// use notify_auth::{Dialect, MemoryStore, NotifyAuthLayer};
    ///
    /// let layer = NotifyAuthLayer::new(MemoryStore::default()).dialect(Dialect::Gc);
    /// # let _ = layer;
    /// ```
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        *self.scheme.dialect_mut() = dialect;
        self
    }
}

impl<A, R> AuthLayer<A, R> {
    /// Reads the time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Answers rejections with `rejection` instead of Notify's JSON bodies.
    pub fn rejection_response<R2>(self, rejection: R2) -> AuthLayer<A, R2> {
        AuthLayer {
            scheme: self.scheme,
            clock: self.clock,
            rejection,
        }
    }
}

impl<A: fmt::Debug, R: fmt::Debug> fmt::Debug for AuthLayer<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("scheme", &self.scheme)
            .field("rejection", &self.rejection)
            .finish_non_exhaustive()
    }
}

impl<S, A: Clone, R: Clone> Layer<S> for AuthLayer<A, R> {
    type Service = Auth<S, A, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// The middleware service. Use it through its names: [`NotifyAuth`], [`BoundNotifyAuth`] and
/// [`InternalAuth`].
///
/// Its settings are shared behind one `Arc`: routers that clone the service per request (axum
/// does) pay one reference count for them, not one per setting.
pub struct Auth<S, A, R> {
    inner: S,
    layer: Arc<AuthLayer<A, R>>,
}

impl<S: Clone, A, R> Clone for Auth<S, A, R> {
    fn clone(&self) -> Self {
        Auth {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S: fmt::Debug, A: fmt::Debug, R: fmt::Debug> fmt::Debug for Auth<S, A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

type Authorizing<ReqBody, RejBody> =
    Pin<Box<dyn Future<Output = Result<Request<ReqBody>, Response<RejBody>>> + Send + 'static>>;

impl<S, A, R, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S, A, R>
where
    A: Scheme<ReqBody>,
    S: Service<Request<A::Body>, Response = Response<ResBody>> + Clone,
    R: RejectionResponse + Clone + Send + 'static,
    R::Body: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<Either<R::Body, ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, A::Body, R::Body>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The window is measured from the request's arrival, not from after the key lookup.
        let now = self.layer.clock.now();
        let asked = match self.layer.scheme.authorize_now(&request, now) {
            // Decided at once: no future to box, and the ready inner service is called here.
            private::Now::Decided(Ok(granted)) => {
                grant(&self.layer.scheme, &mut request, granted, now);
                return ResponseFuture {
                    state: State::Inner {
                        future: self.inner.call(A::pass_on(request)),
                    },
                };
            }
            private::Now::Decided(Err(rejection)) => {
                let mut rejection_response = self.layer.rejection.clone();
                return ResponseFuture {
                    state: State::Rejected {
                        response: Some(rejected(
                            &mut rejection_response,
                            rejection,
                            now,
                            request.headers().get(header::USER_AGENT),
                            A::ROUTE,
                        )),
                    },
                };
            }
            private::Now::Unauthenticated => {
                crate::metrics::count(
                    crate::metrics::REQUESTS,
                    &[
                        ("route", "public"),
                        ("outcome", "unauthenticated"),
                        ("kind", "options"),
                    ],
                );
                return ResponseFuture {
                    state: State::Inner {
                        future: self.inner.call(A::pass_on(request)),
                    },
                };
            }
            private::Now::Pending(asked) => asked,
        };
        let scheme = self.layer.scheme.clone();
        let mut rejection_response = self.layer.rejection.clone();
        // For the log line of a rejection (a reference count: the value is shared bytes).
        let user_agent = request.headers().get(header::USER_AGENT).cloned();
        let authorize: Authorizing<A::Body, R::Body> = Box::pin(async move {
            match scheme.authorize_after(request, now, asked).await {
                Ok((mut request, granted)) => {
                    grant(&scheme, &mut request, granted, now);
                    Ok(request)
                }
                Err(rejection) => Err(rejected(
                    &mut rejection_response,
                    rejection,
                    now,
                    user_agent.as_ref(),
                    A::ROUTE,
                )),
            }
        });
        // The inner service was driven to readiness by `poll_ready`: keep that one, leave
        // a fresh clone in its place (see tower's "be careful when cloning inner services").
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Authorize {
                authorize,
                service: Some(service),
            },
        }
    }
}

/// Grants a request: logs and counts it, and puts what was granted in its extensions.
fn grant<A: Scheme<B>, B, B2>(
    scheme: &A,
    request: &mut Request<B2>,
    granted: A::Granted,
    now: i64,
) {
    scheme.log_success(&granted, request, now);
    let (route, kind) = A::counted(&granted);
    crate::metrics::count(
        crate::metrics::REQUESTS,
        &[("route", route), ("outcome", "authorised"), ("kind", kind)],
    );
    request.extensions_mut().insert(granted);
}

/// The answer to a rejected request, logged, with the [`Rejection`] in its extensions.
fn rejected<R: RejectionResponse>(
    rejection_response: &mut R,
    rejection: Rejection,
    now: i64,
    user_agent: Option<&http::HeaderValue>,
    route: &'static str,
) -> Response<R::Body> {
    log_rejection(&rejection, now, user_agent);
    let outcome = match rejection {
        Rejection::KeyStore(_) | Rejection::KeyStoreTimeout(_) => "failed",
        _ => "rejected",
    };
    crate::metrics::count(
        crate::metrics::REQUESTS,
        &[
            ("route", route),
            ("outcome", outcome),
            ("kind", rejection.code()),
        ],
    );
    let mut response = rejection_response.response(&rejection);
    response.extensions_mut().insert(rejection);
    response
}

/// The line of a rejected request; for the clock rejection, with the token's `iat`, the
/// server's time (`now`, when the request arrived) and the difference, as Notify logs it (in
/// GC Notify's dialect, in GC's words, naming the client).
fn log_rejection(rejection: &Rejection, now: i64, user_agent: Option<&http::HeaderValue>) {
    match rejection {
        Rejection::Auth(e) if e.dialect() == Dialect::Gc && e.kind() == ErrorKind::Clock => {
            if !tracing::enabled!(target: REJECTED_TARGET, tracing::Level::INFO) {
                return;
            }
            let client = user_agent.map(|v| String::from_utf8_lossy(v.as_bytes()));
            let client = client.as_deref().unwrap_or("None");
            let service_id = e.service_id().map(tracing::field::display);
            let iat = e.token_iat().unwrap_or_default();
            tracing::info!(
                target: REJECTED_TARGET,
                status = e.status(),
                kind = e.kind().as_str(),
                service_id,
                api_key_id = e.api_key_id().map(tracing::field::display),
                token_iat = iat,
                local_unix_time = now,
                skew_seconds = iat.saturating_sub(now),
                user_agent = client,
                "Rejected expired JWT for service {}, client {client}: iat value was {iat} \
                 while server clock is {now}",
                e.service_id().map(|id| id.to_string()).unwrap_or_default()
            )
        }
        Rejection::Auth(e) => tracing::info!(
            target: REJECTED_TARGET,
            status = e.status(),
            kind = e.kind().as_str(),
            reason = e.kind().reason().map(InvalidReason::as_str),
            service_id = e.service_id().map(tracing::field::display),
            api_key_id = e.api_key_id().map(tracing::field::display),
            token_iat = e.token_iat(),
            local_unix_time = e.token_iat().map(|_| now),
            skew_seconds = e.token_iat().map(|iat| iat.saturating_sub(now)),
            "API request rejected: {}",
            e.message()
        ),
        Rejection::KeyStore(e) => {
            tracing::error!(error = %e, "API request failed: the key store could not answer")
        }
        Rejection::KeyStoreTimeout(after) => tracing::error!(
            timeout_ms = after.as_millis(),
            "API request failed: the key store did not answer in time"
        ),
        Rejection::PayloadTooLarge(limit) => {
            tracing::info!(target: REJECTED_TARGET, limit, "API request rejected: body over the size limit")
        }
        Rejection::UnreadableBody => {
            tracing::info!(target: REJECTED_TARGET, "API request rejected: unreadable body")
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`NotifyAuth`] and [`InternalAuth`]: authenticate, then the inner
    /// service's future. It answers the rejection's response (`Either::Left`) or the inner
    /// service's (`Either::Right`).
    pub struct ResponseFuture<S, ReqBody, RejBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, S::Future, ReqBody, RejBody>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, F, ReqBody, RejBody> {
        // Authorizing, with the ready inner service to call then (a request decided at once
        // was handed to the inner service in `call`).
        Authorize { authorize: Authorizing<ReqBody, RejBody>, service: Option<S> },
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<RejBody>> },
    }
}

impl<S, ReqBody, RejBody, ResBody> Future for ResponseFuture<S, ReqBody, RejBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<Either<RejBody, ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Authorize { authorize, service } => {
                    match ready!(authorize.as_mut().poll(cx)) {
                        Ok(request) => {
                            let mut service = service
                                .take()
                                .expect("the service is kept until the authorization ends");
                            let future = service.call(request);
                            this.state.set(State::Inner { future });
                        }
                        Err(response) => return Poll::Ready(Ok(response.map(Either::Left))),
                    }
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("a future is not polled after it ends");
                    return Poll::Ready(Ok(response.map(Either::Left)));
                }
                StateProj::Inner { future } => {
                    return future
                        .poll(cx)
                        .map(|result| result.map(|response| response.map(Either::Right)));
                }
            }
        }
    }
}

impl<S, ReqBody, RejBody> fmt::Debug for ResponseFuture<S, ReqBody, RejBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
