//! Step 3 of the contract: reading a token without trusting it.
//!
//! The token is split on its two dots without copying, each segment is base64url-decoded into
//! a stack buffer (a heap buffer only for unusually large segments), and the JSON is read in one
//! pass by [`pyjson::read_object`], keeping only the last value of each member the contract
//! reads (Python's `dict` keeps the last of duplicate keys), as borrowed text: no tree, and no
//! string copied unless it has escapes and a rule must read it.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

use super::orm::{DbIssuer, database_issuer};
use super::pyjson::{self, JsonStr, Value};
use super::python::{py_int, py_uuid};
use crate::dialect::Dialect;
use crate::error::{AuthError, ErrorKind, InvalidReason};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64_simd::Out;

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
    /// `null`, a list or an object: Notify crashes (500). (So would an infinite float,
    /// which the JSON reader refuses before: contract §9.)
    Unusable,
    /// `int()` raises `ValueError` (a string that is not a decimal integer).
    NotInteger,
    /// The integer value, saturated to `i64`.
    At(i64),
}

impl Time {
    /// A time claim read as Python's `int(value)`, as PyJWT and Notify apply it: the only
    /// values `int()` is computed for (every other string is only looked at).
    fn of(value: Option<Value<'_>>) -> Time {
        match value {
            None => Time::Absent,
            Some(Value::Null | Value::List { .. } | Value::Object { .. }) => Time::Unusable,
            Some(Value::Bool(b)) => Time::At(i64::from(b)),
            Some(Value::Int(text)) => Time::At(Value::int_saturating(text)),
            // `as` saturates, as the window check needs (the reader refuses infinities).
            Some(Value::Float(text)) => Time::At(Value::float(text).trunc() as i64),
            Some(Value::Str(s)) => py_int(&s.text(), 10)
                .saturating_i64()
                .map_or(Time::NotInteger, Time::At),
        }
    }

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
    fn of(value: Option<Value<'_>>) -> BindingClaim {
        match value {
            None => BindingClaim::Absent,
            Some(Value::Str(s)) => <[u8; 44]>::try_from(s.text().as_bytes())
                .map_or(BindingClaim::Other, BindingClaim::Text),
            Some(_) => BindingClaim::Other,
        }
    }
}

/// How `iss` is judged: as a service id (public routes), by Python's `uuid.UUID` or as GC and
/// VA Notify's database reads it, or against a client id (internal).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IssuerRule<'r> {
    /// A service id, read as `rule` reads it.
    Service(ServiceRule),
    /// Exactly this client id.
    Client(&'r str),
    /// This client id if `iss` is exactly it, else a service id as `rule` reads it (a layer
    /// that takes both on one route).
    ServiceOrClient(ServiceRule, &'r str),
}

/// How a service id is read from `iss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceRule {
    /// Python's `uuid.UUID` (GOV.UK Notify, Notify.gov).
    Python,
    /// GC or VA Notify's database query (the dialect says which: they differ on lists).
    Database(Dialect),
}

impl ServiceRule {
    /// The rule for a public route's `iss` in `dialect`.
    pub(crate) fn of(dialect: Dialect) -> Self {
        if dialect.issuer_by_database() {
            ServiceRule::Database(dialect)
        } else {
            ServiceRule::Python
        }
    }
}

impl IssuerRule<'_> {
    /// The rule for a public route's `iss` in `dialect`.
    pub(crate) fn service_id(dialect: Dialect) -> Self {
        IssuerRule::Service(ServiceRule::of(dialect))
    }
}

/// What `iss` turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Issuer {
    Absent,
    /// The service id, or `None` if `iss` is not a UUID for Python.
    Service(Option<uuid::Uuid>),
    /// What GC and VA Notify's database makes of it.
    Database(DbIssuer),
    /// Whether it equals the expected client id.
    Client(bool),
}

