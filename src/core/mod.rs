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
//! ```
//! use notify_auth::core::{authenticate, Authorization};
//! use notify_auth::{ApiKey, KeyType, Secret, Service};
//! use uuid::Uuid;
//!
//! let service_id = Uuid::parse_str("6f0b6a0a-2c43-4a0b-9c1e-2d9b1b7d3c11").unwrap();
//! let key_id = Uuid::parse_str("0d7d8f0e-6a4e-4c6f-8a53-5f7a9a1f2b3c").unwrap();
//! let service = Service::new(service_id, true)
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
use self::jwt::{Issuer, IssuerRule, Jwt, Time};
use crate::error::{AuthError, ErrorKind, InvalidReason};
use crate::model::{Principal, Secret, Service};

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
    /// [`MAX_HEADER_LEN`] bytes in all are not even copied: the answer is 403 GENERAL.
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
                    joined.extend_from_slice(trim(v));
                }
                Cow::Owned(joined)
            }
        };
        Authorization {
            too_long: matches!(value, Cow::Borrowed(v) if v.len() > MAX_HEADER_LEN),
            value: Some(match value {
                Cow::Borrowed(v) => Cow::Borrowed(trim(v)),
                owned => owned,
            }),
        }
    }

    /// Steps 1 and 2: the token after `Bearer ` (scheme in any case, exactly one space).
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

fn trim(value: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value
        .iter()
        .position(|b| !is_blank(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// A token for a public route that has named a well-formed service id (steps 1 to 5).
#[derive(Debug)]
pub struct PublicToken<'a> {
    jwt: Jwt<'a>,
    service_id: Uuid,
}

impl<'a> PublicToken<'a> {
    /// Steps 1 to 5 of contract §2.
    pub fn parse(authorization: &'a Authorization<'_>) -> Result<Self, AuthError> {
        let jwt = jwt::parse(authorization.bearer_token()?, IssuerRule::ServiceId)?;
        let service_id = match jwt.issuer {
            Issuer::Absent => return Err(ErrorKind::MissingIssuer.into()),
            Issuer::Service(Some(id)) => id,
            Issuer::Service(None) | Issuer::Client(_) => {
                return Err(ErrorKind::IssuerNotUuid.into());
            }
        };
        Ok(PublicToken { jwt, service_id })
    }

    /// The service the token names (canonical form of its `iss`).
    pub fn service_id(&self) -> Uuid {
        self.service_id
    }

    /// Steps 6 to 9: decides against the service's record (`None` if it does not exist) at
    /// unix second `now`, taken when the request arrived.
    pub fn authorize(&self, service: Option<&Service>, now: i64) -> Result<Principal, AuthError> {
        self.authorize_key(service, now)
            .map(|authorized| authorized.principal())
    }

    /// Steps 6 to 9 as [`PublicToken::authorize`], keeping the key that signed, for the
    /// request-binding checks that follow (contract §10).
    pub fn authorize_key<'s>(
        &self,
        service: Option<&'s Service>,
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
        service: Option<&'s Service>,
        now: i64,
    ) -> Result<KeyLoop<'t, 's>, AuthError> {
        let service_id = self.service_id;
        let Some(service) = service else {
            return Err(AuthError::for_service(
                ErrorKind::ServiceNotFound,
                service_id,
            ));
        };
        let keys = service.api_keys();
        let visible = || keys.iter().filter(|key| key.is_visible_at(now));
        if visible().next().is_none() {
            return Err(AuthError::for_service(ErrorKind::NoApiKeys, service_id));
        }
        if !service.is_active() {
            return Err(AuthError::for_service(
                ErrorKind::ServiceArchived,
                service_id,
            ));
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
            order: KeyOrder {
                first: [kid, hint.filter(|&h| Some(h) != kid)],
                taken_first: 0,
                next: 0,
                len: keys.len(),
            },
        })
    }
}

/// The key loop of one public token (contract §3), made by [`PublicToken::key_loop`].
pub struct KeyLoop<'t, 's> {
    jwt: &'t Jwt<'t>,
    service_id: Uuid,
    service: &'s Service,
    now: i64,
    too_long: bool,
    order: KeyOrder,
}

