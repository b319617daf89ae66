//! Step 3 of the contract: reading a token without trusting it.
//!
//! The token is split on its two dots without copying, each segment is base64url-decoded into
//! a stack buffer (a heap buffer only for unusually large segments), and the JSON is read with
//! serde visitors that keep only what a decision needs: no `serde_json::Value` tree, no string
//! copies. Duplicate keys behave as in Python's `json` (the last one wins).

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64_simd::Out;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::pyjson;
use super::python::{py_int, py_uuid};
use crate::error::{AuthError, ErrorKind, InvalidReason};

/// Unpadded base64url, as PyJWT writes it. Like Python's decoder it ignores non-zero trailing
/// bits; unlike it (contract §9) it refuses padding and characters outside the alphabet.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decoded segments up to this size stay on the stack (uninitialised until decoded into).
const STACK_SEGMENT: usize = 512;

fn invalid(reason: InvalidReason) -> AuthError {
    AuthError::new(ErrorKind::InvalidToken(reason))
}

/// A decoded signature: HMAC-SHA256 signatures are 32 bytes, longer ones can never verify.
#[derive(Clone, Copy)]
pub(crate) struct Signature {
    bytes: [u8; 32],
    len: usize,
}

impl Signature {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({} bytes)", self.len)
    }
}

/// A time claim (`iat`, `nbf`, `exp`) as Python's `int()` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Time {
    #[default]
    Absent,
    /// `null`, a list, an object or an infinite number: Notify crashes (500).
    Unusable,
    /// `int()` raises `ValueError` (a string that is not a decimal integer).
    NotInteger,
    /// The integer value, saturated to `i64`.
    At(i64),
}

impl Time {
    /// The integer value, if there is one.
    pub(crate) fn value(self) -> Option<i64> {
        match self {
            Time::At(value) => Some(value),
            _ => None,
        }
    }
}

/// The claims, reduced to what the key loop reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Claims {
    pub(crate) iat: Time,
    pub(crate) nbf: Time,
    pub(crate) exp: Time,
    /// `aud` is present and truthy in Python's sense.
    pub(crate) aud: bool,
    /// `sub` or `jti` is present and not a string.
    pub(crate) sub_or_jti_not_string: bool,
    /// The request-binding claims (contract §10), ignored unless the layer binds requests.
    pub(crate) req: BindingClaim,
    pub(crate) pay: BindingClaim,
}

/// A `req` or `pay` claim: standard base64 of an HMAC-SHA256, 44 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum BindingClaim {
    #[default]
    Absent,
    /// The claim's text (44 bytes, the length of a standard-base64 SHA-256 MAC).
    Text([u8; 44]),
    /// Present, but not a string of that length: it can match nothing.
    Other,
}

impl BindingClaim {
    fn seed() -> StringOr<BindingClaim, impl FnOnce(&str) -> BindingClaim> {
        StringOr {
            read: |text: &str| {
                <[u8; 44]>::try_from(text.as_bytes())
                    .map_or(BindingClaim::Other, BindingClaim::Text)
            },
            other: BindingClaim::Other,
        }
    }
}

/// How `iss` is judged: as a service id (public routes) or against a client id (internal).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IssuerRule<'r> {
    ServiceId,
    Client(&'r str),
}

/// What `iss` turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Issuer {
    Absent,
    /// The service id, or `None` if `iss` is not a UUID for Python.
    Service(Option<uuid::Uuid>),
    /// Whether it equals the expected client id.
    Client(bool),
}

/// A parsed, not yet verified token. `Debug` shows its facts, not its text.
pub(crate) struct Jwt<'a> {
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Option<Signature>,
    pub(crate) alg_is_hs256: bool,
    /// The header's `kid`, when it is a UUID: a hint of which key to try first.
    pub(crate) kid: Option<uuid::Uuid>,
    pub(crate) claims: Claims,
    pub(crate) issuer: Issuer,
}

impl fmt::Debug for Jwt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("signing_input_len", &self.signing_input.len())
            .field("signature", &self.signature)
            .field("alg_is_hs256", &self.alg_is_hs256)
            .field("kid", &self.kid)
            .field("claims", &self.claims)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl Jwt<'_> {
    /// Whether the signature is HMAC-SHA256(secret, signing input).
    pub(crate) fn signed_with(&self, secret: &crate::Secret) -> bool {
        self.signature
            .is_some_and(|sig| secret.verifies(self.signing_input, sig.as_bytes()))
    }
}

