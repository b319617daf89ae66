//! The dialects through the layer (`oneshot`, a fixed clock): GC Notify's schemes, raw keys and
//! OPTIONS, VA Notify's revoked and expired keys, Notify.gov's type error, each fork's words,
//! and what the stores do for them. The differential suite checks the same against each fork's
//! restated auth module; these pin the answers down in Rust, with exact bodies.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::*;
use http::{Method, Request, Response};
use http_body_util::Full;
use notify_auth::core::RequestBinding;
use notify_auth::{
    ApiKey, Dialect, InternalAuthLayer, InternalRole, KeyBySecret, KeyStore, KeyStoreError,
    KeyType, MemoryStore, NotifyAuthLayer, Principal, Secret, ServiceRecord,
};
use time::OffsetDateTime;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use uuid::Uuid;

const GC_GENERAL: &str = "Invalid token: signature, api token is not valid";
const GC_NOT_FOUND: &str = "Invalid token: signature, api token not found";
const FULL_KEY: &str = "Invalid token: Enter your full API key";

/// A handler that answers with the principal, or `null` when the layer let the request
/// through unauthenticated.
fn whoami() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|req: Request<Full<Bytes>>| async move {
        let principal = req.extensions().get::<Principal>();
        let body = serde_json::to_string(&principal).unwrap();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    })
}

async fn public_with(
    store: impl KeyStore,
    dialect: Dialect,
    method: Method,
    authorization: &[&[u8]],
) -> Answer {
    let service = ServiceBuilder::new()
        .layer(NotifyAuthLayer::new(store).dialect(dialect).clock(|| NOW))
        .service(whoami());
    let mut request = request("/v2/notifications", authorization);
    *request.method_mut() = method;
    into_answer(service.oneshot(request).await.unwrap()).await
}

/// The fixture store (`common::store`), in `dialect`.
async fn public_in(dialect: Dialect, authorization: &str) -> Answer {
    public_with(store(), dialect, Method::GET, &[authorization.as_bytes()]).await
}

fn gc_key(service: Uuid, secret: &str) -> String {
    format!(
        "ApiKey-v1 {}",
        notify_auth::token::gc_key_string("my-key", service, secret)
    )
}

