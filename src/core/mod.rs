//! The sans-IO core: header values + the time + key material → a principal or an error.
//!
//! Everything here is plain synchronous code, with no I/O, no async runtime and no HTTP
//! library: the tower layer, the axum extractor and the key stores are adapters around it.
//! A request is decided in two steps, because the service's keys can only be fetched once
//! the token has named the service:
//!
//! 1. [`PublicToken::parse`] (or [`InternalToken::parse`]) reads the `Authorization` header
//!    values: contract §2 steps 1 to 5.
//! 2. [`PublicToken::authorize`] (or [`InternalToken::authorize`]) decides against the
//!    service's record and the time taken when the request arrived: steps 6 to 9 and the key
//!    loop of §3.
//!
//! [`authenticate`] does both for a caller whose keys are at hand.
//!
//! Those answer as GOV.UK Notify does. In another [`Dialect`], [`Credential::parse`] reads the
//! header as that fork does: a JWT ([`PublicToken`], whose decision then follows the fork's
//! rules), or with GC Notify's `ApiKey-v1` scheme a raw key string ([`ApiKeyString`]), which
//! names no service and is found by its secret instead ([`ApiKeyString::secret`], then
//! [`ApiKeyString::authorize`]). [`InternalToken::parse_in`] is the internal routes' reading
//! in a dialect.
//!
//! ```
//! use notify_auth::core::{authenticate, Authorization};
//! use notify_auth::{ApiKey, KeyType, Secret, ServiceRecord};
//! use uuid::Uuid;
//!
//! let service_id = Uuid::parse_str("6f0b6a0a-2c43-4a0b-9c1e-2d9b1b7d3c11").unwrap();
//! let key_id = Uuid::parse_str("0d7d8f0e-6a4e-4c6f-8a53-5f7a9a1f2b3c").unwrap();
//! let service = ServiceRecord::new(service_id, true)
//!     .with_key(ApiKey::new(key_id, Secret::new("my-secret"), KeyType::Normal));
//!
//! let now = 1_795_394_922;
//! let token = notify_auth::token::create_token_at("my-secret", &service_id.to_string(), now)?;
//! let header = format!("Bearer {token}");
//! let principal = authenticate([header.as_bytes()], now, |id| (id == service_id).then_some(&service))?;
//! assert_eq!(principal.api_key_id, key_id);
//!
//! let err = authenticate([header.as_bytes()], now + 31, |_| Some(&service)).unwrap_err();
//! assert_eq!(err.message(), "Error: Your system clock must be accurate to within 30 seconds");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod binding;
mod jwt;
mod orm;
mod pyjson;
mod python;
/// How a test says it was skipped: the integration tests' own helper.
#[cfg(test)]
#[path = "../../tests/skip/mod.rs"]
mod skip;

/// The Python the unit tests compare with: the oracle's (`NOTIFY_AUTH_ORACLE_PYTHON`, Notify's
/// 3.11 under `scripts/test`), else `python3`.
#[cfg(test)]
fn oracle_python() -> String {
    std::env::var("NOTIFY_AUTH_ORACLE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

use std::borrow::Cow;

use uuid::Uuid;

pub use self::binding::{Authorized, RequestBinding};
use self::jwt::{Issuer, IssuerRule, Jwt, ServiceRule, Time};
use self::orm::DbIssuer;
pub use crate::dialect::Dialect;
use crate::error::{AuthError, ErrorKind, InternalRole, InvalidReason};
use crate::model::{ApiKey, Principal, Secret, ServiceRecord};

/// The longest bearer token read (bytes after `Bearer `). Longer ones are refused with 403
/// GENERAL before any decoding. Notify's tokens are about 150 bytes; Notify's own server
/// refuses header lines over 8190 bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The longest `Authorization` header read: all its values together, as received (blanks
/// included). Longer ones are refused with 403 GENERAL before any other work.
pub const MAX_HEADER_LEN: usize = MAX_TOKEN_LEN + 64;

/// The seconds either side of now that `iat` may be (contract §4).
pub const WINDOW_SECS: i64 = 30;

/// Tokens whose signed part is longer than this (bytes) are "long". Official clients' tokens
/// are about 120 bytes, 250 with request binding: no client of Notify sends a long one.
pub const LONG_TOKEN_LEN: usize = 1024;

/// The most a key loop hashes for a long token (bytes, counting each HMAC as its message plus
/// two blocks). A long token whose service has too many visible keys to stay within it is
/// refused with 403 GENERAL ([`InvalidReason::TooLongForKeys`]) before any HMAC: so a forged
/// token never costs more than `max(KEY_LOOP_BUDGET, keys × (LONG_TOKEN_LEN + 128))` bytes of
/// hashing. Notify would try every key instead (`docs/compatibility.md`).
pub const KEY_LOOP_BUDGET: usize = 256 * 1024;

/// The bytes hashed to verify a signature over `len` bytes with a pre-keyed HMAC-SHA256: the
/// message and about two blocks (padding, and the outer hash).
pub const fn hmac_cost(len: usize) -> usize {
    len.saturating_add(128)
}

/// The `Authorization` header of a request, as the server sees it.
///
/// Each value is trimmed of spaces and tabs, and several values are joined with `,`, as
/// Notify's server does (a joined value can never authenticate).
#[derive(Clone)]
pub struct Authorization<'a> {
    value: Option<Cow<'a, [u8]>>,
    too_long: bool,
}

/// Shows the value's length, never the value (it holds a token).
impl std::fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("len", &self.value.as_ref().map(|v| v.len()))
            .field("too_long", &self.too_long)
            .finish()
    }
}

