//! The whole public decision (`core::authenticate`) on arbitrary header bytes, against the
//! fixture store of `tests/common/mod.rs` at a fixed now.
//!
//! Input: one or several `Authorization` values separated by `\n` (empty input: no header).
//!
//! Invariants:
//! - no panic, and the same answer from a store shared by every run (whose services remember
//!   which key matched last) and from a fresh store: the answer never depends on that hint;
//! - every error is one of the contract's (status, message) pairs, and never M5, which only
//!   internal routes give;
//! - success only as K1 (normal) or K2 (test) of service S, the active service's listed,
//!   unrevoked keys, and only if HMAC-SHA256 computed here (hmac + sha2 over the signing
//!   input, the signature base64url-decoded here) says that key's secret signed the token; and,
//!   where serde_json can read the segments, only if the header's `alg` is the string
//!   `"HS256"` without `crit`, `iat` is present with an integer value in now ± 30, and
//!   `nbf`, `exp`, `aud`, `sub` and `jti` pass the §3 rules;
//! - each error that names a service or a key is consistent with the store and the token:
//!   "service not found" only for an id not in the store, "no API keys" only for E, AE or OLD,
//!   "archived" only for A, "revoked" only for K3 with K3's valid signature, CLOCK only after
//!   a listed key of S signed the token, M11 only if `alg` is not `"HS256"`, and "API key not
//!   found" for a token a listed key of S signed only if the claims send the loop on (no
//!   `iat`, or an `nbf`/`exp` string).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use notify_auth::core::authenticate;
use notify_auth::{AuthError, KeyType, MemoryStore, Principal};
use notify_auth_fuzz::*;
use serde_json::{Map, Value};
use uuid::Uuid;

static STORE: OnceLock<MemoryStore> = OnceLock::new();

/// The listed keys of S at NOW (K4 was revoked a month ago and is no longer listed).
const LISTED: [(Uuid, &str); 3] = [(K1, K1_SECRET), (K2, K2_SECRET), (K3, K3_SECRET)];

