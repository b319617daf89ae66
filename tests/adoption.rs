//! What adopting the layer asks of it beyond Notify's answers: optional authentication, one
//! layer for services and the internal client, tower-http's `AsyncRequireAuthorization`, and
//! rejection responses shared by every request.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use notify_auth::{
    Caller, Dialect, InternalAuthLayer, InternalCaller, KeyStore, NotifyAuthLayer, Principal,
    Rejection,
};
use tower::util::ServiceFn;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

/// A handler that names who the layer let in: the principal, the internal client, or nobody,
/// and says whether a [`Caller`] came with them.
async fn who(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let extensions = request.extensions();
    let body = match (
        extensions.get::<Principal>(),
        extensions.get::<InternalCaller>(),
        extensions.get::<Caller>(),
    ) {
        (Some(p), None, caller) => {
            assert!(caller.is_none_or(|c| *c == Caller::Service(*p)));
            format!("service {} key {}", p.service_id, p.api_key_id)
        }
        (None, Some(c), caller) => {
            assert!(caller.is_none_or(|caller| *caller == Caller::Internal(c.clone())));
            format!("internal {}", c.client_id())
        }
        (None, None, None) => "anonymous".to_owned(),
        other => panic!("the extensions disagree: {other:?}"),
    };
    let body = match extensions.get::<Caller>() {
        Some(_) => format!("{body} (caller)"),
        None => body,
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

async fn optional_over(store: impl KeyStore, authorization: &[&[u8]]) -> Answer {
    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store).clock(|| NOW).optional())
        .service_fn(who);
    let request = request("/v2/notifications", authorization);
    into_answer(service.oneshot(request).await.unwrap()).await
}

/// Without an `Authorization` header the request passes on without a principal; with one,
/// it is judged exactly as without the option (a blank or empty header is present).
#[tokio::test]
async fn an_optional_layer_passes_requests_without_a_header_and_judges_the_others() {
    for at_once in [true, false] {
        let over = |authorization: &'static [&'static [u8]]| async move {
            match at_once {
                true => optional_over(store(), authorization).await,
                false => optional_over(AsyncOnly(store()), authorization).await,
            }
        };
        let anonymous = over(&[]).await;
        assert_eq!(
            (anonymous.status, anonymous.body.as_str()),
            (200, "anonymous")
        );
        assert!(anonymous.rejection.is_none());
        over(&[b""]).await.assert_v2(401, M1);
        over(&[b"   "]).await.assert_v2(401, M1);
        over(&[b"Basic x"]).await.assert_v2(401, M2);
        over(&[b"Bearer x.y"]).await.assert_v2(403, GENERAL);
        let expired = bearer(&token(S, NOW - 31, K1_SECRET));
        let expired: &'static [u8] = Box::leak(expired.into_bytes().into_boxed_slice());
        over(Box::leak(Box::new([expired])))
            .await
            .assert_v2(403, CLOCK);
        let valid = bearer(&valid());
        let valid: &'static [u8] = Box::leak(valid.into_bytes().into_boxed_slice());
        let granted = over(Box::leak(Box::new([valid]))).await;
        assert_eq!(
            (granted.status, granted.body),
            (200, format!("service {S} key {K1}"))
        );
    }
}