impl<'a> Authorization<'a> {
    /// Builds it from the raw values of every `Authorization` header, in order. More than
    /// [`MAX_HEADER_LEN`] bytes in all are neither trimmed nor copied: the answer is 403
    /// GENERAL (Notify's server refuses header lines over 8190 bytes), but for a GC Notify
    /// raw key (`ApiKey-v1`), whose answer only its ends decide, whatever its length.
    pub fn from_values<I>(values: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return Authorization {
                value: None,
                too_long: false,
            };
        };
        let value = match values.next() {
            // Kept whole, untrimmed: only GC Notify's raw keys look at it (`presented`).
            None if first.len() > MAX_HEADER_LEN => {
                return Authorization {
                    value: Some(Cow::Borrowed(first)),
                    too_long: true,
                };
            }
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut joined = Vec::with_capacity(first.len() + second.len() + 1);
                let mut received = 0;
                for (i, v) in [first, second].into_iter().chain(values).enumerate() {
                    received += v.len();
                    if received > MAX_HEADER_LEN {
                        return Authorization {
                            value: None,
                            too_long: true,
                        };
                    }
                    if i > 0 {
                        joined.push(b',');
                    }
                    joined.extend_from_slice(strip(v, is_blank));
                }
                Cow::Owned(joined)
            }
        };
        Authorization {
            too_long: false,
            value: Some(match value {
                Cow::Borrowed(v) => Cow::Borrowed(strip(v, is_blank)),
                owned => owned,
            }),
        }
    }

    /// Steps 1 and 2: the token after `Bearer ` (scheme in any case, exactly one space). A
    /// token longer than [`MAX_TOKEN_LEN`] is refused with 403 GENERAL.
    pub fn bearer_token(&self) -> Result<&[u8], AuthError> {
        if self.too_long {
            return Err(ErrorKind::InvalidToken(InvalidReason::TooLong).into());
        }
        let value = match &self.value {
            Some(v) if !v.is_empty() => v,
            _ => return Err(ErrorKind::MissingToken.into()),
        };
        match value.split_at_checked(7) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                if token.len() > MAX_TOKEN_LEN {
                    return Err(ErrorKind::InvalidToken(InvalidReason::TooLong).into());
                }
                Ok(token)
            }
            _ => Err(ErrorKind::NotBearer.into()),
        }
    }
}

/// The schemes GC Notify reads, in the order it tries them as prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    ApiKey,
    CacheClear,
    Cypress,
}

const GC_SCHEMES: [(&[u8], Scheme); 4] = [
    (b"bearer", Scheme::Bearer),
    (b"apikey-v1", Scheme::ApiKey),
    (b"cacheclear-v1", Scheme::CacheClear),
    (b"cypress-v1", Scheme::Cypress),
];

impl Authorization<'_> {
    /// Steps 1 and 2 in `dialect`: the scheme and what follows it. GOV.UK Notify, Notify.gov
    /// and VA Notify read `Bearer ` ([`Authorization::bearer_token`]). GC Notify finds its
    /// schemes as case-insensitive prefixes and takes what follows the scheme and one more
    /// character, stripped of Python's white space; a raw key (`ApiKey-v1`) is read whatever
    /// its length, since only its ends matter.
    pub(crate) fn presented(&self, dialect: Dialect) -> Result<(Scheme, &[u8]), AuthError> {
        if dialect != Dialect::Gc {
            return self.bearer_token().map(|token| (Scheme::Bearer, token));
        }
        let too_long = || AuthError::from(ErrorKind::InvalidToken(InvalidReason::TooLong));
        let value = match (&self.value, self.too_long) {
            (None, true) => return Err(too_long()),
            // One value over the limit, untrimmed: read within bounded runs of blanks.
            (Some(v), true) => bounded(v, is_blank).ok_or_else(too_long)?,
            (Some(v), false) if !v.is_empty() => v,
            _ => return Err(ErrorKind::MissingToken.into()),
        };
        let starts = |name: &[u8]| {
            value
                .get(..name.len())
                .is_some_and(|v| v.eq_ignore_ascii_case(name))
        };
        let Some((name, scheme)) = GC_SCHEMES.into_iter().find(|(name, _)| starts(name)) else {
            return Err(match self.too_long {
                true => too_long(),
                false => ErrorKind::NotBearer.into(),
            });
        };
        let rest = value.get(name.len() + 1..).unwrap_or_default();
        let token = match self.too_long {
            true => bounded(rest, is_py_space).ok_or_else(too_long)?,
            false => strip(rest, is_py_space),
        };
        if scheme != Scheme::ApiKey && (self.too_long || token.len() > MAX_TOKEN_LEN) {
            return Err(too_long());
        }
        Ok((scheme, token))
    }
}

/// The longest run of blanks read at either end of a value over [`MAX_HEADER_LEN`].
const BLANKS_READ: usize = 256;

/// `value` stripped of `blank` bytes at both ends, for a value over the limit: reading at most
/// [`BLANKS_READ`] bytes at each end, `None` if either end has more blanks than that (a value
/// no client sends).
fn bounded(value: &[u8], blank: fn(&u8) -> bool) -> Option<&[u8]> {
    let start = value.iter().take(BLANKS_READ).position(|b| !blank(b))?;
    let from_end = value
        .iter()
        .rev()
        .take(BLANKS_READ)
        .position(|b| !blank(b))?;
    value.get(start..value.len() - from_end)
}

/// Python's whitespace in text decoded as Latin-1: the ASCII white space and separators, NEL
/// (0x85) and the no-break space (0xA0).
fn is_py_space(b: &u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x20 | 0x85 | 0xa0)
}

