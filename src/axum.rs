//! axum integration (feature `axum`): [`Principal`], [`InternalCaller`], [`Caller`] and the
//! service's record ([`AuthenticatedService`]) as extractors.
//!
//! Behind [`NotifyAuthLayer`](crate::NotifyAuthLayer), a handler takes the [`Principal`]
//! directly; `Option<Principal>` also works (axum's `OptionalFromRequestParts`) for handlers
//! that serve both authenticated and unauthenticated routes. If a handler asks for a
//! `Principal` on a route the layer does not cover, that is a server bug: the request is
//! answered 500 and an error is logged.
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use notify_auth::{MemoryStore, NotifyAuthLayer, Principal};
//!
//! async fn whoami(principal: Principal) -> Json<Principal> {
//!     Json(principal)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/v2/whoami", get(whoami))
//!     .layer(NotifyAuthLayer::new(MemoryStore::default()));
//! ```

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use std::sync::Arc;

use crate::layer::{Caller, InternalCaller};
use crate::model::{Principal, ServiceRecord};

/// The body of the 500 answered when a handler's extractor finds no layer in front of it.
pub const MISSING_LAYER_BODY: &str = "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Internal server error\"}],\"status_code\":500}\n";

/// The rejection of the extractors when the authentication layer did not run on the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no {0} in the request extensions: is the notify-auth layer applied to this route?")]
pub struct MissingAuthLayer(&'static str);

impl IntoResponse for MissingAuthLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        let mut response = (StatusCode::INTERNAL_SERVER_ERROR, MISSING_LAYER_BODY).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = MissingAuthLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .copied()
            .ok_or(MissingAuthLayer("Principal"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().copied())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for InternalCaller {
    type Rejection = MissingAuthLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<InternalCaller>()
            .cloned()
            .ok_or(MissingAuthLayer("InternalCaller"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for InternalCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<InternalCaller>().cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = MissingAuthLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(MissingAuthLayer("Caller"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned())
    }
}

/// The record of the service a request was authenticated as (the `Arc<ServiceRecord>` the
/// layer puts in the request's extensions), as an extractor: its rate limit, whether it is
/// restricted, its permissions and the application's data, without a second lookup.
///
/// ```
/// use axum::{Router, routing::post};
/// use notify_auth::axum::AuthenticatedService;
/// use notify_auth::{MemoryStore, NotifyAuthLayer};
///
/// async fn send_sms(service: AuthenticatedService) -> Result<&'static str, (http::StatusCode, &'static str)> {
///     if !service.has_permission("sms") {
///         return Err((http::StatusCode::BAD_REQUEST, "Service is not allowed to send text messages"));
///     }
///     Ok("sent")
/// }
///
/// let app: Router = Router::new()
///     .route("/v2/notifications/sms", post(send_sms))
///     .layer(NotifyAuthLayer::new(MemoryStore::default()));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AuthenticatedService(pub Arc<ServiceRecord>);

impl std::ops::Deref for AuthenticatedService {
    type Target = ServiceRecord;

    fn deref(&self) -> &ServiceRecord {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedService {
    type Rejection = MissingAuthLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<ServiceRecord>>()
            .cloned()
            .map(AuthenticatedService)
            .ok_or(MissingAuthLayer("Arc<ServiceRecord>"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedService {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Arc<ServiceRecord>>()
            .cloned()
            .map(AuthenticatedService))
    }
}
