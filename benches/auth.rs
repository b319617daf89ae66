//! The cost of a decision, against its floor and its peers, on the same tokens.
//!
//! - floor: one pre-keyed HMAC-SHA256 of the token's signing input;
//! - crate: `notify_auth::core::authenticate` (parse + key loop);
//! - peer: the same decision built the obvious way on `jsonwebtoken` (decode per key with an
//!   HS256 `Validation`, no `exp` required, then the `iat` check);
//! - layer: the tower layer around a no-op service, against the bare service.
//!
//! Run `cargo bench --bench auth`, then `scripts/bench-ratios` for the ratios and targets.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use http::{Request, Response};
use http_body_util::{Either, Full};
use notify_auth::core::{Authorization, Credential, authenticate};
use notify_auth::ratelimit::{Bucket, BucketKey, MemoryBuckets, RateLimitLayer};
use notify_auth::token::create_token_at;
use notify_auth::{
    ApiKey, AuthError, Dialect, KeyBySecret, KeyStore, KeyType, MemoryStore, NotifyAuthLayer,
    Principal, Secret, ServiceRecord,
};
use sha2::Sha256;
use tower::{Layer, ServiceExt, service_fn};
use uuid::Uuid;

const NOW: i64 = 1_795_394_922;

fn secret(i: usize) -> String {
    format!("{:08x}-8d35-48ac-975b-e847b4f122b0", i)
}

/// A service with `n` keys; key `i` has secret `secret(i)`.
fn service(id: Uuid, n: usize) -> ServiceRecord {
    (0..n).fold(ServiceRecord::new(id, true), |s, i| {
        s.with_key(ApiKey::new(
            Uuid::from_u128(i as u128 + 1),
            Secret::new(secret(i)),
            KeyType::Normal,
        ))
    })
}

fn header(token: &str) -> String {
    format!("Bearer {token}")
}

fn decide(header: &str, service: &ServiceRecord) -> Result<Principal, AuthError> {
    authenticate([header.as_bytes()], NOW, |id| {
        (id == service.id()).then_some(service)
    })
}

/// The peer: jsonwebtoken's decode per key, then Notify's iat window.
struct Peer {
    keys: Vec<jsonwebtoken::DecodingKey>,
    validation: jsonwebtoken::Validation,
}

#[derive(serde::Deserialize)]
struct Claims {
    #[allow(dead_code)]
    iss: String,
    iat: i64,
}

impl Peer {
    fn new(n: usize) -> Self {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.leeway = 30;
        Peer {
            keys: (0..n)
                .map(|i| jsonwebtoken::DecodingKey::from_secret(secret(i).as_bytes()))
                .collect(),
            validation,
        }
    }

    fn decide(&self, header: &str) -> Option<usize> {
        let token = header.strip_prefix("Bearer ")?;
        let _service: Claims = jsonwebtoken::dangerous::insecure_decode(token).ok()?.claims;
        self.keys.iter().position(|key| {
            jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                .is_ok_and(|data| (NOW - 30..=NOW + 30).contains(&data.claims.iat))
        })
    }
}