/// What Notify's server (gunicorn) trims from a header value: spaces and tabs.
fn is_blank(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

/// `value` stripped of `blank` bytes at both ends.
fn strip(value: &[u8], blank: fn(&u8) -> bool) -> &[u8] {
    let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// A token for a public route that has named a well-formed service id (steps 1 to 5).
#[derive(Debug)]
pub struct PublicToken<'a> {
    jwt: Jwt<'a>,
    service_id: Uuid,
    dialect: Dialect,
}

/// What the `Authorization` header of a public request presents, read as a [`Dialect`]
/// reads it: a JWT naming a service, or (GC Notify) a raw key string.
// The token is the common case, parsed on the stack: boxing it would allocate per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Credential<'a> {
    /// A JWT whose `iss` names a service (steps 1 to 5 passed).
    Token(PublicToken<'a>),
    /// GC Notify's `ApiKey-v1 <key string>`: the key is found by its secret.
    ApiKey(ApiKeyString<'a>),
}

impl<'a> Credential<'a> {
    /// Steps 1 to 5 as `dialect`'s fork takes them. Errors are in the dialect's words.
    pub fn parse(
        authorization: &'a Authorization<'_>,
        dialect: Dialect,
    ) -> Result<Self, AuthError> {
        Self::read(authorization, dialect).map_err(|e| e.in_dialect(dialect))
    }

    /// The credential with what it borrowed from the header copied (the token's signing
    /// input, or the key string), to carry across an `await` once the request has moved on.
    pub fn into_owned(self) -> Credential<'static> {
        match self {
            Credential::Token(token) => Credential::Token(PublicToken {
                jwt: token.jwt.into_owned(),
                service_id: token.service_id,
                dialect: token.dialect,
            }),
            Credential::ApiKey(key) => Credential::ApiKey(ApiKeyString {
                text: Cow::Owned(key.text.into_owned()),
            }),
        }
    }

    fn read(authorization: &'a Authorization<'_>, dialect: Dialect) -> Result<Self, AuthError> {
        match authorization.presented(dialect)? {
            (Scheme::ApiKey, key) => Ok(Credential::ApiKey(ApiKeyString {
                text: Cow::Borrowed(key),
            })),
            // GC Notify authenticates CacheClear-v1 and Cypress-v1 tokens as Bearer ones.
            (_, token) => PublicToken::read(token, dialect).map(Credential::Token),
        }
    }
}

/// What the `Authorization` header presents on a route that takes both service credentials
/// and one internal client's tokens: a token whose `iss` is exactly the client's id is the
/// client's, anything else is a service's.
// As for `Credential`: parsed on the stack.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Presented<'a> {
    /// A service's credential (steps 1 to 5 passed).
    Service(Credential<'a>),
    /// The internal client's token (steps 1 to 4 passed, `iss` is its id).
    Internal(InternalToken<'a>),
}

impl<'a> Presented<'a> {
    /// Steps 1 to 5 as `dialect`'s fork takes them, telling the internal client
    /// (`client_id`) from services by the token's `iss`, with one parse. Errors before `iss`
    /// is known are a public route's; the internal client's are worded for `role`.
    pub fn parse(
        authorization: &'a Authorization<'_>,
        dialect: Dialect,
        client_id: &str,
        role: InternalRole,
    ) -> Result<Self, AuthError> {
        let (scheme, token) = authorization
            .presented(dialect)
            .map_err(|e| e.in_dialect(dialect))?;
        if scheme == Scheme::ApiKey {
            let key = ApiKeyString {
                text: Cow::Borrowed(token),
            };
            return Ok(Presented::Service(Credential::ApiKey(key)));
        }
        let rule = IssuerRule::ServiceOrClient(ServiceRule::of(dialect), client_id);
        let jwt = jwt::parse(token, rule, dialect).map_err(|e| e.in_dialect(dialect))?;
        if jwt.issuer != Issuer::Client(true) {
            return PublicToken::of(jwt, dialect)
                .map(|token| Presented::Service(Credential::Token(token)))
                .map_err(|e| e.in_dialect(dialect));
        }
        // GC Notify's internal routes take only the `Bearer` scheme.
        if scheme != Scheme::Bearer {
            let error = AuthError::from(ErrorKind::InternalScheme);
            return Err(error.in_dialect(dialect).for_role(role));
        }
        Ok(Presented::Internal(InternalToken { jwt, dialect }))
    }

    /// The presented credential with what it borrowed from the header copied, as
    /// [`Credential::into_owned`].
    pub fn into_owned(self) -> Presented<'static> {
        match self {
            Presented::Service(credential) => Presented::Service(credential.into_owned()),
            Presented::Internal(token) => Presented::Internal(InternalToken {
                jwt: token.jwt.into_owned(),
                dialect: token.dialect,
            }),
        }
    }
}

impl<'a> PublicToken<'a> {
    /// Steps 1 to 5 of contract §2, as GOV.UK Notify takes them ([`Credential::parse`] for
    /// the other dialects).
    pub fn parse(authorization: &'a Authorization<'_>) -> Result<Self, AuthError> {
        Self::read(authorization.bearer_token()?, Dialect::Uk)
    }

    /// Steps 3 to 5 for the token after the scheme (errors in GOV.UK Notify's words).
    fn read(token: &'a [u8], dialect: Dialect) -> Result<Self, AuthError> {
        let jwt = jwt::parse(token, IssuerRule::service_id(dialect), dialect)?;
        Self::of(jwt, dialect)
    }

    /// Step 5: the service the parsed token's `iss` names.
    fn of(jwt: Jwt<'a>, dialect: Dialect) -> Result<Self, AuthError> {
        let service_id = match jwt.issuer {
            Issuer::Absent => return Err(ErrorKind::MissingIssuer.into()),
            Issuer::Service(Some(id)) | Issuer::Database(DbIssuer::Id(id)) => id,
            Issuer::Database(DbIssuer::NoService) => {
                return Err(ErrorKind::ServiceNotFound.into());
            }
            Issuer::Database(DbIssuer::Crash) => {
                return Err(ErrorKind::InvalidToken(InvalidReason::IssuerUnqueryable).into());
            }
            Issuer::Service(None) | Issuer::Database(DbIssuer::NotUuid) | Issuer::Client(_) => {
                return Err(ErrorKind::IssuerNotUuid.into());
            }
        };
        Ok(PublicToken {
            jwt,
            service_id,
            dialect,
        })
    }

    /// The service the token names (canonical form of its `iss`).
    pub fn service_id(&self) -> Uuid {
        self.service_id
    }

    /// Steps 6 to 9: decides against the service's record (`None` if it does not exist) at
    /// unix second `now`, taken when the request arrived.
    pub fn authorize(
        &self,
        service: Option<&ServiceRecord>,
        now: i64,
    ) -> Result<Principal, AuthError> {
        self.authorize_key(service, now)
            .map(|authorized| authorized.principal())
    }

    /// Steps 6 to 9 as [`PublicToken::authorize`], keeping the key that signed, for the
    /// request-binding checks that follow (contract §10).
    pub fn authorize_key<'s>(
        &self,
        service: Option<&'s ServiceRecord>,
        now: i64,
    ) -> Result<Authorized<'s>, AuthError> {
        let mut keys = self.key_loop(service, now)?;
        loop {
            if let Some(answer) = keys.run(usize::MAX) {
                return answer;
            }
        }
    }

    /// Steps 6 to 8, then the key loop of step 9 ready to run, in slices if the caller wants
    /// to yield between them ([`KeyLoop::run`]): a service with thousands of keys makes a
    /// loop long enough to matter to an async worker.
    pub fn key_loop<'t, 's>(
        &'t self,
        service: Option<&'s ServiceRecord>,
        now: i64,
    ) -> Result<KeyLoop<'t, 's>, AuthError> {
        let (service_id, dialect) = (self.service_id, self.dialect);
        let fail = |kind| Err(AuthError::for_service(kind, service_id).in_dialect(dialect));
        let Some(service) = service else {
            return fail(ErrorKind::ServiceNotFound);
        };
        let keys = service.api_keys();
        let visible = || keys.iter().filter(|key| is_listed(key, now, dialect));
        if visible().next().is_none() {
            return fail(ErrorKind::NoApiKeys);
        }
        if !service.is_active() {
            return fail(ErrorKind::ServiceArchived);
        }
        let len = self.jwt.signing_input.len();
        let too_long = len > LONG_TOKEN_LEN
            && visible().count().saturating_mul(hmac_cost(len)) > KEY_LOOP_BUDGET;
        // Try the key the header's `kid` names, then the key that matched last time, then
        // the others in order. Secrets are distinct, so the order changes only the work.
        let kid = self
            .jwt
            .kid
            .and_then(|kid| keys.iter().position(|key| key.id() == kid));
        let hint = service.last_match().filter(|&i| i < keys.len());
        Ok(KeyLoop {
            jwt: &self.jwt,
            service_id,
            service,
            now,
            too_long,
            dialect,
            order: KeyOrder {
                first: [kid, hint.filter(|&h| Some(h) != kid)],
                taken_first: 0,
                next: 0,
                len: keys.len(),
            },
        })
    }
}

