//! The header-to-token step (contract §2 steps 1 and 2) on arbitrary bytes.
//!
//! Input: one or several `Authorization` values separated by `\n` (an empty input is "no
//! header"). Checked: no panic; every error is one of the contract's (status, message) pairs,
//! and only M1, M2 or (for an over-long token) GENERAL; and the crate's answer equals an
//! independent model of the spec (trim each value of spaces and tabs, join with `,`, empty →
//! M1, first 7 bytes not `bearer ` in any case → M2, else the rest, untrimmed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use notify_auth::core::Authorization;
use notify_auth_fuzz::{
    GENERAL, MISSING_TOKEN, NOT_BEARER, contract_pair, header_values, reference_bearer,
};

fuzz_target!(|data: &[u8]| {
    let values = header_values(data);
    let authorization = Authorization::from_values(values.iter().copied());
    let got = authorization
        .bearer_token()
        .map(<[u8]>::to_vec)
        .map_err(|err| contract_pair(&err));
    if let Err(pair) = got {
        assert!(
            [(401, MISSING_TOKEN), (401, NOT_BEARER), (403, GENERAL)].contains(&pair),
            "the header step answered {pair:?}"
        );
    }
    let want = reference_bearer(&values);
    assert_eq!(got, want, "header values {values:?}");
});
