//! The tower middleware: [`NotifyAuthLayer`] for public routes, [`InternalAuthLayer`] for
//! internal ones.
//!
//! The layer is generic over its scheme: `Public`, `Bound` (public, with request binding),
//! `Internal` and `ServiceOrInternal` (in this module's `public`, `internal` and `either`
//! files), each deciding what it can at once in `call` and leaving the rest to a future.
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
//! On success the [`Principal`](crate::Principal) and the service's `Arc<ServiceRecord>` (public)
//! or the [`InternalCaller`] (internal) are in the request's extensions
//! ([`AuthLayer::or_internal`] takes both on one route, and adds the [`Caller`]);
//! an [`AuthLayer::optional`] layer passes requests without an `Authorization` header on with
//! neither. On failure the response carries the [`Rejection`] in its extensions.
//!
//! The public layer also guards against its key store: a store that panics answers 500, one
//! that does not answer within [`DEFAULT_STORE_TIMEOUT`] (see [`AuthLayer::store_timeout`])
//! 503. [`AuthLayer::request_binding`] adds the `req`/`pay` checks of contract §10.

#[cfg(feature = "tower-http")]
mod authorizer;
mod either;
mod internal;
mod log;
mod public;
pub(crate) mod rejection;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Extensions, HeaderMap, Request, Response, header};
use http_body_util::Either;
use tower::{Layer, Service};

#[cfg(feature = "tower-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-http")))]
pub use self::authorizer::{AuthorizeFuture, Authorizer};
pub use self::either::{Caller, ServiceOrInternal};
pub use self::internal::{Internal, InternalCaller};
pub use self::log::{AUTHORISED_TARGET, REJECTED_TARGET};
pub use self::public::{
    Bound, DEFAULT_MAX_BODY, DEFAULT_STORE_TIMEOUT, KEY_LOOP_SLICE, Public, authorize_headers,
    authorize_headers_in,
};
pub use self::rejection::{
    KEY_STORE_ERROR_BODY, KEY_STORE_TIMEOUT_BODY, Rejection, RejectionResponse, UNREADABLE_BODY,
    V1Errors, V2Errors,
};
use crate::clock::{Clock, SystemClock};
use crate::core::{Authorization, RequestBinding};
use crate::dialect::Dialect;
use crate::error::InternalRole;
use crate::model::InternalClient;
use crate::store::KeyStore;

/// How a layer authenticates a request with body `B`: [`Public`], [`Bound`] (public, with
/// request binding), [`Internal`] or [`ServiceOrInternal`]. Sealed.
pub trait Scheme<B>: Clone + Send + Sync + 'static + private::Sealed {
    /// What a successful request carries in its extensions.
    type Granted: Clone + Send + Sync + 'static;

    /// The body the inner service receives.
    type Body: Send + 'static;

    /// What [`Scheme::authorize_now`] leaves for [`Scheme::authorize_after`]
    /// (`Infallible` for a scheme that always decides at once).
    #[doc(hidden)]
    type Pending: Send + 'static;

    /// Logs a success (from the request's head: its body may not be the inner service's yet),
    /// and records the key's use at `now` if asked to.
    fn log_success<Head>(&self, granted: &Self::Granted, request: &Request<Head>, now: i64);

    /// What a success is counted as, for the metrics: a service's key of this type, or
    /// (`None`) the internal client.
    #[doc(hidden)]
    fn counted(granted: &Self::Granted) -> Option<crate::KeyType>;

    /// The route's name, for the metrics of a rejection.
    #[doc(hidden)]
    const ROUTE: &'static str;

    /// Puts what was granted where handlers find it.
    #[doc(hidden)]
    fn extend(granted: Self::Granted, extensions: &mut Extensions) {
        extensions.insert(granted);
    }

    /// Decides `request` at unix second `now` when nothing needs waiting for (the store has
    /// the service in memory, no body must be read, the key loop is short): the layer's `call`
    /// then needs no future of its own, and hands the request on with [`Scheme::pass_on`].
    /// Otherwise what [`Scheme::authorize_after`] goes on from: the credential, parsed here
    /// once, and what the key store already answered (so that it is not asked twice, which
    /// a cache would count twice).
    #[doc(hidden)]
    fn authorize_now(
        &self,
        request: &Request<B>,
        now: i64,
    ) -> private::Now<Self::Granted, Self::Pending>;

    /// Decides `request` from where [`Scheme::authorize_now`] left it, and hands it on (with
    /// its body intact, even if the scheme had to read it).
    #[doc(hidden)]
    fn authorize_after(
        &self,
        request: Request<B>,
        now: i64,
        pending: Self::Pending,
    ) -> impl Future<Output = Result<(Request<Self::Body>, Self::Granted), Rejection>> + Send;

    /// The request as the inner service receives it after [`Scheme::authorize_now`] granted
    /// it (its body untouched).
    #[doc(hidden)]
    fn pass_on(request: Request<B>) -> Request<Self::Body>;
}

