//! Request binding (contract §10): the `req` and `pay` claims, in each mode, through the
//! layer, and the body handed on intact.

mod common;

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use notify_auth::core::RequestBinding::{self, Off, Required, VerifyIfPresent};
use notify_auth::token::{create_bound_token_at, sign_payload, sign_request};
use notify_auth::{NotifyAuthLayer, Principal};
use proptest::prelude::*;
use tower::{Layer, ServiceExt, service_fn};

const REQUEST: &str = "Invalid token: request";
const PAYLOAD: &str = "Invalid token: payload";
const BODY: &[u8] = br#"{"phone_number":"07700900000","template_id":"f33517ff"}"#;

/// What the handler saw: the principal and the body it was given.
async fn send(
    mode: RequestBinding,
    method: &str,
    uri: &str,
    token: &str,
    body: Body,
) -> (StatusCode, String) {
    let layer = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .request_binding(mode)
        .max_body_size(1024);
    // The body read to check `pay` comes on as `Left`, an untouched one as `Right`.
    let handler = service_fn(|req: Request<Either<Full<Bytes>, Body>>| async move {
        let key = req.extensions().get::<Principal>().unwrap().api_key_id;
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let text = format!("{key} {}", String::from_utf8_lossy(&body));
        Ok::<_, Infallible>(Response::new(Body::from(text)))
    });
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", bearer(token))
        .body(body)
        .unwrap();
    let response = layer.layer(handler).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn bound(method: &str, path: &str, body: Option<&[u8]>) -> String {
    create_bound_token_at(K1_SECRET, &S.to_string(), NOW, method, path, body).unwrap()
}

fn v2(status: u16, message: &str) -> String {
    format!(
        "{{\"errors\":[{{\"error\":\"AuthError\",\"message\":\"{message}\"}}],\"status_code\":{status}}}\n"
    )
}

fn ok(body: &[u8]) -> (StatusCode, String) {
    (
        StatusCode::OK,
        format!("{K1} {}", String::from_utf8_lossy(body)),
    )
}

fn denied(message: &str) -> (StatusCode, String) {
    (StatusCode::FORBIDDEN, v2(403, message))
}

fn too_large() -> (StatusCode, String) {
    let body = "{\"errors\":[{\"error\":\"PayloadTooLargeError\",\"message\":\"Request body is larger than 1024 bytes\"}],\"status_code\":413}\n";
    (StatusCode::PAYLOAD_TOO_LARGE, body.to_owned())
}

#[tokio::test]
async fn each_mode_against_each_kind_of_request() {
    let plain = valid();
    let right = bound("POST", "/v2/notifications/sms", Some(BODY));
    let no_pay = bound("POST", "/v2/notifications/sms", None);
    let get = bound("GET", "/v2/notifications", None);
    let big = vec![b'x'; 2048];
    let big_token = bound("POST", "/v2/notifications/sms", Some(&big));
    let empty_pay = bound("POST", "/v2/notifications/sms", Some(b""));
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a String,
        &'a [u8],
        [(StatusCode, String); 3],
    );
    let rows: Vec<Row> = vec![
        (
            "no claims",
            "POST",
            "/v2/notifications/sms",
            &plain,
            BODY,
            [ok(BODY), ok(BODY), denied(REQUEST)],
        ),
        (
            "no claims, no body",
            "GET",
            "/v2/notifications",
            &plain,
            b"",
            [ok(b""), ok(b""), denied(REQUEST)],
        ),
        (
            "right claims",
            "POST",
            "/v2/notifications/sms",
            &right,
            BODY,
            [ok(BODY), ok(BODY), ok(BODY)],
        ),
        (
            "right req, no body",
            "GET",
            "/v2/notifications",
            &get,
            b"",
            [ok(b""), ok(b""), ok(b"")],
        ),
        (
            "a query string is ignored",
            "GET",
            "/v2/notifications?status=sent",
            &get,
            b"",
            [ok(b""), ok(b""), ok(b"")],
        ),
        (
            "wrong method",
            "PUT",
            "/v2/notifications/sms",
            &right,
            BODY,
            [ok(BODY), denied(REQUEST), denied(REQUEST)],
        ),
        (
            "wrong path",
            "POST",
            "/v2/notifications/email",
            &right,
            BODY,
            [ok(BODY), denied(REQUEST), denied(REQUEST)],
        ),
        (
            "replayed on another path",
            "GET",
            "/v2/notifications/123",
            &get,
            b"",
            [ok(b""), denied(REQUEST), denied(REQUEST)],
        ),
        (
            "wrong body",
            "POST",
            "/v2/notifications/sms",
            &right,
            b"{}",
            [ok(b"{}"), denied(PAYLOAD), denied(PAYLOAD)],
        ),
        (
            "req without pay, with a body",
            "POST",
            "/v2/notifications/sms",
            &no_pay,
            BODY,
            [ok(BODY), ok(BODY), denied(PAYLOAD)],
        ),
        (
            "empty body, pay of empty",
            "POST",
            "/v2/notifications/sms",
            &empty_pay,
            b"",
            [ok(b""), ok(b""), ok(b"")],
        ),
        (
            "pay given, no body sent",
            "POST",
            "/v2/notifications/sms",
            &right,
            b"",
            [ok(b""), denied(PAYLOAD), denied(PAYLOAD)],
        ),
        (
            "body over the limit",
            "POST",
            "/v2/notifications/sms",
            &big_token,
            &big,
            [ok(&big), too_large(), too_large()],
        ),
        (
            "body over the limit, no claims",
            "POST",
            "/v2/notifications/sms",
            &plain,
            &big,
            [ok(&big), ok(&big), denied(REQUEST)],
        ),
    ];
    for (name, method, uri, token, body, expected) in rows {
        for (mode, expected) in [Off, VerifyIfPresent, Required].into_iter().zip(expected) {
            let got = send(
                mode,
                method,
                uri,
                token,
                Body::from(Bytes::copy_from_slice(body)),
            )
            .await;
            assert_eq!(got, expected, "{name}, {mode:?}");
        }
    }
}

