//! What the fuzz targets share: the contract's answers (written out from the spec, not taken
//! from the crate), the fixture store of `tests/common/mod.rs`, a reference model of the
//! header step, and an independent HMAC-SHA256 check of a token's signature.
//!
//! Nothing here calls the crate's own parsing or verification: these are the oracles the
//! targets hold the crate to.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use notify_auth::{ApiKey, KeyType, MemoryStore, Secret, ServiceRecord};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::{Uuid, uuid};

// ---------------------------------------------------------------------------------------
// The contract's answers (notify-auth.md §2, §3, §7; the M-numbers of cases.md).

/// M1
pub const MISSING_TOKEN: &str = "Unauthorized: authentication token must be provided";
/// M2
pub const NOT_BEARER: &str = "Unauthorized: authentication bearer scheme must be used";
/// M3
pub const NO_ISS: &str = "Invalid token: iss field not provided";
/// M4
pub const GENERAL: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";
/// M5 (internal routes only)
pub const NOT_ALLOWED: &str = "Unauthorized: not allowed to perform this action";
/// M6
pub const ISS_NOT_UUID: &str = "Invalid token: service id is not the right data type";
/// M7
pub const SERVICE_NOT_FOUND: &str = "Invalid token: service not found";
/// M8
pub const NO_API_KEYS: &str = "Invalid token: service has no API keys";
/// M9
pub const ARCHIVED: &str = "Invalid token: service is archived";
/// M10
pub const CLOCK: &str = "Error: Your system clock must be accurate to within 30 seconds";
/// M11
pub const ALGORITHM: &str = "Invalid token: algorithm used is not HS256";
/// M12
pub const REVOKED: &str = "Invalid token: API key revoked";
/// M13
pub const KEY_NOT_FOUND: &str = "Invalid token: API key not found";

/// Every (status, message) pair the contract allows, on any route.
pub const CONTRACT_PAIRS: [(u16, &str); 13] = [
    (401, MISSING_TOKEN),
    (401, NOT_BEARER),
    (401, NOT_ALLOWED),
    (403, GENERAL),
    (403, NO_ISS),
    (403, ISS_NOT_UUID),
    (403, SERVICE_NOT_FOUND),
    (403, NO_API_KEYS),
    (403, ARCHIVED),
    (403, CLOCK),
    (403, ALGORITHM),
    (403, REVOKED),
    (403, KEY_NOT_FOUND),
];

/// The (status, message) of an error, checked to be one of [`CONTRACT_PAIRS`].
#[track_caller]
pub fn contract_pair(err: &notify_auth::AuthError) -> (u16, &'static str) {
    let pair = (err.status().as_u16(), err.message());
    assert!(
        CONTRACT_PAIRS.contains(&pair),
        "an answer outside the contract: {pair:?} ({err:?})"
    );
    pair
}

// ---------------------------------------------------------------------------------------
// The fixture: the services of cases.md, as tests/common/mod.rs builds them.

/// The fixed "now" of the targets: 2026-11-23T02:48:42Z.
pub const NOW: i64 = 1_795_394_922;
/// The accepted `iat` distance from now, both ways (contract §4).
pub const WINDOW: i64 = 30;
pub const DAY: i64 = 86_400;

/// Active: K1 normal, K2 test, K3 revoked yesterday, K4 team revoked a month ago (invisible).
pub const S: Uuid = uuid!("26785a09-ab16-4eb0-8407-a37497a57506");
/// Archived, one key.
pub const A: Uuid = uuid!("0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c");
/// Active, no keys.
pub const E: Uuid = uuid!("7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a");
/// Archived, no keys.
pub const AE: Uuid = uuid!("0e0e0e0e-1b0a-4f9e-8d7c-6b5a4f3e2d1c");
/// Active, only a key revoked a month ago.
pub const OLD: Uuid = uuid!("11111111-2222-4333-8444-555555555555");
/// A well-formed service id that is in no store.
pub const UNKNOWN: Uuid = uuid!("99999999-8888-4777-8666-555555555555");

