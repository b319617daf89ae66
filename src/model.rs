//! The data model: services, API keys, secrets and the authenticated principal.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

/// How long Notify keeps showing a revoked key (contract §5).
const REVOKED_KEY_VISIBILITY_SECS: i64 = 7 * 24 * 60 * 60;
const SECS_PER_DAY: i64 = 24 * 60 * 60;

/// An API key's secret: the HMAC-SHA256 key a client signs its tokens with.
///
/// Neither `Debug` nor any other formatting shows it. The HMAC state derived from it (the
/// hashed inner and outer pads) is computed once, when the secret is created, so verifying a
/// token costs only the hashing of the token itself.
///
/// Everything derived from the secret is zeroized when dropped: the text, the keyed HMAC
/// state, and the copy of that state each verification works on (sha2's and hmac's `zeroize`
/// features). Copies the compiler or the operating system make on their own (registers,
/// swapped pages) are beyond any library's reach.
#[derive(Clone)]
pub struct Secret {
    text: Zeroizing<String>,
    mac: Hmac<Sha256>,
}

// The claim above, checked when the crate builds. `Hmac<Sha256>` is two keyed SHA-256 states
// (inner and outer) and a buffer for the last partial block; hmac does not mark the whole as
// `ZeroizeOnDrop`, but each part zeroizes itself on drop when sha2's and hmac's (digest's)
// `zeroize` features are on, and without them this would not compile.
const _: () = {
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    let _ = zeroized_on_drop::<<Sha256 as hmac::EagerHash>::Core>;
    let _ = zeroized_on_drop::<hmac::digest::block_api::Buffer<hmac::block_api::HmacCore<Sha256>>>;
};

impl Secret {
    /// Wraps a secret's text (in Notify, a UUID string; any UTF-8 text is accepted).
    pub fn new(text: impl Into<String>) -> Self {
        let text = Zeroizing::new(text.into());
        let mac = Hmac::<Sha256>::new_from_slice(text.as_bytes())
            .expect("HMAC-SHA256 accepts keys of any length");
        Secret { text, mac }
    }

    /// The secret's text. Handle with care: it must never be logged.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// HMAC-SHA256(secret, the concatenation of `parts`).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Checks `signature` against HMAC-SHA256(secret, `message`) in constant time.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(test)]
        HMACS.with(|count| count.set(count.get() + 1));
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.verify_slice(signature).is_ok()
    }
}

#[cfg(test)]
thread_local! {
    /// Signatures verified on this thread, for the tests that bound the key loop's work.
    pub(crate) static HMACS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    /// Compares the secrets' text in constant time.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }
}

impl Eq for Secret {}

/// What an API key may do, in Notify's terms. Authentication treats all three alike; the
/// application decides what each may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A live key: sends to anyone.
    Normal,
    /// Sends only to the service's team and guest list.
    Team,
    /// Simulated sending only.
    Test,
}

impl KeyType {
    /// The name Notify uses: `normal`, `team` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Normal => "normal",
            KeyType::Team => "team",
            KeyType::Test => "test",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a key type name other than `normal`, `team` or `test`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type {0:?} (expected \"normal\", \"team\" or \"test\")")]
pub struct UnknownKeyType(pub String);

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(KeyType::Normal),
            "team" => Ok(KeyType::Team),
            "test" => Ok(KeyType::Test),
            other => Err(UnknownKeyType(other.to_owned())),
        }
    }
}

/// One API key of a service.
#[derive(Clone, Debug)]
pub struct ApiKey {
    id: Uuid,
    secret: Secret,
    key_type: KeyType,
    expiry_date: Option<OffsetDateTime>,
    /// Unix second from which a revoked key is no longer listed (contract §5).
    hidden_from: Option<i64>,
    /// VA Notify's `revoked` column.
    revoked: bool,
    /// The key's name, as its owner knows it (GC Notify's key strings carry it).
    name: Option<Box<str>>,
}

impl ApiKey {
    /// A key that has not been revoked.
    pub fn new(id: Uuid, secret: Secret, key_type: KeyType) -> Self {
        ApiKey {
            id,
            secret,
            key_type,
            expiry_date: None,
            hidden_from: None,
            revoked: false,
            name: None,
        }
    }

    /// Sets VA Notify's `revoked` flag: a revoked key is answered "API key revoked" in every
    /// dialect (GOV.UK Notify, Notify.gov and GC Notify mark revocation with the expiry date
    /// alone, [`ApiKey::revoked_at`]).
    pub fn revoked(mut self, revoked: bool) -> Self {
        self.revoked = revoked;
        self
    }

