//! Public routes: [`Public`] (a service's credential, its keys from a [`KeyStore`]) and
//! [`Bound`] (the same, with request binding).

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body::Body;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use tracing::Instrument as _;
use uuid::Uuid;

use super::log::{log_public_success, original_path, record_on_span};
use super::private::{Asked, Now};
use super::{Rejection, Scheme, authorization};
use crate::core::{ApiKeyString, Authorized, Credential, PublicToken, RequestBinding};
use crate::dialect::Dialect;
use crate::error::{AuthError, ErrorKind};
use crate::model::{Principal, ServiceRecord};
use crate::store::{KeyBySecret, KeyStore, KeyStoreError};

/// How long the public layer waits for the key store by default.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Public routes: the token names a service, whose keys come from a [`KeyStore`].
#[derive(Clone)]
pub struct Public {
    pub(super) store: Arc<dyn KeyStore>,
    pub(super) store_timeout: Option<Duration>,
    pub(super) dialect: Dialect,
    pub(super) usage: Option<crate::usage::KeyUsage>,
    /// Requests without an `Authorization` header pass on without a principal.
    pub(super) optional: bool,
}

impl fmt::Debug for Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Public")
            .field("dialect", &self.dialect)
            .field("optional", &self.optional)
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
    asked: Asked,
) -> Result<Option<Arc<ServiceRecord>>, Rejection> {
    match asked {
        Asked::Answered(service) => return Ok(service),
        Asked::Await => {}
        Asked::Nothing => {
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
/// setting). Answer a rejection with [`V2Errors`](super::V2Errors) to give Notify's exact response.
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
    let asked = Asked::Nothing;
    let (authorized, _) =
        authorize_public(&credential, store, None, now, asked, &mut found).await?;
    Ok(authorized.principal())
}

/// What the key store answered for one request, kept by the caller so that the decision can
/// borrow it (and not the request, which goes on).
#[derive(Default)]
pub(super) struct Found {
    service: Option<Arc<ServiceRecord>>,
    key: Option<Uuid>,
}

/// Steps 6 to 9 for a parsed public credential, asking the store (guarded) what `asked` does
/// not already say: the key that matched, and the record it came from.
async fn authorize_public<'s>(
    credential: &Credential<'_>,
    store: &dyn KeyStore,
    timeout: Option<Duration>,
    now: i64,
    asked: Asked,
    found: &'s mut Found,
) -> Result<(Authorized<'s>, Arc<ServiceRecord>), Rejection> {
    let authorized = match credential {
        Credential::Token(token) => {
            found.service = lookup(store, token.service_id(), timeout, asked).await?;
            let found: &'s Found = found;
            authorize_key(token, found.service.as_deref(), now).await?
        }
        Credential::ApiKey(key) => {
            let secret = key.secret()?;
            if let Some((service_id, key_id)) =
                key_location(lookup_secret(store, &secret, timeout).await?)?
            {
                let asked = Asked::Nothing;
                found.service = lookup(store, service_id, timeout, asked).await?;
                found.key = Some(key_id);
            }
            let found: &'s Found = found;
            key.authorize_key(found.service.as_deref().zip(found.key))?
        }
    };
    let found: &'s Found = found;
    match &found.service {
        Some(service) => Ok((authorized, Arc::clone(service))),
        None => Err(no_record()),
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

/// Where the async path of a public request goes on from: the credential `call` parsed
/// (what it borrowed from the header copied, so it is parsed once), and what the key store
/// already answered.
pub struct Continue {
    credential: Credential<'static>,
    asked: Asked,
}

impl Continue {
    fn after(credential: Credential<'_>, asked: Asked) -> Self {
        Continue {
            credential: credential.into_owned(),
            asked,
        }
    }
}

/// Steps 1 to 9 for a public request's parsed credential when they need no waiting (the
/// store answers at once, the key loop fits in one slice), then `finish` with the key that
/// matched. Otherwise the credential and what the store answered, for the async path.
pub(super) fn decide_now<T>(
    parsed: Result<Credential<'_>, AuthError>,
    public: &Public,
    now: i64,
    finish: impl FnOnce(Authorized<'_>, &Arc<ServiceRecord>) -> Result<T, Rejection>,
) -> Now<T, Continue> {
    let store = &*public.store;
    // Judged where it was parsed: moving the token out of the `Result` copies it.
    let flow = match &parsed {
        Ok(Credential::Token(token)) => token_now(token, store, now, finish),
        Ok(Credential::ApiKey(key)) => api_key_now(key, store, finish),
        Err(_) => ControlFlow::Continue(Asked::Nothing),
    };
    match (flow, parsed) {
        (ControlFlow::Break(decided), _) => Now::Decided(decided),
        (ControlFlow::Continue(_), Err(e)) => Now::Decided(Err(e.into())),
        (ControlFlow::Continue(asked), Ok(credential)) => {
            Now::Pending(Continue::after(credential, asked))
        }
    }
}

/// A token when the store has the service in memory and the key loop fits in one slice.
fn token_now<T>(
    token: &PublicToken<'_>,
    store: &dyn KeyStore,
    now: i64,
    finish: impl FnOnce(Authorized<'_>, &Arc<ServiceRecord>) -> Result<T, Rejection>,
) -> ControlFlow<Result<T, Rejection>, Asked> {
    let service = match answer_now(|| store.service_now(token.service_id())) {
        None => return ControlFlow::Continue(Asked::Await),
        Some(Err(rejection)) => return ControlFlow::Break(Err(rejection)),
        Some(Ok(service)) => service,
    };
    let mut keys = match token.key_loop(service.as_deref(), now) {
        Ok(keys) => keys,
        Err(e) => return ControlFlow::Break(Err(e.into())),
    };
    match keys
        .fits(KEY_LOOP_SLICE)
        .then(|| keys.run(KEY_LOOP_SLICE))
        .flatten()
    {
        Some(answer) => ControlFlow::Break(
            answer
                .map_err(Rejection::from)
                .and_then(|authorized| granted(authorized, service.as_ref(), finish)),
        ),
        None => ControlFlow::Continue(Asked::Answered(service)),
    }
}

/// GC Notify's raw key when the store has the answers in memory.
fn api_key_now<T>(
    key: &ApiKeyString<'_>,
    store: &dyn KeyStore,
    finish: impl FnOnce(Authorized<'_>, &Arc<ServiceRecord>) -> Result<T, Rejection>,
) -> ControlFlow<Result<T, Rejection>, Asked> {
    let secret = match key.secret() {
        Ok(secret) => secret,
        Err(e) => return ControlFlow::Break(Err(e.into())),
    };
    let location = match answer_now(|| store.key_by_secret_now(&secret))
        .map(|found| found.and_then(key_location))
    {
        None => return ControlFlow::Continue(Asked::Await),
        Some(Err(rejection)) => return ControlFlow::Break(Err(rejection)),
        Some(Ok(location)) => location,
    };
    let service = match location {
        None => None,
        Some((service_id, _)) => match answer_now(|| store.service_now(service_id)) {
            None => return ControlFlow::Continue(Asked::Await),
            Some(Err(rejection)) => return ControlFlow::Break(Err(rejection)),
            Some(Ok(service)) => service,
        },
    };
    let found = service.as_deref().zip(location.map(|(_, key_id)| key_id));
    ControlFlow::Break(
        key.authorize_key(found)
            .map_err(Rejection::from)
            .and_then(|authorized| granted(authorized, service.as_ref(), finish)),
    )
}

/// `finish` for a credential the key loop accepted, with the record its key came from (there
/// is one whenever a key matched: a key is only ever found in its service's record).
fn granted<T>(
    authorized: Authorized<'_>,
    service: Option<&Arc<ServiceRecord>>,
    finish: impl FnOnce(Authorized<'_>, &Arc<ServiceRecord>) -> Result<T, Rejection>,
) -> Result<T, Rejection> {
    match service {
        Some(service) => finish(authorized, service),
        None => Err(no_record()),
    }
}

/// A key that matched with no record to hand on: a key is only ever found in its service's
/// record, so this is never answered unless a store breaks that.
fn no_record() -> Rejection {
    let error = KeyStoreError::new("a key matched outside any service record");
    Rejection::KeyStore(Arc::new(error))
}

/// What a public route grants: the principal, and the record its key came from (in the
/// request's extensions as `Principal` and `Arc<ServiceRecord>`).
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub(super) principal: Principal,
    pub(super) service: Arc<ServiceRecord>,
}

impl Authenticated {
    pub(super) fn of(authorized: &Authorized<'_>, service: &Arc<ServiceRecord>) -> Self {
        Authenticated {
            principal: authorized.principal(),
            service: Arc::clone(service),
        }
    }

    /// Puts the principal and the record where handlers find them.
    pub(super) fn extend(self, extensions: &mut http::Extensions) {
        extensions.insert(self.principal);
        extensions.insert(self.service);
    }
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
    pub(super) fn succeeded<B>(&self, p: &Principal, request: &Request<B>, now: i64) {
        log_public_success(p, request, self.dialect);
        if let Some(usage) = &self.usage {
            usage.record(p.api_key_id, now);
        }
    }

    /// Why `request` passes on without authentication, if it does: GC Notify lets CORS
    /// preflight requests (`OPTIONS`) through its public routes (`options`); an optional
    /// layer, requests without an `Authorization` header (`anonymous`).
    pub(super) fn passes_unauthenticated<B>(&self, request: &Request<B>) -> Option<&'static str> {
        if self.dialect == Dialect::Gc && request.method() == http::Method::OPTIONS {
            return Some("options");
        }
        let anonymous =
            self.optional && !request.headers().contains_key(http::header::AUTHORIZATION);
        anonymous.then_some("anonymous")
    }

    /// Steps 6 to 9 for what `call` left pending.
    pub(super) async fn authorize_pending<'s>(
        &self,
        pending: Continue,
        now: i64,
        found: &'s mut Found,
    ) -> Result<(Authorized<'s>, Arc<ServiceRecord>), Rejection> {
        let Continue { credential, asked } = pending;
        let (store, timeout) = (&*self.store, self.store_timeout);
        authorize_public(&credential, store, timeout, now, asked, found).await
    }

    /// Decides the request's credential, parsed in the dialect's words, at once if it can.
    pub(super) fn decide_now<T>(
        &self,
        headers: &HeaderMap,
        now: i64,
        finish: impl FnOnce(Authorized<'_>, &Arc<ServiceRecord>) -> Result<T, Rejection>,
    ) -> Now<T, Continue> {
        let authorization = authorization(headers);
        decide_now(
            Credential::parse(&authorization, self.dialect),
            self,
            now,
            finish,
        )
    }
}

impl<B: Send + 'static> Scheme<B> for Public {
    const ROUTE: &'static str = "public";

    type Granted = Authenticated;
    type Body = B;
    type Pending = Continue;

    fn authorize_now(&self, request: &Request<B>, now: i64) -> Now<Authenticated, Continue> {
        if let Some(why) = self.passes_unauthenticated(request) {
            return Now::Unauthenticated(why);
        }
        self.decide_now(request.headers(), now, |authorized, service| {
            Ok(Authenticated::of(&authorized, service))
        })
    }

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        pending: Continue,
    ) -> Result<(Request<B>, Authenticated), Rejection> {
        let mut found = Found::default();
        let (authorized, service) = self.authorize_pending(pending, now, &mut found).await?;
        Ok((request, Authenticated::of(&authorized, &service)))
    }

    fn log_success<Head>(&self, granted: &Authenticated, request: &Request<Head>, now: i64) {
        self.succeeded(&granted.principal, request, now);
    }

    fn counted(granted: &Authenticated) -> Option<crate::KeyType> {
        record_on_span(&granted.principal);
        Some(granted.principal.key_type)
    }

    fn extend(granted: Authenticated, extensions: &mut http::Extensions) {
        granted.extend(extensions);
    }

    fn pass_on(request: Request<B>) -> Request<B> {
        request
    }
}

/// Public routes with request binding (contract §10): [`Public`]'s checks, then `req`, the
/// body's size, and `pay`, as the [`RequestBinding`] mode asks. Made by
/// [`AuthLayer::request_binding`](super::AuthLayer::request_binding). `req` is checked
/// against the path the client sent: under axum's `Router::nest` or `nest_service`, the
/// original one (`OriginalUri`, feature `axum`).
///
/// Any request body will do, hyper's `Incoming` included. The body is read only when `pay`
/// must be checked, up to the size limit, and handed on as `Either::Left(Full<Bytes>)` with
/// the same bytes (its trailers, if it had any, are not: no Notify client sends them);
/// otherwise the request's own body goes on untouched, as `Either::Right`.
#[derive(Clone, Debug)]
pub struct Bound {
    pub(super) public: Public,
    pub(super) mode: RequestBinding,
    pub(super) max_body: usize,
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
    type Granted = Authenticated;
    type Body = Either<Full<Bytes>, B>;
    type Pending = Continue;

    /// At once for a request without a body to read (the body's end is known); otherwise
    /// the credential is parsed here and the rest waits for the body.
    fn authorize_now(&self, request: &Request<B>, now: i64) -> Now<Authenticated, Continue> {
        if let Some(why) = self.public.passes_unauthenticated(request) {
            return Now::Unauthenticated(why);
        }
        if !request.body().is_end_stream() {
            let authorization = authorization(request.headers());
            return match Credential::parse(&authorization, self.public.dialect) {
                Ok(credential) => Now::Pending(Continue::after(credential, Asked::Nothing)),
                Err(e) => Now::Decided(Err(e.into())),
            };
        }
        let (method, path) = (request.method().as_str(), original_path(request));
        self.public
            .decide_now(request.headers(), now, |authorized, service| {
                authorized.check_request(self.mode, method, path)?;
                authorized.check_payload(self.mode, b"", false)?;
                Ok(Authenticated::of(&authorized, service))
            })
    }

    async fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        pending: Continue,
    ) -> Result<(Request<Self::Body>, Authenticated), Rejection> {
        let mut found = Found::default();
        let (authorized, service) = self
            .public
            .authorize_pending(pending, now, &mut found)
            .await?;
        let granted = Authenticated::of(&authorized, &service);
        let (method, path) = (request.method().as_str(), original_path(&request));
        authorized.check_request(self.mode, method, path)?;
        if request.body().is_end_stream() || !authorized.wants_payload(self.mode) {
            authorized.check_payload(self.mode, b"", false)?;
            return Ok((request.map(Either::Right), granted));
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
            granted,
        ))
    }

    fn log_success<Head>(&self, granted: &Authenticated, request: &Request<Head>, now: i64) {
        self.public.succeeded(&granted.principal, request, now);
    }

    fn counted(granted: &Authenticated) -> Option<crate::KeyType> {
        record_on_span(&granted.principal);
        Some(granted.principal.key_type)
    }

    fn extend(granted: Authenticated, extensions: &mut http::Extensions) {
        granted.extend(extensions);
    }

    fn pass_on(request: Request<B>) -> Request<Self::Body> {
        request.map(Either::Right)
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
