//! notify-auth against the JWT middleware an axum user would otherwise pick, on the same axum
//! 0.8 app: one route answering `ok`, open or behind each middleware, driven in process with
//! `oneshot` (no network). Each peer is set up for Notify's tokens: HS256, no `exp` required,
//! and Notify's `iat` window (now ± 30 s) checked by hand after the peer has verified the
//! token, since none of them checks `iat`. The clock is fixed (`NOW`) for all of them.
//!
//! - `notify_auth`: `NotifyAuthLayer` over a `MemoryStore`, the handler taking the `Principal`;
//! - `jsonwebtoken`: a hand-written `axum::middleware::from_fn` middleware on jsonwebtoken 10,
//!   `decode` with each key in turn;
//! - `axum_jwt_auth`: axum-jwt-auth 0.7's `Claims` extractor over a `LocalDecoder` (which
//!   tries each key in turn);
//! - `jwt_authorizer`: jwt-authorizer 0.15's layer, one `Authorizer` per key (it tries each
//!   in turn). It is written for axum 0.7 (its error answers are axum 0.7 responses), so its
//!   layer sits between two response conversions, axum 0.8 to 0.7 and back: one boxed body
//!   each way, about what a user of axum 0.8 would have to add.
//!
//! With 1 key and with 10 keys (the token signed by the tenth, so every peer tries all ten;
//! notify-auth remembers the key that matched last and tries it first), with a valid token and
//! with a forged one (a wrong signature: every middleware tries every key).
//!
//! `cargo bench` in this directory; `python3 report.py` prints the overhead per request over
//! the open route and the ratios.

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use notify_auth::token::create_token_at;
use notify_auth::{
    ApiKey, KeyType, MemoryStore, NotifyAuthLayer, Principal, Secret, ServiceRecord,
};
use tower::{ServiceBuilder, ServiceExt};
use uuid::Uuid;

const NOW: i64 = 1_795_394_922;
const WINDOW: i64 = 30;
const PATH: &str = "/v2/notifications";

fn service_id() -> Uuid {
    Uuid::from_u128(0x26785a09_ab16_4eb0_8407_a37497a57506)
}

fn secret(i: usize) -> String {
    format!("{i:08x}-8d35-48ac-975b-e847b4f122b0")
}

/// The claims Notify's clients send.
#[derive(Clone, Debug, serde::Deserialize)]
struct NotifyClaims {
    #[allow(dead_code)]
    iss: String,
    iat: i64,
}

/// Notify's window, checked by hand for the peers (none of them reads `iat`).
fn within_window(claims: &NotifyClaims) -> bool {
    (NOW - WINDOW..=NOW + WINDOW).contains(&claims.iat)
}

/// HS256, no `exp` required or checked, as Notify's tokens need.
fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation
}

fn open() -> Router {
    Router::new().route(PATH, get(|| async { "ok" }))
}

fn notify_auth(keys: usize) -> Router {
    let service = (0..keys).fold(ServiceRecord::new(service_id(), true), |s, i| {
        s.with_key(ApiKey::new(
            Uuid::from_u128(i as u128 + 1),
            Secret::new(secret(i)),
            KeyType::Normal,
        ))
    });
    let store = MemoryStore::builder().service(service).build().unwrap();
    Router::new()
        .route(
            PATH,
            get(|p: Principal| async move {
                black_box(p);
                "ok"
            }),
        )
        .route_layer(NotifyAuthLayer::new(store).clock(|| NOW))
}

#[derive(Clone)]
struct Keys {
    keys: Arc<Vec<DecodingKey>>,
    validation: Arc<Validation>,
}