impl std::fmt::Debug for KeyLoop<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLoop")
            .field("service_id", &self.service_id)
            .field("too_long", &self.too_long)
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
        let (service, service_id) = (self.service, self.service_id);
        let keys = service.api_keys();
        let now = self.now;
        let mut candidates = (&mut self.order)
            .map(|i| (i, &keys[i]))
            .filter(|(_, key)| key.is_visible_at(now))
            .map(|(i, key)| (key.secret(), (i, key)));
        let outcome = if self.too_long && self.jwt.alg_is_hs256 {
            Outcome::Stop(ErrorKind::InvalidToken(InvalidReason::TooLongForKeys), None)
        } else {
            key_loop(self.jwt, &mut candidates, now, budget)?
        };
        Some(match outcome {
            Outcome::Matched((i, key)) => {
                service.set_last_match(i);
                if key.expiry_date().is_some() {
                    return Some(Err(AuthError::for_key(
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
                Ok(Authorized::new(principal, key.secret(), &self.jwt.claims))
            }
            Outcome::Stop(kind, Some((_, key))) => {
                Err(AuthError::for_key(kind, service_id, key.id())
                    .with_token_iat(self.jwt.claims.iat.value()))
            }
            Outcome::Stop(kind, None) => Err(AuthError::for_service(kind, service_id)),
            Outcome::NoMatch => Err(AuthError::for_service(ErrorKind::KeyNotFound, service_id)),
        })
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

/// A token for an internal route whose `iss` is the expected client id (contract §7).
#[derive(Debug)]
pub struct InternalToken<'a> {
    jwt: Jwt<'a>,
}

impl<'a> InternalToken<'a> {
    /// Steps 1 to 4 of contract §2, then `iss` must equal `client_id`.
    pub fn parse(authorization: &'a Authorization<'_>, client_id: &str) -> Result<Self, AuthError> {
        let jwt = jwt::parse(authorization.bearer_token()?, IssuerRule::Client(client_id))?;
        match jwt.issuer {
            Issuer::Absent => Err(ErrorKind::MissingIssuer.into()),
            Issuer::Client(true) => Ok(InternalToken { jwt }),
            Issuer::Client(false) | Issuer::Service(_) => Err(ErrorKind::NotAllowed.into()),
        }
    }

    /// The key loop over the client's secrets (never revoked) at unix second `now`.
    pub fn authorize(&self, secrets: &[Secret], now: i64) -> Result<(), AuthError> {
        let mut secrets = secrets.iter().map(|s| (s, ()));
        match key_loop(&self.jwt, &mut secrets, now, usize::MAX) {
            Some(Outcome::Matched(())) => Ok(()),
            Some(Outcome::Stop(kind, _)) => {
                Err(AuthError::from(kind).with_token_iat(self.jwt.claims.iat.value()))
            }
            Some(Outcome::NoMatch) | None => Err(ErrorKind::KeyNotFound.into()),
        }
    }
}

/// Decides a public request in one call, for callers whose key material is at hand.
///
/// `values` are the raw `Authorization` header values, `now` the unix second the request
/// arrived, and `lookup` finds a service by id.
pub fn authenticate<'a, 's, I, F>(values: I, now: i64, lookup: F) -> Result<Principal, AuthError>
where
    I: IntoIterator<Item = &'a [u8]>,
    F: FnOnce(Uuid) -> Option<&'s Service>,
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

/// What the claims say once a key's signature has matched (contract §3, item 3).
enum ClaimsVerdict {
    Accept,
    NextKey,
    Reject(ErrorKind),
}

/// Tries `keys` in turn until one answers or about `budget` bytes are hashed (`None`: call
/// again with the same iterator to go on).
fn key_loop<'k, K>(
    jwt: &Jwt<'_>,
    keys: &mut impl Iterator<Item = (&'k Secret, K)>,
    now: i64,
    budget: usize,
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
            return Some(Outcome::Stop(ErrorKind::Algorithm, None));
        }
        spent = spent.saturating_add(cost);
        if !jwt.signed_with(secret) {
            continue;
        }
        match judge_claims(&jwt.claims, now) {
            ClaimsVerdict::Accept => return Some(Outcome::Matched(key)),
            ClaimsVerdict::NextKey => continue,
            ClaimsVerdict::Reject(kind) => return Some(Outcome::Stop(kind, Some(key))),
        }
    }
}

fn judge_claims(claims: &jwt::Claims, now: i64) -> ClaimsVerdict {
    use ClaimsVerdict::{Accept, NextKey, Reject};
    let general = |reason| Reject(ErrorKind::InvalidToken(reason));
    let (earliest, latest) = (
        now.saturating_sub(WINDOW_SECS),
        now.saturating_add(WINDOW_SECS),
    );
    // PyJWT's checks, in its order: iat, nbf, exp, aud, sub, jti.
    match claims.iat {
        Time::Unusable => return general(InvalidReason::UnusableTime),
        Time::NotInteger => return Reject(ErrorKind::Clock),
        Time::At(iat) if iat > latest => return Reject(ErrorKind::Clock),
        _ => {}
    }
    match claims.nbf {
        Time::Unusable => return general(InvalidReason::UnusableTime),
        Time::NotInteger => return NextKey,
        Time::At(nbf) if nbf > latest => return Reject(ErrorKind::Clock),
        _ => {}
    }
    match claims.exp {
        Time::Unusable => return general(InvalidReason::UnusableTime),
        Time::NotInteger => return NextKey,
        Time::At(exp) if exp <= earliest => return general(InvalidReason::Expired),
        _ => {}
    }
    if claims.aud {
        return general(InvalidReason::Audience);
    }
    if claims.sub_or_jti_not_string {
        return general(InvalidReason::SubjectOrId);
    }
    // Then Notify's own checks.
    match claims.iat {
        Time::Absent => NextKey,
        Time::At(iat) if iat < earliest => Reject(ErrorKind::Clock),
        _ => Accept,
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

    fn service_with_keys(n: u128) -> Service {
        (0..n).fold(Service::new(Uuid::from_u128(7), true), |s, i| {
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
    fn decide(header: &str, service: &Service) -> (Result<Principal, AuthError>, u64) {
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
