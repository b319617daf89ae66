//! Differential: on tokens built here from structured input, the crate's verdict on "is the
//! signature valid for this key" agrees with `jsonwebtoken`'s, and both agree with an HMAC
//! computed here with `hmac` + `sha2`.
//!
//! The token is `base64url(header).base64url(claims).base64url(HMAC-SHA256(secret, signing
//! input))`, built by hand (not with the crate, not with jsonwebtoken), then perhaps corrupted
//! in one place. It is checked against a service with exactly one key (secret `verify_with`,
//! perhaps revoked yesterday) at `now` = the token's `iat`, so the 30-second window always
//! passes.
//!
//! The three verdicts, each Valid, Invalid, or Unknown (no verdict on the signature):
//!
//! - **Crate.** `PublicToken::parse` first: a failure there (bad segment, bad JSON, no `iss`,
//!   `iss` not a UUID) is before the key loop, so Unknown, and so is a token naming another
//!   service. Then `authorize(Some(&service), now)`:
//!   success, "API key revoked", CLOCK and GENERAL are all said only after a key's signature
//!   matched (contract §3 items 3 and 4): Valid. "API key not found" is Invalid, except when
//!   the claims have no `iat`: then a matching key is skipped too (§3, "iat missing → try the
//!   next key"), so Unknown. "algorithm used is not HS256" is said before any signature is
//!   checked: Unknown (and asserted to happen exactly when `alg` is not `"HS256"`).
//! - **jsonwebtoken.** `decode::<serde_json::Value>` with `Validation::new(HS256)`, no required
//!   claims, and no `exp`, `nbf` or `aud` validation. It reads the header and refuses a
//!   non-HS256 `alg` before it checks the signature, and base64-decodes the signature segment
//!   strictly (no non-zero trailing bits) before comparing; so first `decode_header` and that
//!   strict decode are run here, and a failure of either (or an `alg` other than HS256) is
//!   Unknown. After those, `decode` can fail with `InvalidSignature` (Invalid) or with an
//!   error about the claims, which it reads only once the signature verified (Valid), or
//!   succeed (Valid).
//! - **Here.** The signature segment base64url-decoded leniently (trailing bits ignored, as
//!   Python and the crate do) and compared with HMAC-SHA256(secret, signing input).
//!
//! Asserted: crate = here whenever the crate has a verdict; jsonwebtoken = here whenever
//! jsonwebtoken has one; hence crate = jsonwebtoken whenever both have one. The crate's whole
//! answer is also predicted exactly (the inputs are simple enough): M11 for a non-HS256 `alg`,
//! M13 for a wrong signature, GENERAL for a truthy `aud`, M13 for no `iat`, M12 if the key is
//! revoked, else success as that key.
//!
//! Known, deliberate difference: a signature segment whose last character carries non-zero
//! trailing bits decodes for Python and the crate, but not for jsonwebtoken (Unknown there).
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use libfuzzer_sys::fuzz_target;
use notify_auth::core::{Authorization, PublicToken};
use notify_auth::{ApiKey, KeyType, Secret, ServiceRecord};
use notify_auth_fuzz::*;
use time::OffsetDateTime;
use uuid::{Uuid, uuid};

const SERVICE: Uuid = uuid!("6f0b6a0a-2c43-4a0b-9c1e-2d9b1b7d3c11");
const KEY: Uuid = uuid!("0d7d8f0e-6a4e-4c6f-8a53-5f7a9a1f2b3c");

/// The secrets a token may be signed or checked with: a Notify-style UUID, one byte, a
/// non-ASCII one, and one longer than SHA-256's 64-byte block (HMAC hashes such keys first).
const SECRETS: [&str; 5] = [
    "3d844edf-8d35-48ac-975b-e847b4f122b0",
    "8b1e6f2a-4c3d-4b5e-a6f7-0e9d8c7b6a51",
    "s",
    "sécret-ü-🔑",
    "a-secret-that-is-longer-than-the-sixty-four-byte-block-of-sha-256-xxxxxxxxxxxxxxxx",
];

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HeaderChoice {
    /// `{"alg":"HS256","typ":"JWT"}` (PyJWT's, and the crate's fast path)
    Official,
    /// `{"typ":"JWT","alg":"HS256"}` (the other official client's, also a fast path)
    TypFirst,
    AlgOnly,
    KidOfTheKey,
    KidNotUuid,
    TypXyz,
    Spaced,
    Hs512,
    None,
    Rs256,
    LowerHs256,
    EmptyAlg,
    NullAlg,
    NoAlg,
}

