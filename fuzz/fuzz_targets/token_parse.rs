//! The unverified token parse (contract §2 steps 3 to 5, and §7's `iss` rule) on arbitrary
//! bytes, as `Authorization: Bearer <bytes>`.
//!
//! Checked, beyond "no panic":
//! - `PublicToken::parse` answers only 401 M2 (the input trims to nothing), 403 GENERAL,
//!   403 M3 (no `iss`) or 403 M6 (`iss` not a UUID string);
//! - `InternalToken::parse(.., "notify-admin")` answers only 401 M2, 403 GENERAL, 403 M3 or
//!   401 M5 (`iss` is not the client id);
//! - both run the same steps 1 to 4, so they agree on them: an M2/GENERAL/M3 from one is the
//!   same answer from the other; a public success means an internal M5 (a UUID is never
//!   `notify-admin`), and an internal success means a public M6;
//! - the scheme's case does not matter: `bearer `, `BEARER ` and `Bearer ` give the same answer;
//! - for a token the internal parse accepted, the internal key loop (secrets `s1`, `s2`, at a
//!   fixed now) answers only 403 GENERAL, CLOCK, M11 or M13, and succeeds only if an HMAC
//!   computed here (hmac + sha2, not the crate) says one of the two secrets signed it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use notify_auth::core::{Authorization, InternalToken, PublicToken};
use notify_auth::{AuthError, Secret};
use notify_auth_fuzz::*;

/// The answer of a parse, reduced to what the contract fixes.
fn answer<T>(result: &Result<T, AuthError>) -> Result<(), (u16, &'static str)> {
    match result {
        Ok(_) => Ok(()),
        Err(err) => Err(contract_pair(err)),
    }
}

fuzz_target!(|data: &[u8]| {
    let value = [b"Bearer ".as_slice(), data].concat();
    let authorization = Authorization::from_values([value.as_slice()]);

    let public = PublicToken::parse(&authorization);
    let public_answer = answer(&public);
    if let Err(pair) = public_answer {
        assert!(
            [
                (401, NOT_BEARER),
                (403, GENERAL),
                (403, NO_ISS),
                (403, ISS_NOT_UUID)
            ]
            .contains(&pair),
            "public parse answered {pair:?}"
        );
    }

    let internal = InternalToken::parse(&authorization, ADMIN);
    let internal_answer = answer(&internal);
    if let Err(pair) = internal_answer {
        assert!(
            [
                (401, NOT_BEARER),
                (403, GENERAL),
                (403, NO_ISS),
                (401, NOT_ALLOWED)
            ]
            .contains(&pair),
            "internal parse answered {pair:?}"
        );
    }

    // Steps 1 to 4 are the same on both routes.
    match (public_answer, internal_answer) {
        (Ok(()), other) => assert_eq!(other, Err((401, NOT_ALLOWED)), "public accepted"),
        (other, Ok(())) => assert_eq!(other, Err((403, ISS_NOT_UUID)), "internal accepted"),
        (Err((403, ISS_NOT_UUID)), other) => {
            assert_eq!(other, Err((401, NOT_ALLOWED)), "public said M6")
        }
        (mine, other) => assert_eq!(mine, other, "steps 1 to 4 differ between routes"),
    }

    // The scheme is compared case-insensitively.
    for scheme in [b"bearer ".as_slice(), b"BEARER "] {
        let value = [scheme, data].concat();
        let authorization = Authorization::from_values([value.as_slice()]);
        let again = PublicToken::parse(&authorization);
        assert_eq!(answer(&again), public_answer, "scheme {scheme:?}");
        if let (Ok(a), Ok(b)) = (&public, &again) {
            assert_eq!(a.service_id(), b.service_id());
        }
    }

    // The internal key loop, for the tokens the internal parse let through.
    if let Ok(token) = internal {
        let secrets = ADMIN_SECRETS.map(Secret::new);
        let token_bytes = reference_bearer(&[value.as_slice()]).expect("the parse passed step 2");
        let token_bytes = token_bytes.as_slice();
        match token.authorize(&secrets, NOW) {
            Ok(()) => assert!(
                ADMIN_SECRETS.iter().any(|s| signed_with(token_bytes, s)),
                "internal success without a valid signature"
            ),
            Err(err) => {
                let pair = contract_pair(&err);
                assert!(
                    [
                        (403, GENERAL),
                        (403, CLOCK),
                        (403, ALGORITHM),
                        (403, KEY_NOT_FOUND)
                    ]
                    .contains(&pair),
                    "internal key loop answered {pair:?}"
                );
                if pair == (403, CLOCK) {
                    // CLOCK comes only after a secret's signature matched.
                    assert!(ADMIN_SECRETS.iter().any(|s| signed_with(token_bytes, s)));
                }
            }
        }
    }
});