    /// Names the key (Notify's `api_keys.name`; GC Notify's key strings carry it, and nothing
    /// checks it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Sets the key's expiry date (Notify's `expiry_date` column): in GOV.UK Notify, Notify.gov
    /// and GC Notify the moment it was revoked; in VA Notify, where every key has one, the
    /// moment it stops working ("API key expired" from then on, to the second).
    ///
    /// A revoked key is still listed for a while, so a token signed with it is answered
    /// "API key revoked"; after that it is invisible, exactly as in Notify: the key stays
    /// listed while the UTC calendar date of `expiry_date`, taken at midnight, is later than
    /// seven days before now. (GC and VA Notify list every key, however old: see
    /// [`Dialect::tries_every_key`](crate::Dialect::tries_every_key).)
    pub fn revoked_at(mut self, expiry_date: OffsetDateTime) -> Self {
        let utc = expiry_date.to_offset(time::UtcOffset::UTC);
        let midnight = utc.unix_timestamp().div_euclid(SECS_PER_DAY) * SECS_PER_DAY;
        self.expiry_date = Some(utc);
        self.hidden_from = Some(midnight.saturating_add(REVOKED_KEY_VISIBILITY_SECS));
        self
    }

    /// The key's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The key's secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key's expiry date, if it has one: when it was revoked (VA Notify: when it
    /// expires).
    pub fn expiry_date(&self) -> Option<OffsetDateTime> {
        self.expiry_date
    }

    /// VA Notify's `revoked` flag ([`ApiKey::revoked`]).
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// The key's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether Notify would list this key at unix second `now`: active keys always, revoked
    /// keys for about seven days (see [`ApiKey::revoked_at`]).
    pub fn is_visible_at(&self, now: i64) -> bool {
        self.hidden_from.is_none_or(|hidden_from| now < hidden_from)
    }
}

/// GOV.UK Notify's default `services.rate_limit`: requests per minute, per key type (GC
/// Notify's model defaults to 1,000; a store reading the column gets the service's own).
pub const DEFAULT_RATE_LIMIT: i32 = 3000;

/// A service, its API keys, and what Notify's request gate reads of it, as a
/// [`KeyStore`](crate::KeyStore) returns it. The layer hands it to handlers (the request's
/// extensions hold the `Arc<ServiceRecord>` the key came from), so they need not look the
/// service up again.
///
/// Besides the keys, Notify's gate fields: the API rate limit ([`ServiceRecord::rate_limit`]),
/// whether the service is restricted (in trial mode), and its permissions (`email`, `sms`,
/// `letter`, `international_sms`…); and room for an application's own data, of any type
/// ([`ServiceRecord::with_data`]). The built-in stores fill the gate fields from Notify's
/// columns, and put a `serde_json::Value` in the data: the key file's `"data"`, or the
/// columns a [`PostgresKeyStore`](crate::store) is asked for.
///
/// A service also remembers which of its keys last verified a token, and that key is tried
/// first next time (keys' secrets are distinct, so this changes only the work, never the
/// answer). The hint lives as long as the record: stores that keep records (the in-memory
/// store, a cache) benefit from it.
pub struct ServiceRecord {
    id: Uuid,
    active: bool,
    api_keys: Vec<ApiKey>,
    last_match: AtomicUsize,
    rate_limit: i32,
    restricted: bool,
    permissions: Vec<String>,
    data: http::Extensions,
}

impl Clone for ServiceRecord {
    fn clone(&self) -> Self {
        ServiceRecord {
            id: self.id,
            active: self.active,
            api_keys: self.api_keys.clone(),
            last_match: AtomicUsize::new(self.last_match.load(Ordering::Relaxed)),
            rate_limit: self.rate_limit,
            restricted: self.restricted,
            permissions: self.permissions.clone(),
            data: self.data.clone(),
        }
    }
}

impl fmt::Debug for ServiceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRecord")
            .field("id", &self.id)
            .field("active", &self.active)
            .field("api_keys", &self.api_keys)
            .field("rate_limit", &self.rate_limit)
            .field("restricted", &self.restricted)
            .field("permissions", &self.permissions)
            .field("data", &self.data.len())
            .finish()
    }
}

impl ServiceRecord {
    /// A service with no keys yet, Notify's default rate limit ([`DEFAULT_RATE_LIMIT`]), not
    /// restricted, with no permissions and no data. An inactive service is one Notify calls
    /// archived.
    pub fn new(id: Uuid, active: bool) -> Self {
        ServiceRecord {
            id,
            active,
            api_keys: Vec::new(),
            last_match: AtomicUsize::new(NO_MATCH),
            rate_limit: DEFAULT_RATE_LIMIT,
            restricted: false,
            permissions: Vec::new(),
            data: http::Extensions::new(),
        }
    }

    /// Adds a key.
    pub fn with_key(mut self, key: ApiKey) -> Self {
        self.api_keys.push(key);
        self
    }

    /// Sets the API rate limit: requests per minute for each key type (Notify's
    /// `services.rate_limit`).
    pub fn with_rate_limit(mut self, rate_limit: i32) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets whether the service is restricted (Notify's trial mode: `services.restricted`).
    pub fn with_restricted(mut self, restricted: bool) -> Self {
        self.restricted = restricted;
        self
    }

    /// Sets the service's permissions (Notify's `service_permissions`: `email`, `sms`,
    /// `letter`, `international_sms`, `inbound_sms`…), kept sorted.
    pub fn with_permissions<P: Into<String>>(
        mut self,
        permissions: impl IntoIterator<Item = P>,
    ) -> Self {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self.permissions.sort_unstable();
        self.permissions.dedup();
        self
    }

    /// Attaches data of the application's own, one value per type (a second of the same type
    /// replaces the first); read it back with [`ServiceRecord::data`].
    pub fn with_data<T: Clone + Send + Sync + 'static>(mut self, data: T) -> Self {
        self.data.insert(data);
        self
    }

