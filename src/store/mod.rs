//! Where services and their keys come from: the [`KeyStore`] trait and the built-in
//! [`MemoryStore`].
//!
//! # Implementing a key store
//!
//! A store answers one question: the record of the service with this id, if there is one.
//! Implementing it needs only this crate: the trait is async, and the attribute that
//! implements it is re-exported as `notify_auth::async_trait`.
//! Return every key the service has, revoked ones included with their expiry date: the core
//! applies Notify's seven-day visibility rule itself, the same way for every store. Report
//! failures (a database that is down) as a [`KeyStoreError`]: the layer answers 500 with a
//! fixed body and logs the cause, so the details never reach the client.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//!
//! use notify_auth::{ApiKey, KeyStore, KeyStoreError, KeyType, Secret, ServiceRecord};
//! use uuid::Uuid;
//!
//! /// Keys kept by some other system, reached through a client of yours.
//! struct MyStore {
//!     rows: HashMap<Uuid, Vec<(Uuid, String)>>,
//! }
//!
//! #[notify_auth::async_trait]
//! impl KeyStore for MyStore {
//!     async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
//!         let Some(rows) = self.rows.get(&id) else {
//!             return Ok(None);
//!         };
//!         let service = rows.iter().fold(ServiceRecord::new(id, true), |service, (key_id, secret)| {
//!             service.with_key(ApiKey::new(*key_id, Secret::new(secret.as_str()), KeyType::Normal))
//!         });
//!         Ok(Some(Arc::new(service)))
//!     }
//! }
//!
//! // Object-safe: a store shared as `Arc<dyn KeyStore>` goes in as it is.
//! let store: Arc<dyn KeyStore> = Arc::new(MyStore { rows: HashMap::new() });
//! let layer = notify_auth::NotifyAuthLayer::from_shared(store);
//! # let _ = layer;
//! ```

#[cfg(feature = "cache")]
mod cache;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::model::ServiceRecord;

/// The maps the built-in stores find a service in, once per request. Hashed with foldhash
/// (small, no dependencies, hashbrown's own default): a 16-byte id in a few nanoseconds, where
/// std's SipHash takes ~20. foldhash is not meant to resist an attacker who chooses the keys
/// inserted; here nobody but the operator does: the maps hold only services that exist (a
/// request's id is looked up, never inserted), so made-up ids cannot build long probe
/// chains, and a lookup that misses stops at the first empty slot of its group.
pub(crate) type ServiceMap<V> = HashMap<Uuid, V, foldhash::fast::RandomState>;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use self::cache::{
    CacheStats, CachedKeyStore, CachedKeyStoreBuilder, DEFAULT_MAX_SERVICES, DEFAULT_NEGATIVE_TTL,
    DEFAULT_SAFETY_TTL, DEFAULT_TTL,
};
pub use self::memory::{LoadError, MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::*;

/// A source of services and their API keys.
///
/// Implementations must be cheap to share (`Send + Sync + 'static`); the layer holds one in an
/// `Arc` and calls it once per request that gets past the token's parsing.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The service with this id and all of its keys, `Ok(None)` if there is none, or an
    /// error if the store could not be read.
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError>;

    /// The answer at once, when the store has it in memory: the layer (and a cache in front
    /// of the store) asks this first, and only calls [`KeyStore::service`] (a boxed future,
    /// as every async trait method) on `None`, the default. A store whose answers are all in
    /// memory (the in-memory store) answers every id here; one that knows which services
    /// exist answers `Some(Ok(None))` for the others, so that a flood of made-up ids neither
    /// reaches it nor fills a cache. It must give the same answer as [`KeyStore::service`].
    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        let _ = id;
        None
    }

    /// Which key has the secret `secret`, for GC Notify's raw keys (`Authorization: ApiKey-v1
    /// gcntfy-…`, [`Dialect::Gc`](crate::Dialect::Gc)): any key of any service, revoked ones
    /// included. The layer then reads the service with [`KeyStore::service`] (a cache in
    /// front serves it as it serves tokens) and checks that its key has that secret. The
    /// default answers [`KeyBySecret::Unsupported`], which the layer answers 403 (never a
    /// 500): a store that cannot search by secret is still a store for JWTs.
    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        let _ = secret;
        Ok(KeyBySecret::Unsupported)
    }

    /// [`KeyStore::key_by_secret`]'s answer at once, when the store has it in memory (`None`,
    /// the default: the layer then awaits [`KeyStore::key_by_secret`]). It must give the
    /// same answer.
    fn key_by_secret_now(&self, secret: &str) -> Option<Result<KeyBySecret, KeyStoreError>> {
        let _ = secret;
        None
    }
}

/// What a store found by a key's secret ([`KeyStore::key_by_secret`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyBySecret {
    /// The key with that secret.
    Found {
        /// The key's service.
        service_id: Uuid,
        /// The key.
        key_id: Uuid,
    },
    /// No key has that secret.
    Absent,
    /// The store cannot find keys by their secret.
    Unsupported,
}

#[async_trait::async_trait]
impl<T: KeyStore + ?Sized> KeyStore for Arc<T> {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        (**self).service(id).await
    }

    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        (**self).service_now(id)
    }

    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        (**self).key_by_secret(secret).await
    }

    fn key_by_secret_now(&self, secret: &str) -> Option<Result<KeyBySecret, KeyStoreError>> {
        (**self).key_by_secret_now(secret)
    }
}

/// A key store that could not answer. Its text is logged, never sent to the client.
///
/// Its `Display` includes the cause's text, and it has no `source()`, so that printing it
/// with its chain of sources (as `anyhow` or a `tracing` error field does) says the cause
/// once; [`KeyStoreError::cause`] gives the cause itself.
#[derive(Clone, Debug, thiserror::Error)]
#[error("key store error: {cause}")]
pub struct KeyStoreError {
    cause: Arc<dyn std::error::Error + Send + Sync + 'static>,
}

impl KeyStoreError {
    /// Wraps the cause.
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        KeyStoreError {
            cause: Arc::from(cause.into()),
        }
    }

    /// The cause, for inspection (its text is already in this error's).
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.cause
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::KeyStoreError;

    #[test]
    fn a_chain_of_sources_says_the_cause_once() {
        let error = KeyStoreError::new(std::io::Error::other("the disk is on fire"));
        let mut chain = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        assert_eq!(chain, ["key store error: the disk is on fire"]);
        assert_eq!(error.cause().to_string(), "the disk is on fire");
    }
}
