//! Helpers for testing your handlers (feature `testing`: enable it in `[dev-dependencies]`,
//! never in what you ship).
//!
//! Two ways in:
//! - through the real layer, with a ready `Authorization` header for one of a store's keys
//!   ([`authorization`]): the test exercises what production runs;
//! - around the layer, with [`FixedPrincipalLayer`]: every request reaches the handler as
//!   one principal (or the internal client), with no store, no token and no clock.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, header};
//! use notify_auth::testing::{FixedPrincipalLayer, authorization};
//! use notify_auth::{ApiKey, KeyType, MemoryStore, NotifyAuthLayer, Principal, Secret, ServiceRecord};
//! use tower::ServiceExt;
//! use uuid::Uuid;
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.service_id.to_string()
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (service, key) = (Uuid::from_u128(1), Uuid::from_u128(2));
//! let store = MemoryStore::builder()
//!     .service(ServiceRecord::new(service, true).with_key(ApiKey::new(
//!         key,
//!         Secret::new("3d844edf-8d35-48ac-975b-e847b4f122b0"),
//!         KeyType::Normal,
//!     )))
//!     .build()?;
//!
//! // Through the layer, with a header for the service's key.
//! let app = Router::new()
//!     .route("/v2/whoami", get(whoami))
//!     .layer(NotifyAuthLayer::new(store.clone()));
//! let request = Request::get("/v2/whoami")
//!     .header(header::AUTHORIZATION, authorization(&store, service)?)
//!     .body(Body::empty())?;
//! assert_eq!(app.oneshot(request).await?.status(), 200);
//!
//! // Without it: the handler sees this principal.
//! let app = Router::new()
//!     .route("/v2/whoami", get(whoami))
//!     .layer(FixedPrincipalLayer::service(Principal::new(service, key, KeyType::Team)));
//! let response = app.oneshot(Request::get("/v2/whoami").body(Body::empty())?).await?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use crate::clock::{Clock as _, SystemClock};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request};
use tower::{Layer, Service};
use uuid::Uuid;

use crate::core::{is_listed, judge_key};
use crate::dialect::Dialect;
use crate::layer::{Caller, InternalCaller};
use crate::model::{InternalClient, Principal, ServiceRecord};
use crate::store::MemoryStore;
use crate::token::create_token_at;

/// Why no header could be minted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The store has no service with this id.
    #[error("the store has no service {0}")]
    NoSuchService(Uuid),
    /// The service is archived: the layer refuses its tokens.
    #[error("service {0} is archived")]
    ServiceArchived(Uuid),
    /// None of the service's keys is one the layer would accept (revoked, expired, or none).
    #[error("service {0} has no key the layer would accept")]
    NoUsableKey(Uuid),
    /// The internal client has no secret.
    #[error("the internal client has no secret")]
    NoSecret,
}

/// A ready `Authorization` header (`Bearer <token>`) for `service_id` in `store`: a token
/// issued now, signed with the first of the service's keys that GOV.UK Notify's rules accept
/// now (not revoked).
pub fn authorization(store: &MemoryStore, service_id: Uuid) -> Result<HeaderValue, MintError> {
    authorization_with(store, service_id, Dialect::Uk, SystemClock.now())
}

/// [`authorization`] for a layer that answers as `dialect`'s fork and reads the time as `now`
/// (a layer with a fixed [`clock`](crate::layer::AuthLayer::clock)): the key is the first
/// that fork accepts at `now` (VA Notify's needs an expiry date after it), and `iat` is `now`.
pub fn authorization_with(
    store: &MemoryStore,
    service_id: Uuid,
    dialect: Dialect,
    now: i64,
) -> Result<HeaderValue, MintError> {
    let service = store
        .get(service_id)
        .ok_or(MintError::NoSuchService(service_id))?;
    if !service.is_active() {
        return Err(MintError::ServiceArchived(service_id));
    }
    let key = service
        .api_keys()
        .iter()
        .find(|key| is_listed(key, now, dialect) && judge_key(key, now, dialect).is_ok())
        .ok_or(MintError::NoUsableKey(service_id))?;
    Ok(bearer(key.secret().expose(), &service_id.to_string(), now))
}

/// A ready `Authorization` header for the internal `client`: a token issued now, signed
/// with its first secret.
pub fn internal_authorization(client: &InternalClient) -> Result<HeaderValue, MintError> {
    internal_authorization_at(client, SystemClock.now())
}

/// [`internal_authorization`] issued at `now` (for a layer with a fixed clock).
pub fn internal_authorization_at(
    client: &InternalClient,
    now: i64,
) -> Result<HeaderValue, MintError> {
    let secret = client.secrets().first().ok_or(MintError::NoSecret)?;
    Ok(bearer(secret.expose(), client.id(), now))
}

/// `Bearer <token>` for `iss`, signed with `secret` (which the store has accepted as a key:
/// neither it nor `iss` is empty, so the token can be made, and it is ASCII).
fn bearer(secret: &str, iss: &str, now: i64) -> HeaderValue {
    let token = create_token_at(secret, iss, now).expect("a stored key's secret signs tokens");
    HeaderValue::try_from(format!("Bearer {token}")).expect("a token is a valid header value")
}

/// A layer that lets every request through as one caller, putting in its extensions what
/// the authentication layer would: the [`Principal`] or the [`InternalCaller`], and with
/// [`FixedPrincipalLayer::with_service`] the service's record; and the [`Caller`] too, which
/// the authentication layer hands on only when it takes both services and the internal
/// client ([`or_internal`](crate::layer::AuthLayer::or_internal)): a handler that takes a
/// `Caller` belongs behind that one. For a handler's tests, in place of the authentication
/// layer; it checks nothing.
#[derive(Clone, Debug)]
pub struct FixedPrincipalLayer {
    caller: Caller,
    service: Option<Arc<ServiceRecord>>,
}

impl FixedPrincipalLayer {
    /// Every request comes from `principal`.
    pub fn service(principal: Principal) -> Self {
        FixedPrincipalLayer {
            caller: Caller::Service(principal),
            service: None,
        }
    }

    /// Every request comes from the internal client `client_id`.
    pub fn internal(client_id: &str) -> Self {
        FixedPrincipalLayer {
            caller: Caller::Internal(InternalCaller::new(client_id)),
            service: None,
        }
    }

    /// Every request also comes with `service` as the record the principal's key came from
    /// (the `Arc<ServiceRecord>` the layer hands on, for handlers that read the service's rate
    /// limit, permissions or data).
    pub fn with_service(mut self, service: ServiceRecord) -> Self {
        self.service = Some(Arc::new(service));
        self
    }
}

impl<S> Layer<S> for FixedPrincipalLayer {
    type Service = FixedPrincipal<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FixedPrincipal {
            inner,
            caller: self.caller.clone(),
            service: self.service.clone(),
        }
    }
}

/// The service made by [`FixedPrincipalLayer`].
#[derive(Clone, Debug)]
pub struct FixedPrincipal<S> {
    inner: S,
    caller: Caller,
    service: Option<Arc<ServiceRecord>>,
}

impl<S, B> Service<Request<B>> for FixedPrincipal<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let extensions = request.extensions_mut();
        match &self.caller {
            Caller::Service(principal) => extensions.insert(*principal).map(drop),
            Caller::Internal(caller) => extensions.insert(caller.clone()).map(drop),
        };
        extensions.insert(self.caller.clone());
        if let Some(service) = &self.service {
            extensions.insert(Arc::clone(service));
        }
        self.inner.call(request)
    }
}
