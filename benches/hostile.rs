//! What crafted tokens cost: the named worst cases a stranger can send (no key needed), each
//! against the ordinary rejection of a well-formed token with a wrong signature.
//!
//! Every crafted token is about 7.5 KiB, near the 8 KiB limit (`core::MAX_TOKEN_LEN`), and
//! names an existing service with one key, so it goes as far into the decision as its bytes
//! allow. Run `cargo bench --bench hostile`, then `scripts/bench-ratios` for the table of
//! ratios against `hostile/ordinary_rejection` (target: each ≤ 20 µs).

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use notify_auth::core::authenticate;
use notify_auth::{ApiKey, KeyType, Secret, ServiceRecord};
use uuid::Uuid;

const NOW: i64 = 1_795_394_922;
const SERVICE: &str = "26785a09-ab16-4eb0-8407-a37497a57506";
/// The JSON text each family fills, so that the token stays under the 8 KiB limit.
const ROOM: usize = 5_600;

fn token(header: &[u8], claims: &[u8]) -> String {
    // A signature no key made: strangers cannot sign.
    let signature = URL_SAFE_NO_PAD.encode([0x5a; 32]);
    let token = format!(
        "Bearer {}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    assert!(token.len() <= 8 * 1024, "{} bytes", token.len());
    token
}

const HS256: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// Claims with `extra` after the usual two.
fn claims_with(extra: &str) -> Vec<u8> {
    format!(r#"{{"iss":"{SERVICE}","iat":{NOW},{extra}}}"#).into_bytes()
}

/// `unit` repeated to fill about `room` bytes.
fn fill(unit: &str, room: usize) -> String {
    unit.repeat(room / unit.len())
}

/// The named worst cases: (name, `Authorization` header value).
fn families() -> Vec<(String, String)> {
    let digits = fill("\u{1d7ff}", ROOM); // MATHEMATICAL MONOSPACE DIGIT NINE, 4 bytes each
    let mut families = vec![(
        "ordinary_rejection".to_owned(),
        token(
            HS256,
            format!(r#"{{"iss":"{SERVICE}","iat":{NOW}}}"#).as_bytes(),
        ),
    )];
    for claim in ["jti", "sub", "aud", "nbf", "exp"] {
        families.push((
            format!("unicode_digits_in_{claim}"),
            token(HS256, &claims_with(&format!(r#""{claim}":"{digits}""#))),
        ));
    }
    let mut add = |name: &str, header: &[u8], claims: Vec<u8>| {
        families.push((name.to_owned(), token(header, &claims)));
    };
    add(
        "unicode_digits_in_iat",
        HS256,
        format!(r#"{{"iss":"{SERVICE}","iat":"{digits}"}}"#).into_bytes(),
    );
    add(
        "unicode_digits_in_iss",
        HS256,
        format!(r#"{{"iss":"{digits}","iat":{NOW}}}"#).into_bytes(),
    );
    add(
        "unicode_digits_in_alg",
        format!(
            r#"{{"alg":"{}","typ":"JWT"}}"#,
            fill("\u{1d7ff}", 4 * ROOM / 5)
        )
        .as_bytes(),
        claims_with(r#""x":0"#),
    );
    add(
        "ascii_digits_in_iat",
        HS256,
        format!(r#"{{"iss":"{SERVICE}","iat":"{}"}}"#, "9".repeat(4300)).into_bytes(),
    );
    add(
        "integer_literal_4300_digits",
        HS256,
        claims_with(&format!(r#""nbf":{}"#, "9".repeat(4300))),
    );
    add(
        "huge_exponent",
        HS256,
        claims_with(&format!(r#""exp":1e{}"#, "9".repeat(ROOM - 100))),
    );
    add(
        "unicode_escapes",
        HS256,
        claims_with(&format!(r#""x":"{}""#, fill(r"\u0041", ROOM))),
    );
    add(
        "lone_surrogate_escapes",
        HS256,
        claims_with(&format!(r#""x":"{}""#, fill(r"\ud800", ROOM))),
    );
    add(
        "tiny_keys",
        HS256,
        claims_with(fill(r#""":0,"#, ROOM).trim_end_matches(',')),
    );
    add(
        "duplicate_iat",
        HS256,
        claims_with(fill(r#""iat":1,"#, ROOM).trim_end_matches(',')),
    );
    add(
        "deep_nesting",
        HS256,
        claims_with(&format!(r#""x":{}{}"#, "[".repeat(899), "]".repeat(899))),
    );
    add(
        "long_header",
        format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(ROOM - 40)).as_bytes(),
        claims_with(r#""x":0"#),
    );
    add(
        "utf16_claims",
        HS256,
        format!(
            r#"{{"iss":"{SERVICE}","iat":{NOW},"x":"{}"}}"#,
            "a".repeat(ROOM / 2 - 100)
        )
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect(),
    );
    add(
        "encoded_surrogates",
        HS256,
        [
            &claims_with(r#""x":""#)[..claims_with(r#""x":""#).len() - 1],
            &b"\xed\xa0\x80".repeat(ROOM / 3),
            b"\"}",
        ]
        .concat(),
    );
    families.push((
        "no_dots".to_owned(),
        format!("Bearer {}", "a".repeat(8 * 1024)),
    ));
    families
}

fn benches(c: &mut Criterion) {
    let service_id = Uuid::parse_str(SERVICE).unwrap();
    let service = ServiceRecord::new(service_id, true).with_key(ApiKey::new(
        Uuid::from_u128(1),
        Secret::new("3d844edf-8d35-48ac-975b-e847b4f122b0"),
        KeyType::Normal,
    ));
    let mut g = c.benchmark_group("hostile");
    for (name, header) in families() {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let answer = authenticate([black_box(header.as_bytes())], NOW, |id| {
                    (id == service_id).then_some(&service)
                });
                black_box(answer.unwrap_err())
            })
        });
    }
    g.finish();

    // A forged token against a service with K keys, by the token's length: the worst case of
    // the key loop (every visible key tried, none matches). Long tokens against many keys are
    // refused before any HMAC (`core::KEY_LOOP_BUDGET`).
    let mut g = c.benchmark_group("forged_by_keys");
    g.sample_size(10);
    for keys in [1usize, 10, 100, 1_000, 10_000] {
        let service = (0..keys).fold(ServiceRecord::new(service_id, true), |s, i| {
            s.with_key(ApiKey::new(
                Uuid::from_u128(i as u128 + 1),
                Secret::new(format!("{i:08x}-8d35-48ac-975b-e847b4f122b0")),
                KeyType::Normal,
            ))
        });
        for (label, pad) in [("150B", 0usize), ("1KiB", 650), ("8KiB", 5_900)] {
            let header = token(
                HS256,
                &claims_with(&format!(r#""x":"{}""#, "a".repeat(pad))),
            );
            g.bench_function(format!("{keys}_keys_{label}"), |b| {
                b.iter(|| {
                    let answer =
                        authenticate([black_box(header.as_bytes())], NOW, |_| Some(&service));
                    black_box(answer.unwrap_err())
                })
            });
        }
    }
    g.finish();
}

criterion_group!(hostile, benches);
criterion_main!(hostile);
