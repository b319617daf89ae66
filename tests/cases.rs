//! Every row of `cases.md` and every rule of the contract, through the public and internal
//! layers with `oneshot`, asserting status, content type and exact body bytes.

mod common;

use common::*;
use uuid::Uuid;

enum Expect {
    Ok(Uuid, Uuid, &'static str),
    Err(u16, &'static str),
}
use Expect::{Err, Ok};

async fn check_public(rows: Vec<(&str, String, Expect)>) {
    for (name, header, expect) in rows {
        let answer = public(&header).await;
        eprintln!("case: {name}");
        match expect {
            Ok(service, key, key_type) => answer.assert_ok(service, key, key_type),
            Err(status, message) => answer.assert_v2(status, message),
        }
    }
}

/// A token with these claims (raw JSON), the official header, signed with K1.
fn with_claims(claims: &str) -> String {
    bearer(&jwt(HEADER, claims, K1_SECRET))
}

/// A token with this header (raw JSON) and the official claims, signed with K1.
fn with_header(header: &str) -> String {
    bearer(&jwt(header, &claims(&S.to_string(), NOW), K1_SECRET))
}

fn iss_claims(iss_json: &str) -> String {
    with_claims(&format!(r#"{{"iss":{iss_json},"iat":{NOW}}}"#))
}

#[tokio::test]
async fn cases_md_rows() {
    let valid = valid();
    let (header_b64, payload_b64, _) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let s = S.to_string();
    check_public(vec![
        ("valid token", bearer(&valid), Ok(S, K1, "normal")),
        ("bearer", format!("bearer {valid}"), Ok(S, K1, "normal")),
        ("BEARER", format!("BEARER {valid}"), Ok(S, K1, "normal")),
        ("bEaReR", format!("bEaReR {valid}"), Ok(S, K1, "normal")),
        ("empty header", String::new(), Err(401, M1)),
        ("Basic", "Basic 1234".into(), Err(401, M2)),
        ("no space", format!("Bearer{valid}"), Err(401, M2)),
        ("Bearer alone", "Bearer".into(), Err(401, M2)),
        ("Bearer and a space", "Bearer ".into(), Err(401, M2)),
        ("tab", format!("Bearer\t{valid}"), Err(401, M2)),
        ("Bearer 1234", "Bearer 1234".into(), Err(403, GENERAL)),
        (
            "two segments",
            bearer(&format!("{header_b64}.{payload_b64}")),
            Err(403, GENERAL),
        ),
        (
            "four segments",
            bearer(&format!("{valid}.{payload_b64}")),
            Err(403, GENERAL),
        ),
        (
            "header not JSON",
            bearer(&jwt("not json", &claims(&s, NOW), K1_SECRET)),
            Err(403, GENERAL),
        ),
        (
            "header a JSON array",
            bearer(&jwt("[1]", &claims(&s, NOW), K1_SECRET)),
            Err(403, GENERAL),
        ),
        (
            "payload not JSON",
            bearer(&jwt(HEADER, "not json", K1_SECRET)),
            Err(403, GENERAL),
        ),
        (
            "payload a JSON array",
            bearer(&jwt(HEADER, "[]", K1_SECRET)),
            Err(403, GENERAL),
        ),
        (
            "no iss",
            with_claims(&format!(r#"{{"iat":{NOW}}}"#)),
            Err(403, M3),
        ),
        (
            "iss not a UUID",
            iss_claims(r#""not-a-valid-id""#),
            Err(403, M6),
        ),
        ("iss a number", iss_claims("1234"), Err(403, M6)),
        ("iss null", iss_claims("null"), Err(403, M6)),
        (
            "iss upper case",
            iss_claims(&format!("\"{}\"", s.to_uppercase())),
            Ok(S, K1, "normal"),
        ),
        (
            "iss without hyphens",
            iss_claims(&format!("\"{}\"", S.simple())),
            Ok(S, K1, "normal"),
        ),
        (
            "iss in braces",
            iss_claims(&format!("\"{{{s}}}\"")),
            Ok(S, K1, "normal"),
        ),
        (
            "iss urn",
            iss_claims(&format!("\"urn:uuid:{s}\"")),
            Ok(S, K1, "normal"),
        ),
        (
            "unknown service",
            bearer(&token(Uuid::from_u128(42), NOW, K1_SECRET)),
            Err(403, M7),
        ),
        ("no keys", bearer(&token(E, NOW, K1_SECRET)), Err(403, M8)),
        ("archived", bearer(&token(A, NOW, KA_SECRET)), Err(403, M9)),
        (
            "wrong secret",
            bearer(&token(S, NOW, WRONG_SECRET)),
            Err(403, M13),
        ),
        (
            "test key",
            bearer(&token(S, NOW, K2_SECRET)),
            Ok(S, K2, "test"),
        ),
        (
            "revoked yesterday",
            bearer(&token(S, NOW, K3_SECRET)),
            Err(403, M12),
        ),
        (
            "HS512",
            with_header(r#"{"alg":"HS512","typ":"JWT"}"#),
            Err(403, M11),
        ),
        (
            "hs256",
            with_header(r#"{"alg":"hs256","typ":"JWT"}"#),
            Err(403, M11),
        ),
        (
            "alg empty",
            with_header(r#"{"alg":"","typ":"JWT"}"#),
            Err(403, M11),
        ),
        (
            "alg missing",
            with_header(r#"{"typ":"JWT"}"#),
            Err(403, M11),
        ),
        (
            "alg none, empty signature",
            bearer(&format!(
                "{}.{payload_b64}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#)
            )),
            Err(403, M11),
        ),
        (
            "HS512, wrong secret, an hour old",
            bearer(&jwt(
                r#"{"alg":"HS512","typ":"JWT"}"#,
                &claims(&s, NOW - 3600),
                WRONG_SECRET,
            )),
            Err(403, M11),
        ),
        (
            "HS512, unknown service",
            bearer(&jwt(
                r#"{"alg":"HS512"}"#,
                &claims(&Uuid::from_u128(7).to_string(), NOW),
                K1_SECRET,
            )),
            Err(403, M7),
        ),
        (
            "typ missing",
            with_header(r#"{"alg":"HS256"}"#),
            Ok(S, K1, "normal"),
        ),
        (
            "typ XYZ",
            with_header(r#"{"alg":"HS256","typ":"XYZ"}"#),
            Ok(S, K1, "normal"),
        ),
        (
            "iat now-30",
            bearer(&token(S, NOW - 30, K1_SECRET)),
            Ok(S, K1, "normal"),
        ),
        (
            "iat now+30",
            bearer(&token(S, NOW + 30, K1_SECRET)),
            Ok(S, K1, "normal"),
        ),
        (
            "iat now-31",
            bearer(&token(S, NOW - 31, K1_SECRET)),
            Err(403, CLOCK),
        ),
        (
            "iat now+31",
            bearer(&token(S, NOW + 31, K1_SECRET)),
            Err(403, CLOCK),
        ),
        (
            "iat now-60 with revoked key",
            bearer(&token(S, NOW - 60, K3_SECRET)),
            Err(403, CLOCK),
        ),
        (
            "iat an hour old, wrong secret",
            bearer(&token(S, NOW - 3600, WRONG_SECRET)),
            Err(403, M13),
        ),
        (
            "iat missing",
            with_claims(&format!(r#"{{"iss":"{s}"}}"#)),
            Err(403, M13),
        ),
        (
            "iat abc",
            with_claims(&format!(r#"{{"iss":"{s}","iat":"abc"}}"#)),
            Err(403, CLOCK),
        ),
        (
            "iat a float",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{NOW}.75}}"#)),
            Ok(S, K1, "normal"),
        ),
        (
            "req and pay",
            with_claims(&format!(
                r#"{{"iss":"{s}","iat":{NOW},"req":"abc","pay":"def"}}"#
            )),
            Ok(S, K1, "normal"),
        ),
        (
            "aud",
            with_claims(&format!(
                r#"{{"iss":"{s}","iat":{NOW},"aud":"notifications.service.gov.uk"}}"#
            )),
            Err(403, GENERAL),
        ),
    ])
    .await;
}

#[tokio::test]
async fn no_header_at_all() {
    public_at(NOW, &[]).await.assert_v2(401, M1);
}

#[tokio::test]
async fn archived_service_after_its_only_key_was_removed() {
    // The fixture's OLD service has only a key revoked a month ago: invisible, so "no keys".
    public(&bearer(&token(OLD, NOW, KOLD_SECRET)))
        .await
        .assert_v2(403, M8);
    // A key revoked a month ago on a service with other keys is simply not found.
    public(&bearer(&token(S, NOW, K4_SECRET)))
        .await
        .assert_v2(403, M13);
}

#[tokio::test]
async fn token_made_by_the_official_python_client() {
    // Made with notifications-python-client 12.1.0 (PyJWT 2.13.0):
    //   import notifications_python_client.authentication as a
    //   a.epoch_seconds = lambda: 1795394922
    //   a.create_jwt_token("3d844edf-8d35-48ac-975b-e847b4f122b0", "26785a09-ab16-4eb0-8407-a37497a57506")
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIyNjc4NWEwOS1hYjE2LTRlYjAtODQwNy1hMzc0OTdhNTc1MDYiLCJpYXQiOjE3OTUzOTQ5MjJ9.UV7uWPAPqPXY14kWbGUAZGJDxaCQqYOIrJC6qQJVBzE";
    public(&bearer(token)).await.assert_ok(S, K1, "normal");
}

#[tokio::test]
async fn token_made_by_this_crates_helper() {
    let token = notify_auth::token::create_token_at(K2_SECRET, &S.to_string(), NOW).unwrap();
    public(&bearer(&token)).await.assert_ok(S, K2, "test");
    // Byte for byte what the official Python client makes (the token above).
    let python = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIyNjc4NWEwOS1hYjE2LTRlYjAtODQwNy1hMzc0OTdhNTc1MDYiLCJpYXQiOjE3OTUzOTQ5MjJ9.UV7uWPAPqPXY14kWbGUAZGJDxaCQqYOIrJC6qQJVBzE";
    assert_eq!(
        notify_auth::token::create_token_at(K1_SECRET, &S.to_string(), 1_795_394_922).unwrap(),
        python
    );
    // And what jsonwebtoken, the reference, verifies.
    #[derive(serde::Deserialize, PartialEq, Debug)]
    struct Claims {
        iss: String,
        iat: i64,
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_secret(K2_SECRET.as_bytes());
    let decoded = jsonwebtoken::decode::<Claims>(&token, &key, &validation).unwrap();
    assert_eq!(
        decoded.claims,
        Claims {
            iss: S.to_string(),
            iat: NOW
        }
    );
}

#[tokio::test]
async fn header_forms() {
    let valid = valid();
    check_public(vec![
        (
            "surrounding spaces and tabs",
            format!(" \t Bearer {valid} \t"),
            Ok(S, K1, "normal"),
        ),
        ("two spaces", format!("Bearer  {valid}"), Err(403, GENERAL)),
        ("Bearer:", format!("Bearer:{valid}"), Err(401, M2)),
        ("Token", format!("Token {valid}"), Err(401, M2)),
        ("whitespace only", " \t ".into(), Err(401, M1)),
        (
            "padded base64",
            bearer(&format!("{valid}=")),
            Err(403, GENERAL),
        ),
        // Standard-alphabet base64 is a §9 class: refused before any key is tried.
        (
            "standard alphabet",
            bearer(&format!("{}+", &valid[..valid.len() - 1])),
            Err(403, GENERAL),
        ),
    ])
    .await;
}

#[tokio::test]
async fn repeated_headers_are_joined_with_commas() {
    let value = bearer(&valid());
    let answer = public_at(NOW, &[value.as_bytes(), value.as_bytes()]).await;
    answer.assert_v2(403, GENERAL);
    // An empty first header makes the joined value start with "," : not the bearer scheme.
    public_at(NOW, &[b"", value.as_bytes()])
        .await
        .assert_v2(401, M2);
}

#[tokio::test]
async fn obs_text_bytes_in_the_header() {
    let mut value = bearer(&valid()).into_bytes();
    value.insert(20, 0xE9);
    public_at(NOW, &[&value]).await.assert_v2(403, GENERAL);
    public_at(NOW, &[b"B\xe9arer abc"]).await.assert_v2(401, M2);
}

#[tokio::test]
async fn the_iat_window_to_the_second() {
    let s = S.to_string();
    for (offset, ok) in [
        (-31, false),
        (-30, true),
        (0, true),
        (30, true),
        (31, false),
    ] {
        let answer = public(&bearer(&token(S, NOW + offset, K1_SECRET))).await;
        if ok {
            answer.assert_ok(S, K1, "normal");
        } else {
            answer.assert_v2(403, CLOCK);
        }
    }
    // Floats are truncated toward zero: +30.9 is +30, -30.9 is -31 (now is positive).
    check_public(vec![
        (
            "+30.9",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{}.9}}"#, NOW + 30)),
            Ok(S, K1, "normal"),
        ),
        (
            "-30.9",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{}.1}}"#, NOW - 31)),
            Err(403, CLOCK),
        ),
        (
            "-29.5",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{}.5}}"#, NOW - 30)),
            Ok(S, K1, "normal"),
        ),
        (
            "1e9 float",
            with_claims(&format!(r#"{{"iss":"{s}","iat":1.795394922e9}}"#)),
            Ok(S, K1, "normal"),
        ),
    ])
    .await;
    // The same token, seen by a server whose clock is 31 seconds further on.
    let token = bearer(&valid());
    public_at(NOW + 30, &[token.as_bytes()])
        .await
        .assert_ok(S, K1, "normal");
    public_at(NOW + 31, &[token.as_bytes()])
        .await
        .assert_v2(403, CLOCK);
    public_at(NOW - 31, &[token.as_bytes()])
        .await
        .assert_v2(403, CLOCK);
}

#[tokio::test]
async fn iat_value_classes() {
    let s = S.to_string();
    let iat = |json: &str| with_claims(&format!(r#"{{"iss":"{s}","iat":{json}}}"#));
    check_public(vec![
        (
            "integer string",
            iat(&format!("\"{NOW}\"")),
            Ok(S, K1, "normal"),
        ),
        (
            "string with whitespace and sign",
            iat(&format!("\" +{NOW} \"")),
            Ok(S, K1, "normal"),
        ),
        (
            "string with underscores",
            iat("\"1_795_394_922\""),
            Ok(S, K1, "normal"),
        ),
        ("string 1.5", iat("\"1.5\""), Err(403, CLOCK)),
        ("empty string", iat("\"\""), Err(403, CLOCK)),
        ("true", iat("true"), Err(403, CLOCK)),
        ("false", iat("false"), Err(403, CLOCK)),
        (
            "beyond 64 bits",
            iat("123456789012345678901234567890"),
            Err(403, CLOCK),
        ),
        (
            "negative beyond 64 bits",
            iat("-123456789012345678901234567890"),
            Err(403, CLOCK),
        ),
        (
            "string beyond 64 bits",
            iat("\"123456789012345678901234567890\""),
            Err(403, CLOCK),
        ),
        ("null", iat("null"), Err(403, GENERAL)),
        ("list", iat("[]"), Err(403, GENERAL)),
        ("object", iat("{}"), Err(403, GENERAL)),
        // int() reads the decimal digits of every script, and so does the crate.
        (
            "Arabic-Indic digits",
            iat("\"١٧٩٥٣٩٤٩٢٢\""),
            Ok(S, K1, "normal"),
        ),
        ("Arabic-Indic 1", iat("\"\u{0661}\""), Err(403, CLOCK)),
        (
            "superscript two is not a digit",
            iat("\"\u{b2}\""),
            Err(403, CLOCK),
        ),
        (
            "U+001C is not stripped",
            iat(&format!("\"\\u001c{NOW}\"")),
            Err(403, CLOCK),
        ),
        (
            "more digits than int() reads",
            iat(&format!("\"{}{NOW}\"", "0".repeat(4300))),
            Err(403, CLOCK),
        ),
        ("a lone surrogate", iat("\"\\ud800\""), Err(403, CLOCK)),
        ("1e400 (§9)", iat("1e400"), Err(403, GENERAL)),
        ("NaN (§9)", iat("NaN"), Err(403, GENERAL)),
    ])
    .await;
}

#[tokio::test]
async fn nbf_exp_aud_sub_jti() {
    let s = S.to_string();
    let extra = |claim: &str| with_claims(&format!(r#"{{"iss":"{s}","iat":{NOW},{claim}}}"#));
    check_public(vec![
        (
            "nbf now+30",
            extra(&format!(r#""nbf":{}"#, NOW + 30)),
            Ok(S, K1, "normal"),
        ),
        (
            "nbf now+31",
            extra(&format!(r#""nbf":{}"#, NOW + 31)),
            Err(403, CLOCK),
        ),
        (
            "nbf not an integer",
            extra(r#""nbf":"soon""#),
            Err(403, M13),
        ),
        ("nbf null", extra(r#""nbf":null"#), Err(403, GENERAL)),
        ("nbf a list", extra(r#""nbf":[1]"#), Err(403, GENERAL)),
        (
            "exp now-29",
            extra(&format!(r#""exp":{}"#, NOW - 29)),
            Ok(S, K1, "normal"),
        ),
        (
            "exp now-30",
            extra(&format!(r#""exp":{}"#, NOW - 30)),
            Err(403, GENERAL),
        ),
        (
            "exp not an integer",
            extra(r#""exp":"later""#),
            Err(403, M13),
        ),
        (
            "exp an integer string",
            extra(&format!(r#""exp":"{}""#, NOW + 60)),
            Ok(S, K1, "normal"),
        ),
        ("exp an object", extra(r#""exp":{}"#), Err(403, GENERAL)),
        (
            "aud empty string",
            extra(r#""aud":"""#),
            Ok(S, K1, "normal"),
        ),
        ("aud empty list", extra(r#""aud":[]"#), Ok(S, K1, "normal")),
        ("aud 0", extra(r#""aud":0"#), Ok(S, K1, "normal")),
        ("aud 0.0", extra(r#""aud":0.0"#), Ok(S, K1, "normal")),
        ("aud null", extra(r#""aud":null"#), Ok(S, K1, "normal")),
        ("aud false", extra(r#""aud":false"#), Ok(S, K1, "normal")),
        (
            "aud empty object",
            extra(r#""aud":{}"#),
            Ok(S, K1, "normal"),
        ),
        ("aud list", extra(r#""aud":["x"]"#), Err(403, GENERAL)),
        ("aud 1", extra(r#""aud":1"#), Err(403, GENERAL)),
        ("aud true", extra(r#""aud":true"#), Err(403, GENERAL)),
        ("aud object", extra(r#""aud":{"a":1}"#), Err(403, GENERAL)),
        ("sub a string", extra(r#""sub":"me""#), Ok(S, K1, "normal")),
        ("sub null", extra(r#""sub":null"#), Err(403, GENERAL)),
        ("sub a number", extra(r#""sub":1"#), Err(403, GENERAL)),
        ("jti a string", extra(r#""jti":"abc""#), Ok(S, K1, "normal")),
        ("jti a list", extra(r#""jti":[]"#), Err(403, GENERAL)),
        // Order: iat's CLOCK before nbf, exp and aud; nbf's CLOCK before exp's GENERAL.
        (
            "iat future and aud",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{},"aud":"x"}}"#, NOW + 40)),
            Err(403, CLOCK),
        ),
        (
            "nbf future and exp past",
            extra(&format!(r#""nbf":{},"exp":1"#, NOW + 40)),
            Err(403, CLOCK),
        ),
        // iat in the past is checked after aud, sub and jti (Notify's own check comes last).
        (
            "iat past and aud",
            with_claims(&format!(r#"{{"iss":"{s}","iat":{},"aud":"x"}}"#, NOW - 40)),
            Err(403, GENERAL),
        ),
        (
            "iat missing but exp past",
            with_claims(&format!(r#"{{"iss":"{s}","exp":1}}"#)),
            Err(403, GENERAL),
        ),
    ])
    .await;
}

#[tokio::test]
async fn header_parameters() {
    let s = S.to_string();
    check_public(vec![
        (
            "kid a string",
            with_header(r#"{"alg":"HS256","kid":"k"}"#),
            Ok(S, K1, "normal"),
        ),
        (
            "kid a number",
            with_header(r#"{"alg":"HS256","kid":1}"#),
            Err(403, GENERAL),
        ),
        (
            "kid a number, unknown service (step 3 before 6)",
            bearer(&jwt(
                r#"{"alg":"HS256","kid":1}"#,
                &claims(&Uuid::from_u128(9).to_string(), NOW),
                K1_SECRET,
            )),
            Err(403, GENERAL),
        ),
        (
            "crit (§9)",
            with_header(r#"{"alg":"HS256","crit":["b64"],"b64":true}"#),
            Err(403, GENERAL),
        ),
        (
            "b64 false",
            with_header(r#"{"alg":"HS256","b64":false}"#),
            Err(403, GENERAL),
        ),
        ("alg null", with_header(r#"{"alg":null}"#), Err(403, M11)),
        ("alg a number", with_header(r#"{"alg":256}"#), Err(403, M11)),
        (
            "alg a list",
            with_header(r#"{"alg":["HS256"]}"#),
            Err(403, M11),
        ),
        (
            "alg RS256",
            with_header(r#"{"alg":"RS256"}"#),
            Err(403, M11),
        ),
        (
            "duplicate alg, last wins",
            with_header(r#"{"alg":"none","alg":"HS256"}"#),
            Ok(S, K1, "normal"),
        ),
        (
            "duplicate iss, last wins",
            with_claims(&format!(r#"{{"iss":"bad","iat":{NOW},"iss":"{s}"}}"#)),
            Ok(S, K1, "normal"),
        ),
        (
            "escaped key names",
            with_claims(&format!(r#"{{"\u0069ss":"{s}","iat":{NOW}}}"#)),
            Ok(S, K1, "normal"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn order_of_checks() {
    let hs512 = r#"{"alg":"HS512"}"#;
    check_public(vec![
        (
            "no keys wins over archived",
            bearer(&token(AE, NOW, K1_SECRET)),
            Err(403, M8),
        ),
        (
            "archived wins over the algorithm",
            bearer(&jwt(hs512, &claims(&A.to_string(), NOW), KA_SECRET)),
            Err(403, M9),
        ),
        (
            "archived wins over a bad signature",
            bearer(&token(A, NOW, WRONG_SECRET)),
            Err(403, M9),
        ),
        (
            "iss check wins over the algorithm",
            bearer(&jwt(hs512, r#"{"iss":1}"#, K1_SECRET)),
            Err(403, M6),
        ),
        (
            "missing iss wins over the algorithm",
            bearer(&jwt(hs512, "{}", K1_SECRET)),
            Err(403, M3),
        ),
        (
            "an old token signed by no key",
            bearer(&token(S, NOW - 3600, WRONG_SECRET)),
            Err(403, M13),
        ),
        (
            "an old token for a revoked key",
            bearer(&token(S, NOW - 3600, K3_SECRET)),
            Err(403, CLOCK),
        ),
    ])
    .await;
}

#[tokio::test]
async fn internal_routes() {
    let admin_token = |secret: &str, iat: i64| bearer(&token("notify-admin", iat, secret));
    for secret in ["s1", "s2"] {
        let answer = internal(&admin_token(secret, NOW)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "{\"client_id\":\"notify-admin\"}")
        );
    }
    internal(&bearer(&valid())).await.assert_v1(401, M5);
    internal_at(NOW, &[]).await.assert_v1(401, M1);
    internal("Basic x").await.assert_v1(401, M2);
    internal("Bearer x.y").await.assert_v1(403, GENERAL);
    internal(&bearer(&jwt(HEADER, &format!(r#"{{"iat":{NOW}}}"#), "s1")))
        .await
        .assert_v1(403, M3);
    internal(&bearer(&jwt(HEADER, r#"{"iss":null}"#, "s1")))
        .await
        .assert_v1(401, M5);
    internal(&admin_token("wrong", NOW))
        .await
        .assert_v1(403, M13);
    internal(&admin_token("s1", NOW - 60))
        .await
        .assert_v1(403, CLOCK);
    internal(&admin_token("s2", NOW + 31))
        .await
        .assert_v1(403, CLOCK);
    let hs512 = jwt(r#"{"alg":"HS512"}"#, &claims("notify-admin", NOW), "s1");
    internal(&bearer(&hs512)).await.assert_v1(403, M11);
    internal(&bearer(&jwt(HEADER, r#"{"iss":"notify-admin"}"#, "s1")))
        .await
        .assert_v1(403, M13);
}

/// A token whose claims are these raw bytes, signed with K1.
fn with_claim_bytes(claims: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(claims));
    let token = jwt_from_signing_input(&signing_input, K1_SECRET);
    bearer(&token)
}

fn jwt_from_signing_input(signing_input: &str, secret: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

#[tokio::test]
async fn json_as_python_reads_it() {
    let s = S.to_string();
    let claims = claims(&s, NOW);
    let extra = |claim: &str| with_claims(&format!(r#"{{"iss":"{s}","iat":{NOW},{claim}}}"#));
    let utf16: Vec<u8> = claims.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf32: Vec<u8> = claims
        .chars()
        .flat_map(|c| u32::from(c).to_be_bytes())
        .collect();
    let mut invalid_utf8 = format!(r#"{{"iss":"{s}","iat":{NOW},"x":"?"}}"#).into_bytes();
    let at = invalid_utf8.len() - 3;
    invalid_utf8[at] = 0xff;
    let mut surrogate_utf8 = invalid_utf8.clone();
    surrogate_utf8.splice(at..at + 1, [0xed, 0xa0, 0x80]);
    let nested = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
    check_public(vec![
        (
            "UTF-16 without a BOM",
            with_claim_bytes(&utf16),
            Ok(S, K1, "normal"),
        ),
        (
            "UTF-32 without a BOM",
            with_claim_bytes(&utf32),
            Ok(S, K1, "normal"),
        ),
        (
            "a BOM (§9)",
            with_claim_bytes(&[b"\xef\xbb\xbf", claims.as_bytes()].concat()),
            Err(403, GENERAL),
        ),
        (
            "invalid UTF-8 in an ignored claim",
            with_claim_bytes(&invalid_utf8),
            Err(403, GENERAL),
        ),
        (
            "an encoded surrogate",
            with_claim_bytes(&surrogate_utf8),
            Ok(S, K1, "normal"),
        ),
        (
            "lone surrogate in sub",
            extra(r#""sub":"\ud800""#),
            Ok(S, K1, "normal"),
        ),
        (
            "reversed surrogates in a claim name",
            extra(r#""\ude00\ud83d":1"#),
            Ok(S, K1, "normal"),
        ),
        (
            "lone surrogate in iss",
            iss_claims(r#""\ud800""#),
            Err(403, M6),
        ),
        (
            "nested 800 levels in an ignored claim",
            extra(&format!(r#""x":{}"#, nested(800))),
            Ok(S, K1, "normal"),
        ),
        (
            "nested 2500 levels (Notify crashes)",
            extra(&format!(r#""x":{}"#, nested(2500))),
            Err(403, GENERAL),
        ),
        (
            "iss nested 2500 levels (Notify crashes)",
            iss_claims(&nested(2500)),
            Err(403, GENERAL),
        ),
        (
            "a 300-digit integer",
            extra(&format!(r#""x":{}"#, "9".repeat(300))),
            Ok(S, K1, "normal"),
        ),
        (
            "a 400-digit integer in an ignored claim",
            extra(&format!(r#""x":{}"#, "9".repeat(400))),
            Ok(S, K1, "normal"),
        ),
        (
            "a 4301-digit integer (int() refuses)",
            extra(&format!(r#""x":{}"#, "1".repeat(4301))),
            Err(403, GENERAL),
        ),
        (
            "urn:UUID: in any other case",
            iss_claims(&format!("\"URN:UUID:{s}\"")),
            Err(403, M6),
        ),
        (
            "U+001C before the hex digits",
            iss_claims(&format!("\"\\u001c{}\"", &S.simple().to_string()[1..])),
            Err(403, M6),
        ),
        (
            "a space before the hex digits",
            iss_claims(&format!("\" {}\"", &S.simple().to_string()[1..])),
            Err(403, M7),
        ),
        (
            "Arabic-Indic digit in nbf",
            extra(r#""nbf":"\u0661""#),
            Ok(S, K1, "normal"),
        ),
        (
            "superscript in exp",
            extra(r#""exp":"\u00b2""#),
            Err(403, M13),
        ),
    ])
    .await;
}