fn benches(c: &mut Criterion) {
    let sid = Uuid::from_u128(0x26785a09_ab16_4eb0_8407_a37497a57506);
    let one = service(sid, 1);
    let ten = service(sid, 10);
    let token_first = header(&create_token_at(&secret(0), &sid.to_string(), NOW).unwrap());
    let token_last = header(&create_token_at(&secret(9), &sid.to_string(), NOW).unwrap());
    let token_wrong = header(&create_token_at("no-such-secret", &sid.to_string(), NOW).unwrap());
    let token_old = header(&create_token_at(&secret(0), &sid.to_string(), NOW - 3600).unwrap());
    let token_unknown =
        header(&create_token_at(&secret(0), &Uuid::from_u128(7).to_string(), NOW).unwrap());

    // The floor: one pre-keyed HMAC-SHA256 over the signing input.
    let signing_input = {
        let t = &token_first[7..];
        t.as_bytes()[..t.rfind('.').unwrap()].to_vec()
    };
    let keyed = Hmac::<Sha256>::new_from_slice(secret(0).as_bytes()).unwrap();
    let floor = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        g.bench_function("floor", |b| {
            b.iter(|| {
                let mut mac = keyed.clone();
                mac.update(black_box(&signing_input));
                black_box(mac.finalize().into_bytes())
            })
        });
    };

    let mut g = c.benchmark_group("one_key");
    floor(&mut g);
    g.bench_function("crate", |b| {
        b.iter(|| decide(black_box(&token_first), &one).unwrap())
    });
    let peer1 = Peer::new(1);
    g.bench_function("peer", |b| {
        b.iter(|| peer1.decide(black_box(&token_first)).unwrap())
    });
    g.finish();

    // The dialects: GOV.UK Notify's decision through the dialect-aware entry point, GC
    // Notify's token, and GC Notify's raw key against the in-memory store (its secret's digest
    // looked up in the index, then the service), beside one lookup of a service by id.
    let mut g = c.benchmark_group("dialects");
    let store = MemoryStore::builder().service(one.clone()).build().unwrap();
    let in_dialect = |dialect: Dialect, header: &str| {
        let authorization = Authorization::from_values([header.as_bytes()]);
        match Credential::parse(&authorization, dialect)? {
            Credential::Token(token) => {
                token.authorize(store.get(token.service_id()).map(|s| &**s), NOW)
            }
            Credential::ApiKey(key) => {
                let secret = key.secret()?;
                let found = match store.key_by_secret_now(&secret) {
                    Some(Ok(KeyBySecret::Found { service_id, key_id })) => {
                        store.get(service_id).map(|s| (&**s, key_id))
                    }
                    _ => None,
                };
                key.authorize(found)
            }
        }
    };
    let raw = format!(
        "ApiKey-v1 {}",
        notify_auth::token::gc_key_string("live", sid, &secret(0))
    );
    g.bench_function("uk_token", |b| {
        b.iter(|| in_dialect(Dialect::Uk, black_box(&token_first)).unwrap())
    });
    g.bench_function("gc_token", |b| {
        b.iter(|| in_dialect(Dialect::Gc, black_box(&token_first)).unwrap())
    });
    g.bench_function("gc_raw_key", |b| {
        b.iter(|| in_dialect(Dialect::Gc, black_box(&raw)).unwrap())
    });
    g.bench_function("service_lookup", |b| {
        b.iter(|| store.get(black_box(sid)).is_some())
    });
    g.finish();

    let mut g = c.benchmark_group("ten_keys");
    floor(&mut g);
    g.bench_function("crate_cold", |b| {
        // A fresh copy of a service that never matched: no hint.
        b.iter_batched_ref(
            || ten.clone(),
            |s| decide(black_box(&token_last), s).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let warm = ten.clone();
    decide(&token_last, &warm).unwrap();
    g.bench_function("crate_warm", |b| {
        b.iter(|| decide(black_box(&token_last), &warm).unwrap())
    });
    let peer10 = Peer::new(10);
    g.bench_function("peer", |b| {
        b.iter(|| peer10.decide(black_box(&token_last)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("rejections");
    g.bench_function("bad_signature_ten_keys", |b| {
        b.iter(|| decide(black_box(&token_wrong), &ten).unwrap_err())
    });
    g.bench_function("expired", |b| {
        b.iter(|| decide(black_box(&token_old), &one).unwrap_err())
    });
    g.bench_function("unknown_service", |b| {
        b.iter(|| decide(black_box(&token_unknown), &one).unwrap_err())
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::builder()
        .service(service(sid, 1))
        .build()
        .unwrap();
    let noop = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let layered = NotifyAuthLayer::new(store).clock(|| NOW).layer(noop);
    let request = || {
        Request::builder()
            .uri("/v2/notifications")
            .header("authorization", &token_first)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let mut g = c.benchmark_group("layer");
    g.bench_function("bare_service", |b| {
        b.to_async(&rt)
            .iter_batched(request, |req| noop.oneshot(req), BatchSize::SmallInput)
    });
    g.bench_function("with_layer", |b| {
        b.to_async(&rt).iter_batched(
            request,
            |req| {
                let svc = layered.clone();
                async move {
                    let response = svc.oneshot(req).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        )
    });
    // The same, with Notify's API rate limit in memory inside the authentication (the
    // service's limit high enough never to answer 429: the bucket's work, not the 429's).
    let unlimited = MemoryStore::builder()
        .service(service(sid, 1).with_rate_limit(i32::MAX))
        .build()
        .unwrap();
    let limited = NotifyAuthLayer::new(unlimited)
        .clock(|| NOW)
        .layer(RateLimitLayer::in_memory().layer(noop));
    g.bench_function("with_layer_and_rate_limit", |b| {
        b.to_async(&rt).iter_batched(
            request,
            |req| {
                let svc = limited.clone();
                async move {
                    let response = svc.oneshot(req).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // The rate limit alone around the no-op service, on a request the authentication layer
    // has granted (its principal and record in the extensions): what the limit adds.
    let record = Arc::new(service(sid, 1).with_rate_limit(i32::MAX));
    let granted = || {
        let mut request = request();
        request
            .extensions_mut()
            .insert(Principal::new(sid, Uuid::from_u128(1), KeyType::Normal));
        request.extensions_mut().insert(Arc::clone(&record));
        request
    };
    let limit_alone = RateLimitLayer::in_memory().layer(noop);
    let mut g = c.benchmark_group("rate_limit");
    g.bench_function("granted_request_bare", |b| {
        b.to_async(&rt)
            .iter_batched(granted, |req| noop.oneshot(req), BatchSize::SmallInput)
    });
    g.bench_function("granted_request_limited", |b| {
        b.to_async(&rt).iter_batched(
            granted,
            |req| {
                let svc = limit_alone.clone();
                async move {
                    let response = svc.oneshot(req).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // One request against a bucket in memory, alone: the lock, the map, the arithmetic.
    let buckets = MemoryBuckets::new();
    let key = BucketKey::new(sid, KeyType::Normal);
    let bucket = Bucket::for_rate_limit(3000);
    let mut now = 1_764_950_000.0;
    c.bench_function("rate_limit/memory_tally", |b| {
        b.iter(|| {
            now += 0.02; // one token a request: the bucket never runs dry
            black_box(buckets.take(black_box(&key), bucket, now))
        })
    });

    // One request against a sliding window in memory (GC Notify's and VA Notify's limit): a
    // window kept full at its limit, its oldest time leaving as the newest comes.
    let window_key = BucketKey::new(sid, KeyType::Team);
    let mut at = 1_764_950_000.0;
    c.bench_function("rate_limit/memory_window", |b| {
        b.iter(|| {
            at += 0.02; // 50 a second in a window of 3000: always full, never over
            black_box(buckets.count(black_box(&window_key), 3000, at))
        })
    });

    // An axum router answering JSON, with the layer on its route, with a layer that changes
    // nothing, and without (the demo server's shape, without the network).
    async fn whoami(p: Principal) -> axum::Json<Principal> {
        axum::Json(p)
    }
    async fn anonymous() -> axum::Json<Principal> {
        axum::Json(Principal::new(Uuid::nil(), Uuid::nil(), KeyType::Normal))
    }
    let store = MemoryStore::builder()
        .service(service(sid, 1))
        .build()
        .unwrap();
    let open: axum::Router =
        axum::Router::new().route("/v2/{*path}", axum::routing::get(anonymous));
    let authed: axum::Router = axum::Router::new()
        .route("/v2/{*path}", axum::routing::get(whoami))
        .route_layer(NotifyAuthLayer::new(store).clock(|| NOW));
    let request = || {
        Request::builder()
            .uri("/v2/notifications")
            .header("authorization", &token_first)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // What axum's `route_layer` costs by itself (a layer that changes nothing), and with the
    // two things the layer does besides deciding that axum makes cost: a response body that
    // is not axum's own (axum boxes it), and a value in the request's extensions.
    let route = || axum::Router::new().route("/v2/{*path}", axum::routing::get(anonymous));
    let identity: axum::Router = route().route_layer(tower::layer::layer_fn(|route| route));
    let either_body: axum::Router = route().route_layer(tower::ServiceBuilder::new().map_response(
        |r: axum::response::Response| r.map(Either::<Full<Bytes>, axum::body::Body>::Right),
    ));
    let extension: axum::Router = route().route_layer(tower::ServiceBuilder::new().map_request(
        |mut r: Request<axum::body::Body>| {
            let nobody = Principal::new(Uuid::nil(), Uuid::nil(), KeyType::Normal);
            r.extensions_mut().insert(nobody);
            r
        },
    ));
    let mut g = c.benchmark_group("router");
    for (name, router) in [
        ("without_layer", open),
        ("with_identity_layer", identity),
        ("with_either_body_layer", either_body),
        ("with_extension_layer", extension),
        ("with_layer", authed),
    ] {
        // As `axum::serve` and `into_make_service` do: the handlers are made into routes, and
        // their route layers applied, once, not on every request.
        let router = router.with_state(());
        g.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                request,
                |req| {
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(req).await.unwrap();
                        assert_eq!(response.status(), 200);
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // A key store lookup as the layer makes it (`KeyStore::service_now`, through
    // `Arc<dyn KeyStore>`): the in-memory store, and (feature `cache`) a hit of the cache in
    // front of a store that is only async, as PostgreSQL is.
    let mut g = c.benchmark_group("store");
    let memory = || {
        MemoryStore::builder()
            .service(service(sid, 1))
            .build()
            .unwrap()
    };
    let in_memory: Arc<dyn KeyStore> = Arc::new(memory());
    g.bench_function("memory", |b| {
        b.iter(|| in_memory.service_now(black_box(sid)))
    });
    #[cfg(feature = "cache")]
    {
        /// The in-memory store's answers, only through the async method.
        struct AsyncOnly(MemoryStore);

        #[notify_auth::async_trait]
        impl KeyStore for AsyncOnly {
            async fn service(
                &self,
                id: Uuid,
            ) -> Result<Option<Arc<ServiceRecord>>, notify_auth::KeyStoreError> {
                self.0.service(id).await
            }
        }

        let cache = notify_auth::store::CachedKeyStore::new(AsyncOnly(memory()));
        rt.block_on(cache.service(sid)).unwrap().unwrap();
        let cached: Arc<dyn KeyStore> = Arc::new(cache);
        assert!(matches!(cached.service_now(sid), Some(Ok(Some(_)))));
        g.bench_function("cache_hit", |b| {
            b.iter(|| cached.service_now(black_box(sid)))
        });
    }
}

criterion_group!(auth, benches);
criterion_main!(auth);
