//! Prints a fresh Notify token, for `curl` and other hand-made requests.
//!
//! ```text
//! cargo run --example token -- <combined API key>          # {name}-{service_id}-{secret}
//! cargo run --example token -- --iss notify-admin --secret dev-notify-secret-key
//! cargo run --example token -- --back 15 <combined API key>  # 15 tokens, iat now, now-1, …
//! cargo run --example token -- --bind POST /v2/notifications/sms body.json <combined API key>
//! cargo run --example token -- --gc <combined API key>    # ApiKey-v1 gcntfy-… (GC Notify)
//! ```
//!
//! `--gc` prints GC Notify's raw-key `Authorization` value for the key instead of a token (for
//! the demo server's `--dialect gc`): `ApiKey-v1 gcntfy-{name}-{service_id}-{secret}`.
//!
//! `--bind METHOD PATH BODY_FILE` adds the request-binding claims (`req`, and `pay` for the
//! exact bytes of BODY_FILE; `-` for no body).
//!
//! `--back N` prints N distinct tokens, issued now and up to N-1 seconds ago (the load test's
//! pool: each stays valid for at least 30-N+1 seconds).

use std::process::ExitCode;

use notify_auth::Clock as _;

use notify_auth::token::{CombinedApiKey, create_token, create_token_at};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [key] => combined(key).and_then(|key| {
            create_token(key.secret().expose(), &key.service_id().to_string())
                .map_err(|e| e.to_string())
        }),
        [a, iss, b, secret] if a == "--iss" && b == "--secret" => {
            create_token(secret, iss).map_err(|e| e.to_string())
        }
        [back, n, key] if back == "--back" => pool(n, key),
        [bind, method, path, body, key] if bind == "--bind" => bound(method, path, body, key),
        [gc, key] if gc == "--gc" => combined(key).map(|key| {
            let name = key.name().unwrap_or("key");
            let name = name.strip_prefix("gcntfy-").unwrap_or(name);
            let service_id = key.service_id();
            let text = notify_auth::token::gc_key_string(name, service_id, key.secret().expose());
            format!("ApiKey-v1 {text}")
        }),
        _ => Err(
            "usage: token <combined API key> | token --iss ID --secret SECRET \
             | token --back N <combined API key> | token --bind METHOD PATH BODY_FILE|- <combined API key> \
             | token --gc <combined API key>"
                .to_owned(),
        ),
    };
    match result {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn combined(key: &str) -> Result<CombinedApiKey, String> {
    key.parse::<CombinedApiKey>().map_err(|e| e.to_string())
}

/// `n` tokens issued now, a second ago, … (one per line).
fn pool(n: &str, key: &str) -> Result<String, String> {
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| (1..=30).contains(n))
        .ok_or("--back takes a number of tokens from 1 to 30")?;
    let key = combined(key)?;
    let now = notify_auth::SystemClock.now();
    let tokens = (0..n)
        .map(|back| {
            create_token_at(
                key.secret().expose(),
                &key.service_id().to_string(),
                now - back,
            )
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tokens.join("\n"))
}

/// A token bound to one request: `req` for METHOD PATH, `pay` for the file's bytes.
fn bound(method: &str, path: &str, body: &str, key: &str) -> Result<String, String> {
    let key = combined(key)?;
    let body = match body {
        "-" => None,
        file => Some(std::fs::read(file).map_err(|e| format!("{file}: {e}"))?),
    };
    notify_auth::token::create_bound_token(
        key.secret().expose(),
        &key.service_id().to_string(),
        method,
        path,
        body.as_deref(),
    )
    .map_err(|e| e.to_string())
}
