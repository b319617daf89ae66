#![cfg(feature = "postgres")]
//! The secret column's formats (`notify_auth::store::SecretFormat`) against the Python libraries
//! the Notify forks use.
//!
//! Runs `conformance/secret_formats.py` (itsdangerous 2.2.0 and cryptography's Fernet make the
//! vectors) with the Python named by `NOTIFY_AUTH_ORACLE_PYTHON`, decodes every vector, and then
//! has that Python read back what `SecretFormat::encode` wrote. That Python needs
//! `itsdangerous==2.2.0` and `cryptography` (`pip install itsdangerous==2.2.0 cryptography`).
//! Without the variable the test says it was skipped and passes.

mod skip;

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use notify_auth::store::{SecretFormat, SecretFormatError};
use serde_json::{Value, json};

/// Reads back what `encode` wrote, with the real libraries: a JSON request on stdin, the loaded
/// values (JSON, ASCII) on stdout.
const READ_BACK: &str = r#"
import json, sys
from cryptography.fernet import Fernet
from itsdangerous import URLSafeSerializer

request = json.loads(sys.stdin.buffer.read())
its = request["itsdangerous"]
serializer = URLSafeSerializer(its["secret_keys"])
fernet = Fernet(request["fernet"]["key"].encode())
print(json.dumps({
    "itsdangerous": [serializer.loads(v, salt=its["salt"]) for v in its["stored"]],
    "fernet": [json.loads(fernet.decrypt(v)) for v in request["fernet"]["stored"]],
}))
"#;

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Runs `python args…` with `input` on stdin and parses its stdout as JSON.
fn run_python(python: &str, args: &[&OsStr], input: &[u8]) -> Value {
    let mut child = Command::new(python)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        // A Python that fails early closes its stdin; the exit status below says why.
        let _ = stdin.write_all(input);
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {python}: {e}"));
    assert!(
        output.status.success(),
        "{python} failed ({}); it needs itsdangerous==2.2.0 and cryptography \
         (pip install itsdangerous==2.2.0 cryptography):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{python} did not print JSON: {e}"))
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("the vectors' {what} is not a string: {value}"))
}

fn texts<'a>(value: &'a Value, what: &str) -> Vec<&'a str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("the vectors' {what} is not a list: {value}"))
        .iter()
        .map(|item| text(item, what))
        .collect()
}

/// Whether `error` is this crate's counterpart of the vectors' error kind.
fn is_kind(error: &SecretFormatError, kind: &str) -> bool {
    match kind {
        // itsdangerous BadSignature.
        "signature" => matches!(error, SecretFormatError::BadSignature),
        // itsdangerous BadPayload; a valid Fernet token whose plaintext is not JSON.
        "payload" | "json" => matches!(error, SecretFormatError::BadPayload(_)),
        // cryptography InvalidToken.
        "token" => matches!(error, SecretFormatError::BadToken),
        other => panic!("unknown error kind {other:?} in the vectors"),
    }
}

/// Decodes every case of a section with `format` and returns one line per disagreement.
/// `refused` names cases this format must refuse with `BadSignature` whatever the vectors say
/// (a value signed with a key the format does not have).
fn check_cases(
    format: &SecretFormat,
    label: &str,
    section: &Value,
    refused: &[&str],
) -> Vec<String> {
    let cases = section["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: no cases in the vectors"));
    assert!(!cases.is_empty(), "{label}: no cases in the vectors");
    for name in refused {
        assert!(
            cases.iter().any(|case| case["name"] == *name),
            "{label}: no case {name:?} in the vectors"
        );
    }
    let mut failures = Vec::new();
    for case in cases {
        let name = text(&case["name"], "case name");
        let stored = text(&case["stored"], "stored value");
        let lenient = case["lenient"].as_bool().unwrap_or(false);
        let result = format.decode(stored);
        if refused.contains(&name) {
            if result != Err(SecretFormatError::BadSignature) {
                failures.push(format!("{label}/{name}: {result:?}, expected BadSignature"));
            }
            continue;
        }
        match (&case["secret"], &result) {
            // Python reads this secret: exactly it, or (lenient inputs only) an error.
            (Value::String(expected), Ok(secret)) => {
                if secret.expose() != expected {
                    failures.push(format!("{label}/{name}: decoded a different secret"));
                }
            }
            (Value::String(_), Err(_)) if lenient => {}
            (Value::String(_), Err(error)) => {
                failures.push(format!(
                    "{label}/{name}: refused ({error}), Python reads it"
                ));
            }
            // Python raises: an error of the same kind.
            (Value::Null, Err(error)) => {
                let kind = text(&case["error"], "error kind");
                if !is_kind(error, kind) {
                    failures.push(format!("{label}/{name}: {error:?}, Python raises {kind:?}"));
                }
            }
            (Value::Null, Ok(_)) if lenient => {}
            (Value::Null, Ok(_)) => {
                failures.push(format!("{label}/{name}: accepted, Python raises"));
            }
            // Python returns a non-string (a signed JSON number): Notify only stores strings.
            (_, Err(SecretFormatError::NotAString)) => {}
            (other, _) => {
                failures.push(format!(
                    "{label}/{name}: {result:?}, Python returns {other}"
                ));
            }
        }
    }
    failures
}