/// The middleware one would write on jsonwebtoken: each key in turn, then the window.
async fn jsonwebtoken_middleware(
    State(keys): State<Keys>,
    mut request: Request,
    next: Next,
) -> Response {
    let claims = {
        let Some(token) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return StatusCode::UNAUTHORIZED.into_response();
        };
        keys.keys
            .iter()
            .find_map(|key| jsonwebtoken::decode::<NotifyClaims>(token, key, &keys.validation).ok())
    };
    match claims {
        Some(data) if within_window(&data.claims) => {
            request.extensions_mut().insert(data.claims);
            next.run(request).await
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

fn jsonwebtoken_app(keys: usize) -> Router {
    let keys = Keys {
        keys: Arc::new(
            (0..keys)
                .map(|i| DecodingKey::from_secret(secret(i).as_bytes()))
                .collect(),
        ),
        validation: Arc::new(validation()),
    };
    Router::new()
        .route(
            PATH,
            get(
                |axum::Extension(claims): axum::Extension<NotifyClaims>| async move {
                    black_box(claims);
                    "ok"
                },
            ),
        )
        .route_layer(middleware::from_fn_with_state(
            keys,
            jsonwebtoken_middleware,
        ))
}

fn axum_jwt_auth_app(keys: usize) -> Router {
    let mut validation = validation();
    // `LocalDecoder` insists on an audience; Notify's tokens have none, so it is not checked.
    validation.aud = Some(["notify".to_owned()].into());
    validation.validate_aud = false;
    let decoder = axum_jwt_auth::LocalDecoder::builder()
        .keys(
            (0..keys)
                .map(|i| DecodingKey::from_secret(secret(i).as_bytes()))
                .collect(),
        )
        .validation(validation)
        .build()
        .unwrap();
    let decoder: axum_jwt_auth::Decoder<NotifyClaims> = Arc::new(decoder);
    Router::new()
        .route(
            PATH,
            get(|claims: axum_jwt_auth::Claims<NotifyClaims>| async move {
                if !within_window(&claims.claims) {
                    return StatusCode::FORBIDDEN.into_response();
                }
                black_box(claims.claims);
                "ok".into_response()
            }),
        )
        .with_state(decoder)
}

fn jwt_authorizer_app(keys: usize, rt: &tokio::runtime::Runtime) -> Router {
    use jwt_authorizer::{IntoLayer, JwtAuthorizer};
    let authorizers: Vec<jwt_authorizer::Authorizer<NotifyClaims>> = (0..keys)
        .map(|i| {
            let validation = jwt_authorizer::Validation::new()
                .exp(false)
                .nbf(false)
                .algs(vec![jsonwebtoken9::Algorithm::HS256]);
            rt.block_on(
                JwtAuthorizer::from_secret(&secret(i))
                    .validation(validation)
                    .build(),
            )
            .unwrap()
        })
        .collect();
    let to_axum07 = |r: Response| r.map(axum07::body::Body::new);
    let to_axum08 = |r: axum07::response::Response| r.map(Body::new);
    Router::new()
        .route(
            PATH,
            get(
                |axum::Extension(data): axum::Extension<
                    jsonwebtoken9::TokenData<NotifyClaims>,
                >| async move {
                    if !within_window(&data.claims) {
                        return StatusCode::FORBIDDEN.into_response();
                    }
                    black_box(data.claims);
                    "ok".into_response()
                },
            ),
        )
        .route_layer(
            ServiceBuilder::new()
                .map_response(to_axum08)
                .layer(authorizers.into_layer())
                .map_response(to_axum07),
        )
}

fn bearer(secret: &str) -> String {
    format!(
        "Bearer {}",
        create_token_at(secret, &service_id().to_string(), NOW).unwrap()
    )
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut apps: Vec<(String, Router)> = vec![("open".to_owned(), open())];
    for keys in [1, 10] {
        apps.push((format!("notify_auth/{keys}"), notify_auth(keys)));
        apps.push((format!("jsonwebtoken/{keys}"), jsonwebtoken_app(keys)));
        apps.push((format!("axum_jwt_auth/{keys}"), axum_jwt_auth_app(keys)));
        apps.push((
            format!("jwt_authorizer/{keys}"),
            jwt_authorizer_app(keys, &rt),
        ));
    }
    let mut g = c.benchmark_group("peers");
    for (name, app) in apps {
        // As `axum::serve` does: routes (and their route layers) built once, not per request.
        let app = app.with_state(());
        let keys: usize = name
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let tokens = [
            ("valid", bearer(&secret(keys - 1)), StatusCode::OK),
            ("forged", bearer("not-a-key"), StatusCode::FORBIDDEN),
        ];
        for (kind, token, _) in &tokens {
            // Each answers as expected before it is timed (the open route ignores the token).
            let request = Request::get(PATH)
                .header(header::AUTHORIZATION, token)
                .body(Body::empty())
                .unwrap();
            let status = rt.block_on(app.clone().oneshot(request)).unwrap().status();
            match (name.as_str(), *kind) {
                ("open", _) | (_, "valid") => assert_eq!(status, StatusCode::OK, "{name} {kind}"),
                _ => assert!(status.is_client_error(), "{name} {kind}: {status}"),
            }
        }
        for (kind, token, expected) in tokens {
            if name == "open" && kind == "forged" {
                continue;
            }
            let label = if name == "open" {
                name.clone()
            } else {
                format!("{name}/{kind}")
            };
            g.bench_function(label, |b| {
                b.to_async(&rt).iter_batched(
                    || {
                        Request::get(PATH)
                            .header(header::AUTHORIZATION, &token)
                            .body(Body::empty())
                            .unwrap()
                    },
                    |request| {
                        let app = app.clone();
                        async move {
                            let response = app.oneshot(request).await.unwrap();
                            debug_assert!(
                                response.status() == expected
                                    || response.status().is_client_error()
                            );
                            black_box(response)
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(peers, benches);
criterion_main!(peers);