/// Whether `dialect`'s fork lists `key` at unix second `now` (GC and VA Notify list every
/// key; the others hide keys revoked more than about seven days ago).
pub(crate) fn is_listed(key: &ApiKey, now: i64, dialect: Dialect) -> bool {
    dialect.tries_every_key() || key.is_visible_at(now)
}

/// What the fork answers once a key has verified the token and its claims: revoked (every
/// dialect), or VA Notify's expired key (to the second: an expiry date at or before the
/// start of the second the request arrived in).
pub(crate) fn judge_key(key: &ApiKey, now: i64, dialect: Dialect) -> Result<(), ErrorKind> {
    let expiry = key.expiry_date();
    if dialect != Dialect::Va {
        return match expiry.is_some() || key.is_revoked() {
            true => Err(ErrorKind::Revoked),
            false => Ok(()),
        };
    }
    if key.is_revoked() {
        return Err(ErrorKind::Revoked);
    }
    match expiry {
        None => Err(ErrorKind::InvalidToken(InvalidReason::NoExpiryDate)),
        Some(expiry) if expiry.unix_timestamp_nanos() <= i128::from(now) * 1_000_000_000 => {
            Err(ErrorKind::KeyExpired)
        }
        Some(_) => Ok(()),
    }
}

/// The key loop of one public token (contract §3), made by [`PublicToken::key_loop`].
pub struct KeyLoop<'t, 's> {
    jwt: &'t Jwt<'t>,
    service_id: Uuid,
    service: &'s ServiceRecord,
    now: i64,
    too_long: bool,
    dialect: Dialect,
    order: KeyOrder,
}

impl std::fmt::Debug for KeyLoop<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLoop")
            .field("service_id", &self.service_id)
            .field("too_long", &self.too_long)
            .field("dialect", &self.dialect)
            .field("order", &self.order)
            .finish_non_exhaustive()
    }
}