#[test]
fn secret_formats_match_the_python_libraries() {
    let Some(python) = non_empty_env("NOTIFY_AUTH_ORACLE_PYTHON") else {
        skip::skipped(
            "NOTIFY_AUTH_ORACLE_PYTHON is not set (set it to a Python with \
             itsdangerous==2.2.0 and cryptography to check the secret formats against them)",
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/secret_formats.py");
    let vectors = run_python(&python, &[script.as_os_str()], b"");
    let mut failures = Vec::new();

    // ---- itsdangerous: GC Notify (the key list) and GOV.UK Notify (the newest key alone).
    let its = &vectors["itsdangerous"];
    assert_eq!(
        its["library"], "itsdangerous==2.2.0",
        "the vectors must come from itsdangerous 2.2.0, the version every fork pins"
    );
    let keys = texts(&its["secret_keys"], "secret_keys");
    let salt = text(&its["salt"], "salt");
    let newest = text(&its["signing_key"], "signing_key");
    assert_eq!(keys.last(), Some(&newest), "the last key signs");
    assert!(keys.len() >= 2, "the vectors have no older key");
    let gc = SecretFormat::itsdangerous(&keys, salt).expect("the vectors' settings");
    let uk = SecretFormat::itsdangerous([newest], salt).expect("the vectors' settings");
    failures.extend(check_cases(&gc, "itsdangerous (key list)", its, &[]));
    failures.extend(check_cases(
        &uk,
        "itsdangerous (newest key)",
        its,
        &["signed-by-older-key"],
    ));

    // Plain `dumps` with the newest key: `encode` writes the very same string.
    for case in its["cases"].as_array().into_iter().flatten() {
        let name = text(&case["name"], "case name");
        if [
            "signed-by-newest",
            "second-secret-newest",
            "non-ascii-secret",
        ]
        .contains(&name)
        {
            let secret = text(&case["secret"], "secret");
            let stored = text(&case["stored"], "stored value");
            for (label, format) in [("key list", &gc), ("newest key", &uk)] {
                if format.encode(secret) != stored {
                    failures.push(format!("itsdangerous ({label})/{name}: encode differs"));
                }
            }
        }
    }

    // GC Notify's lookup (`sign_with_all_keys`, salt "api_key"): each key's exact string,
    // newest key first, and the list verifies them all.
    let gc_lookup = &its["gc_sign_with_all_keys"];
    let secret = text(&gc_lookup["secret"], "gc_sign_with_all_keys secret");
    let lookup_salt = text(&gc_lookup["salt"], "gc_sign_with_all_keys salt");
    let signed = texts(&gc_lookup["signed"], "gc_sign_with_all_keys signed");
    assert_eq!(signed.len(), keys.len());
    let gc_api_key = SecretFormat::itsdangerous(&keys, lookup_salt).expect("the vectors' settings");
    for (key, stored) in keys.iter().rev().zip(&signed) {
        let single = SecretFormat::itsdangerous([key], lookup_salt).expect("the vectors' settings");
        if single.encode(secret) != *stored {
            failures.push("gc_sign_with_all_keys: encode differs".to_owned());
        }
        match gc_api_key.decode(stored) {
            Ok(decoded) if decoded.expose() == secret => {}
            other => failures.push(format!("gc_sign_with_all_keys: {other:?}")),
        }
    }

    // ---- Fernet: Notify.gov.
    let fernet_section = &vectors["fernet"];
    assert_eq!(
        fernet_section["pbkdf2"],
        json!({"hash": "sha256", "iterations": 600000, "length": 32}),
        "the vectors' key derivation is not Notify.gov's"
    );
    let gsa = SecretFormat::fernet(
        text(&fernet_section["secret_key"], "secret_key"),
        text(&fernet_section["salt"], "salt"),
    )
    .expect("the vectors' settings");
    failures.extend(check_cases(&gsa, "fernet", fernet_section, &[]));

    // ---- What `encode` writes, read back by the real libraries.
    let long = its["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|case| case["name"] == "compressed-long-secret")
        .map(|case| text(&case["secret"], "secret"))
        .expect("a compressed case in the vectors");
    let samples = [
        secret,
        long,
        "clé-secrète-ключ-秘密-é\u{1f511}\"\\\n",
        "controls \u{0}\u{1f}\t\r\u{8}\u{c} del \u{7f} separators \u{2028}\u{2029} /",
        "x",
    ];
    let its_stored: Vec<String> = samples.iter().map(|s| gc.encode(s)).collect();
    let fernet_stored: Vec<String> = samples.iter().map(|s| gsa.encode(s)).collect();
    if !gc.encode(long).starts_with('.') {
        failures.push("encode did not compress the long secret, as Python does".to_owned());
    }
    for (sample, stored) in samples.iter().zip(&its_stored) {
        match gc.decode(stored) {
            Ok(decoded) if decoded.expose() == *sample => {}
            other => failures.push(format!("itsdangerous round trip: {other:?}")),
        }
    }
    for (sample, stored) in samples.iter().zip(&fernet_stored) {
        match gsa.decode(stored) {
            Ok(decoded) if decoded.expose() == *sample => {}
            other => failures.push(format!("fernet round trip: {other:?}")),
        }
    }
    let request = json!({
        "itsdangerous": {"secret_keys": keys, "salt": salt, "stored": its_stored},
        "fernet": {
            "key": text(&fernet_section["derived_fernet_key"], "derived_fernet_key"),
            "stored": fernet_stored,
        },
    });
    let read_back = run_python(
        &python,
        &["-c".as_ref(), READ_BACK.as_ref()],
        request.to_string().as_bytes(),
    );
    for (section, label) in [
        ("itsdangerous", "URLSafeSerializer.loads"),
        ("fernet", "Fernet.decrypt"),
    ] {
        let loaded = read_back[section].as_array().cloned().unwrap_or_default();
        if loaded.len() != samples.len() {
            failures.push(format!("{label}: {} values read back", loaded.len()));
            continue;
        }
        for (i, (value, sample)) in loaded.iter().zip(samples).enumerate() {
            if value.as_str() != Some(sample) {
                failures.push(format!("{label} reads sample {i} differently"));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} disagreement(s) with the Python libraries:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