type Summary = Result<(Uuid, Uuid, KeyType), (u16, &'static str, Option<Uuid>, Option<Uuid>)>;

fn summary(result: &Result<Principal, AuthError>) -> Summary {
    match result {
        Ok(p) => Ok((p.service_id, p.api_key_id, p.key_type)),
        Err(e) => Err((
            e.status().as_u16(),
            e.message(),
            e.service_id(),
            e.api_key_id(),
        )),
    }
}

fn decide(store: &MemoryStore, values: &[&[u8]]) -> Result<Principal, AuthError> {
    authenticate(values.iter().copied(), NOW, |id| {
        store.get(id).map(|s| &**s)
    })
}

/// The §3 claim rules a token that matched a key and was accepted (or found revoked) obeys.
fn check_accepted_claims(claims: &Map<String, Value>) {
    let iat = claims.get("iat").expect("accepted without iat");
    assert!(!unusable(iat), "accepted with an unusable iat {iat}");
    if let Some(i) = py_int(iat) {
        assert!(
            (NOW - WINDOW..=NOW + WINDOW).contains(&i),
            "accepted with iat {iat}"
        );
    }
    if let Some(nbf) = claims.get("nbf") {
        assert!(!unusable(nbf), "accepted with an unusable nbf {nbf}");
        if let Some(n) = py_int(nbf) {
            assert!(n <= NOW + WINDOW, "accepted with nbf {nbf}");
        }
    }
    if let Some(exp) = claims.get("exp") {
        assert!(!unusable(exp), "accepted with an unusable exp {exp}");
        if let Some(e) = py_int(exp) {
            assert!(e > NOW - WINDOW, "accepted with exp {exp}");
        }
    }
    if let Some(aud) = claims.get("aud") {
        assert!(!truthy(aud), "accepted with aud {aud}");
    }
    for name in ["sub", "jti"] {
        if let Some(v) = claims.get(name) {
            assert!(v.is_string(), "accepted with {name} {v}");
        }
    }
}

fn check_accepted_header(header: &Map<String, Value>) {
    assert_eq!(
        header.get("alg"),
        Some(&Value::from("HS256")),
        "accepted: {header:?}"
    );
    assert!(!header.contains_key("crit"), "accepted with crit");
    if let Some(kid) = header.get("kid") {
        assert!(kid.is_string(), "accepted with kid {kid}");
    }
}

fuzz_target!(|data: &[u8]| {
    let values = header_values(data);
    let store = STORE.get_or_init(store);
    let result = decide(store, &values);
    let fresh = notify_auth_fuzz::store();
    assert_eq!(
        summary(&result),
        summary(&decide(&fresh, &values)),
        "the answer depends on the store's last-match hint"
    );

    let token = reference_bearer(&values);
    let seg = token.as_deref().ok().and_then(segments);
    let header = seg.as_ref().and_then(|s| json_object(s.header));
    let claims = seg.as_ref().and_then(|s| json_object(s.payload));
    let signed_by = |secret: &str| token.as_deref().is_ok_and(|t| signed_with(t, secret));
    let any_listed = || LISTED.iter().any(|(_, secret)| signed_by(secret));

    match result {
        Ok(principal) => {
            assert_eq!(principal.service_id, S, "accepted for another service");
            let (secret, key_type) = match principal.api_key_id {
                id if id == K1 => (K1_SECRET, KeyType::Normal),
                id if id == K2 => (K2_SECRET, KeyType::Test),
                other => panic!("accepted as key {other}, not an unrevoked key of S"),
            };
            assert_eq!(principal.key_type, key_type);
            assert!(seg.is_some(), "accepted a token without three segments");
            assert!(signed_by(secret), "accepted a token that key did not sign");
            if let Some(header) = &header {
                check_accepted_header(header);
            }
            if let Some(claims) = &claims {
                check_accepted_claims(claims);
                assert!(claims.get("iss").is_some_and(Value::is_string));
            }
        }
        Err(err) => {
            let pair = contract_pair(&err);
            assert_ne!(pair, (401, NOT_ALLOWED), "M5 on a public route");
            // From step 6 on, the token named a service with a UUID string `iss`.
            if ![MISSING_TOKEN, NOT_BEARER, GENERAL, NO_ISS, ISS_NOT_UUID].contains(&pair.1) {
                assert!(err.service_id().is_some(), "{pair:?} names no service");
                if let Some(claims) = &claims {
                    assert!(claims.get("iss").is_some_and(Value::is_string), "{pair:?}");
                }
            }
            let service = err.service_id();
            match pair.1 {
                SERVICE_NOT_FOUND => {
                    let id = service.unwrap();
                    assert!(store.get(id).is_none(), "service {id} exists");
                }
                NO_API_KEYS => assert!([E, AE, OLD].contains(&service.unwrap())),
                ARCHIVED => assert_eq!(service, Some(A)),
                ALGORITHM => {
                    assert_eq!(service, Some(S));
                    if let Some(header) = &header {
                        assert_ne!(header.get("alg"), Some(&Value::from("HS256")), "M11");
                    }
                }
                REVOKED => {
                    assert_eq!((service, err.api_key_id()), (Some(S), Some(K3)));
                    assert!(signed_by(K3_SECRET), "revoked, yet K3 did not sign it");
                    if let Some(header) = &header {
                        check_accepted_header(header);
                    }
                    if let Some(claims) = &claims {
                        check_accepted_claims(claims);
                    }
                }
                CLOCK => {
                    assert_eq!(service, Some(S));
                    assert!(any_listed(), "CLOCK, yet no listed key of S signed it");
                }
                KEY_NOT_FOUND => {
                    assert_eq!(service, Some(S));
                    if let (true, Some(header), Some(claims)) = (any_listed(), &header, &claims) {
                        check_accepted_header(header);
                        let sends_on = |name| claims.get(name).is_some_and(Value::is_string);
                        assert!(
                            !claims.contains_key("iat") || sends_on("nbf") || sends_on("exp"),
                            "a listed key signed it, yet 'API key not found'"
                        );
                    }
                }
                _ => {}
            }
        }
    }
});
