//! The sans-IO core used directly: no layer, no runtime.

mod common;

use common::*;
use notify_auth::ErrorKind;
use notify_auth::core::{Authorization, InternalToken, PublicToken, authenticate};

fn decide(header: &str, now: i64) -> Result<notify_auth::Principal, notify_auth::AuthError> {
    let store = store();
    authenticate([header.as_bytes()], now, |id| store.get(id).map(|s| &**s))
}

#[test]
fn the_key_that_matched_last_is_remembered_and_changes_nothing_but_the_work() {
    let store = store();
    let service = store.get(S).unwrap();
    let lookup = |id| store.get(id).map(|s| &**s);
    let k2 = bearer(&token(S, NOW, K2_SECRET));
    let k1 = bearer(&valid());
    for _ in 0..2 {
        let p = authenticate([k2.as_bytes()], NOW, lookup).unwrap();
        assert_eq!((p.api_key_id, p.key_type.as_str()), (K2, "test"));
        let p = authenticate([k1.as_bytes()], NOW, lookup).unwrap();
        assert_eq!(p.api_key_id, K1);
    }
    // A revoked key's match is remembered too, and still answered "revoked".
    let k3 = bearer(&token(S, NOW, K3_SECRET));
    for _ in 0..2 {
        let err = authenticate([k3.as_bytes()], NOW, lookup).unwrap_err();
        assert_eq!(
            (err.kind(), err.api_key_id()),
            (ErrorKind::Revoked, Some(K3))
        );
    }
    assert_eq!(service.api_keys().len(), 4);
}

#[test]
fn a_kid_naming_a_key_only_changes_the_order() {
    let s = S.to_string();
    let with_kid = |kid: &str, secret: &str| {
        bearer(&jwt(
            &format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#),
            &claims(&s, NOW),
            secret,
        ))
    };
    // kid names K2 but K1 signed: still K1.
    assert_eq!(
        decide(&with_kid(&K2.to_string(), K1_SECRET), NOW)
            .unwrap()
            .api_key_id,
        K1
    );
    assert_eq!(
        decide(&with_kid(&K2.to_string(), K2_SECRET), NOW)
            .unwrap()
            .api_key_id,
        K2
    );
    // kid names a key revoked a month ago (invisible): not tried.
    let err = decide(&with_kid(&K4.to_string(), K4_SECRET), NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound);
    assert_eq!(
        decide(&with_kid("not-a-uuid", K1_SECRET), NOW)
            .unwrap()
            .api_key_id,
        K1
    );
}

#[test]
fn errors_carry_the_ids_known_when_decided() {
    let err = decide(&bearer(&token(S, NOW, WRONG_SECRET)), NOW).unwrap_err();
    assert_eq!((err.service_id(), err.api_key_id()), (Some(S), None));
    let err = decide(&bearer(&token(S, NOW - 60, K2_SECRET)), NOW).unwrap_err();
    assert_eq!(
        (err.kind(), err.service_id(), err.api_key_id()),
        (ErrorKind::Clock, Some(S), Some(K2))
    );
    let err = decide("Basic x", NOW).unwrap_err();
    assert_eq!((err.service_id(), err.api_key_id()), (None, None));
    assert_eq!(
        err.to_string(),
        "Unauthorized: authentication bearer scheme must be used"
    );
}

#[test]
fn parse_then_authorize_in_two_steps() {
    let header = bearer(&valid());
    let authorization = Authorization::from_values([header.as_bytes()]);
    let public = PublicToken::parse(&authorization).unwrap();
    assert_eq!(public.service_id(), S);
    let err = public.authorize(None, NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceNotFound);
    let store = store();
    assert_eq!(
        public
            .authorize(store.get(S).map(|s| &**s), NOW)
            .unwrap()
            .api_key_id,
        K1
    );

    let header = bearer(&token("notify-admin", NOW, "s2"));
    let authorization = Authorization::from_values([header.as_bytes()]);
    let internal = InternalToken::parse(&authorization, "notify-admin").unwrap();
    assert!(internal.authorize(admin().secrets(), NOW).is_ok());
    assert_eq!(
        internal.authorize(&[], NOW).unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    let err = InternalToken::parse(&authorization, "other-client").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAllowed);
}
