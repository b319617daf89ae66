//! Prints a fresh Notify token, for `curl` and other hand-made requests.
//!
//! ```text
//! cargo run --example token -- <combined API key>          # {name}-{service_id}-{secret}
//! cargo run --example token -- --iss notify-admin --secret dev-notify-secret-key
//! ```

use std::process::ExitCode;

use notify_auth::token::{CombinedApiKey, create_token};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [key] => key
            .parse::<CombinedApiKey>()
            .map_err(|e| e.to_string())
            .and_then(|key| {
                create_token(key.secret().expose(), &key.service_id().to_string())
                    .map_err(|e| e.to_string())
            }),
        [a, iss, b, secret] if a == "--iss" && b == "--secret" => {
            create_token(secret, iss).map_err(|e| e.to_string())
        }
        _ => Err("usage: token <combined API key> | token --iss ID --secret SECRET".to_owned()),
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
