//! The layer's authentication as tower-http's [`AsyncAuthorizeRequest`] (feature
//! `tower-http`), for those who compose with `AsyncRequireAuthorizationLayer`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_http::auth::AsyncAuthorizeRequest;

use super::{AuthLayer, Authorizing, RejectionResponse, Scheme, Started, start};

/// A layer's authentication as tower-http's [`AsyncAuthorizeRequest`], made by
/// [`AuthLayer::authorizer`]: the same decisions, answers, logs and metrics as the layer
/// itself, for `tower_http::auth::AsyncRequireAuthorizationLayer`.
///
/// tower-http answers a rejection with the inner service's own body type, so give the layer
/// a rejection response with that body: under axum, Notify's answers with axum's body.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use notify_auth::{MemoryStore, NotifyAuthLayer, Principal, Rejection, RejectionResponse, V2Errors};
/// use tower_http::auth::AsyncRequireAuthorizationLayer;
///
/// async fn whoami(principal: Principal) -> String {
///     principal.service_id.to_string()
/// }
///
/// let authorizer = NotifyAuthLayer::new(MemoryStore::default())
///     .rejection_response(|rejection: &Rejection| V2Errors.response(rejection).map(Body::new))
///     .authorizer();
/// let app: Router = Router::new()
///     .route("/v2/whoami", get(whoami))
///     .layer(AsyncRequireAuthorizationLayer::new(authorizer));
/// # let _ = app;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tower-http")))]
pub struct Authorizer<A, R> {
    layer: Arc<AuthLayer<A, R>>,
}

impl<A, R> Clone for Authorizer<A, R> {
    fn clone(&self) -> Self {
        Authorizer {
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<A: fmt::Debug, R: fmt::Debug> fmt::Debug for Authorizer<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("layer", &self.layer)
            .finish()
    }
}

impl<A, R> AuthLayer<A, R> {
    /// This layer's authentication as tower-http's [`AsyncAuthorizeRequest`] (see
    /// [`Authorizer`]).
    #[cfg_attr(docsrs, doc(cfg(feature = "tower-http")))]
    pub fn authorizer(self) -> Authorizer<A, R> {
        Authorizer {
            layer: Arc::new(self),
        }
    }
}

impl<A, R, B> AsyncAuthorizeRequest<B> for Authorizer<A, R>
where
    A: Scheme<B>,
    R: RejectionResponse + Send + Sync + 'static,
    R::Body: Send + 'static,
    B: Send + 'static,
{
    type RequestBody = A::Body;
    type ResponseBody = R::Body;
    type Future = AuthorizeFuture<A::Body, R::Body>;

    fn authorize(&mut self, request: Request<B>) -> Self::Future {
        let state = match start(&self.layer, request) {
            Started::Pass(request) => Ready::Decided(Some(Ok(request))),
            Started::Rejected(response) => Ready::Decided(Some(Err(response))),
            Started::Pending(authorizing) => Ready::Pending(authorizing),
        };
        AuthorizeFuture { state }
    }
}

/// The future of [`Authorizer`]: ready at once for a request decided in `authorize`, else
/// the layer's own authentication future.
#[cfg_attr(docsrs, doc(cfg(feature = "tower-http")))]
pub struct AuthorizeFuture<ReqBody, RejBody> {
    state: Ready<ReqBody, RejBody>,
}

// The decision is held inline: boxing it would allocate for every request decided at once.
#[allow(clippy::large_enum_variant)]
enum Ready<ReqBody, RejBody> {
    Decided(Option<Result<Request<ReqBody>, Response<RejBody>>>),
    Pending(Authorizing<ReqBody, RejBody>),
}

// Nothing in it is pinned in place: the pending future is boxed, the decision is moved out.
impl<ReqBody, RejBody> Unpin for AuthorizeFuture<ReqBody, RejBody> {}

impl<ReqBody, RejBody> Future for AuthorizeFuture<ReqBody, RejBody> {
    type Output = Result<Request<ReqBody>, Response<RejBody>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            Ready::Decided(decided) => Poll::Ready(
                decided
                    .take()
                    .expect("a future is not polled after it ends"),
            ),
            Ready::Pending(authorizing) => authorizing.as_mut().poll(cx),
        }
    }
}

impl<ReqBody, RejBody> fmt::Debug for AuthorizeFuture<ReqBody, RejBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeFuture").finish_non_exhaustive()
    }
}