/// With request binding, the option applies the same way.
#[tokio::test]
async fn an_optional_bound_layer_passes_requests_without_a_header() {
    let service = ServiceBuilder::new()
        .layer(
            NotifyAuthLayer::new(store())
                .clock(|| NOW)
                .optional()
                .request_binding(notify_auth::RequestBinding::Required),
        )
        .service(service_fn(|request: Request<_>| {
            who(request.map(|_| Full::new(Bytes::new())))
        }));
    let answer = into_answer(
        service
            .clone()
            .oneshot(request("/v2/notifications", &[]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "anonymous"));
    let unbound = bearer(&valid());
    let answer = into_answer(
        service
            .oneshot(request("/v2/notifications", &[unbound.as_bytes()]))
            .await
            .unwrap(),
    )
    .await;
    answer.assert_v2(403, "Invalid token: request");
}

/// What a layer's rejection says: its status and its message.
fn said(answer: &Answer) -> Option<(u16, String)> {
    match answer.rejection.as_ref()? {
        Rejection::Auth(e) => Some((e.status().as_u16(), e.message().to_owned())),
        other => panic!("not an authentication answer: {other:?}"),
    }
}

/// One layer for services and the internal client answers each as its own layer does: the
/// internal client's tokens (those whose `iss` is exactly its id) as the internal layer, all
/// else as the public layer, in every dialect, decided at once or after the store's future.
#[tokio::test]
async fn one_layer_takes_services_and_the_internal_client_as_their_own_layers_do() {
    let admin = |secret: &str, iat: i64| bearer(&token("notify-admin", iat, secret));
    let hs512 = jwt(r#"{"alg":"HS512"}"#, &claims("notify-admin", NOW), "s1");
    let gc_key = notify_auth::token::gc_key_string("k", S, K1_SECRET);
    // (header, whether it is the internal client's token)
    let battery: Vec<(Option<String>, bool)> = vec![
        (Some(bearer(&valid())), false),
        (Some(bearer(&token(S, NOW, K2_SECRET))), false),
        (Some(bearer(&token(S, NOW, WRONG_SECRET))), false),
        (Some(bearer(&token(S, NOW - 60, K1_SECRET))), false),
        (Some(bearer(&token(A, NOW, KA_SECRET))), false),
        (Some(bearer(&token(E, NOW, K1_SECRET))), false),
        (Some(bearer(&token("notify-admin-2", NOW, "s1"))), false),
        (Some(bearer(&token("Notify-Admin", NOW, "s1"))), false),
        (Some(bearer(&jwt(HEADER, r#"{"iss":null}"#, "s1"))), false),
        (
            Some(bearer(&jwt(HEADER, &format!(r#"{{"iat":{NOW}}}"#), "s1"))),
            false,
        ),
        (Some(admin("s1", NOW)), true),
        (Some(admin("s2", NOW + 30)), true),
        (Some(admin("wrong", NOW)), true),
        (Some(admin("s1", NOW - 60)), true),
        (Some(bearer(&hs512)), true),
        (
            Some(bearer(&jwt(HEADER, r#"{"iss":"notify-admin"}"#, "s1"))),
            true,
        ),
        (Some(format!("ApiKey-v1 {gc_key}")), false),
        (Some("Bearer x.y".to_owned()), false),
        (Some("Basic x".to_owned()), false),
        (Some(String::new()), false),
        (None, false),
    ];
    for dialect in Dialect::ALL {
        for (header, internal) in &battery {
            let values: Vec<&[u8]> = header.iter().map(|h| h.as_bytes()).collect();
            let alone = match internal {
                true => {
                    let layer = InternalAuthLayer::new(admin_client()).dialect(dialect);
                    send(layer.clock(|| NOW), &values).await
                }
                false => {
                    let layer = NotifyAuthLayer::new(store()).dialect(dialect);
                    send(layer.clock(|| NOW), &values).await
                }
            };
            for either in [
                send(both(store(), dialect), &values).await,
                send(both(AsyncOnly(store()), dialect), &values).await,
            ] {
                let context = format!("{dialect:?} {header:?}");
                assert_eq!(said(&either), said(&alone), "{context}");
                assert_eq!(either.status, alone.status, "{context}");
                if either.status == 200 {
                    assert_eq!(either.body, format!("{} (caller)", alone.body), "{context}");
                } else {
                    // The layer's own answers (v2 bodies), whoever the token claimed to be.
                    let (status, message) = said(&either).unwrap();
                    either.assert_v2(status, &message);
                }
            }
        }
    }
}

fn admin_client() -> notify_auth::InternalClient {
    admin()
}

fn both(store: impl KeyStore, dialect: Dialect) -> notify_auth::ServiceOrInternalAuthLayer {
    NotifyAuthLayer::new(store)
        .or_internal(admin())
        .dialect(dialect)
        .clock(|| NOW)
}

/// The answer of `layer` around [`who`] to a request with these `Authorization` values.
async fn send<L, B>(layer: L, authorization: &[&[u8]]) -> Answer
where
    L: Layer<ServiceFn<fn(Request<Full<Bytes>>) -> WhoFuture>>,
    L::Service: tower::Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let who: fn(Request<Full<Bytes>>) -> WhoFuture = |request| Box::pin(who(request));
    let service = layer.layer(service_fn(who));
    let request = request("/v2/notifications", authorization);
    into_answer(service.oneshot(request).await.unwrap()).await
}

type WhoFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>,
>;

/// A rejection response is one value shared by every request, never a per-request clone:
/// what it counts, it counts for all of them.
#[tokio::test]
async fn a_rejection_response_is_shared_by_every_request() {
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    let layer = NotifyAuthLayer::new(store())
        .clock(|| NOW)
        .rejection_response(move |rejection: &Rejection| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let mut response = Response::new(Full::new(Bytes::from(format!("rejection {n}"))));
            *response.status_mut() = rejection.status();
            response
        });
    let service = ServiceBuilder::new().layer(layer).service_fn(who);
    for n in 1..=3 {
        let response = service
            .clone()
            .oneshot(request("/v2/notifications", &[b"Bearer x.y"]))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let answer = into_answer(response).await;
        assert_eq!(answer.body, format!("rejection {n}"));
    }
    assert_eq!(answered.load(Ordering::SeqCst), 3);
}

/// tower-http's `AsyncRequireAuthorizationLayer` with the layer's authorizer answers as the
/// layer does, at once or after the store's future, under axum with axum's body.
#[cfg(feature = "tower-http")]
#[tokio::test]
async fn the_tower_http_authorizer_answers_as_the_layer_does() {
    use axum::body::Body;
    use notify_auth::{RejectionResponse, V2Errors};
    use tower_http::auth::AsyncRequireAuthorizationLayer;

    async fn whoami(principal: Principal) -> String {
        format!(
            "service {} key {}",
            principal.service_id, principal.api_key_id
        )
    }

    for at_once in [true, false] {
        let store: Arc<dyn KeyStore> = match at_once {
            true => Arc::new(store()),
            false => Arc::new(AsyncOnly(store())),
        };
        let authorizer = NotifyAuthLayer::from_shared(store)
            .clock(|| NOW)
            .rejection_response(|r: &Rejection| V2Errors.response(r).map(Body::new))
            .authorizer();
        let app = axum::Router::new()
            .route("/v2/whoami", axum::routing::get(whoami))
            .layer(AsyncRequireAuthorizationLayer::new(authorizer));
        let ask = |authorization: Option<String>| {
            let app = app.clone();
            async move {
                let mut request = Request::builder().uri("/v2/whoami");
                if let Some(value) = authorization {
                    request = request.header(http::header::AUTHORIZATION, value);
                }
                let response = app.oneshot(request.body(Body::empty()).unwrap()).await;
                into_answer(response.unwrap()).await
            }
        };
        let granted = ask(Some(bearer(&valid()))).await;
        assert_eq!(
            (granted.status, granted.body),
            (200, format!("service {S} key {K1}"))
        );
        ask(Some(bearer(&token(S, NOW, WRONG_SECRET))))
            .await
            .assert_v2(403, M13);
        ask(Some("Bearer x.y".to_owned()))
            .await
            .assert_v2(403, GENERAL);
        ask(None).await.assert_v2(401, M1);
    }
}