#[tokio::test]
async fn where_the_binding_checks_sit_in_the_order_of_checks() {
    // Every token check comes first: a wrong signature, a revoked key, the clock.
    let wrong = create_bound_token_at(WRONG_SECRET, &S.to_string(), NOW, "GET", "/elsewhere", None)
        .unwrap();
    assert_eq!(
        send(Required, "POST", "/v2/x", &wrong, Body::from("b")).await,
        denied(M13)
    );
    let revoked =
        create_bound_token_at(K3_SECRET, &S.to_string(), NOW, "GET", "/elsewhere", None).unwrap();
    assert_eq!(
        send(Required, "POST", "/v2/x", &revoked, Body::from("b")).await,
        denied(M12)
    );
    let old = create_bound_token_at(
        K1_SECRET,
        &S.to_string(),
        NOW - 60,
        "GET",
        "/elsewhere",
        None,
    )
    .unwrap();
    assert_eq!(
        send(Required, "POST", "/v2/x", &old, Body::from("b")).await,
        denied(CLOCK)
    );
    // Then req, before the body is read: a wrong req with an oversized body is "request".
    let token = bound("GET", "/elsewhere", Some(b"x"));
    let big = Body::from(vec![b'x'; 4096]);
    assert_eq!(
        send(Required, "POST", "/v2/x", &token, big).await,
        denied(REQUEST)
    );
    // Then the size limit, then pay.
    let token = bound("POST", "/v2/x", Some(b"other"));
    assert_eq!(
        send(
            Required,
            "POST",
            "/v2/x",
            &token,
            Body::from(vec![b'x'; 4096])
        )
        .await,
        too_large()
    );
    assert_eq!(
        send(Required, "POST", "/v2/x", &token, Body::from("x")).await,
        denied(PAYLOAD)
    );
}

#[tokio::test]
async fn streaming_bodies_reach_the_handler_intact() {
    let chunks: Vec<Result<Bytes, Infallible>> = BODY
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let token = bound("POST", "/v2/notifications/sms", Some(BODY));
    for mode in [Off, VerifyIfPresent, Required] {
        let body = Body::from_stream(futures_stream(chunks.clone()));
        assert_eq!(
            send(mode, "POST", "/v2/notifications/sms", &token, body).await,
            ok(BODY)
        );
    }
    // A streamed body over the limit is refused once the limit is passed.
    let big: Vec<Result<Bytes, Infallible>> = (0..100)
        .map(|_| Ok(Bytes::from_static(&[b'y'; 100])))
        .collect();
    let token = bound("POST", "/v2/x", Some(b"y"));
    let body = Body::from_stream(futures_stream(big));
    assert_eq!(
        send(Required, "POST", "/v2/x", &token, body).await,
        too_large()
    );
}