impl<'s> KeyLoop<'_, 's> {
    /// Whether the whole loop hashes less than `budget` bytes, counting every key of the
    /// service (visible or not): [`KeyLoop::run`] with that budget then answers in one call.
    /// (Strictly less: a loop that spends exactly its budget stops before it learns that no
    /// key is left.)
    pub fn fits(&self, budget: usize) -> bool {
        self.too_long
            || self
                .service
                .api_keys()
                .len()
                .saturating_mul(hmac_cost(self.jwt.signing_input.len()))
                < budget
    }

    /// Runs the loop on until it has an answer, or until it has hashed about `budget` bytes
    /// (at least one HMAC, each costing [`hmac_cost`] of the token's signed part): `None`
    /// then, and the next call goes on where this one stopped.
    pub fn run(&mut self, budget: usize) -> Option<Result<Authorized<'s>, AuthError>> {
        let (service, service_id, dialect) = (self.service, self.service_id, self.dialect);
        let keys = service.api_keys();
        let now = self.now;
        let mut candidates = (&mut self.order)
            .map(|i| (i, &keys[i]))
            .filter(|(_, key)| is_listed(key, now, dialect))
            .map(|(i, key)| (key.secret(), (i, key)));
        let outcome = if self.too_long && self.jwt.alg_is_hs256 {
            Outcome::Stop(ErrorKind::InvalidToken(InvalidReason::TooLongForKeys), None)
        } else {
            key_loop(
                self.jwt,
                &mut candidates,
                now,
                budget,
                Route::Public(dialect),
            )?
        };
        let answer = match outcome {
            Outcome::Matched((i, key)) => {
                service.set_last_match(i);
                match judge_key(key, now, dialect) {
                    Ok(()) => {
                        let principal = Principal {
                            service_id,
                            api_key_id: key.id(),
                            key_type: key.key_type(),
                        };
                        return Some(Ok(Authorized::new(
                            principal,
                            key.secret(),
                            &self.jwt.claims,
                        )));
                    }
                    Err(kind) => AuthError::for_key(kind, service_id, key.id()),
                }
            }
            Outcome::Stop(kind, Some((_, key))) => AuthError::for_key(kind, service_id, key.id())
                .with_token_iat(self.jwt.claims.iat.value()),
            Outcome::Stop(kind, None) => AuthError::for_service(kind, service_id),
            Outcome::NoMatch => AuthError::for_service(ErrorKind::KeyNotFound, service_id),
        };
        Some(Err(answer.in_dialect(dialect)))
    }
}

/// The order keys are tried in: the `kid`-named and the last-matched key first (when there
/// are such), then every other key by index.
#[derive(Clone, Copy, Debug)]
struct KeyOrder {
    first: [Option<usize>; 2],
    taken_first: usize,
    next: usize,
    len: usize,
}

impl Iterator for KeyOrder {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while let Some(first) = self.first.get(self.taken_first) {
            self.taken_first += 1;
            if first.is_some() {
                return *first;
            }
        }
        while self.next < self.len {
            let i = self.next;
            self.next += 1;
            if !self.first.contains(&Some(i)) {
                return Some(i);
            }
        }
        None
    }
}

/// The length of GC Notify's key strings' secret (a UUID), and the shortest key string it
/// accepts: `gcntfy-`, a name of at least one character, `-`, the service id, `-`, the secret.
const API_KEY_SECRET_LEN: usize = 36;
const API_KEY_MIN_LEN: usize = 79;

/// GC Notify's key strings start with this (`API_KEY_PREFIX`).
pub const API_KEY_PREFIX: &str = "gcntfy-";

/// GC Notify's raw key (`Authorization: ApiKey-v1 gcntfy-<key name>-<service id>-<secret>`),
/// as [`Credential::parse`] finds it. `Debug` shows its length, never its text.
///
/// GC Notify (`app/dao/api_key_dao.py`, `get_api_key_by_secret`) checks the prefix, finds the
/// key whose secret is the string's last 36 characters, then checks that the string is at
/// least 79 characters long with the key's service id at `[-73:-37]`, and that the key is not
/// revoked. It never checks the name, nor whether the service is archived. Only the ends of
/// the string are read, whatever its length.
pub struct ApiKeyString<'a> {
    text: Cow<'a, [u8]>,
}

impl std::fmt::Debug for ApiKeyString<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyString")
            .field("len", &self.text.len())
            .finish()
    }
}

impl<'a> ApiKeyString<'a> {
    /// The secret to look the key up by: the last 36 characters, as GC Notify's Python reads
    /// the header (Latin-1, so a byte above 0x7F is one character). Fails with "Enter your
    /// full API key" unless the string starts with [`API_KEY_PREFIX`].
    pub fn secret(&self) -> Result<Cow<'_, str>, AuthError> {
        if !self.text.starts_with(API_KEY_PREFIX.as_bytes()) {
            return Err(AuthError::new(ErrorKind::IncompleteApiKey).in_dialect(Dialect::Gc));
        }
        let tail = &self.text[self.text.len().saturating_sub(API_KEY_SECRET_LEN)..];
        Ok(match std::str::from_utf8(tail) {
            Ok(ascii) if ascii.is_ascii() => Cow::Borrowed(ascii),
            _ => Cow::Owned(tail.iter().map(|&b| char::from(b)).collect()),
        })
    }

    /// Decides against what the store found by [`ApiKeyString::secret`]: `None` if no key has
    /// that secret, else the key's service and the key's id. The key must have the secret
    /// (compared in constant time): a store or cache that names another is answered as one
    /// that found nothing.
    pub fn authorize(&self, found: Option<(&ServiceRecord, Uuid)>) -> Result<Principal, AuthError> {
        self.authorize_key(found)
            .map(|authorized| authorized.principal())
    }

    /// [`ApiKeyString::authorize`], keeping the key, for request binding: a raw key carries
    /// no `req` or `pay`, so it passes [`RequestBinding::VerifyIfPresent`] and fails
    /// [`RequestBinding::Required`].
    pub fn authorize_key<'s>(
        &self,
        found: Option<(&'s ServiceRecord, Uuid)>,
    ) -> Result<Authorized<'s>, AuthError> {
        let error = |e: AuthError| e.in_dialect(Dialect::Gc);
        let secret = self.secret()?;
        let has_secret = |key: &&ApiKey| {
            use subtle::ConstantTimeEq;
            bool::from(key.secret().expose().as_bytes().ct_eq(secret.as_bytes()))
        };
        let found = found.and_then(|(service, key_id)| {
            let key = service.api_keys().iter().find(|key| key.id() == key_id)?;
            has_secret(&key).then_some((service, key))
        });
        let Some((service, key)) = found else {
            return Err(error(ErrorKind::UnknownApiKey.into()));
        };
        let service_id = service.id();
        let mut id = Uuid::encode_buffer();
        let id = service_id.hyphenated().encode_lower(&mut id).as_bytes();
        let len = self.text.len();
        if len < API_KEY_MIN_LEN || &self.text[len - 73..len - 37] != id {
            return Err(error(AuthError::for_key(
                ErrorKind::IncompleteApiKey,
                service_id,
                key.id(),
            )));
        }
        if key.expiry_date().is_some() || key.is_revoked() {
            return Err(error(AuthError::for_key(
                ErrorKind::Revoked,
                service_id,
                key.id(),
            )));
        }
        let principal = Principal {
            service_id,
            api_key_id: key.id(),
            key_type: key.key_type(),
        };
        Ok(Authorized::unbound(principal, key.secret()))
    }
}