#[tokio::test]
async fn gc_raw_keys_authenticate_as_gc_notify_does() {
    let gc = |header: String| async move { public_in(Dialect::Gc, &header).await };
    gc(gc_key(S, K1_SECRET)).await.assert_ok(S, K1, "normal");
    gc(gc_key(S, K2_SECRET)).await.assert_ok(S, K2, "test");
    // Every key is listed, revoked ones of any age, and the service's state is not checked.
    let revoked = "Invalid token: API key revoked";
    gc(gc_key(S, K3_SECRET)).await.assert_v2(403, revoked);
    gc(gc_key(S, K4_SECRET)).await.assert_v2(403, revoked);
    gc(gc_key(A, KA_SECRET)).await.assert_ok(A, KA, "normal");
    // The string's ends: the prefix, the service id at [-73:-37], at least 79 characters.
    let key = notify_auth::token::gc_key_string("k", S, K1_SECRET);
    gc(format!("ApiKey-v1 {}", &key["gcntfy-".len()..]))
        .await
        .assert_v2(403, FULL_KEY);
    gc(format!("ApiKey-v1 GCNTFY-{}", &key[7..]))
        .await
        .assert_v2(403, FULL_KEY);
    gc(format!("ApiKey-v1 gcntfy-{K1_SECRET}"))
        .await
        .assert_v2(403, FULL_KEY);
    gc(gc_key(A, K1_SECRET)).await.assert_v2(403, FULL_KEY);
    gc(format!(
        "ApiKey-v1 gcntfy-k-{}-{K1_SECRET}",
        S.to_string().to_uppercase()
    ))
    .await
    .assert_v2(403, FULL_KEY);
    let not_found = "Invalid token: API key not found";
    gc(gc_key(S, WRONG_SECRET)).await.assert_v2(403, not_found);
    gc(gc_key(S, &K1_SECRET[1..]))
        .await
        .assert_v2(403, not_found);
    // Any length: only the ends are read.
    let long = format!("ApiKey-v1 gcntfy-{}-{S}-{K1_SECRET}", "n".repeat(10 * 1024));
    gc(long).await.assert_ok(S, K1, "normal");
    let junk = format!("ApiKey-v1 gcntfy-{}", "z".repeat(10 * 1024));
    gc(junk).await.assert_v2(403, not_found);
    // The scheme as a prefix in any case, one character skipped, Python's strip.
    let text = &gc_key(S, K1_SECRET)["ApiKey-v1 ".len()..];
    for scheme in [
        "apikey-v1 ",
        "APIKEY-V1 ",
        "ApiKey-v1x",
        "ApiKey-v1  ",
        "ApiKey-v1\t",
    ] {
        gc(format!("{scheme}{text}"))
            .await
            .assert_ok(S, K1, "normal");
    }
    gc("ApiKey-v1".to_owned()).await.assert_v2(403, FULL_KEY);
    // A byte above 0x7F is one Latin-1 character, as GC Notify's Python reads the header.
    let non_ascii = [
        b"ApiKey-v1 gcntfy-k-".as_slice(),
        S.to_string().as_bytes(),
        b"-",
    ]
    .concat()
    .into_iter()
    .chain(K1_SECRET.bytes().take(35))
    .chain([0xE9])
    .collect::<Vec<u8>>();
    public_with(store(), Dialect::Gc, Method::GET, &[&non_ascii])
        .await
        .assert_v2(403, not_found);
    let no_break = [gc_key(S, K1_SECRET).as_bytes(), &[0xA0]].concat();
    public_with(store(), Dialect::Gc, Method::GET, &[&no_break])
        .await
        .assert_ok(S, K1, "normal");
}

