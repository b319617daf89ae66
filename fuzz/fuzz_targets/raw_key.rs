//! GC Notify's header reading and raw keys (`Authorization: ApiKey-v1 gcntfy-…`) on arbitrary
//! bytes.
//!
//! Input: `Authorization` values separated by `\n`, as for `header`. The crate reads them with
//! `Credential::parse(.., Dialect::Gc)`; a raw key is then found in the fixture store
//! (`MemoryStore::key_by_secret_now`, then the service) and decided. Checked: no panic, and
//! the answer equals an independent model written from GC Notify's code
//! (`app/authentication/auth.py` `get_auth_token`, `app/dao/api_key_dao.py`
//! `get_api_key_by_secret`): the header's schemes as case-insensitive prefixes, in order;
//! what follows the scheme and one more character, stripped of Python's white space; then,
//! for `ApiKey-v1`, the `gcntfy-` prefix, the key whose secret is the last 36 characters
//! (Latin-1), at least 79 characters with the key's service id at `[-73:-37]`, and the key
//! not revoked. The other dialects' reading of the same bytes must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use notify_auth::core::{Authorization, Credential};
use notify_auth::{Dialect, KeyBySecret, KeyStore, MemoryStore, Principal};
use notify_auth_fuzz::{header_values, store};

/// The model's answer: the principal's key id, or the message.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Key(uuid::Uuid),
    Message(&'static str),
    /// A JWT scheme: the rest is the token path's business.
    Token(Vec<u8>),
}

/// The crate's documented bound on what it reads: GC's general message.
const TOO_LONG: Answer = Answer::Message("Invalid token: signature, api token is not valid");

/// The runs of blanks the crate reads at each end of a value over its limit.
const BLANKS_READ: usize = 256;

/// The number of bytes `blank` at the start and at the end of `v`.
fn runs(v: &[u8], blank: impl Fn(&u8) -> bool) -> (usize, usize) {
    let start = v.iter().take_while(|b| blank(b)).count();
    let end = v[start..].iter().rev().take_while(|b| blank(b)).count();
    (start, end)
}

fn model(values: &[&[u8]], store: &MemoryStore) -> Answer {
    // The crate's documented bound: a header over the limit in all is refused, but for one
    // value that is a raw key, read with at most 256 blanks at each end.
    let received: usize = values.iter().map(|v| v.len()).sum();
    let too_long = received > notify_auth::core::MAX_HEADER_LEN;
    if too_long && values.len() > 1 {
        return TOO_LONG;
    }
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    if too_long {
        let (start, end) = runs(values[0], blank);
        if start >= BLANKS_READ || end >= BLANKS_READ || start == values[0].len() {
            return TOO_LONG;
        }
    }
    // gunicorn: each value trimmed of spaces and tabs, several joined with ','.
    let trim = |v: &[u8]| -> Vec<u8> {
        let (start, end) = runs(v, blank);
        v[start..v.len() - end].to_vec()
    };
    let header = values
        .iter()
        .map(|v| trim(v))
        .collect::<Vec<_>>()
        .join(&b","[..]);
    if header.is_empty() {
        return Answer::Message("Unauthorized, authentication token must be provided");
    }
    let schemes = [
        b"bearer".as_slice(),
        b"apikey-v1",
        b"cacheclear-v1",
        b"cypress-v1",
    ];
    let Some(scheme) = schemes
        .iter()
        .find(|s| header.len() >= s.len() && header[..s.len()].eq_ignore_ascii_case(s))
    else {
        return match too_long {
            true => TOO_LONG,
            false => Answer::Message(notify_auth::error::GC_SCHEMES_MESSAGE),
        };
    };
    if too_long && *scheme != b"apikey-v1" {
        return TOO_LONG;
    }
    let rest = header.get(scheme.len() + 1..).unwrap_or_default();
    let space = |b: &u8| matches!(b, 9..=13 | 0x1c..=0x20 | 0x85 | 0xa0);
    let (start, end) = runs(rest, space);
    if too_long && (start >= BLANKS_READ || end >= BLANKS_READ || start == rest.len()) {
        return TOO_LONG;
    }
    let key = &rest[start..rest.len() - end];
    if *scheme != b"apikey-v1" {
        return Answer::Token(key.to_vec());
    }
    if !key.starts_with(b"gcntfy-") {
        return Answer::Message("Invalid token: Enter your full API key");
    }
    let secret: String = key[key.len().saturating_sub(36)..]
        .iter()
        .map(|&b| char::from(b))
        .collect();
    // The key with that secret, found by scanning every key (not the store's index).
    let found = store_services(store).into_iter().find_map(|service| {
        let key = service
            .api_keys()
            .iter()
            .find(|k| k.secret().expose() == secret)?
            .clone();
        Some((service.id(), key))
    });
    let Some((service_id, found)) = found else {
        return Answer::Message("Invalid token: API key not found");
    };
    if key.len() < 79 || key[key.len() - 73..key.len() - 37] != *service_id.to_string().as_bytes() {
        return Answer::Message("Invalid token: Enter your full API key");
    }
    if found.expiry_date().is_some() {
        return Answer::Message("Invalid token: API key revoked");
    }
    Answer::Key(found.id())
}

fn store_services(store: &MemoryStore) -> Vec<std::sync::Arc<notify_auth::ServiceRecord>> {
    use notify_auth_fuzz::{A, AE, E, OLD, S};
    [S, A, E, AE, OLD]
        .into_iter()
        .filter_map(|id| store.get(id).cloned())
        .collect()
}

fn crate_answer(values: &[&[u8]], store: &MemoryStore) -> Answer {
    let authorization = Authorization::from_values(values.iter().copied());
    let key = match Credential::parse(&authorization, Dialect::Gc) {
        Err(e) => return Answer::Message(e.message()),
        Ok(Credential::Token(_)) => {
            // Which token: the model's is what follows the scheme; the crate parsed it.
            return Answer::Token(Vec::new());
        }
        Ok(Credential::ApiKey(key)) => key,
    };
    let secret = match key.secret() {
        Ok(secret) => secret,
        Err(e) => return Answer::Message(e.message()),
    };
    let found = match store.key_by_secret_now(&secret) {
        Some(Ok(KeyBySecret::Found { service_id, key_id })) => {
            store.get(service_id).cloned().map(|s| (s, key_id))
        }
        Some(Ok(KeyBySecret::Absent)) => None,
        other => panic!("the in-memory store answers at once: {other:?}"),
    };
    match key.authorize(found.as_ref().map(|(s, id)| (&**s, *id))) {
        Ok(Principal { api_key_id, .. }) => Answer::Key(api_key_id),
        Err(e) => Answer::Message(e.message()),
    }
}

fuzz_target!(|data: &[u8]| {
    let values = header_values(data);
    let store = store();
    let want = model(&values, &store);
    let got = crate_answer(&values, &store);
    match (&want, &got) {
        // A token's own checks are the other targets' business.
        (Answer::Token(_), Answer::Token(_)) => {}
        (Answer::Token(token), Answer::Message(message)) => assert!(
            *message == "Invalid token: signature, api token is not valid"
                || *message == "Invalid token: iss field not provided"
                || *message == "Invalid token: service id is not the right data type"
                || *message == "Invalid token: service not found"
                || *message == "Invalid token: Key ID header parameter must be a string",
            "token {token:?} answered {message:?}"
        ),
        _ => assert_eq!(got, want, "header values {values:?}"),
    }
    // Every dialect reads every header without a panic.
    let authorization = Authorization::from_values(values.iter().copied());
    for dialect in Dialect::ALL {
        let _ = Credential::parse(&authorization, dialect);
    }
});
