//! The JSON key file: what loads, and the errors for what does not.

use std::path::Path;

use notify_auth::{KeyType, MemoryStore};
use uuid::uuid;

const GOOD: &str = r#"{
  "services": [
    {"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [
      {"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "s-normal", "key_type": "normal", "expiry_date": null},
      {"id": "5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c", "secret": "s-team", "key_type": "team"},
      {"id": "9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a", "secret": "s-test", "key_type": "test", "expiry_date": "2026-11-22T10:00:00+01:00"}
    ]},
    {"id": "0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c", "active": false, "api_keys": []}
  ],
  "internal_clients": {"notify-admin": ["a", "b"]}
}"#;

fn load(json: &str) -> Result<MemoryStore, String> {
    MemoryStore::from_json_str(json, "keys.json").map_err(|e| e.to_string())
}

#[test]
fn a_good_file_loads() {
    let store = load(GOOD).unwrap();
    assert_eq!(store.len(), 2);
    let service = store
        .get(uuid!("26785a09-ab16-4eb0-8407-a37497a57506"))
        .unwrap();
    assert!(service.is_active());
    let types: Vec<KeyType> = service.api_keys().iter().map(|k| k.key_type()).collect();
    assert_eq!(types, [KeyType::Normal, KeyType::Team, KeyType::Test]);
    let revoked = &service.api_keys()[2];
    assert_eq!(
        revoked.expiry_date().unwrap().unix_timestamp(),
        time::macros::datetime!(2026-11-22 09:00 UTC).unix_timestamp()
    );
    let archived = store
        .get(uuid!("0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"))
        .unwrap();
    assert!(!archived.is_active());
    let admin = store.internal_client("notify-admin").unwrap();
    let secrets: Vec<&str> = admin.secrets().iter().map(|s| s.expose()).collect();
    assert_eq!(secrets, ["a", "b"]);
    assert!(!format!("{store:?}").contains("s-normal"));
}

#[test]
fn internal_clients_may_be_absent() {
    let store = load(r#"{"services": []}"#).unwrap();
    assert!(store.is_empty());
    assert!(store.internal_client("notify-admin").is_none());
}

#[test]
fn the_shipped_demo_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/keys.json");
    let store = MemoryStore::from_json_file(path).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(
        store
            .internal_client("notify-admin")
            .unwrap()
            .secrets()
            .len(),
        2
    );
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "{\"services\": [\n  {\"id\": 1}\n]}",
            "keys.json: line 2, column 10: invalid type: integer `1`, expected a formatted UUID string",
        ),
        (
            "{\"services\": [",
            "keys.json: line 1, column 14: EOF while parsing a list",
        ),
        (
            r#"{"services": [], "extra": 1}"#,
            "keys.json: line 1, column 24: unknown field `extra`, expected `services` or `internal_clients`",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true}]}"#,
            "keys.json: line 1, column 76: missing field `api_keys`",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "x", "key_type": "live"}]}]}"#,
            "keys.json: line 1, column 170: unknown variant `live`, expected one of `normal`, `team`, `test`",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "x", "key_type": "test", "expiry_date": "yesterday"}]}]}"#,
            "keys.json: line 1, column 199: expiry_date \"yesterday\" is not an RFC 3339 timestamp such as \"2026-11-22T10:00:00Z\" (the 'year' component could not be parsed)",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "", "key_type": "test"}]}]}"#,
            "keys.json: services[0].api_keys[0]: the secret is empty",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": []}, {"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": false, "api_keys": []}]}"#,
            "keys.json: service id 26785a09-ab16-4eb0-8407-a37497a57506 appears twice",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "a", "key_type": "test"}, {"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "b", "key_type": "test"}]}]}"#,
            "keys.json: API key id 1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10 appears twice",
        ),
        (
            r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": "shared-secret", "key_type": "normal"}, {"id": "5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c", "secret": "shared-secret", "key_type": "test", "expiry_date": "2026-11-22T10:00:00Z"}]}]}"#,
            "keys.json: service 26785a09-ab16-4eb0-8407-a37497a57506: API keys 1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10 and 5a2d7c1e-0f4b-4e8a-9b6c-3d2e1f0a9b8c have the same secret (a token signed with it would be answered as either key)",
        ),
        (
            r#"{"services": [], "internal_clients": {"notify-admin": ["ok", ""]}}"#,
            "keys.json: internal_clients.notify-admin: a secret is empty",
        ),
        (
            r#"{"services": [], "internal_clients": {"": ["ok"]}}"#,
            "keys.json: an internal client id is empty",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(json, expected)| {
            let actual = load(json).unwrap_err();
            (actual != *expected)
                .then(|| format!("{json}\n  expected {expected}\n  actual   {actual}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn json_errors_have_a_position_and_secrets_are_not_quoted() {
    let json = r#"{"services": [{"id": "26785a09-ab16-4eb0-8407-a37497a57506", "active": true, "api_keys": [{"id": "1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10", "secret": 12345678, "key_type": "test"}]}]}"#;
    let err = MemoryStore::from_json_str(json, "keys.json").unwrap_err();
    assert_eq!(err.position(), Some((1, 155)));
    assert_eq!(err.origin(), Path::new("keys.json"));
    assert!(!err.to_string().contains("12345678"), "{err}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = MemoryStore::from_json_file("/nonexistent/keys.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/keys.json: cannot read the file: No such file or directory (os error 2)"
    );
    assert_eq!(err.position(), None);
}