#[tokio::test]
async fn gc_reads_headers_and_tokens_its_own_way() {
    let gc = |header: String| async move { public_in(Dialect::Gc, &header).await };
    public_with(store(), Dialect::Gc, Method::GET, &[])
        .await
        .assert_v2(401, "Unauthorized, authentication token must be provided");
    gc("Basic abc".to_owned())
        .await
        .assert_v2(401, notify_auth::error::GC_SCHEMES_MESSAGE);
    for scheme in [
        "Bearerx",
        "Bearer\t",
        "Bearer  ",
        "CacheClear-v1 ",
        "Cypress-v1 ",
    ] {
        gc(format!("{scheme}{}", valid()))
            .await
            .assert_ok(S, K1, "normal");
    }
    gc("Bearer".to_owned()).await.assert_v2(403, GC_GENERAL);
    // Every key fails a wrong algorithm: nothing matched.
    let hs512 = jwt(
        r#"{"alg":"HS512"}"#,
        &claims(&S.to_string(), NOW),
        K1_SECRET,
    );
    gc(bearer(&hs512)).await.assert_v2(403, GC_NOT_FOUND);
    // PyJWT 2.12's own words for a `kid` that is not a string.
    let kid = jwt(
        r#"{"alg":"HS256","kid":1}"#,
        &claims(&S.to_string(), NOW),
        K1_SECRET,
    );
    gc(bearer(&kid)).await.assert_v2(
        403,
        "Invalid token: Key ID header parameter must be a string",
    );
    // What GC Notify does not catch: an expired `exp`; the clock log line without `iat`.
    let exp = format!(r#"{{"iss":"{S}","iat":{NOW},"exp":{}}}"#, NOW - 60);
    gc(bearer(&jwt(HEADER, &exp, K1_SECRET)))
        .await
        .assert_v2(403, GC_GENERAL);
    let nbf = format!(r#"{{"iss":"{S}","nbf":{}}}"#, NOW + 60);
    gc(bearer(&jwt(HEADER, &nbf, K1_SECRET)))
        .await
        .assert_v2(403, GC_GENERAL);
    let nbf = format!(r#"{{"iss":"{S}","iat":{NOW},"nbf":{}}}"#, NOW + 60);
    gc(bearer(&jwt(HEADER, &nbf, K1_SECRET)))
        .await
        .assert_v2(403, CLOCK);
    // A key revoked a month ago is still listed.
    gc(bearer(&token(S, NOW, K4_SECRET)))
        .await
        .assert_v2(403, "Invalid token: API key revoked");
    // `iss` as PostgreSQL reads it through SQLAlchemy.
    let with_iss = |iss: &str| {
        bearer(&jwt(
            HEADER,
            &format!(r#"{{"iss":{iss},"iat":{NOW}}}"#),
            K1_SECRET,
        ))
    };
    gc(with_iss(&format!("\"{{{S}}}\"")))
        .await
        .assert_ok(S, K1, "normal");
    let hex = S.simple().to_string();
    let grouped: Vec<&str> = (0..8).map(|i| &hex[i * 4..i * 4 + 4]).collect();
    gc(with_iss(&format!("\"{}\"", grouped.join("-"))))
        .await
        .assert_ok(S, K1, "normal");
    gc(with_iss(&format!("\"urn:uuid:{S}\"")))
        .await
        .assert_v2(403, M6);
    // psycopg2 writes these lists as array literals, which the `uuid` input refuses.
    for literal in [
        "[]",
        "[null]",
        "[null, [null]]",
        "[[null],null]",
        "[[[null]]]",
    ] {
        gc(with_iss(literal)).await.assert_v2(403, M6);
    }
    gc(with_iss("null")).await.assert_v2(403, M7);
    for crash in [
        "1234",
        "true",
        "1.5",
        "[\"x\"]",
        "[[]]",
        "[null,[]]",
        "[null,{}]",
        "[null,1]",
        "{}",
        &format!("\"{S}\\u0000\""),
    ] {
        gc(with_iss(crash)).await.assert_v2(403, GC_GENERAL);
    }
}

#[tokio::test]
async fn gc_lets_options_through_its_public_routes_only() {
    let answer = public_with(store(), Dialect::Gc, Method::OPTIONS, &[]).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "null"));
    assert!(answer.rejection.is_none());
    let answer = public_with(store(), Dialect::Uk, Method::OPTIONS, &[]).await;
    answer.assert_v2(401, M1);
    let internal = ServiceBuilder::new()
        .layer(InternalAuthLayer::new(admin()).dialect(Dialect::Gc))
        .service(answering("ok"));
    let mut request = request("/service", &[]);
    *request.method_mut() = Method::OPTIONS;
    let answer = into_answer(internal.oneshot(request).await.unwrap()).await;
    answer.assert_v1(401, "Unauthorized, authentication token must be provided");
}

#[tokio::test]
async fn gc_internal_routes_word_their_answers_after_their_client() {
    let route = |role: InternalRole, header: String| async move {
        let layer = InternalAuthLayer::new(admin())
            .dialect(Dialect::Gc)
            .role(role)
            .clock(|| NOW);
        let service = ServiceBuilder::new().layer(layer).service(answering("ok"));
        let request = request("/service", &[header.as_bytes()]);
        into_answer(service.oneshot(request).await.unwrap()).await
    };
    let other = bearer(&token("other", NOW, "s1"));
    let raw = gc_key(S, K1_SECRET);
    let words = [
        (InternalRole::Admin, "admin", "admin"),
        (InternalRole::Sre, "sre", "sre"),
        (InternalRole::CacheClear, "cache clear", "sre"),
        (InternalRole::Cypress, "cypress", "cypress"),
    ];
    for (role, client, scheme) in words {
        route(role, other.clone()).await.assert_v1(
            401,
            &format!("Unauthorized, {client} authentication token required"),
        );
        route(role, raw.clone()).await.assert_v1(
            401,
            &format!("Invalid scheme: can only use JWT for {scheme} authentication"),
        );
    }
    let admin = |iat, secret| bearer(&token("notify-admin", iat, secret));
    let ok = route(InternalRole::Admin, admin(NOW, "s2")).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    route(InternalRole::Admin, admin(NOW - 60, "s1"))
        .await
        .assert_v1(
            403,
            "Invalid token: expired, check that your system clock is accurate",
        );
    route(InternalRole::Admin, admin(NOW, "wrong"))
        .await
        .assert_v1(403, GC_GENERAL);
}

/// VA Notify's keys: every key has an expiry date, and revocation is a flag of its own.
fn va_store() -> MemoryStore {
    let at = |t| OffsetDateTime::from_unix_timestamp(t).unwrap();
    let key = |id, secret: &str| ApiKey::new(id, Secret::new(secret), KeyType::Normal);
    MemoryStore::builder()
        .service(
            ServiceRecord::new(S, true)
                .with_key(key(K1, K1_SECRET).revoked_at(at(NOW + 1)))
                .with_key(key(K2, K2_SECRET).revoked_at(at(NOW)))
                .with_key(
                    key(K3, K3_SECRET)
                        .revoked_at(at(NOW + 90 * DAY))
                        .revoked(true),
                )
                .with_key(key(K4, K4_SECRET)),
        )
        .internal_client(admin())
        .build()
        .unwrap()
}

/// VA Notify's service lookup is cached (cachetools), and hashing a list or a dict for the
/// cache's key crashes before any query: `[]` and `[null]` too, which GC Notify's database
/// refuses as the wrong data type.
#[tokio::test]
async fn va_cannot_look_up_a_list_or_an_object() {
    let va = |iss: &str| {
        let header = bearer(&jwt(
            HEADER,
            &format!(r#"{{"iss":{iss},"iat":{NOW}}}"#),
            K1_SECRET,
        ));
        async move { public_with(va_store(), Dialect::Va, Method::GET, &[header.as_bytes()]).await }
    };
    for unhashable in [
        "[]",
        "[null]",
        "[[null],null]",
        "[\"x\"]",
        "{}",
        "{\"a\":1}",
    ] {
        va(unhashable).await.assert_v2(403, GC_GENERAL);
    }
    va("null").await.assert_v2(403, M7);
    va(&format!("\"urn:uuid:{S}\"")).await.assert_v2(403, M6);
    va(&format!("\"{{{S}}}\"")).await.assert_ok(S, K1, "normal");
}

#[tokio::test]
async fn va_checks_the_flag_then_the_expiry_date() {
    let va = |secret: &str| {
        let header = bearer(&token(S, NOW, secret));
        async move { public_with(va_store(), Dialect::Va, Method::GET, &[header.as_bytes()]).await }
    };
    va(K1_SECRET).await.assert_ok(S, K1, "normal");
    va(K2_SECRET)
        .await
        .assert_v2(403, "Invalid token: API key expired");
    va(K3_SECRET)
        .await
        .assert_v2(403, "Invalid token: API key revoked");
    // No expiry date: VA Notify compares None with a datetime and crashes.
    va(K4_SECRET).await.assert_v2(403, GC_GENERAL);
    va(WRONG_SECRET).await.assert_v2(403, GC_NOT_FOUND);
    // Any token error but the clock's tries the next key; a `kid` is not looked at.
    let va_header = |header: &str, claims: &str| bearer(&jwt(header, claims, K1_SECRET));
    let exp = format!(r#"{{"iss":"{S}","iat":{NOW},"exp":{}}}"#, NOW - 60);
    let kid = claims(&S.to_string(), NOW);
    for (header, expected) in [
        (va_header(HEADER, &exp), Err(GC_NOT_FOUND)),
        (va_header(r#"{"alg":"HS512"}"#, &kid), Err(GC_NOT_FOUND)),
        (va_header(r#"{"alg":"HS256","kid":[1]}"#, &kid), Ok(())),
    ] {
        let answer = public_with(va_store(), Dialect::Va, Method::GET, &[header.as_bytes()]).await;
        match expected {
            Ok(()) => answer.assert_ok(S, K1, "normal"),
            Err(message) => answer.assert_v2(403, message),
        }
    }
    let answer = public_with(va_store(), Dialect::Va, Method::GET, &[b"Basic x"]).await;
    answer.assert_v2(
        401,
        "Unauthorized, authentication bearer scheme must be used",
    );
    let answer = public_with(va_store(), Dialect::Va, Method::GET, &[b"ApiKey-v1 x"]).await;
    answer.assert_v2(
        401,
        "Unauthorized, authentication bearer scheme must be used",
    );
}

#[tokio::test]
async fn va_internal_answers_have_their_own_shape() {
    let service = ServiceBuilder::new()
        .layer(
            InternalAuthLayer::new(admin())
                .dialect(Dialect::Va)
                .clock(|| NOW),
        )
        .service(answering("ok"));
    let header = bearer(&token("someone", NOW, "s1"));
    let request = request("/service", &[header.as_bytes()]);
    let answer = into_answer(service.oneshot(request).await.unwrap()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (
            401,
            "{\"message\":\"Unauthorized, admin authentication token required\",\"result\":\"error\"}\n"
        )
    );
}

#[tokio::test]
async fn notify_gov_answers_a_type_error() {
    let null_iat = bearer(&jwt(
        HEADER,
        &format!(r#"{{"iss":"{S}","iat":null}}"#),
        K1_SECRET,
    ));
    public_in(Dialect::Gov, &null_iat)
        .await
        .assert_v2(403, "Invalid token: type error");
    public_in(Dialect::Uk, &null_iat)
        .await
        .assert_v2(403, GENERAL);
    // Otherwise GOV.UK Notify's answers, word for word.
    public_in(Dialect::Gov, &bearer(&token(S, NOW, WRONG_SECRET)))
        .await
        .assert_v2(403, M13);
    public_in(Dialect::Gov, &bearer(&token(OLD, NOW, KOLD_SECRET)))
        .await
        .assert_v2(403, "Invalid token: service has no API keys");
}

#[tokio::test]
async fn only_gc_notify_reads_raw_keys() {
    let raw = gc_key(S, K1_SECRET);
    for dialect in [Dialect::Uk, Dialect::Gov] {
        public_in(dialect, &raw).await.assert_v2(401, M2);
    }
}

/// A store that keeps its services behind its future only, and cannot find keys by secret.
struct JwtOnly(MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for JwtOnly {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.0.service(id).await
    }
}

/// A store that answers raw keys through its future only.
struct AsyncSecrets(MemoryStore);

#[notify_auth::async_trait]
impl KeyStore for AsyncSecrets {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.0.service(id).await
    }

    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        self.0.key_by_secret(secret).await
    }
}

#[tokio::test]
async fn a_store_that_cannot_search_by_secret_answers_403() {
    let raw = gc_key(S, K1_SECRET);
    let answer = public_with(
        JwtOnly(store()),
        Dialect::Gc,
        Method::GET,
        &[raw.as_bytes()],
    )
    .await;
    answer.assert_v2(
        403,
        "Invalid token: this server cannot look up API keys by their secret; send a JWT with \
         the Bearer scheme",
    );
    // Its tokens still work, and a store that awaits its answers finds raw keys.
    let jwt = bearer(&valid());
    public_with(
        JwtOnly(store()),
        Dialect::Gc,
        Method::GET,
        &[jwt.as_bytes()],
    )
    .await
    .assert_ok(S, K1, "normal");
    public_with(
        AsyncSecrets(store()),
        Dialect::Gc,
        Method::GET,
        &[raw.as_bytes()],
    )
    .await
    .assert_ok(S, K1, "normal");
    let wrong = gc_key(S, WRONG_SECRET);
    public_with(
        AsyncSecrets(store()),
        Dialect::Gc,
        Method::GET,
        &[wrong.as_bytes()],
    )
    .await
    .assert_v2(403, "Invalid token: API key not found");
}

/// Counts the store's lookups: by id and by secret.
struct Counting {
    inner: MemoryStore,
    by_id: AtomicUsize,
    by_secret: AtomicUsize,
}

#[notify_auth::async_trait]
impl KeyStore for Counting {
    async fn service(&self, id: Uuid) -> Result<Option<Arc<ServiceRecord>>, KeyStoreError> {
        self.by_id.fetch_add(1, Ordering::Relaxed);
        self.inner.service(id).await
    }

    fn service_now(&self, id: Uuid) -> Option<Result<Option<Arc<ServiceRecord>>, KeyStoreError>> {
        self.by_id.fetch_add(1, Ordering::Relaxed);
        self.inner.service_now(id)
    }

    async fn key_by_secret(&self, secret: &str) -> Result<KeyBySecret, KeyStoreError> {
        self.by_secret.fetch_add(1, Ordering::Relaxed);
        self.inner.key_by_secret(secret).await
    }

    fn key_by_secret_now(&self, secret: &str) -> Option<Result<KeyBySecret, KeyStoreError>> {
        self.by_secret.fetch_add(1, Ordering::Relaxed);
        self.inner.key_by_secret_now(secret)
    }
}

#[tokio::test]
async fn a_raw_key_costs_one_lookup_more_than_a_token() {
    let counts = |header: String| async move {
        let store = Arc::new(Counting {
            inner: store(),
            by_id: AtomicUsize::new(0),
            by_secret: AtomicUsize::new(0),
        });
        let shared: Arc<dyn KeyStore> = store.clone();
        let service = ServiceBuilder::new()
            .layer(
                NotifyAuthLayer::from_shared(shared)
                    .dialect(Dialect::Gc)
                    .clock(|| NOW),
            )
            .service(whoami());
        let request = request("/v2/notifications", &[header.as_bytes()]);
        let answer = into_answer(service.oneshot(request).await.unwrap()).await;
        answer.assert_ok(S, K1, "normal");
        (
            store.by_id.load(Ordering::Relaxed),
            store.by_secret.load(Ordering::Relaxed),
        )
    };
    assert_eq!(counts(bearer(&valid())).await, (1, 0));
    assert_eq!(counts(gc_key(S, K1_SECRET)).await, (1, 1));
}

#[tokio::test]
async fn raw_keys_carry_no_request_binding() {
    let bound = |mode| {
        ServiceBuilder::new()
            .layer(
                NotifyAuthLayer::new(store())
                    .dialect(Dialect::Gc)
                    .clock(|| NOW)
                    .request_binding(mode),
            )
            .service(service_fn(
                |req: Request<http_body_util::Either<Full<Bytes>, Full<Bytes>>>| async move {
                    let principal = req.extensions().get::<Principal>();
                    let body = serde_json::to_string(&principal).unwrap();
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                },
            ))
    };
    let raw = gc_key(S, K1_SECRET);
    let answer = bound(RequestBinding::VerifyIfPresent)
        .oneshot(request("/v2/x", &[raw.as_bytes()]))
        .await
        .unwrap();
    into_answer(answer).await.assert_ok(S, K1, "normal");
    let answer = bound(RequestBinding::Required)
        .oneshot(request("/v2/x", &[raw.as_bytes()]))
        .await
        .unwrap();
    into_answer(answer)
        .await
        .assert_v2(403, "Invalid token: request");
}

#[test]
fn key_files_take_names_and_the_revoked_flag() {
    let id = |n: u128| Uuid::from_u128(n);
    let file = |extra: &str| {
        format!(
            r#"{{"services":[{{"id":"{}","active":true,"api_keys":[
                {{"id":"{}","secret":"s-1","key_type":"normal","name":"live","revoked":true{extra}}}
            ]}}]}}"#,
            id(1),
            id(2)
        )
    };
    let store = MemoryStore::from_json_str(&file(""), "keys.json").unwrap();
    let key = &store.get(id(1)).unwrap().api_keys()[0];
    assert_eq!((key.name(), key.is_revoked()), (Some("live"), true));
    let err = MemoryStore::from_json_str(&file(r#","revoked_at":null"#), "keys.json").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `revoked_at`"),
        "{err}"
    );
    // Two services' keys with one secret: a raw key could not tell them apart.
    let shared = format!(
        r#"{{"services":[
            {{"id":"{}","active":true,"api_keys":[{{"id":"{}","secret":"same","key_type":"normal"}}]}},
            {{"id":"{}","active":true,"api_keys":[{{"id":"{}","secret":"same","key_type":"test"}}]}}
        ]}}"#,
        id(1),
        id(2),
        id(3),
        id(4)
    );
    let err = MemoryStore::from_json_str(&shared, "keys.json").unwrap_err();
    assert!(
        err.to_string().contains("have keys with the same secret"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("same\""),
        "never the secret: {err}"
    );
}

