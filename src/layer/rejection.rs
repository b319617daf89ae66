//! What a rejected request is answered with, and how to answer differently.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::dialect::Dialect;
use crate::error::{AuthError, ErrorKind};
use crate::store::KeyStoreError;

/// The body of the 500 answered when the key store fails or panics (a newline ends it).
pub const KEY_STORE_ERROR_BODY: &str = "{\"errors\":[{\"error\":\"KeyStoreError\",\"message\":\"Internal server error\"}],\"status_code\":500}\n";

/// The body of the 503 answered when the key store does not answer in time (a newline ends
/// it): the request may be retried.
pub const KEY_STORE_TIMEOUT_BODY: &str = "{\"errors\":[{\"error\":\"KeyStoreError\",\"message\":\"Service temporarily unavailable\"}],\"status_code\":503}\n";

/// The body of the 400 answered when request binding cannot read the body.
pub const UNREADABLE_BODY: &str = "{\"errors\":[{\"error\":\"BadRequestError\",\"message\":\"The request body could not be read\"}],\"status_code\":400}\n";

/// Why the layer did not let a request through. The layer puts it in the response's
/// extensions, so outer middleware can see it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The contract's answer: 401 or 403 with an exact message.
    Auth(AuthError),
    /// The key store failed or panicked: 500. The cause is logged, never sent.
    KeyStore(Arc<KeyStoreError>),
    /// The key store did not answer within the layer's timeout: 503.
    KeyStoreTimeout(Duration),
    /// Request binding: the body is larger than the limit (bytes): 413.
    PayloadTooLarge(usize),
    /// Request binding: the body could not be read: 400.
    UnreadableBody,
}