/// A token for an internal route whose `iss` is the expected client id (contract §7).
#[derive(Debug)]
pub struct InternalToken<'a> {
    jwt: Jwt<'a>,
    dialect: Dialect,
}

impl<'a> InternalToken<'a> {
    /// Steps 1 to 4 of contract §2, then `iss` must equal `client_id`, as GOV.UK Notify reads
    /// them.
    pub fn parse(authorization: &'a Authorization<'_>, client_id: &str) -> Result<Self, AuthError> {
        Self::parse_in(authorization, client_id, Dialect::Uk, InternalRole::Admin)
    }

    /// [`InternalToken::parse`] as `dialect`'s fork reads an internal route's header, with its
    /// answers worded for `role` (GC Notify words its routes' 401s after their client). GC
    /// Notify takes only the `Bearer` scheme there.
    pub fn parse_in(
        authorization: &'a Authorization<'_>,
        client_id: &str,
        dialect: Dialect,
        role: InternalRole,
    ) -> Result<Self, AuthError> {
        let read = || {
            let token = match authorization.presented(dialect)? {
                (Scheme::Bearer, token) => token,
                _ => return Err(ErrorKind::InternalScheme.into()),
            };
            let jwt = jwt::parse(token, IssuerRule::Client(client_id), dialect)?;
            match jwt.issuer {
                Issuer::Absent => Err(ErrorKind::MissingIssuer.into()),
                Issuer::Client(true) => Ok(InternalToken { jwt, dialect }),
                _ => Err(ErrorKind::NotAllowed.into()),
            }
        };
        read().map_err(|e: AuthError| e.in_dialect(dialect).for_role(role))
    }

    /// The key loop over the client's secrets (never revoked) at unix second `now`. GC and VA
    /// Notify check one secret: a clock error is theirs, any other failure their general
    /// message.
    pub fn authorize(&self, secrets: &[Secret], now: i64) -> Result<(), AuthError> {
        let mut secrets = secrets.iter().map(|s| (s, ()));
        let route = Route::Internal(self.dialect);
        let kind = match key_loop(&self.jwt, &mut secrets, now, usize::MAX, route) {
            Some(Outcome::Matched(())) => return Ok(()),
            Some(Outcome::Stop(kind, _)) => kind,
            Some(Outcome::NoMatch) | None if matches!(self.dialect, Dialect::Gc | Dialect::Va) => {
                ErrorKind::InvalidToken(InvalidReason::Signature)
            }
            Some(Outcome::NoMatch) | None => ErrorKind::KeyNotFound,
        };
        Err(AuthError::from(kind)
            .with_token_iat(self.jwt.claims.iat.value())
            .in_dialect(self.dialect))
    }
}

/// Decides a public request in one call, for callers whose key material is at hand.
///
/// `values` are the raw `Authorization` header values, `now` the unix second the request
/// arrived, and `lookup` finds a service by id.
pub fn authenticate<'a, 's, I, F>(values: I, now: i64, lookup: F) -> Result<Principal, AuthError>
where
    I: IntoIterator<Item = &'a [u8]>,
    F: FnOnce(Uuid) -> Option<&'s ServiceRecord>,
{
    let authorization = Authorization::from_values(values);
    let token = PublicToken::parse(&authorization)?;
    token.authorize(lookup(token.service_id()), now)
}

/// How the key loop of contract §3 ended.
enum Outcome<K> {
    Matched(K),
    /// A verdict that ends the loop, with the key that matched if one did.
    Stop(ErrorKind, Option<K>),
    NoMatch,
}

/// Whose key loop it is: a public route's, or an internal one's, in a dialect.
#[derive(Clone, Copy)]
enum Route {
    Public(Dialect),
    Internal(Dialect),
}

/// What PyJWT and the Notify client library (`decode_jwt_token`) raise for a token whose
/// signature a key has verified (contract §3, item 3), before the fork decides what to make of
/// it.
enum Decoded {
    /// Nothing: the token is good.
    Accept,
    /// `TokenDecodeError`: `nbf` or `exp` is not an integer, or `iat` is missing.
    Undecodable,
    /// `TokenExpiredError`: `iat` is no integer or out of the window, or `nbf` is in the future.
    Expired,
    /// Another `TokenError` (`exp` in the past, `aud`, `sub`, `jti`): the reason.
    Invalid(InvalidReason),
    /// A `TypeError` (`int(None)`, …): `iat`, `nbf` or `exp` is unusable.
    TypeError,
}