/// docs/compatibility.md lists every message of every dialect.
#[test]
fn the_compatibility_page_has_every_message_of_every_dialect() {
    use notify_auth::{ErrorKind, InvalidReason};

    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/compatibility.md"
    ))
    .unwrap();
    let kinds = [
        ErrorKind::MissingToken,
        ErrorKind::NotBearer,
        ErrorKind::InvalidToken(InvalidReason::Segments),
        ErrorKind::InvalidToken(InvalidReason::UnusableTime),
        ErrorKind::InvalidToken(InvalidReason::KeyId),
        ErrorKind::MissingIssuer,
        ErrorKind::IssuerNotUuid,
        ErrorKind::NotAllowed,
        ErrorKind::ServiceNotFound,
        ErrorKind::NoApiKeys,
        ErrorKind::ServiceArchived,
        ErrorKind::Algorithm,
        ErrorKind::Clock,
        ErrorKind::Revoked,
        ErrorKind::KeyNotFound,
        ErrorKind::KeyExpired,
        ErrorKind::IncompleteApiKey,
        ErrorKind::UnknownApiKey,
        ErrorKind::ApiKeysUnsupported,
        ErrorKind::InternalClock,
        ErrorKind::InternalScheme,
    ];
    for dialect in Dialect::ALL {
        for kind in kinds {
            let message = kind.message_in(dialect);
            assert!(
                page.contains(&format!("`{message}`")),
                "{kind:?} in {dialect}: {message}"
            );
        }
    }
}

/// Past the 8 KiB header limit only a raw key is read, its ends only; blanks are read up to
/// 256 at each end. Everything else there is refused before any other work.
#[tokio::test]
async fn a_mib_long_raw_key_is_answered_from_its_ends() {
    const MIB: usize = 1024 * 1024;
    let gc = |header: String| async move { public_in(Dialect::Gc, &header).await };
    let long = format!("ApiKey-v1 gcntfy-{}-{S}-{K1_SECRET}", "n".repeat(MIB));
    gc(long.clone()).await.assert_ok(S, K1, "normal");
    gc(format!("{}{long}  ", " ".repeat(200)))
        .await
        .assert_ok(S, K1, "normal");
    gc(format!("{}{long}", " ".repeat(300)))
        .await
        .assert_v2(403, GC_GENERAL);
    gc(format!(
        "ApiKey-v1 {}gcntfy-k-{S}-{K1_SECRET}",
        " ".repeat(MIB)
    ))
    .await
    .assert_v2(403, GC_GENERAL);
    gc(format!("Bearer {}", "a".repeat(MIB)))
        .await
        .assert_v2(403, GC_GENERAL);
    public_in(Dialect::Uk, &long).await.assert_v2(403, GENERAL);
}