impl Rejection {
    /// The HTTP status of the default answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Auth(e) => e.status(),
            Rejection::KeyStore(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Rejection::KeyStoreTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::UnreadableBody => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable snake_case code for the rejection, for logs and metrics labels: the
    /// [`ErrorKind::as_str`] of an authentication error, else `key_store_error`,
    /// `key_store_timeout`, `payload_too_large` or `unreadable_body`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Auth(e) => e.kind().as_str(),
            Rejection::KeyStore(_) => "key_store_error",
            Rejection::KeyStoreTimeout(_) => "key_store_timeout",
            Rejection::PayloadTooLarge(_) => "payload_too_large",
            Rejection::UnreadableBody => "unreadable_body",
        }
    }

    /// The authentication error, if this is one.
    pub fn auth_error(&self) -> Option<&AuthError> {
        match self {
            Rejection::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AuthError> for Rejection {
    fn from(e: AuthError) -> Self {
        Rejection::Auth(e)
    }
}

/// Turns a [`Rejection`] into a response, with a body of its own choosing: the layer answers
/// `Response<Either<Self::Body, B>>` whatever the inner service's body `B` is, so it composes
/// outside any body-changing middleware (compression, tracing, timeouts, limits).
///
/// Implemented by [`V2Errors`] (public routes, the default), [`V1Errors`] (internal routes),
/// both with `Full<Bytes>` bodies, and by any `FnMut(&Rejection) -> Response<B>` closure that
/// is `Clone + Send + Sync + 'static` (the layer's service shares its settings behind an
/// `Arc`, so it is `Send` when they are `Sync`):
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use http_body_util::Full;
/// use notify_auth::{MemoryStore, NotifyAuthLayer, Rejection};
///
/// let layer = NotifyAuthLayer::new(MemoryStore::default()).rejection_response(
///     |rejection: &Rejection| {
///         let mut response = Response::new(Full::new(Bytes::from_static(b"go away")));
///         *response.status_mut() = rejection.status();
///         response
///     },
/// );
/// # let _ = layer;
/// ```
pub trait RejectionResponse {
    /// The body of the responses it makes.
    type Body;

    /// The response for `rejection`.
    fn response(&self, rejection: &Rejection) -> Response<Self::Body>;
}

impl<B, F> RejectionResponse for F
where
    F: Fn(&Rejection) -> Response<B>,
{
    type Body = B;

    fn response(&self, rejection: &Rejection) -> Response<B> {
        self(rejection)
    }
}

/// Notify's public-route answers: `{"errors":[{"error":"AuthError","message":…}],"status_code":…}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct V2Errors;

/// Notify's internal-route answers: `{"message":{"token":[…]},"result":"error"}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct V1Errors;

/// The bodies of the contract's answers, one per [`ErrorKind::ANSWERS`] and dialect, made the
/// first time one is needed: a rejection then costs neither formatting nor an allocation for
/// its body (a flood of bad tokens is all rejections).
type Bodies = LazyLock<[[String; ErrorKind::ANSWERS.len()]; Dialect::ALL.len()]>;

static V2_BODIES: Bodies = LazyLock::new(|| made(AuthError::v2_body));
static V1_BODIES: Bodies = LazyLock::new(|| made(AuthError::v1_body));

fn made(body: fn(&AuthError) -> String) -> [[String; ErrorKind::ANSWERS.len()]; 4] {
    Dialect::ALL.map(|d| ErrorKind::ANSWERS.map(|k| body(&AuthError::new(k).in_dialect(d))))
}

impl RejectionResponse for V2Errors {
    type Body = Full<Bytes>;

    fn response(&self, rejection: &Rejection) -> Response<Full<Bytes>> {
        json_response(rejection, &V2_BODIES, AuthError::v2_body)
    }
}

impl RejectionResponse for V1Errors {
    type Body = Full<Bytes>;

    fn response(&self, rejection: &Rejection) -> Response<Full<Bytes>> {
        json_response(rejection, &V1_BODIES, AuthError::v1_body)
    }
}

fn json_response(
    rejection: &Rejection,
    bodies: &'static Bodies,
    body: fn(&AuthError) -> String,
) -> Response<Full<Bytes>> {
    let bytes = match rejection {
        Rejection::Auth(e) => match e.answer() {
            Some(answer) => Bytes::from_static(bodies[e.dialect().index()][answer].as_bytes()),
            // GC Notify's internal routes other than the admin one, worded per request.
            None => Bytes::from(body(e)),
        },
        Rejection::KeyStore(_) => Bytes::from_static(KEY_STORE_ERROR_BODY.as_bytes()),
        Rejection::KeyStoreTimeout(_) => Bytes::from_static(KEY_STORE_TIMEOUT_BODY.as_bytes()),
        Rejection::PayloadTooLarge(limit) => Bytes::from(crate::error::v2_error_body(
            "PayloadTooLargeError",
            &format!("Request body is larger than {limit} bytes"),
            rejection.status(),
        )),
        Rejection::UnreadableBody => Bytes::from_static(UNREADABLE_BODY.as_bytes()),
    };
    json(rejection.status(), bytes)
}

/// A JSON answer: `status`, `Content-Type: application/json`, `bytes`.
pub(crate) fn json(status: StatusCode, bytes: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::error::InvalidReason;

    async fn body(response: Response<Full<Bytes>>) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn the_bodies_made_once_are_those_of_each_error() {
        let kinds = ErrorKind::ANSWERS
            .into_iter()
            .chain([ErrorKind::InvalidToken(InvalidReason::Expired)]);
        for (kind, dialect) in kinds.flat_map(|k| Dialect::ALL.map(|d| (k, d))) {
            let error = AuthError::new(kind).in_dialect(dialect);
            let rejection = Rejection::Auth(error);
            let v2 = V2Errors.response(&rejection);
            assert_eq!(v2.status(), error.status());
            assert_eq!(v2.headers()[header::CONTENT_TYPE], "application/json");
            let message = format!("{kind:?} in {dialect}");
            assert_eq!(body(v2).await, error.v2_body().as_bytes(), "{message}");
            let v1 = V1Errors.response(&rejection);
            assert_eq!(body(v1).await, error.v1_body().as_bytes(), "{message}");
        }
    }
}
