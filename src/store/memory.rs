//! The embedded key store: everything in memory, built in code or loaded from a JSON file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{KeyBySecret, KeyStore, KeyStoreError, ServiceMap};
use crate::model::{ApiKey, InternalClient, KeyType, Secret, ServiceRecord};

/// An in-memory [`KeyStore`], and the internal clients of the same key file.
///
/// Build one in code:
///
/// ```
/// use notify_auth::{ApiKey, InternalClient, KeyType, MemoryStore, Secret, ServiceRecord};
/// use uuid::Uuid;
///
/// let service_id = Uuid::from_u128(1);
/// let store = MemoryStore::builder()
///     .service(
///         ServiceRecord::new(service_id, true)
///             .with_key(ApiKey::new(Uuid::from_u128(2), Secret::new("secret"), KeyType::Normal)),
///     )
///     .internal_client(InternalClient::new("notify-admin", [Secret::new("s1")]))
///     .build()?;
/// assert!(store.get(service_id).is_some());
/// assert!(store.internal_client("notify-admin").is_some());
/// # Ok::<(), notify_auth::LoadError>(())
/// ```
///
/// or load one from a key file ([`MemoryStore::from_json_file`]):
///
/// ```json
/// {
///   "services": [
///     {"id": "<uuid>", "active": true, "api_keys": [
///       {"id": "<uuid>", "secret": "<string>", "key_type": "normal", "expiry_date": null,
///        "name": "<string>", "revoked": false}
///     ],
///      "rate_limit": 3000, "restricted": false, "permissions": ["email", "sms"],
///      "data": {"name": "<anything the application wants>"}}
///   ],
///   "internal_clients": {"notify-admin": ["<secret>", "<secret>"]}
/// }
/// ```
///
/// `key_type` is `normal`, `team` or `test`; `expiry_date` is `null` (or absent) for an
/// active key, or the RFC 3339 time the key was revoked (in VA Notify's dialect, the time it
/// expires). `name` (the key's name, which GC Notify's key strings carry) and `revoked` (VA
/// Notify's flag) may be absent. A service's gate fields may be absent: `rate_limit`
/// (requests per minute per key type, default [`DEFAULT_RATE_LIMIT`](crate::DEFAULT_RATE_LIMIT)),
/// `restricted` (default false), `permissions` (default none); `data`, any JSON, is the
/// record's `serde_json::Value` ([`ServiceRecord::data`]). `internal_clients` may be absent.
/// Any other field is an error that names it.
///
/// The store also finds keys by their secret ([`KeyStore::key_by_secret`], GC Notify's raw
/// keys) from an index made when it is built: one hash lookup of the secret's SHA-256 digest.
#[derive(Clone, Default)]
pub struct MemoryStore {
    services: ServiceMap<Arc<ServiceRecord>>,
    by_secret: HashMap<[u8; 32], (Uuid, Uuid), foldhash::fast::RandomState>,
    internal_clients: HashMap<String, InternalClient>,
}

/// The index key of a secret: its SHA-256 digest, so that finding a key by a secret an
/// attacker chose compares digests, never the secrets themselves, byte by byte.
fn secret_digest(secret: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

impl MemoryStore {
    /// Starts an empty store.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    /// The service with this id.
    pub fn get(&self, id: Uuid) -> Option<&Arc<ServiceRecord>> {
        self.services.get(&id)
    }

    /// The internal client with this id.
    pub fn internal_client(&self, id: &str) -> Option<&InternalClient> {
        self.internal_clients.get(id)
    }

    /// The number of services.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there are no services.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Loads a key file (format above). The error names the file and what is wrong, with the
    /// line and column for malformed JSON.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            origin: path.to_owned(),
            problem: Problem::Io(e.to_string()),
        })?;
        Self::from_json_str(&Zeroizing::new(text), path)
    }

    /// Loads key-file text; `origin` names it in errors.
    pub fn from_json_str(json: &str, origin: impl AsRef<Path>) -> Result<Self, LoadError> {
        let origin = origin.as_ref();
        let err = |problem| LoadError {
            origin: origin.to_owned(),
            problem,
        };
        let file: KeyFile = serde_json::from_str(json).map_err(|e| {
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            err(Problem::Json {
                line: e.line(),
                column: e.column(),
                message,
            })
        })?;
        let mut builder = MemoryStore::builder();
        for (s, service) in file.services.into_iter().enumerate() {
            let mut record = ServiceRecord::new(service.id, service.active)
                .with_rate_limit(service.rate_limit)
                .with_restricted(service.restricted)
                .with_permissions(service.permissions);
            if let Some(data) = service.data {
                record = record.with_data(data);
            }
            for (k, key) in service.api_keys.into_iter().enumerate() {
                if key.secret.is_empty() {
                    return Err(err(Problem::Invalid(format!(
                        "services[{s}].api_keys[{k}]: the secret is empty"
                    ))));
                }
                let mut api_key = ApiKey::new(key.id, Secret::new(&*key.secret), key.key_type)
                    .revoked(key.revoked);
                if let Some(expiry_date) = key.expiry_date {
                    api_key = api_key.revoked_at(expiry_date);
                }
                if let Some(name) = key.name {
                    api_key = api_key.named(name);
                }
                record = record.with_key(api_key);
            }
            builder = builder.service(record);
        }
        for (id, secrets) in file.internal_clients {
            if secrets.iter().any(|s| s.is_empty()) {
                return Err(err(Problem::Invalid(format!(
                    "internal_clients.{id}: a secret is empty"
                ))));
            }
            let secrets = secrets.iter().map(|s| Secret::new(&**s));
            builder = builder.internal_client(InternalClient::new(id, secrets));
        }
        builder.build().map_err(|e| err(e.problem))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("services", &self.services.len())
            .field("internal_clients", &self.internal_clients.keys())
            .finish()
    }
}