impl Route {
    /// What the fork makes of the client library's verdict: `None` to try the next key.
    fn judge(self, decoded: Decoded, claims: &jwt::Claims) -> Option<Result<(), ErrorKind>> {
        let general = |reason| Some(Err(ErrorKind::InvalidToken(reason)));
        match (self, decoded) {
            (_, Decoded::Accept) => Some(Ok(())),
            (_, Decoded::Undecodable) => None,
            (_, Decoded::TypeError) => general(InvalidReason::UnusableTime),
            // GC and VA Notify's internal routes: their own clock message, and one general
            // answer for everything else (a single secret: a failure is final).
            (Route::Internal(Dialect::Gc | Dialect::Va), Decoded::Expired) => {
                Some(Err(ErrorKind::InternalClock))
            }
            (Route::Internal(Dialect::Gc | Dialect::Va), Decoded::Invalid(reason)) => {
                general(reason)
            }
            // GC Notify logs the token's `iat` with the clock rejection: without one, it crashes.
            (Route::Public(Dialect::Gc), Decoded::Expired) if claims.iat == Time::Absent => {
                general(InvalidReason::NoIatToLog)
            }
            (_, Decoded::Expired) => Some(Err(ErrorKind::Clock)),
            // VA Notify tries the next key on any other token error.
            (Route::Public(Dialect::Va), Decoded::Invalid(_)) => None,
            (_, Decoded::Invalid(reason)) => general(reason),
        }
    }

    /// Whether a wrong `alg` stops the loop (GOV.UK Notify, Notify.gov), rather than making
    /// every key fail in turn (GC and VA Notify try the next key).
    fn algorithm_stops(self) -> bool {
        matches!(
            self,
            Route::Public(Dialect::Uk | Dialect::Gov) | Route::Internal(Dialect::Uk | Dialect::Gov)
        )
    }
}

/// Tries `keys` in turn until one answers or about `budget` bytes are hashed (`None`: call
/// again with the same iterator to go on).
fn key_loop<'k, K>(
    jwt: &Jwt<'_>,
    keys: &mut impl Iterator<Item = (&'k Secret, K)>,
    now: i64,
    budget: usize,
    route: Route,
) -> Option<Outcome<K>> {
    let cost = hmac_cost(jwt.signing_input.len());
    let mut spent = 0usize;
    loop {
        // At least one key per call, so that any budget makes progress.
        if spent > 0 && spent >= budget {
            return None;
        }
        let Some((secret, key)) = keys.next() else {
            return Some(Outcome::NoMatch);
        };
        if !jwt.alg_is_hs256 {
            return Some(match route.algorithm_stops() {
                true => Outcome::Stop(ErrorKind::Algorithm, None),
                // Every key fails the same way, without a hash.
                false => match route {
                    Route::Internal(_) => {
                        Outcome::Stop(ErrorKind::InvalidToken(InvalidReason::Algorithm), None)
                    }
                    Route::Public(_) => Outcome::NoMatch,
                },
            });
        }
        spent = spent.saturating_add(cost);
        if !jwt.signed_with(secret) {
            continue;
        }
        match route.judge(decode_claims(&jwt.claims, now), &jwt.claims) {
            Some(Ok(())) => return Some(Outcome::Matched(key)),
            None => continue,
            Some(Err(kind)) => return Some(Outcome::Stop(kind, Some(key))),
        }
    }
}