fn futures_stream(
    items: Vec<Result<Bytes, Infallible>>,
) -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send {
    tokio_stream::iter(items)
}

#[tokio::test]
async fn malformed_binding_claims_never_match() {
    let s = S.to_string();
    for req in [r#""""#, "1", "null", r#""abc""#, r#"["x"]"#] {
        let claims = format!(r#"{{"iss":"{s}","iat":{NOW},"req":{req}}}"#);
        let token = jwt(HEADER, &claims, K1_SECRET);
        assert_eq!(
            send(VerifyIfPresent, "GET", "/v2/x", &token, Body::empty()).await,
            denied(REQUEST),
            "{req}"
        );
        assert_eq!(
            send(Off, "GET", "/v2/x", &token, Body::empty()).await,
            ok(b""),
            "{req}"
        );
    }
    // The signature must be the exact standard-base64 text (padding included).
    let req = sign_request(K1_SECRET, "GET", "/v2/x");
    let unpadded = req.trim_end_matches('=');
    let claims = format!(r#"{{"iss":"{s}","iat":{NOW},"req":"{unpadded}"}}"#);
    let token = jwt(HEADER, &claims, K1_SECRET);
    assert_eq!(
        send(Required, "GET", "/v2/x", &token, Body::empty()).await,
        denied(REQUEST)
    );
    let claims = format!(
        r#"{{"iss":"{s}","iat":{NOW},"req":"{req}","pay":"{}"}}"#,
        sign_payload(K1_SECRET, b"z")
    );
    let token = jwt(HEADER, &claims, K1_SECRET);
    assert_eq!(
        send(Required, "GET", "/v2/x", &token, Body::from("z")).await,
        ok(b"z")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// In required mode, a token signed for one request is refused for any other method,
    /// path or body.
    #[test]
    fn any_change_to_method_path_or_body_is_refused(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        other_method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        path in "/v2/[a-z0-9/_-]{0,20}",
        other_path in "/v2/[a-z0-9/_-]{0,20}",
        body in prop::collection::vec(any::<u8>(), 1..200),
        other_body in prop::collection::vec(any::<u8>(), 1..200),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let token = bound(method, &path, Some(&body));
        let send_body = |b: &Vec<u8>| Body::from(Bytes::copy_from_slice(b));
        let (status, _) = rt.block_on(send(Required, method, &path, &token, send_body(&body)));
        prop_assert_eq!(status, StatusCode::OK);
        if other_method != method {
            prop_assert_eq!(rt.block_on(send(Required, other_method, &path, &token, send_body(&body))), denied(REQUEST));
        }
        if other_path != path {
            prop_assert_eq!(rt.block_on(send(Required, method, &other_path, &token, send_body(&body))), denied(REQUEST));
        }
        if other_body != body {
            prop_assert_eq!(rt.block_on(send(Required, method, &path, &token, send_body(&other_body))), denied(PAYLOAD));
        }
    }
}

/// Under `Router::nest` and `nest_service` the inner router sees the path without its prefix,
/// while the client signed the path it sent: `req` is checked against the original one.
#[tokio::test]
async fn nested_routers_check_the_path_the_client_sent() {
    use axum::Router;
    use axum::routing::post;

    async fn who(principal: Principal) -> String {
        principal.api_key_id.to_string()
    }
    let layer = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .request_binding(Required);
    let inner = || {
        Router::new()
            .route("/notifications/sms", post(who))
            .layer(layer.clone())
    };
    let apps: [(&str, Router); 2] = [
        ("nest", Router::new().nest("/v2", inner())),
        ("nest_service", Router::new().nest_service("/v2", inner())),
    ];
    for (name, app) in apps {
        let send = |token: String| {
            let app = app.clone();
            async move {
                let request = Request::builder()
                    .method("POST")
                    .uri("/v2/notifications/sms?x=1")
                    .header("authorization", bearer(&token))
                    .body(Body::from("{}"))
                    .unwrap();
                let response = app.oneshot(request).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        let signed = bound("POST", "/v2/notifications/sms", Some(b"{}"));
        assert_eq!(
            send(signed).await,
            (StatusCode::OK, K1.to_string()),
            "{name}"
        );
        // The path the inner router sees is not what the client signed.
        let inner_path = bound("POST", "/notifications/sms", Some(b"{}"));
        assert_eq!(
            send(inner_path).await,
            denied("Invalid token: request"),
            "{name}"
        );
    }
}