    /// The service's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether the service is active (not archived).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// All of the service's keys, revoked ones included.
    pub fn api_keys(&self) -> &[ApiKey] {
        &self.api_keys
    }

    /// The API rate limit: requests per minute for each key type.
    pub fn rate_limit(&self) -> i32 {
        self.rate_limit
    }

    /// Whether the service is restricted (in trial mode).
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// The service's permissions, sorted.
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    /// Whether the service has `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions
            .binary_search_by(|p| p.as_str().cmp(permission))
            .is_ok()
    }

    /// The application's data of type `T`, if the store attached some.
    pub fn data<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.data.get::<T>()
    }

    /// Two keys of the service that share a secret, if any. Such a service is refused by the
    /// built-in stores: a token signed with that secret would be answered as whichever key is
    /// tried first (the one its `kid` names, or the last to match), revoked or not.
    pub fn keys_sharing_a_secret(&self) -> Option<(Uuid, Uuid)> {
        let mut seen = std::collections::HashMap::with_capacity(self.api_keys.len());
        self.api_keys.iter().find_map(|key| {
            seen.insert(key.secret().expose(), key.id())
                .map(|other| (other, key.id()))
        })
    }

    /// The index of the key that last verified a token, if any.
    pub(crate) fn last_match(&self) -> Option<usize> {
        let i = self.last_match.load(Ordering::Relaxed);
        (i != NO_MATCH).then_some(i)
    }

    pub(crate) fn set_last_match(&self, index: usize) {
        self.last_match.store(index, Ordering::Relaxed);
    }
}

const NO_MATCH: usize = usize::MAX;

/// Who a request was authenticated as: handed to handlers in the request extensions.
///
/// Non-exhaustive, so that later versions can say more about the caller (the key's name, …)
/// without breaking code that reads it; outside the crate, make one with [`Principal::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub struct Principal {
    /// The service the token's `iss` names (canonical UUID).
    pub service_id: Uuid,
    /// The API key whose secret signed the token.
    pub api_key_id: Uuid,
    /// That key's type; the application decides what each type may do.
    pub key_type: KeyType,
}

impl Principal {
    /// The principal of `api_key_id`, a key of type `key_type` of the service `service_id`
    /// (for tests, and for handlers that stand in for the layer).
    pub fn new(service_id: Uuid, api_key_id: Uuid, key_type: KeyType) -> Self {
        Principal {
            service_id,
            api_key_id,
            key_type,
        }
    }
}

/// An internal client (such as Notify's admin app, `notify-admin`) and its secrets.
///
/// Internal routes accept tokens whose `iss` is exactly this client id, signed with any of
/// its secrets (several, so they can be rotated).
#[derive(Clone, Debug)]
pub struct InternalClient {
    id: String,
    secrets: Vec<Secret>,
}

impl InternalClient {
    /// A client id and its secrets.
    pub fn new(id: impl Into<String>, secrets: impl IntoIterator<Item = Secret>) -> Self {
        InternalClient {
            id: id.into(),
            secrets: secrets.into_iter().collect(),
        }
    }

    /// The client id expected in `iss`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The client's secrets.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("very-secret-value");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let key = ApiKey::new(Uuid::nil(), secret, KeyType::Normal);
        assert!(!format!("{key:?}").contains("very-secret-value"));
        let client = InternalClient::new("notify-admin", [Secret::new("s1-hidden")]);
        assert!(!format!("{client:?}").contains("s1-hidden"));
    }

    #[test]
    fn revoked_keys_are_visible_until_midnight_of_expiry_plus_seven_days() {
        // Revoked on 2026-01-10 at 15:00 UTC: listed until 2026-01-17 00:00 UTC exclusive.
        let key = ApiKey::new(Uuid::nil(), Secret::new("s"), KeyType::Normal)
            .revoked_at(datetime!(2026-01-10 15:00 UTC));
        let hidden_from = datetime!(2026-01-17 00:00 UTC).unix_timestamp();
        assert!(key.is_visible_at(hidden_from - 1));
        assert!(!key.is_visible_at(hidden_from));
        // An offset is converted to UTC before taking the date.
        let key = ApiKey::new(Uuid::nil(), Secret::new("s"), KeyType::Normal)
            .revoked_at(datetime!(2026-01-11 01:00 +02:00));
        assert!(!key.is_visible_at(hidden_from));
        assert!(ApiKey::new(Uuid::nil(), Secret::new("s"), KeyType::Test).is_visible_at(i64::MAX));
    }

    #[test]
    fn key_type_names_round_trip() {
        for kt in [KeyType::Normal, KeyType::Team, KeyType::Test] {
            assert_eq!(kt.as_str().parse::<KeyType>(), Ok(kt));
        }
        assert_eq!(
            "live".parse::<KeyType>().unwrap_err().to_string(),
            "unknown key type \"live\" (expected \"normal\", \"team\" or \"test\")"
        );
    }
}