/// Decodes one segment into `stack`, or onto the heap if it does not fit.
///
/// The SIMD decoder takes the common case; whatever it refuses (non-zero trailing bits, which
/// Python ignores, as well as real errors) goes to the lenient scalar engine, which judges.
fn decode<'b>(
    segment: &[u8],
    stack: &'b mut [MaybeUninit<u8>],
) -> Result<Cow<'b, [u8]>, AuthError> {
    let simd = base64_simd::URL_SAFE_NO_PAD;
    if simd.estimated_decoded_length(segment.len()) <= stack.len() {
        if let Ok(decoded) = simd.decode(segment, Out::from_uninit_slice(stack)) {
            return Ok(Cow::Borrowed(decoded));
        }
    } else if let Ok(decoded) = simd.decode_to_vec(segment) {
        return Ok(Cow::Owned(decoded));
    }
    BASE64URL
        .decode(segment)
        .map(Cow::Owned)
        .map_err(|_| invalid(InvalidReason::Base64))
}

/// The JOSE headers the official clients send (PyJWT sorts the keys; others write `typ`
/// first), base64url-encoded: nothing in them needs reading beyond `alg: HS256`.
const OFFICIAL_HEADERS: [&[u8]; 2] = [
    b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", // {"alg":"HS256","typ":"JWT"}
    b"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9", // {"typ":"JWT","alg":"HS256"}
];

/// Parses a bearer token (the part after `Bearer `): contract §2 steps 3 and 4, and the `iss`
/// judgement of step 5 (public) or of §7 (internal), which needs the claims' text.
pub(crate) fn parse<'a>(token: &'a [u8], rule: IssuerRule<'_>) -> Result<Jwt<'a>, AuthError> {
    // The first and the last dot delimit the segments. A dot in between would be a fourth
    // segment, which the payload's base64 decoding then refuses (the same answer: GENERAL).
    let (Some(first), Some(second)) = (memchr::memchr(b'.', token), memchr::memrchr(b'.', token))
    else {
        return Err(invalid(InvalidReason::Segments));
    };
    if first == second {
        return Err(invalid(InvalidReason::Segments));
    }
    let (header_b64, payload_b64, signature_b64) = (
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    );

    let mut stack = [MaybeUninit::uninit(); STACK_SEGMENT];
    let header = if OFFICIAL_HEADERS.contains(&header_b64) {
        Header {
            alg_is_hs256: true,
            ..Header::default()
        }
    } else {
        let json = decode(header_b64, &mut stack)?;
        read_json(&json, HeaderVisitor).ok_or_else(|| invalid(InvalidReason::HeaderJson))?
    };
    let mut stack = [MaybeUninit::uninit(); STACK_SEGMENT];
    let payload_json = decode(payload_b64, &mut stack)?;
    let mut signature_buf = [MaybeUninit::uninit(); 64];
    let signature = decode(signature_b64, &mut signature_buf)?;
    let signature = (signature.len() <= 32).then(|| {
        let mut bytes = [0u8; 32];
        bytes[..signature.len()].copy_from_slice(&signature);
        Signature {
            bytes,
            len: signature.len(),
        }
    });

    if header.kid_not_string {
        return Err(invalid(InvalidReason::KeyId));
    }
    if header.crit || header.b64_false {
        return Err(invalid(InvalidReason::CriticalHeader));
    }
    let (claims, issuer) = match official_claims(&payload_json, rule) {
        Some(read) => read,
        None => read_json(&payload_json, ClaimsVisitor { rule })
            .ok_or_else(|| invalid(InvalidReason::ClaimsJson))?,
    };
    Ok(Jwt {
        signing_input: &token[..second],
        signature,
        alg_is_hs256: header.alg_is_hs256,
        kid: header.kid,
        claims,
        issuer,
    })
}

