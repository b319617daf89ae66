//! Authenticate API requests exactly as GOV.UK Notify's API does, as a tower layer.
//!
//! Notify's clients send `Authorization: Bearer <JWT>`: an HS256 token whose `iss` is a
//! service id and whose `iat` is within 30 seconds of the server's clock. This crate looks up
//! that service's API keys in a [`KeyStore`] you provide, tries each secret, and answers
//! failures with Notify's exact status codes and bodies.
//!
//! ```
//! use axum::{Json, Router, routing::any};
//! use notify_auth::{ApiKey, KeyType, MemoryStore, NotifyAuthLayer, Principal, Secret, ServiceRecord};
//! use uuid::Uuid;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::builder()
//!     .service(ServiceRecord::new(Uuid::from_u128(1), true).with_key(ApiKey::new(
//!         Uuid::from_u128(2),
//!         Secret::new("3d844edf-8d35-48ac-975b-e847b4f122b0"),
//!         KeyType::Normal,
//!     )))
//!     .build()?;
//!
//! async fn handler(principal: Principal) -> Json<Principal> {
//!     Json(principal)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/v2/{*rest}", any(handler))
//!     .layer(NotifyAuthLayer::new(store));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! The pieces:
//! - [`core`]: the decision itself, plain synchronous code (sans-IO).
//! - [`NotifyAuthLayer`] / [`InternalAuthLayer`]: the tower middleware, with optional request
//!   binding ([`NotifyAuthLayer::request_binding`]), optional authentication
//!   ([`NotifyAuthLayer::optional`]), and services and the internal client on one route
//!   ([`NotifyAuthLayer::or_internal`]); with feature `tower-http`, the same as tower-http's
//!   `AsyncAuthorizeRequest` (`AuthLayer::authorizer`).
//! - [`KeyStore`] and the built-in [`MemoryStore`] (in code or from a JSON key file); with
//!   features, `store::CachedKeyStore` (`cache`) and `store::PostgresKeyStore` (`postgres`).
//! - [`ratelimit`]: GOV.UK Notify's API rate limit after authentication, its token buckets
//!   in memory or (feature `redis`) shared in Redis with Notify's own; handlers also get the
//!   service's record ([`ServiceRecord`]: Notify's gate fields and the application's data).
//! - [`token`]: minting tokens (bound or not) and reading combined API keys.
//! - [`Dialect`]: answering as GC Notify, Notify.gov or VA Notify instead.
//! - `axum` (feature, default): [`Principal`], [`InternalCaller`], [`Caller`] and
//!   `axum::AuthenticatedService` (the service's record) as extractors.
//! - `metrics` (feature): the crate's counters and histograms ([`metrics`] lists them).
//! - `testing` (feature): headers and a fixed-principal layer for your handlers' tests.
//!
//! The behaviour the crate implements is written down in `docs/contract.md`, shipped with the
//! crate ([on docs.rs](https://docs.rs/crate/notify-auth/latest/source/docs/contract.md)):
//! "contract §N" in this documentation is a section of that page. Where the crate answers
//! differently from Notify, and how each fork answers, is `docs/compatibility.md`
//! ([on docs.rs](https://docs.rs/crate/notify-auth/latest/source/docs/compatibility.md)).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unsafe_code)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod clock;
pub mod core;
pub mod dialect;
pub mod error;
pub mod layer;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod token;
pub mod usage;

/// The attribute that implements [`KeyStore`] (an async trait), re-exported so that an
/// implementation needs only this crate: write `#[notify_auth::async_trait]` on the `impl`.
pub use async_trait::async_trait;

pub use crate::clock::{Clock, SystemClock};
pub use crate::core::RequestBinding;
pub use crate::dialect::Dialect;
pub use crate::error::{AuthError, ErrorKind, InternalRole, InvalidReason};
pub use crate::layer::{
    BoundNotifyAuth, BoundNotifyAuthLayer, Caller, DEFAULT_STORE_TIMEOUT, InternalAuth,
    InternalAuthLayer, InternalCaller, NotifyAuth, NotifyAuthLayer, Rejection, RejectionResponse,
    ResponseFuture, ServiceOrInternalAuth, ServiceOrInternalAuthLayer, V1Errors, V2Errors,
    authorize_headers,
};
pub use crate::model::{
    ApiKey, DEFAULT_RATE_LIMIT, InternalClient, KeyType, Principal, Secret, ServiceRecord,
};
pub use crate::store::{KeyBySecret, KeyStore, KeyStoreError, LoadError, MemoryStore};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