/// The client library's verdict on the claims of a token whose signature matched: PyJWT's
/// checks in its order (iat, nbf, exp, aud, sub, jti), then the library's own.
fn decode_claims(claims: &jwt::Claims, now: i64) -> Decoded {
    let (earliest, latest) = (
        now.saturating_sub(WINDOW_SECS),
        now.saturating_add(WINDOW_SECS),
    );
    match claims.iat {
        Time::Unusable => return Decoded::TypeError,
        Time::NotInteger => return Decoded::Expired,
        Time::At(iat) if iat > latest => return Decoded::Expired,
        _ => {}
    }
    match claims.nbf {
        Time::Unusable => return Decoded::TypeError,
        Time::NotInteger => return Decoded::Undecodable,
        Time::At(nbf) if nbf > latest => return Decoded::Expired,
        _ => {}
    }
    match claims.exp {
        Time::Unusable => return Decoded::TypeError,
        Time::NotInteger => return Decoded::Undecodable,
        Time::At(exp) if exp <= earliest => return Decoded::Invalid(InvalidReason::Expired),
        _ => {}
    }
    if claims.aud {
        return Decoded::Invalid(InvalidReason::Audience);
    }
    if claims.sub_or_jti_not_string {
        return Decoded::Invalid(InvalidReason::SubjectOrId);
    }
    // Then the library's own checks.
    match claims.iat {
        Time::Absent => Decoded::Undecodable,
        Time::At(iat) if iat < earliest => Decoded::Expired,
        _ => Decoded::Accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let a = Authorization::from_values([&b" \tBearer abc \t"[..]]);
        assert_eq!(a.bearer_token().unwrap(), b"abc");
        let a = Authorization::from_values([&b"Bearer a"[..], b" b ", b""]);
        assert_eq!(a.bearer_token().unwrap(), b"a,b,");
        let a = Authorization::from_values([&b""[..], b"Bearer a"]);
        assert_eq!(a.bearer_token().unwrap_err().kind(), ErrorKind::NotBearer);
        let a = Authorization::from_values(std::iter::empty());
        assert_eq!(
            a.bearer_token().unwrap_err().kind(),
            ErrorKind::MissingToken
        );
        let a = Authorization::from_values([&b" \t "[..]]);
        assert_eq!(
            a.bearer_token().unwrap_err().kind(),
            ErrorKind::MissingToken
        );
        let a = Authorization::from_values([&b"Bearer "[..]]);
        assert_eq!(a.bearer_token().unwrap_err().kind(), ErrorKind::NotBearer);
    }

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use crate::model::{ApiKey, HMACS, KeyType};

    const NOW: i64 = 1_795_394_922;

    fn service_with_keys(n: u128) -> ServiceRecord {
        (0..n).fold(ServiceRecord::new(Uuid::from_u128(7), true), |s, i| {
            s.with_key(ApiKey::new(
                Uuid::from_u128(i + 100),
                Secret::new(format!("secret-{i}")),
                KeyType::Normal,
            ))
        })
    }

    /// A header for a token signed with `secret` whose claims carry `pad` extra bytes.
    fn token(alg: &str, secret: &str, pad: usize) -> String {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
        let claims = format!(
            r#"{{"iss":"{}","iat":{NOW},"x":"{}"}}"#,
            Uuid::from_u128(7),
            "a".repeat(pad)
        );
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
        let signature = URL_SAFE_NO_PAD.encode(Secret::new(secret).mac(&[input.as_bytes()]));
        format!("Bearer {input}.{signature}")
    }

    /// The answer and the HMACs it took.
    fn decide(header: &str, service: &ServiceRecord) -> (Result<Principal, AuthError>, u64) {
        HMACS.with(|count| count.set(0));
        let answer = authenticate([header.as_bytes()], NOW, |_| Some(service));
        (answer, HMACS.with(|count| count.get()))
    }

    #[test]
    fn a_long_forged_token_costs_no_hmac_against_many_keys() {
        let many = service_with_keys(1_000);
        let (answer, hmacs) = decide(&token("HS256", "forged", 6_000), &many);
        assert_eq!(
            answer.unwrap_err().kind(),
            ErrorKind::InvalidToken(InvalidReason::TooLongForKeys)
        );
        assert_eq!(hmacs, 0);
        // The algorithm is still judged first, as Notify does.
        let (answer, hmacs) = decide(&token("HS512", "forged", 6_000), &many);
        assert_eq!(answer.unwrap_err().kind(), ErrorKind::Algorithm);
        assert_eq!(hmacs, 0);
        // A token of ordinary length is tried against every key.
        let (answer, hmacs) = decide(&token("HS256", "forged", 100), &many);
        assert_eq!(answer.unwrap_err().kind(), ErrorKind::KeyNotFound);
        assert_eq!(hmacs, 1_000);
        let (answer, _) = decide(&token("HS256", "secret-999", 100), &many);
        assert_eq!(answer.unwrap().api_key_id, Uuid::from_u128(1_099));
    }

    #[test]
    fn long_tokens_are_tried_while_the_keys_stay_within_the_budget() {
        let few = service_with_keys(10);
        let long = token("HS256", "forged", 6_000);
        let len = long.len() - 7 - 44; // "Bearer " and the signature
        assert!(len > LONG_TOKEN_LEN && 31 * hmac_cost(len) <= KEY_LOOP_BUDGET);
        assert!(32 * hmac_cost(len) > KEY_LOOP_BUDGET);
        let (answer, hmacs) = decide(&long, &few);
        assert_eq!(answer.unwrap_err().kind(), ErrorKind::KeyNotFound);
        assert_eq!(hmacs, 10);
        let (answer, hmacs) = decide(&long, &service_with_keys(32));
        assert_eq!(
            answer.unwrap_err().kind(),
            ErrorKind::InvalidToken(InvalidReason::TooLongForKeys)
        );
        assert_eq!(hmacs, 0);
        let signed = token("HS256", "secret-9", 6_000);
        let (answer, hmacs) = decide(&signed, &few);
        assert_eq!(answer.unwrap().api_key_id, Uuid::from_u128(109));
        assert_eq!(hmacs, 10);
        let (_, hmacs) = decide(&signed, &few);
        assert_eq!(hmacs, 1, "the last matched key is tried first");
    }

    #[test]
    fn the_key_loop_runs_in_slices_of_its_budget() {
        let many = service_with_keys(1_000);
        let header = token("HS256", "secret-999", 600);
        let forged = token("HS256", "no-such-secret", 600);
        let authorization = Authorization::from_values([header.as_bytes()]);
        let token = PublicToken::parse(&authorization).unwrap();
        let cost = hmac_cost(token.jwt.signing_input.len()) as u64;
        let slice = 64 * 1024;
        let mut keys = token.key_loop(Some(&many), NOW).unwrap();
        // `fits` says up front whether one call answers: the layer decides such loops at once.
        // At exactly the budget it does not: the loop stops before it sees that no key is left.
        let total = 1_000 * cost as usize;
        assert!(!keys.fits(slice) && !keys.fits(total) && keys.fits(total + 1));
        {
            let authorization = Authorization::from_values([forged.as_bytes()]);
            let forged = PublicToken::parse(&authorization).unwrap();
            let mut exact = forged.key_loop(Some(&many), NOW).unwrap();
            assert!(
                exact.run(total).is_none(),
                "a budget of exactly the loop's cost"
            );
            let mut fitting = forged.key_loop(Some(&many), NOW).unwrap();
            assert!(fitting.run(total + 1).is_some());
        }
        let mut slices = Vec::new();
        let answer = loop {
            HMACS.with(|count| count.set(0));
            let answer = keys.run(slice);
            slices.push(HMACS.with(|count| count.get()));
            if let Some(answer) = answer {
                break answer;
            }
        };
        assert_eq!(
            answer.unwrap().principal().api_key_id,
            Uuid::from_u128(1_099)
        );
        assert_eq!(slices.iter().sum::<u64>(), 1_000);
        let per_slice = (slice as u64).div_ceil(cost);
        assert!(slices.iter().all(|&n| n <= per_slice), "{slices:?}");
        assert_eq!(slices.len() as u64, 1_000u64.div_ceil(per_slice));
    }

    #[test]
    fn long_tokens_are_refused_before_decoding() {
        let value = [b"Bearer ".as_slice(), &vec![b'a'; MAX_TOKEN_LEN + 1]].concat();
        let a = Authorization::from_values([value.as_slice()]);
        assert_eq!(
            a.bearer_token().unwrap_err().kind(),
            ErrorKind::InvalidToken(InvalidReason::TooLong)
        );
        let value = [b"Bearer ".as_slice(), &vec![b'a'; MAX_TOKEN_LEN]].concat();
        let a = Authorization::from_values([value.as_slice()]);
        assert_eq!(a.bearer_token().unwrap().len(), MAX_TOKEN_LEN);
    }
}