pub const K1: Uuid = uuid!("1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10");
pub const K2: Uuid = uuid!("5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c");
pub const K3: Uuid = uuid!("9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a");
pub const K4: Uuid = uuid!("3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a");
pub const KA: Uuid = uuid!("2e1d0c9b-8a7f-4e6d-9c5b-4a3f2e1d0c9b");
pub const KOLD: Uuid = uuid!("66666666-7777-4888-9999-aaaaaaaaaaaa");

pub const K1_SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";
pub const K2_SECRET: &str = "8b1e6f2a-4c3d-4b5e-a6f7-0e9d8c7b6a51";
pub const K3_SECRET: &str = "c0ffee00-1234-4abc-8def-0123456789ab";
pub const K4_SECRET: &str = "0badcafe-4321-4cba-8fed-ba9876543210";
pub const KA_SECRET: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
pub const KOLD_SECRET: &str = "deadbeef-0000-4000-8000-000000000000";
pub const WRONG_SECRET: &str = "ffffffff-ffff-4fff-8fff-ffffffffffff";

/// The internal client of the targets and its secrets.
pub const ADMIN: &str = "notify-admin";
pub const ADMIN_SECRETS: [&str; 2] = ["s1", "s2"];

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("a date in range")
}

fn key(id: Uuid, secret: &str, key_type: KeyType) -> ApiKey {
    ApiKey::new(id, Secret::new(secret), key_type)
}

/// The store of `tests/common/mod.rs` (without the internal client, which the public decision
/// does not read).
pub fn store() -> MemoryStore {
    MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_key(key(K1, K1_SECRET, KeyType::Normal))
                .with_key(key(K2, K2_SECRET, KeyType::Test))
                .with_key(key(K3, K3_SECRET, KeyType::Normal).revoked_at(at(NOW - DAY)))
                .with_key(key(K4, K4_SECRET, KeyType::Team).revoked_at(at(NOW - 30 * DAY))),
        )
        .service(ServiceRecord::new(A, false).with_key(key(KA, KA_SECRET, KeyType::Normal)))
        .service(ServiceRecord::new(E, true))
        .service(ServiceRecord::new(AE, false))
        .service(
            ServiceRecord::new(OLD, true)
                .with_key(key(KOLD, KOLD_SECRET, KeyType::Normal).revoked_at(at(NOW - 30 * DAY))),
        )
        .build()
        .expect("the fixture store builds")
}

// ---------------------------------------------------------------------------------------
// Input framing shared by `header` and `decision` (and by the seed files).

/// Splits fuzz input into `Authorization` header values: an empty input is "no header at
/// all", anything else is one or more values separated by `\n` (a byte no HTTP header value
/// can hold, so a value never needs to contain it).
pub fn header_values(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == b'\n').collect()
    }
}

/// Steps 1 and 2 of contract §2, written from the spec alone: each value trimmed of spaces
/// and tabs, several values joined with `,`, then empty → 401 M1; the first 7 bytes not
/// `bearer ` in any ASCII case → 401 M2; otherwise the (untrimmed) rest is the token, refused
/// with 403 GENERAL when longer than the crate's documented limit. Before all of that, a
/// header longer than the crate's documented limit in all (as received) is 403 GENERAL.
pub fn reference_bearer(values: &[&[u8]]) -> Result<Vec<u8>, (u16, &'static str)> {
    if values.iter().map(|v| v.len()).sum::<usize>() > notify_auth::core::MAX_HEADER_LEN {
        return Err((403, GENERAL));
    }
    let trim = |v: &[u8]| -> Vec<u8> {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let start = v.iter().position(|b| !blank(b)).unwrap_or(v.len());
        let end = v.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
        v[start..end].to_vec()
    };
    let joined: Option<Vec<u8>> = values.iter().map(|v| trim(v)).reduce(|mut a, b| {
        a.push(b',');
        a.extend_from_slice(&b);
        a
    });
    let value = match joined {
        Some(v) if !v.is_empty() => v,
        _ => return Err((401, MISSING_TOKEN)),
    };
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return Err((401, NOT_BEARER));
    }
    let token = value[7..].to_vec();
    if token.len() > notify_auth::core::MAX_TOKEN_LEN {
        return Err((403, GENERAL));
    }
    Ok(token)
}