mod private {
    use std::sync::Arc;

    /// What [`Scheme::authorize_now`](super::Scheme::authorize_now) made of a request.
    pub enum Now<Granted, Pending> {
        /// Decided at once.
        Decided(Result<Granted, super::Rejection>),
        /// Something must be waited for.
        Pending(Pending),
        /// Passed on unauthenticated, and why (for the metrics): `options` (GC Notify's CORS
        /// preflight) or `anonymous` (no `Authorization` header, on an optional layer).
        Unauthenticated(&'static str),
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
        /// Answers as `dialect`'s fork does.
        fn set_dialect(&mut self, dialect: crate::Dialect);
    }

    impl Sealed for super::Public {
        fn set_dialect(&mut self, dialect: crate::Dialect) {
            self.dialect = dialect;
        }
    }

    impl Sealed for super::Bound {
        fn set_dialect(&mut self, dialect: crate::Dialect) {
            self.public.dialect = dialect;
        }
    }

    impl Sealed for super::Internal {
        fn set_dialect(&mut self, dialect: crate::Dialect) {
            self.dialect = dialect;
        }
    }

    impl Sealed for super::ServiceOrInternal {
        fn set_dialect(&mut self, dialect: crate::Dialect) {
            self.public.dialect = dialect;
            self.internal.dialect = dialect;
        }
    }

    /// The schemes that take service credentials: what the key store settings apply to.
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

    impl PublicScheme for super::ServiceOrInternal {
        fn public_mut(&mut self) -> &mut super::Public {
            &mut self.public
        }
    }

    /// The schemes that take the internal client: what its settings apply to.
    pub trait InternalScheme {
        fn internal_mut(&mut self) -> &mut super::Internal;
    }

    impl InternalScheme for super::Internal {
        fn internal_mut(&mut self) -> &mut super::Internal {
            self
        }
    }

    impl InternalScheme for super::ServiceOrInternal {
        fn internal_mut(&mut self) -> &mut super::Internal {
            &mut self.internal
        }
    }
}

/// The request's `Authorization` header, as the core reads it.
fn authorization(headers: &HeaderMap) -> Authorization<'_> {
    Authorization::from_values(
        headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|v| v.as_bytes()),
    )
}

/// The layer. Use it through its names: [`NotifyAuthLayer`], [`BoundNotifyAuthLayer`],
/// [`InternalAuthLayer`] and [`ServiceOrInternalAuthLayer`].
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

/// Authenticates routes that take both a service's credential and the internal client's
/// token, as [`AuthLayer::or_internal`] makes it.
pub type ServiceOrInternalAuthLayer<R = V2Errors> = AuthLayer<ServiceOrInternal, R>;