impl HeaderChoice {
    fn json(self) -> String {
        match self {
            HeaderChoice::Official => r#"{"alg":"HS256","typ":"JWT"}"#.into(),
            HeaderChoice::TypFirst => r#"{"typ":"JWT","alg":"HS256"}"#.into(),
            HeaderChoice::AlgOnly => r#"{"alg":"HS256"}"#.into(),
            HeaderChoice::KidOfTheKey => format!(r#"{{"alg":"HS256","kid":"{KEY}"}}"#),
            HeaderChoice::KidNotUuid => r#"{"alg":"HS256","kid":"key-1"}"#.into(),
            HeaderChoice::TypXyz => r#"{"alg":"HS256","typ":"XYZ"}"#.into(),
            HeaderChoice::Spaced => r#"{ "alg" : "HS256" , "typ" : "JWT" }"#.into(),
            HeaderChoice::Hs512 => r#"{"alg":"HS512","typ":"JWT"}"#.into(),
            HeaderChoice::None => r#"{"alg":"none","typ":"JWT"}"#.into(),
            HeaderChoice::Rs256 => r#"{"alg":"RS256","typ":"JWT"}"#.into(),
            HeaderChoice::LowerHs256 => r#"{"alg":"hs256","typ":"JWT"}"#.into(),
            HeaderChoice::EmptyAlg => r#"{"alg":"","typ":"JWT"}"#.into(),
            HeaderChoice::NullAlg => r#"{"alg":null,"typ":"JWT"}"#.into(),
            HeaderChoice::NoAlg => r#"{"typ":"JWT"}"#.into(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Iss {
    Hyphenated,
    Upper,
    Simple,
    Braced,
    Urn,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Iat {
    /// `1795394922`
    Int(u32),
    /// `1795394922.<fraction>`: Python truncates it.
    Float(u32, u16),
    /// `"1795394922"`: Python's `int()` reads it.
    Str(u32),
}

impl Iat {
    fn json(self) -> String {
        match self {
            Iat::Int(v) => v.to_string(),
            Iat::Float(v, frac) => format!("{v}.{frac}"),
            Iat::Str(v) => format!("\"{v}\""),
        }
    }
    fn value(self) -> i64 {
        match self {
            Iat::Int(v) | Iat::Float(v, _) | Iat::Str(v) => i64::from(v),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum ExtraName {
    Req,
    Pay,
    Sub,
    Jti,
    Aud,
    Typ,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Option<Iss>,
    iat: Option<Iat>,
    /// One more claim with a string value.
    extra: Option<(ExtraName, String)>,
    /// Write `iat` before `iss`.
    iat_first: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Corruption {
    Nothing,
    /// XOR one byte of the raw signature before it is encoded (still valid base64url).
    SignatureByte {
        index: u8,
        mask: u8,
    },
    /// Replace one character of the encoded signature with a base64url character (the last
    /// character's trailing bits are where the decoders differ).
    SignatureChar {
        index: u8,
        to: u8,
    },
    /// Replace one character of the signing input (header or claims segment) with a base64url
    /// character or a dot.
    InputChar {
        index: u16,
        to: u8,
    },
    /// Drop 1 to 4 characters from the end of the signature segment.
    Truncate {
        count: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    sign_with: u8,
    verify_with: u8,
    revoked: bool,
    header: HeaderChoice,
    claims: Claims,
    corruption: Corruption,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

fn claims_json(claims: &Claims) -> String {
    let iss = claims.iss.as_ref().map(|iss| {
        let value = match iss {
            Iss::Hyphenated => SERVICE.hyphenated().to_string(),
            Iss::Upper => SERVICE.hyphenated().to_string().to_uppercase(),
            Iss::Simple => SERVICE.simple().to_string(),
            Iss::Braced => SERVICE.braced().to_string(),
            Iss::Urn => SERVICE.urn().to_string(),
            Iss::Other(s) => s.clone(),
        };
        format!("\"iss\":{}", serde_json::to_string(&value).unwrap())
    });
    let iat = claims.iat.map(|iat| format!("\"iat\":{}", iat.json()));
    let mut members: Vec<String> = if claims.iat_first {
        [iat, iss].into_iter().flatten().collect()
    } else {
        [iss, iat].into_iter().flatten().collect()
    };
    if let Some((name, value)) = &claims.extra {
        members.push(format!(
            "{}:{}",
            serde_json::to_string(extra_name(name)).unwrap(),
            serde_json::to_string(value).unwrap()
        ));
    }
    format!("{{{}}}", members.join(","))
}

fn extra_name(name: &ExtraName) -> &str {
    match name {
        ExtraName::Req => "req",
        ExtraName::Pay => "pay",
        ExtraName::Sub => "sub",
        ExtraName::Jti => "jti",
        ExtraName::Aud => "aud",
        ExtraName::Typ => "typ",
        ExtraName::Other(s) => s,
    }
}

fn build_token(input: &Input, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(input.header.json().as_bytes()),
        b64(claims_json(&input.claims).as_bytes())
    );
    let mut signing_input = signing_input.into_bytes();
    let mut signature = hmac_sha256(secret, &signing_input);
    match input.corruption {
        Corruption::SignatureByte { index, mask } => {
            signature[usize::from(index) % 32] ^= mask.max(1);
        }
        Corruption::InputChar { index, to } => {
            let i = usize::from(index) % signing_input.len();
            signing_input[i] = ALPHABET.get(usize::from(to % 65)).copied().unwrap_or(b'.');
        }
        _ => {}
    }
    let mut signature = b64(&signature).into_bytes();
    match input.corruption {
        Corruption::SignatureChar { index, to } => {
            let i = usize::from(index) % signature.len();
            signature[i] = ALPHABET[usize::from(to % 64)];
        }
        Corruption::Truncate { count } => {
            signature.truncate(signature.len() - (usize::from(count % 4) + 1));
        }
        _ => {}
    }
    let mut token = signing_input;
    token.push(b'.');
    token.extend_from_slice(&signature);
    String::from_utf8(token).expect("base64url and dots")
}

/// jsonwebtoken's verdict on the signature (see the module comment).
fn jsonwebtoken_verdict(token: &str, secret: &str) -> Verdict {
    match jsonwebtoken::decode_header(token) {
        Ok(header) if header.alg == Algorithm::HS256 => {}
        _ => return Verdict::Unknown,
    }
    let signature = token.rsplit('.').next().unwrap_or_default();
    if base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .is_err()
    {
        return Verdict::Unknown;
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) {
        Ok(_) => Verdict::Valid,
        Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {
            Verdict::Invalid
        }
        // The header, its alg and the signature's encoding were checked above; what is left
        // to fail comes after the signature verified (the claims' base64, JSON, validation).
        Err(_) => Verdict::Valid,
    }
}

fuzz_target!(|input: Input| {
    let sign_secret = SECRETS[usize::from(input.sign_with) % SECRETS.len()];
    let verify_secret = SECRETS[usize::from(input.verify_with) % SECRETS.len()];
    if let Some((ExtraName::Other(name), _)) = &input.claims.extra {
        // These would duplicate `iss`/`iat` or add time claims whose rules send the key loop
        // on to the next key; the decision target covers them.
        if ["iss", "iat", "nbf", "exp"].contains(&name.as_str()) {
            return;
        }
    }
    let token = build_token(&input, sign_secret);
    let here = if signed_with(token.as_bytes(), verify_secret) {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };

    // jsonwebtoken against the HMAC computed here.
    let jwt = jsonwebtoken_verdict(&token, verify_secret);
    if jwt != Verdict::Unknown {
        assert_eq!(jwt, here, "jsonwebtoken vs hmac on {token}");
    }

    // The crate.
    let now = input.claims.iat.map_or(NOW, Iat::value);
    let mut key = ApiKey::new(KEY, Secret::new(verify_secret), KeyType::Normal);
    if input.revoked {
        key = key.revoked_at(OffsetDateTime::from_unix_timestamp(now - DAY).unwrap());
    }
    let service = ServiceRecord::new(SERVICE, true).with_key(key);
    let value = format!("Bearer {token}");
    let authorization = Authorization::from_values([value.as_bytes()]);
    let parsed = PublicToken::parse(&authorization);
    // Well-formed and within the crate's length limit: such a token must parse.
    let clean = matches!(
        input.corruption,
        Corruption::Nothing | Corruption::SignatureByte { .. }
    ) && token.len() <= notify_auth::core::MAX_TOKEN_LEN;
    let official_iss = matches!(input.claims.iss, Some(ref iss) if !matches!(iss, Iss::Other(_)));
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let pair = contract_pair(&err);
            if clean && official_iss {
                panic!("a well-formed token failed to parse: {pair:?} for {token}");
            }
            if clean && input.claims.iss.is_none() {
                assert_eq!(pair, (403, NO_ISS), "{token}");
            }
            return;
        }
    };
    if clean && official_iss {
        assert_eq!(parsed.service_id(), SERVICE);
    }
    if parsed.service_id() != SERVICE {
        return;
    }
    // `alg` as this code reads the header (None: serde_json cannot read it).
    let alg_is_hs256 = segments(token.as_bytes())
        .and_then(|s| json_object(s.header))
        .map(|header| header.get("alg") == Some(&serde_json::Value::from("HS256")));
    let answer = parsed
        .authorize(Some(&service), now)
        .map(|p| (p.service_id, p.api_key_id, p.key_type))
        .map_err(|e| contract_pair(&e));
    let crate_verdict = match answer {
        Ok(_) | Err((403, REVOKED | CLOCK | GENERAL)) => Verdict::Valid,
        Err((403, KEY_NOT_FOUND)) if input.claims.iat.is_none() => Verdict::Unknown,
        Err((403, KEY_NOT_FOUND)) => Verdict::Invalid,
        Err((403, ALGORITHM)) => {
            assert_ne!(alg_is_hs256, Some(true), "M11 for an HS256 token: {token}");
            Verdict::Unknown
        }
        Err(other) => panic!("the key loop answered {other:?} for {token}"),
    };
    if crate_verdict != Verdict::Unknown {
        assert_eq!(
            crate_verdict, here,
            "crate vs hmac on {token}, answer {answer:?}"
        );
    }
    if crate_verdict != Verdict::Unknown && jwt != Verdict::Unknown {
        assert_eq!(crate_verdict, jwt, "crate vs jsonwebtoken on {token}");
    }

    // The crate's whole answer, predicted (when this code can read the header).
    let Some(alg_is_hs256) = alg_is_hs256 else {
        return;
    };
    let aud_truthy = matches!(&input.claims.extra, Some((name, v)) if extra_name(name) == "aud" && !v.is_empty());
    let claims_untouched = !matches!(input.corruption, Corruption::InputChar { .. });
    let expected = if !alg_is_hs256 {
        Err((403, ALGORITHM))
    } else if here == Verdict::Invalid {
        Err((403, KEY_NOT_FOUND))
    } else if !claims_untouched {
        // A changed character that still parses and still verifies cannot happen (it would
        // be an HMAC collision), but keep the prediction to what was built.
        return;
    } else if aud_truthy {
        Err((403, GENERAL))
    } else if input.claims.iat.is_none() {
        Err((403, KEY_NOT_FOUND))
    } else if input.revoked {
        Err((403, REVOKED))
    } else {
        Ok((SERVICE, KEY, KeyType::Normal))
    };
    assert_eq!(answer, expected, "the crate's answer for {token}");
});