// ---------------------------------------------------------------------------------------
// Tokens, base64url and HMAC, independently of the crate.

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Unpadded base64url that, like Python's decoder, ignores non-zero trailing bits (the crate
/// accepts these too). Anything the crate accepts, this accepts.
pub const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// HMAC-SHA256 of `input` keyed with the UTF-8 bytes of `secret`.
pub fn hmac_sha256(secret: &str, input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// A token with exactly this header and claims JSON, signed HS256 with `secret`.
pub fn jwt(header: &str, claims: &str, secret: &str) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&signature))
}

/// A token's three segments, if it has exactly three.
pub struct Segments<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub header: &'a [u8],
    pub payload: &'a [u8],
    pub signature: &'a [u8],
}

pub fn segments(token: &[u8]) -> Option<Segments<'_>> {
    let mut parts = token.split(|&b| b == b'.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Segments {
        signing_input: &token[..header.len() + 1 + payload.len()],
        header,
        payload,
        signature,
    })
}

/// Whether `token`'s signature segment decodes (leniently) to HMAC-SHA256(secret, signing
/// input). Computed with `hmac` and `sha2` directly, never through the crate.
pub fn signed_with(token: &[u8], secret: &str) -> bool {
    let Some(seg) = segments(token) else {
        return false;
    };
    let Ok(signature) = B64_LENIENT.decode(seg.signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(seg.signing_input);
    mac.verify_slice(&signature).is_ok()
}

/// A segment decoded and read as a JSON object with `serde_json`, when both succeed. (The
/// crate reads some JSON that serde_json refuses, e.g. Python's lone surrogates; callers treat
/// `None` as "cannot tell" and check less.)
pub fn json_object(segment: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = B64_LENIENT.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Python's `int(value)` for a JSON value as Notify and PyJWT apply it, loosely: `Some` when
/// this code can tell the integer, `None` when it cannot (unusual strings; `null`, lists and
/// objects, which are "unusable"). Saturates to i64.
pub fn py_int(value: &serde_json::Value) -> Option<i64> {
    use serde_json::Value;
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => {
            let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
            let (neg, digits) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            let bytes = digits.as_bytes();
            let well_formed = !bytes.is_empty()
                && bytes[0].is_ascii_digit()
                && bytes[bytes.len() - 1].is_ascii_digit()
                && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
                && !digits.contains("__");
            if !well_formed {
                return None;
            }
            let mut n: i64 = 0;
            for b in bytes.iter().filter(|b| b.is_ascii_digit()) {
                n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
            }
            Some(if neg { -n } else { n })
        }
        _ => None,
    }
}

/// Whether a JSON value is "unusable" as a time claim: `null`, a list or an object.
pub fn unusable(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_)
    )
}

/// Python's truthiness of a JSON value.
pub fn truthy(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_model_matches_the_cases() {
        assert_eq!(reference_bearer(&[]), Err((401, MISSING_TOKEN)));
        assert_eq!(reference_bearer(&[b" \t"]), Err((401, MISSING_TOKEN)));
        assert_eq!(reference_bearer(&[b"Bearer "]), Err((401, NOT_BEARER)));
        assert_eq!(reference_bearer(&[b"Bearer\tx"]), Err((401, NOT_BEARER)));
        assert_eq!(reference_bearer(&[b"bEaReR x "]), Ok(b"x".to_vec()));
        assert_eq!(
            reference_bearer(&[b"Bearer a", b" b "]),
            Ok(b"a,b".to_vec())
        );
    }

    #[test]
    fn py_int_reads_python_integers() {
        use serde_json::json;
        assert_eq!(py_int(&json!(" +1_795 ")), Some(1795));
        assert_eq!(py_int(&json!("1__2")), None);
        assert_eq!(py_int(&json!(-3.9)), Some(-3));
        assert_eq!(py_int(&json!(true)), Some(1));
        assert_eq!(py_int(&json!(null)), None);
    }
}
