//! The decision allocates nothing on the success path: counted with an instrumented global
//! allocator, in this test binary only.
//!
//! (A JSON string with escapes, such as `"a\nb"`, costs one allocation: serde_json's scratch
//! buffer. The official clients never write one.)

mod common;

use std::alloc::System;

use common::*;
use notify_auth::core::authenticate;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations made by `f` on this thread's watch (tests here run one at a time).
fn allocations(f: impl Fn()) -> usize {
    f(); // warm up: one-time initialisation is not the request path
    let region = Region::new(GLOBAL);
    f();
    region.change().allocations
}

#[test]
fn deciding_allocates_nothing() {
    let store = store();
    let lookup = |id| store.get(id).map(|s| &**s);
    let official = bearer(&valid());
    let hand_rolled = bearer(&jwt(
        r#"{"typ": "JWT", "alg": "HS256", "kid": "k"}"#,
        &format!(
            r#"{{"iat": {NOW}, "iss": "{}", "jti": "x", "aud": []}}"#,
            S.simple()
        ),
        K2_SECRET,
    ));
    let rejected = bearer(&token(S, NOW - 60, K1_SECRET));
    let cases: [(&str, &str); 3] = [
        ("official client token", &official),
        ("hand-rolled token (full JSON parser)", &hand_rolled),
        ("rejected token", &rejected),
    ];
    for (name, header) in cases {
        let count = allocations(|| {
            let _ = std::hint::black_box(authenticate([header.as_bytes()], NOW, lookup));
        });
        assert_eq!(count, 0, "{name}");
    }
    assert!(authenticate([official.as_bytes()], NOW, lookup).is_ok());
    assert!(authenticate([hand_rolled.as_bytes()], NOW, lookup).is_ok());
}