/// The claims exactly as the official clients write them for a service,
/// `{"iss":"<hyphenated UUID>","iat":<digits>}`, read without a JSON parser. Anything else
/// (another order, spacing, escapes, a sign, a leading zero, more digits than fit) is left
/// to the full parser, which gives the same answer for these bytes.
fn official_claims(json: &[u8], rule: IssuerRule<'_>) -> Option<(Claims, Issuer)> {
    let IssuerRule::ServiceId = rule else {
        return None;
    };
    let rest = json.strip_prefix(br#"{"iss":""#)?;
    let (iss, rest) = rest.split_at_checked(36)?;
    let service_id = uuid::Uuid::try_parse_ascii(iss).ok()?;
    let digits = rest.strip_prefix(br#"","iat":"#)?.strip_suffix(b"}")?;
    let leading_zero = digits.len() > 1 && digits[0] == b'0';
    if digits.is_empty()
        || digits.len() > 18
        || leading_zero
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let iat = digits
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    let claims = Claims {
        iat: Time::At(iat),
        ..Claims::default()
    };
    Some((claims, Issuer::Service(Some(service_id))))
}

/// Reads one JSON object with `visitor` as Python's `json.loads` reads the bytes, refusing
/// trailing data.
fn read_json<T, V>(json: &[u8], visitor: V) -> Option<T>
where
    V: for<'de> Visitor<'de, Value = T>,
{
    let text = pyjson::prepare(json)?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let value = serde::Deserializer::deserialize_map(&mut de, visitor).ok()?;
    de.end().ok()?;
    Some(value)
}

/// The facts about one JSON value that the contract's rules look at.
#[derive(Clone, Copy, Debug)]
enum Facts {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str { empty: bool, hs256: bool },
    List { empty: bool },
    Object { empty: bool },
}

impl Facts {
    /// Python's truthiness.
    fn truthy(self) -> bool {
        match self {
            Facts::Null => false,
            Facts::Bool(b) => b,
            Facts::Int(i) => i != 0,
            Facts::Float(f) => f != 0.0,
            Facts::Str { empty, .. } | Facts::List { empty } | Facts::Object { empty } => !empty,
        }
    }
}

struct FactsVisitor;

impl<'de> Visitor<'de> for FactsVisitor {
    type Value = Facts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Facts, E> {
        Ok(Facts::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Facts, E> {
        Ok(Facts::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Facts, E> {
        Ok(Facts::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Facts, E> {
        Ok(Facts::Int(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Facts, E> {
        Ok(Facts::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Facts, E> {
        Ok(Facts::Str {
            empty: v.is_empty(),
            hs256: v == "HS256",
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Facts, A::Error> {
        let mut empty = true;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(Facts::List { empty })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
        let mut empty = true;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(Facts::Object { empty })
    }
}

impl<'de> de::Deserialize<'de> for Facts {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FactsVisitor)
    }
}

/// A time claim (`iat`, `nbf`, `exp`) read as Python's `int(value)`, as PyJWT and Notify
/// apply it. The only values `int()` is computed for: every other string is only looked at.
struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Time;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Time, E> {
        Ok(Time::Unusable)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Time, E> {
        Ok(Time::At(i64::from(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Time, E> {
        Ok(Time::At(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Time, E> {
        Ok(Time::At(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Time, E> {
        // `as` saturates, as the window check needs; infinities crash Notify.
        Ok(if v.is_finite() {
            Time::At(v.trunc() as i64)
        } else {
            Time::Unusable
        })
    }
    fn visit_str<E>(self, v: &str) -> Result<Time, E> {
        Ok(py_int(v, 10)
            .saturating_i64()
            .map_or(Time::NotInteger, Time::At))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Time, A::Error> {
        FactsVisitor.visit_seq(seq)?;
        Ok(Time::Unusable)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Time, A::Error> {
        FactsVisitor.visit_map(map)?;
        Ok(Time::Unusable)
    }
}

impl<'de> de::Deserialize<'de> for Time {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TimeVisitor)
    }
}

/// An object key, matched against the names the contract reads without copying it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Alg,
    Kid,
    Crit,
    B64,
    Iss,
    Iat,
    Nbf,
    Exp,
    Aud,
    Sub,
    Jti,
    Req,
    Pay,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "alg" => Key::Alg,
                    "kid" => Key::Kid,
                    "crit" => Key::Crit,
                    "b64" => Key::B64,
                    "iss" => Key::Iss,
                    "iat" => Key::Iat,
                    "nbf" => Key::Nbf,
                    "exp" => Key::Exp,
                    "aud" => Key::Aud,
                    "sub" => Key::Sub,
                    "jti" => Key::Jti,
                    "req" => Key::Req,
                    "pay" => Key::Pay,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// A header `kid`: a UUID (perhaps an API key id), another string, or not a string.
enum KeyId {
    Uuid(uuid::Uuid),
    OtherString,
    NotString,
}

/// What the JOSE header says that matters.
#[derive(Default)]
struct Header {
    alg_is_hs256: bool,
    kid_not_string: bool,
    kid: Option<uuid::Uuid>,
    crit: bool,
    b64_false: bool,
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Alg => {
                    header.alg_is_hs256 =
                        matches!(map.next_value()?, Facts::Str { hs256: true, .. })
                }
                Key::Kid => {
                    let kid = map.next_value_seed(StringOr {
                        read: |v: &str| {
                            uuid::Uuid::try_parse(v).map_or(KeyId::OtherString, KeyId::Uuid)
                        },
                        other: KeyId::NotString,
                    })?;
                    header.kid_not_string = matches!(kid, KeyId::NotString);
                    header.kid = match kid {
                        KeyId::Uuid(id) => Some(id),
                        _ => None,
                    };
                }
                Key::Crit => {
                    map.next_value::<IgnoredAny>()?;
                    header.crit = true;
                }
                Key::B64 => header.b64_false = matches!(map.next_value()?, Facts::Bool(false)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

struct ClaimsVisitor<'r> {
    rule: IssuerRule<'r>,
}

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = (Claims, Issuer);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut claims = Claims::default();
        let (mut sub_bad, mut jti_bad) = (false, false);
        let mut issuer = Issuer::Absent;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Iss => {
                    let rule = self.rule;
                    issuer = map.next_value_seed(StringOr {
                        read: |v: &str| match rule {
                            IssuerRule::ServiceId => Issuer::Service(py_uuid(v)),
                            IssuerRule::Client(id) => Issuer::Client(v == id),
                        },
                        other: match rule {
                            IssuerRule::ServiceId => Issuer::Service(None),
                            IssuerRule::Client(_) => Issuer::Client(false),
                        },
                    })?;
                }
                Key::Iat => claims.iat = map.next_value()?,
                Key::Nbf => claims.nbf = map.next_value()?,
                Key::Exp => claims.exp = map.next_value()?,
                Key::Aud => claims.aud = map.next_value::<Facts>()?.truthy(),
                Key::Sub => sub_bad = !matches!(map.next_value()?, Facts::Str { .. }),
                Key::Jti => jti_bad = !matches!(map.next_value()?, Facts::Str { .. }),
                Key::Req => claims.req = map.next_value_seed(BindingClaim::seed())?,
                Key::Pay => claims.pay = map.next_value_seed(BindingClaim::seed())?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        claims.sub_or_jti_not_string = sub_bad || jti_bad;
        Ok((claims, issuer))
    }
}

/// Reads any JSON value: a string with `read`, anything else as `other` (after skipping it).
/// `iss`, `kid`, `req` and `pay` are read this way, without keeping their text.
struct StringOr<T, F> {
    read: F,
    other: T,
}

impl<'de, T, F: FnOnce(&str) -> T> DeserializeSeed<'de> for StringOr<T, F> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T, F: FnOnce(&str) -> T> Visitor<'de> for StringOr<T, F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok((self.read)(v))
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(self.other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(self.other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(self.other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(self.other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(self.other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        FactsVisitor.visit_seq(seq)?;
        Ok(self.other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        FactsVisitor.visit_map(map)?;
        Ok(self.other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        BASE64URL.encode(bytes)
    }

    #[test]
    fn the_official_headers_are_what_they_claim() {
        assert_eq!(
            BASE64URL.decode(OFFICIAL_HEADERS[0]).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
        assert_eq!(
            BASE64URL.decode(OFFICIAL_HEADERS[1]).unwrap(),
            br#"{"typ":"JWT","alg":"HS256"}"#
        );
    }

    /// The full parser's reading of `json`, to compare with the fast path.
    fn full(json: &[u8]) -> Option<(Time, Issuer)> {
        read_json(
            json,
            ClaimsVisitor {
                rule: IssuerRule::ServiceId,
            },
        )
        .map(|(claims, issuer)| (claims.iat, issuer))
    }

    #[test]
    fn the_claims_fast_path_agrees_with_the_full_parser() {
        let id = "26785a09-ab16-4eb0-8407-a37497a57506";
        let taken = [
            format!(r#"{{"iss":"{id}","iat":1795394922}}"#),
            format!(r#"{{"iss":"{}","iat":0}}"#, id.to_uppercase()),
            format!(r#"{{"iss":"{id}","iat":999999999999999999}}"#),
        ];
        for json in &taken {
            let (claims, issuer) = official_claims(json.as_bytes(), IssuerRule::ServiceId).unwrap();
            assert_eq!(Some((claims.iat, issuer)), full(json.as_bytes()), "{json}");
        }
        let left_to_the_parser = [
            format!(r#"{{"iat":1795394922,"iss":"{id}"}}"#),
            format!(r#"{{"iss":"{id}", "iat":1795394922}}"#),
            format!(r#"{{"iss":"{id}","iat":01795394922}}"#),
            format!(r#"{{"iss":"{id}","iat":-1}}"#),
            format!(r#"{{"iss":"{id}","iat":1.5}}"#),
            format!(r#"{{"iss":"{id}","iat":9999999999999999999}}"#),
            format!(r#"{{"iss":"{id}","iat":}}"#),
            format!(r#"{{"iss":"{id}","iat":1}} "#),
            format!(r#"{{"iss":"{}","iat":1}}"#, id.replace('-', "")),
            r#"{"iss":"26785a09-ab16-4eb0-8407-a37497a5750g","iat":1}"#.to_owned(),
        ];
        for json in &left_to_the_parser {
            assert!(
                official_claims(json.as_bytes(), IssuerRule::ServiceId).is_none(),
                "{json}"
            );
        }
        let internal = r#"{"iss":"26785a09-ab16-4eb0-8407-a37497a57506","iat":1}"#;
        assert!(official_claims(internal.as_bytes(), IssuerRule::Client("x")).is_none());
    }

    /// The `int()` digit steps spent parsing a token made of `header` and `claims`.
    fn digit_steps(header: &str, claims: &str) -> u64 {
        use crate::core::python::DIGIT_STEPS;
        let token = format!("{}.{}.c2ln", b64(header.as_bytes()), b64(claims.as_bytes()));
        DIGIT_STEPS.with(|steps| steps.set(0));
        parse(token.as_bytes(), IssuerRule::ServiceId).unwrap();
        DIGIT_STEPS.with(|steps| steps.get())
    }

    #[test]
    fn int_is_computed_only_for_the_time_claims() {
        let digits = "\u{1d7ff}".repeat(1400);
        let iss = r#""iss":"26785a09-ab16-4eb0-8407-a37497a57506""#;
        for claim in ["jti", "sub", "aud", "other"] {
            let claims = format!(r#"{{{iss},"{claim}":"{digits}"}}"#);
            assert_eq!(digit_steps(r#"{"alg":"HS256"}"#, &claims), 0, "{claim}");
        }
        for claim in ["alg", "kid", "typ"] {
            let header = format!(r#"{{"{claim}":"{digits}"}}"#);
            assert_eq!(digit_steps(&header, &format!("{{{iss}}}")), 0, "{claim}");
        }
        for claim in ["iat", "nbf", "exp"] {
            let claims = format!(r#"{{{iss},"{claim}":"{digits}"}}"#);
            assert_eq!(digit_steps(r#"{"alg":"HS256"}"#, &claims), 1400, "{claim}");
        }
        // Repeating a key repeats the work, but the token's length still bounds it.
        let repeated = format!(r#"{{{iss}{}}}"#, r#","iat":"1""#.repeat(500));
        assert_eq!(digit_steps(r#"{"alg":"HS256"}"#, &repeated), 500);
    }

    #[test]
    fn non_zero_trailing_bits_decode_as_python_decodes_them() {
        // "QQ" is "A"; "QR" has non-zero trailing bits and is "A" to Python too.
        let mut stack = [MaybeUninit::uninit(); 8];
        assert_eq!(&*decode(b"QQ", &mut stack).unwrap(), b"A");
        assert_eq!(&*decode(b"QR", &mut stack).unwrap(), b"A");
        for bad in [&b"Q"[..], b"QQ==", b"Q Q", b"Q+", b"Q/", b"Q."] {
            assert!(decode(bad, &mut stack).is_err(), "{bad:?}");
        }
        // Segments larger than the stack go to the heap.
        let long = b64(&[7u8; 100]);
        assert_eq!(
            &*decode(long.as_bytes(), &mut stack).unwrap(),
            &[7u8; 100][..]
        );
    }
}