#[async_trait::async_trait]
impl KeyStore for MemoryStore {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        Ok(self.services.get(&id).cloned())
    }

    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        Some(Ok(self.services.get(&id).cloned()))
    }

    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        Ok(self.find_secret(secret))
    }

    fn key_by_secret_now(&self, secret: &str) -> Option<Result<KeyBySecret, KeyStoreError>> {
        Some(Ok(self.find_secret(secret)))
    }
}

impl MemoryStore {
    fn find_secret(&self, secret: &str) -> KeyBySecret {
        match self.by_secret.get(&secret_digest(secret)) {
            Some(&(service_id, key_id)) => KeyBySecret::Found { service_id, key_id },
            None => KeyBySecret::Absent,
        }
    }
}

/// Builds a [`MemoryStore`] in code.
#[derive(Default)]
pub struct MemoryStoreBuilder {
    services: Vec<ServiceRecord>,
    internal_clients: Vec<InternalClient>,
}

impl MemoryStoreBuilder {
    /// Adds a service.
    pub fn service(mut self, service: ServiceRecord) -> Self {
        self.services.push(service);
        self
    }

    /// Adds an internal client.
    pub fn internal_client(mut self, client: InternalClient) -> Self {
        self.internal_clients.push(client);
        self
    }

    /// Checks that service ids, key ids and client ids are unique and that no two keys share
    /// a secret (within a service, a token signed with it would be answered as either key;
    /// across services, a raw key would name either, and GC Notify's database refuses them),
    /// and builds the store.
    pub fn build(self) -> Result<MemoryStore, LoadError> {
        let err = |message: String| LoadError {
            origin: PathBuf::from("<builder>"),
            problem: Problem::Invalid(message),
        };
        let mut key_ids = HashSet::new();
        let mut services =
            ServiceMap::with_capacity_and_hasher(self.services.len(), Default::default());
        let mut by_secret = HashMap::with_hasher(Default::default());
        for service in self.services {
            for key in service.api_keys() {
                if !key_ids.insert(key.id()) {
                    return Err(err(format!("API key id {} appears twice", key.id())));
                }
            }
            let id = service.id();
            if let Some((a, b)) = service.keys_sharing_a_secret() {
                return Err(err(format!(
                    "service {id}: API keys {a} and {b} have the same secret (a token signed \
                     with it would be answered as either key)"
                )));
            }
            for key in service.api_keys() {
                let digest = secret_digest(key.secret().expose());
                if let Some((other, _)) = by_secret.insert(digest, (id, key.id())) {
                    return Err(err(format!(
                        "services {other} and {id} have keys with the same secret (a raw key, \
                         GC Notify's ApiKey-v1, would name either)"
                    )));
                }
            }
            if services.insert(id, Arc::new(service)).is_some() {
                return Err(err(format!("service id {id} appears twice")));
            }
        }
        let mut internal_clients = HashMap::with_capacity(self.internal_clients.len());
        for client in self.internal_clients {
            if client.id().is_empty() {
                return Err(err("an internal client id is empty".to_owned()));
            }
            let id = client.id().to_owned();
            if internal_clients.insert(id.clone(), client).is_some() {
                return Err(err(format!("internal client {id:?} appears twice")));
            }
        }
        Ok(MemoryStore {
            services,
            by_secret,
            internal_clients,
        })
    }
}

/// A key file or builder that could not be loaded: says where and what is wrong, and never
/// quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", origin.display())]
pub struct LoadError {
    origin: PathBuf,
    problem: Problem,
}

impl LoadError {
    /// The file (or `<builder>`) the error is about.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// For malformed JSON, the line and column (both from 1).
    pub fn position(&self) -> Option<(usize, usize)> {
        match self.problem {
            Problem::Json { line, column, .. } => Some((line, column)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Problem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    services: Vec<FileService>,
    #[serde(default)]
    internal_clients: BTreeMap<String, Vec<SecretText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileService {
    id: Uuid,
    active: bool,
    api_keys: Vec<FileKey>,
    #[serde(default = "default_rate_limit")]
    rate_limit: i32,
    #[serde(default)]
    restricted: bool,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

fn default_rate_limit() -> i32 {
    crate::model::DEFAULT_RATE_LIMIT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    id: Uuid,
    secret: SecretText,
    key_type: KeyType,
    #[serde(default, deserialize_with = "rfc3339_or_null")]
    expiry_date: Option<OffsetDateTime>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    revoked: bool,
}

/// A secret in the key file: read as a string, and never quoted in an error (serde's own
/// "invalid type" errors would print a mistyped secret).
struct SecretText(Zeroizing<String>);

impl std::ops::Deref for SecretText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SecretText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v)))
            }
        }
        d.deserialize_string(V).map_err(|_: D::Error| {
            serde::de::Error::custom("a secret must be a string (its value is not shown)")
        })
    }
}

fn rfc3339_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|e| {
            serde::de::Error::custom(format_args!(
                "expiry_date {text:?} is not an RFC 3339 timestamp such as \"2026-11-22T10:00:00Z\" ({e})"
            ))
        })
}