/// A parsed, not yet verified token. `Debug` shows its facts, not its text.
pub(crate) struct Jwt<'a> {
    /// The header and payload as sent: borrowed from the request, or owned once the token
    /// must outlive it ([`Jwt::into_owned`]).
    pub(crate) signing_input: Cow<'a, [u8]>,
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
    /// The token with its signing input copied: everything else is already its own.
    pub(crate) fn into_owned(self) -> Jwt<'static> {
        Jwt {
            signing_input: Cow::Owned(self.signing_input.into_owned()),
            signature: self.signature,
            alg_is_hs256: self.alg_is_hs256,
            kid: self.kid,
            claims: self.claims,
            issuer: self.issuer,
        }
    }

    /// Whether the signature is HMAC-SHA256(secret, signing input).
    pub(crate) fn signed_with(&self, secret: &crate::Secret) -> bool {
        self.signature
            .is_some_and(|sig| secret.verifies(&self.signing_input, sig.as_bytes()))
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
/// judgement of step 5 (public) or of §7 (internal), which needs the claims' text. `dialect`
/// says whether a `kid` that is not a string is an error (VA Notify's PyJWT 2.11 never looks
/// at it).
pub(crate) fn parse<'a>(
    token: &'a [u8],
    rule: IssuerRule<'_>,
    dialect: Dialect,
) -> Result<Jwt<'a>, AuthError> {
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
        read_members(&json, header_of).ok_or_else(|| invalid(InvalidReason::HeaderJson))?
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

    if header.kid_not_string && dialect != Dialect::Va {
        return Err(invalid(InvalidReason::KeyId));
    }
    if header.crit || header.b64_false {
        return Err(invalid(InvalidReason::CriticalHeader));
    }
    let (claims, issuer) = match official_claims(&payload_json, rule) {
        Some(read) => read,
        None => read_members(&payload_json, |m| claims_of(m, rule))
            .ok_or_else(|| invalid(InvalidReason::ClaimsJson))?,
    };
    Ok(Jwt {
        signing_input: Cow::Borrowed(&token[..second]),
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
    let rule = match rule {
        IssuerRule::Client(_) => return None,
        IssuerRule::Service(rule) => rule,
        IssuerRule::ServiceOrClient(rule, client) => {
            let iss = json.strip_prefix(br#"{"iss":""#)?.get(..36)?;
            if iss == client.as_bytes() {
                return None;
            }
            rule
        }
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
    // A hyphenated UUID is one for Python and PostgreSQL alike.
    let issuer = match rule {
        ServiceRule::Database(_) => Issuer::Database(DbIssuer::Id(service_id)),
        ServiceRule::Python => Issuer::Service(Some(service_id)),
    };
    Some((claims, issuer))
}

/// The members the contract reads: the header's and the claims' (each object is looked at
/// only for its own).
#[derive(Clone, Copy)]
enum Name {
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
}

const NAMES: usize = Name::Pay as usize + 1;

impl Name {
    /// The member a key names, matched on its decoded text without copying it.
    #[inline]
    fn of(key: JsonStr<'_>) -> Option<Name> {
        let mut buf = [0u8; 4];
        Some(match key.short_ascii(&mut buf)?.as_bytes() {
            b"alg" => Name::Alg,
            b"kid" => Name::Kid,
            b"crit" => Name::Crit,
            b"b64" => Name::B64,
            b"iss" => Name::Iss,
            b"iat" => Name::Iat,
            b"nbf" => Name::Nbf,
            b"exp" => Name::Exp,
            b"aud" => Name::Aud,
            b"sub" => Name::Sub,
            b"jti" => Name::Jti,
            b"req" => Name::Req,
            b"pay" => Name::Pay,
            _ => return None,
        })
    }
}

/// The last value of each named member, as Python's `dict` keeps duplicates: earlier ones are
/// read (the JSON must be valid) but never looked at.
struct Members<'t>([Option<Value<'t>>; NAMES]);

impl<'t> pyjson::Members<'t> for Members<'t> {
    type Slot = Name;
    #[inline]
    fn slot(&self, key: JsonStr<'t>) -> Option<Name> {
        Name::of(key)
    }
    fn set(&mut self, name: Name, value: Value<'t>) {
        self.0[name as usize] = Some(value);
    }
}

impl<'t> Members<'t> {
    fn get(&self, name: Name) -> Option<Value<'t>> {
        self.0[name as usize]
    }

    /// Whether the member is there and is not a string.
    fn not_string(&self, name: Name) -> bool {
        self.get(name).is_some_and(|v| !matches!(v, Value::Str(_)))
    }
}