/// The service made by [`ServiceOrInternalAuthLayer`].
pub type ServiceOrInternalAuth<S, R = V2Errors> = Auth<S, ServiceOrInternal, R>;

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
                optional: false,
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

    /// Makes authentication optional: a request without an `Authorization` header passes on
    /// without a principal (handlers take `Option<Principal>`), while a request whose header
    /// is present is judged as always, and answered exactly as Notify would if it fails (an
    /// empty or blank header is present, and rejected). Counted as `unauthenticated` with
    /// kind `anonymous` (see [`crate::metrics`]).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use notify_auth::{MemoryStore, NotifyAuthLayer, Principal};
    ///
    /// async fn greet(principal: Option<Principal>) -> String {
    ///     match principal {
    ///         Some(p) => format!("hello, service {}", p.service_id),
    ///         None => "hello, stranger".to_owned(),
    ///     }
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/greeting", get(greet))
    ///     .layer(NotifyAuthLayer::new(MemoryStore::default()).optional());
    /// # let _ = app;
    /// ```
    pub fn optional(mut self) -> Self {
        self.scheme.public_mut().optional = true;
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

impl<R> AuthLayer<Public, R> {
    /// Also takes the internal `client`'s tokens on the same routes: a token whose `iss` is
    /// exactly the client's id is judged against the client's secrets (as
    /// [`InternalAuthLayer`] does), anything else as a service's credential, after one parse.
    /// Handlers find the [`Caller`] in the request's extensions, and the [`Principal`] or
    /// [`InternalCaller`] it holds. Rejections keep this layer's answers (Notify's v2 bodies
    /// by default), with the internal client's messages for its tokens.
    ///
    /// [`Principal`]: crate::Principal
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use notify_auth::{Caller, InternalClient, MemoryStore, NotifyAuthLayer, Secret};
    ///
    /// async fn who(caller: Caller) -> String {
    ///     match caller {
    ///         Caller::Service(p) => format!("service {}", p.service_id),
    ///         Caller::Internal(c) => format!("internal client {}", c.client_id()),
    ///     }
    /// }
    ///
    /// let admin = InternalClient::new("notify-admin", vec![Secret::new("admin-secret")]);
    /// let app: Router = Router::new()
    ///     .route("/v2/who", get(who))
    ///     .layer(NotifyAuthLayer::new(MemoryStore::default()).or_internal(admin));
    /// # let _ = app;
    /// ```
    pub fn or_internal(self, client: InternalClient) -> AuthLayer<ServiceOrInternal, R> {
        AuthLayer {
            scheme: ServiceOrInternal {
                internal: {
                    let mut internal = Internal::new(client);
                    internal.dialect = self.scheme.dialect;
                    internal
                },
                public: self.scheme,
            },
            clock: self.clock,
            rejection: self.rejection,
        }
    }
}

impl AuthLayer<Internal, V1Errors> {
    /// Internal-route authentication for `client`, with the system clock and Notify's v1
    /// error bodies.
    pub fn new(client: InternalClient) -> Self {
        AuthLayer {
            scheme: Internal::new(client),
            clock: Arc::new(SystemClock),
            rejection: V1Errors,
        }
    }
}

impl<A: private::InternalScheme, R> AuthLayer<A, R> {
    /// Words the route's 401 answers for GC Notify's `role` (its SRE, cache-clear and Cypress
    /// routes say so; [`InternalRole::Admin`] by default). Other dialects have one wording.
    pub fn role(mut self, role: InternalRole) -> Self {
        self.scheme.internal_mut().role = role;
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
        self.scheme.set_dialect(dialect);
        self
    }
}

impl<A, R> AuthLayer<A, R> {
    /// Reads the time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Answers rejections with `rejection` instead of Notify's JSON bodies: a
    /// [`RejectionResponse`], such as a `Fn(&Rejection) -> Response<B>` closure. The layer
    /// shares it (behind an `Arc`) with every request, never clones it per request.
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

/// The middleware service. Use it through its names: [`NotifyAuth`], [`BoundNotifyAuth`],
/// [`InternalAuth`] and [`ServiceOrInternalAuth`].
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

/// How a request began: decided at once (passed on, or rejected), or left to a future.
enum Started<ReqBody, RejBody> {
    /// Granted (or passed on unauthenticated): the request as the inner service takes it.
    Pass(Request<ReqBody>),
    Rejected(Response<RejBody>),
    Pending(Authorizing<ReqBody, RejBody>),
}

/// The layer's work on one request, up to the inner service: shared by [`Auth`] and, with
/// feature `tower-http`, [`Authorizer`].
fn start<A, R, B>(
    layer: &Arc<AuthLayer<A, R>>,
    mut request: Request<B>,
) -> Started<A::Body, R::Body>
where
    A: Scheme<B>,
    R: RejectionResponse + Send + Sync + 'static,
    R::Body: Send + 'static,
    B: Send + 'static,
{
    // The window is measured from the request's arrival, not from after the key lookup.
    let now = layer.clock.now();
    let pending = match layer.scheme.authorize_now(&request, now) {
        // Decided at once: no future to box.
        private::Now::Decided(Ok(granted)) => {
            grant(&layer.scheme, &mut request, granted, now);
            return Started::Pass(A::pass_on(request));
        }
        private::Now::Decided(Err(rejection)) => {
            let user_agent = request.headers().get(header::USER_AGENT);
            let rejection = rejected(&layer.rejection, rejection, now, user_agent, A::ROUTE);
            return Started::Rejected(rejection);
        }
        private::Now::Unauthenticated(why) => {
            crate::metrics::count(
                crate::metrics::REQUESTS,
                &[
                    ("route", A::ROUTE),
                    ("outcome", "unauthenticated"),
                    ("kind", why),
                ],
            );
            return Started::Pass(A::pass_on(request));
        }
        private::Now::Pending(pending) => pending,
    };
    let layer = Arc::clone(layer);
    // For the log line of a rejection (a reference count: the value is shared bytes).
    let user_agent = request.headers().get(header::USER_AGENT).cloned();
    Started::Pending(Box::pin(async move {
        match layer.scheme.authorize_after(request, now, pending).await {
            Ok((mut request, granted)) => {
                grant(&layer.scheme, &mut request, granted, now);
                Ok(request)
            }
            Err(rejection) => {
                let user_agent = user_agent.as_ref();
                Err(rejected(
                    &layer.rejection,
                    rejection,
                    now,
                    user_agent,
                    A::ROUTE,
                ))
            }
        }
    }))
}

impl<S, A, R, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S, A, R>
where
    A: Scheme<ReqBody>,
    S: Service<Request<A::Body>, Response = Response<ResBody>> + Clone,
    R: RejectionResponse + Send + Sync + 'static,
    R::Body: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<Either<R::Body, ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, A::Body, R::Body>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let state = match start(&self.layer, request) {
            // Decided at once: the ready inner service is called here.
            Started::Pass(request) => State::Inner {
                future: self.inner.call(request),
            },
            Started::Rejected(response) => State::Rejected {
                response: Some(response),
            },
            Started::Pending(authorize) => {
                // The inner service was driven to readiness by `poll_ready`: keep that one,
                // leave a fresh clone in its place (see tower's "be careful when cloning
                // inner services").
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                State::Authorize {
                    authorize,
                    service: Some(service),
                }
            }
        };
        ResponseFuture { state }
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
    match A::counted(&granted) {
        Some(key_type) => crate::metrics::authorised(key_type),
        None => crate::metrics::authorised_internal(),
    }
    .count();
    A::extend(granted, request.extensions_mut());
}

/// The answer to a rejected request, logged, with the [`Rejection`] in its extensions.
fn rejected<R: RejectionResponse>(
    rejection_response: &R,
    rejection: Rejection,
    now: i64,
    user_agent: Option<&http::HeaderValue>,
    route: &'static str,
) -> Response<R::Body> {
    log::log_rejection(&rejection, now, user_agent);
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