/// Reads one JSON object as Python's `json.loads` reads the bytes, and judges its members
/// with `judge`; `None` if Python would not read the bytes as an object.
fn read_members<T>(json: &[u8], judge: impl FnOnce(&Members<'_>) -> T) -> Option<T> {
    let text = pyjson::decode(json)?;
    let mut members = Members([None; NAMES]);
    pyjson::read_object(&text, &mut members)?;
    Some(judge(&members))
}

/// What the JOSE header says that matters.
#[derive(Default)]
struct Header {
    alg_is_hs256: bool,
    kid_not_string: bool,
    /// The header's `kid`, when it is a UUID.
    kid: Option<uuid::Uuid>,
    crit: bool,
    b64_false: bool,
}

fn header_of(m: &Members<'_>) -> Header {
    Header {
        alg_is_hs256: matches!(m.get(Name::Alg), Some(Value::Str(alg)) if alg.is("HS256")),
        kid_not_string: m.not_string(Name::Kid),
        kid: match m.get(Name::Kid) {
            Some(Value::Str(kid)) => uuid::Uuid::try_parse(&kid.text()).ok(),
            _ => None,
        },
        crit: m.get(Name::Crit).is_some(),
        b64_false: matches!(m.get(Name::B64), Some(Value::Bool(false))),
    }
}

/// What a service's `iss` is, as `rule` reads it.
fn service_issuer(iss: Value<'_>, rule: ServiceRule) -> Issuer {
    match (iss, rule) {
        (Value::Str(iss), ServiceRule::Python) => Issuer::Service(py_uuid(&iss.text())),
        (_, ServiceRule::Python) => Issuer::Service(None),
        (iss, ServiceRule::Database(dialect)) => Issuer::Database(database_issuer(iss, dialect)),
    }
}

fn claims_of(m: &Members<'_>, rule: IssuerRule<'_>) -> (Claims, Issuer) {
    let issuer = match (m.get(Name::Iss), rule) {
        (None, _) => Issuer::Absent,
        (Some(Value::Str(iss)), IssuerRule::Client(id)) => Issuer::Client(iss.is(id)),
        (Some(_), IssuerRule::Client(_)) => Issuer::Client(false),
        (Some(Value::Str(iss)), IssuerRule::ServiceOrClient(_, id)) if iss.is(id) => {
            Issuer::Client(true)
        }
        (Some(iss), IssuerRule::Service(rule) | IssuerRule::ServiceOrClient(rule, _)) => {
            service_issuer(iss, rule)
        }
    };
    let claims = Claims {
        iat: Time::of(m.get(Name::Iat)),
        nbf: Time::of(m.get(Name::Nbf)),
        exp: Time::of(m.get(Name::Exp)),
        aud: m.get(Name::Aud).is_some_and(truthy),
        sub_or_jti_not_string: m.not_string(Name::Sub) || m.not_string(Name::Jti),
        req: BindingClaim::of(m.get(Name::Req)),
        pay: BindingClaim::of(m.get(Name::Pay)),
    };
    (claims, issuer)
}

/// Python's truthiness.
fn truthy(value: Value<'_>) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => b,
        Value::Int(text) => Value::int_saturating(text) != 0,
        Value::Float(text) => Value::float(text) != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::List { empty, .. } | Value::Object { empty } => !empty,
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
        read_members(json, |m| {
            claims_of(m, IssuerRule::Service(ServiceRule::Python))
        })
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
            let (claims, issuer) =
                official_claims(json.as_bytes(), IssuerRule::Service(ServiceRule::Python)).unwrap();
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
                official_claims(json.as_bytes(), IssuerRule::Service(ServiceRule::Python))
                    .is_none(),
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
        parse(
            token.as_bytes(),
            IssuerRule::Service(ServiceRule::Python),
            Dialect::Uk,
        )
        .unwrap();
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
        // Of a repeated key only the last is read, as Python's `dict` keeps it.
        let repeated = format!(r#"{{{iss}{}}}"#, r#","iat":"1""#.repeat(500));
        assert_eq!(digit_steps(r#"{"alg":"HS256"}"#, &repeated), 1);
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
