//! Helpers for clients and tests: minting Notify tokens and reading combined API keys.
//!
//! Tokens are made exactly as the official Python client makes them (PyJWT): header
//! `{"alg":"HS256","typ":"JWT"}`, claims `{"iss": <client id>, "iat": <unix seconds>}` as
//! compact JSON, HMAC-SHA256 over the two in unpadded base64url. HS256 needs nothing but the
//! HMAC this crate verifies with: no JWT library, no process-wide crypto provider. (The tests,
//! fuzz targets and benchmarks check these tokens against `jsonwebtoken`.)
//!
//! ```
//! use notify_auth::token::{create_token, CombinedApiKey};
//!
//! let key: CombinedApiKey =
//!     "my_key-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0".parse()?;
//! assert_eq!(key.service_id().to_string(), "26785a09-ab16-4eb0-8407-a37497a57506");
//! let token = create_token(key.secret().expose(), &key.service_id().to_string())?;
//! assert_eq!(token.split('.').count(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::clock::{Clock as _, SystemClock};
use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::model::Secret;

/// The error when a token cannot be made (an empty secret or client id).
#[derive(Debug, thiserror::Error)]
#[error("cannot create a Notify token: {0}")]
pub struct TokenError(String);

/// Mints a token for `client_id` (a service id, or an internal client id such as
/// `notify-admin`) signed with `secret`, issued now.
pub fn create_token(secret: &str, client_id: &str) -> Result<String, TokenError> {
    create_token_at(secret, client_id, SystemClock.now())
}

/// Mints a token as [`create_token`] does, with `iat` = `issued_at` (unix seconds).
pub fn create_token_at(
    secret: &str,
    client_id: &str,
    issued_at: i64,
) -> Result<String, TokenError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        iat: i64,
    }
    encode(
        secret,
        client_id,
        &Claims {
            iss: client_id,
            iat: issued_at,
        },
    )
}

/// Mints a token bound to one request (contract §10; the layer checks it with
/// [`request_binding`](crate::NotifyAuthLayer::request_binding)): besides `iss` and `iat`, it
/// carries `req`, the signature of `"<METHOD> <PATH>"` (`path` without query string), and for
/// a request with a body, `pay`, the signature of the body's exact bytes.
///
/// ```
/// let body = br#"{"phone_number":"07700900000","template_id":"f33517ff"}"#;
/// let token = notify_auth::token::create_bound_token(
///     "3d844edf-8d35-48ac-975b-e847b4f122b0",
///     "26785a09-ab16-4eb0-8407-a37497a57506",
///     "POST",
///     "/v2/notifications/sms",
///     Some(body),
/// )?;
/// # let _ = token;
/// # Ok::<(), notify_auth::token::TokenError>(())
/// ```
pub fn create_bound_token(
    secret: &str,
    client_id: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<String, TokenError> {
    create_bound_token_at(secret, client_id, SystemClock.now(), method, path, body)
}

/// [`create_bound_token`] with `iat` = `issued_at`.
pub fn create_bound_token_at(
    secret: &str,
    client_id: &str,
    issued_at: i64,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<String, TokenError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        iat: i64,
        req: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pay: Option<String>,
    }
    let claims = Claims {
        iss: client_id,
        iat: issued_at,
        req: sign_request(secret, method, path),
        pay: body.map(|body| sign_payload(secret, body)),
    };
    encode(secret, client_id, &claims)
}

/// The `req` claim: standard base64 of HMAC-SHA256(secret, `"<method> <path>"`).
pub fn sign_request(secret: &str, method: &str, path: &str) -> String {
    signature(secret, &[method.as_bytes(), b" ", path.as_bytes()])
}

/// The `pay` claim: standard base64 of HMAC-SHA256(secret, `body`).
pub fn sign_payload(secret: &str, body: &[u8]) -> String {
    signature(secret, &[body])
}

fn signature(secret: &str, parts: &[&[u8]]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Secret::new(secret).mac(parts))
}

/// `{"alg":"HS256","typ":"JWT"}` in unpadded base64url, as PyJWT writes it.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

fn encode(
    secret: &str,
    client_id: &str,
    claims: &impl serde::Serialize,
) -> Result<String, TokenError> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    if secret.is_empty() {
        return Err(TokenError("missing secret key".into()));
    }
    if client_id.is_empty() {
        return Err(TokenError("missing client id".into()));
    }
    let claims = serde_json::to_vec(claims).map_err(|e| TokenError(e.to_string()))?;
    let mut token = format!("{HEADER}.");
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = Secret::new(secret).mac(&[token.as_bytes()]);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// GC Notify's key string for a key: `gcntfy-{name}-{service_id}-{secret}`, which its clients
/// send as it is, without a JWT: `Authorization: ApiKey-v1 <key string>`
/// ([`Dialect::Gc`](crate::Dialect::Gc)). It also parses as a [`CombinedApiKey`], for a JWT.
///
/// ```
/// use uuid::uuid;
///
/// let key = notify_auth::token::gc_key_string(
///     "my-key",
///     uuid!("26785a09-ab16-4eb0-8407-a37497a57506"),
///     "3d844edf-8d35-48ac-975b-e847b4f122b0",
/// );
/// assert_eq!(
///     key,
///     "gcntfy-my-key-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
/// );
/// let header = format!("ApiKey-v1 {key}");
/// # let _ = header;
/// ```
pub fn gc_key_string(name: &str, service_id: Uuid, secret: &str) -> String {
    format!(
        "{}{name}-{service_id}-{secret}",
        crate::core::API_KEY_PREFIX
    )
}

/// The API key string Notify gives its users: `{key_name}-{service_id}-{secret}`, or just
/// `{service_id}-{secret}`.
///
/// As the official clients do, the service id is the 36 characters before the last 37 and the
/// secret the last 36; the name may contain `-` and is kept only for display.
#[derive(Clone, PartialEq, Eq)]
pub struct CombinedApiKey {
    name: Option<String>,
    service_id: Uuid,
    secret: Secret,
}

impl CombinedApiKey {
    /// The key's name, if the string had one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The service id.
    pub fn service_id(&self) -> Uuid {
        self.service_id
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}

impl fmt::Debug for CombinedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CombinedApiKey")
            .field("name", &self.name)
            .field("service_id", &self.service_id)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Why a combined API key string could not be read. It never quotes the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// Shorter than `{service_id}-{secret}`.
    #[error(
        "an API key is `{{key_name}}-{{service_id}}-{{secret}}`, at least 73 characters; this one has {0}"
    )]
    TooShort(usize),
    /// The parts are not separated by `-` where they must be.
    #[error("an API key is `{{key_name}}-{{service_id}}-{{secret}}`: expected `-` before the {0}")]
    MissingSeparator(&'static str),
    /// The service id part is not a UUID.
    #[error("the service id part of the API key is not a UUID")]
    ServiceId,
}

impl FromStr for CombinedApiKey {
    type Err = ApiKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let n = chars.len();
        if n < 73 {
            return Err(ApiKeyError::TooShort(n));
        }
        let at = |i: usize| chars[i].0;
        if chars[n - 37].1 != '-' {
            return Err(ApiKeyError::MissingSeparator("secret"));
        }
        if n > 73 && chars[n - 74].1 != '-' {
            return Err(ApiKeyError::MissingSeparator("service id"));
        }
        let service_id = &s[at(n - 73)..at(n - 37)];
        let service_id = Uuid::try_parse(service_id).map_err(|_| ApiKeyError::ServiceId)?;
        let secret = Secret::new(&s[at(n - 36)..]);
        let name = (n > 74).then(|| s[..at(n - 74)].to_owned());
        Ok(CombinedApiKey {
            name,
            service_id,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "26785a09-ab16-4eb0-8407-a37497a57506";
    const SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";

    #[test]
    fn combined_keys_with_and_without_names() {
        let key: CombinedApiKey = format!("my-team-key-{SERVICE}-{SECRET}").parse().unwrap();
        assert_eq!(key.name(), Some("my-team-key"));
        assert_eq!(key.service_id().to_string(), SERVICE);
        assert_eq!(key.secret().expose(), SECRET);
        let key: CombinedApiKey = format!("{SERVICE}-{SECRET}").parse().unwrap();
        assert_eq!(key.name(), None);
        assert!(!format!("{key:?}").contains(SECRET));
    }

    #[test]
    fn gc_key_strings_are_combined_keys_too() {
        let service = Uuid::parse_str(SERVICE).unwrap();
        let text = gc_key_string("live", service, SECRET);
        assert_eq!(text, format!("gcntfy-live-{SERVICE}-{SECRET}"));
        let key: CombinedApiKey = text.parse().unwrap();
        assert_eq!(
            (key.name(), key.service_id(), key.secret().expose()),
            (Some("gcntfy-live"), service, SECRET)
        );
    }

    #[test]
    fn malformed_combined_keys() {
        assert_eq!(
            "abc".parse::<CombinedApiKey>().unwrap_err(),
            ApiKeyError::TooShort(3)
        );
        assert_eq!(
            format!("{SERVICE}x{SECRET}").parse::<CombinedApiKey>(),
            Err(ApiKeyError::MissingSeparator("secret"))
        );
        assert_eq!(
            format!("namex{SERVICE}-{SECRET}").parse::<CombinedApiKey>(),
            Err(ApiKeyError::MissingSeparator("service id"))
        );
        let bad = format!("name-{}-{SECRET}", "z".repeat(36));
        let err = bad.parse::<CombinedApiKey>().unwrap_err();
        assert_eq!(err, ApiKeyError::ServiceId);
        assert!(!err.to_string().contains(SECRET));
    }

    #[test]
    fn request_signatures_match_the_2016_client() {
        // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b'key',
        //   b'POST /my-resource', hashlib.sha256).digest()).decode())"   (and b'body')
        assert_eq!(
            sign_request("key", "POST", "/my-resource"),
            "140ql/kH8VBm65UquMNPZgBL+3f9dc8K011/iBZICHo="
        );
        assert_eq!(
            sign_payload("key", b"body"),
            "UVquEztDXUAAlWcx9orlz164XU8NxqVG0r/NNZXsGuE="
        );
        assert_eq!(
            sign_payload("key", b""),
            "XV0TlWPJW1lnub2ajJsjOp3ttFByeUzSMtwbdIMmB9A="
        );
    }

    #[test]
    fn tokens_are_made_as_the_official_clients_make_them() {
        use base64::Engine as _;
        let token = create_token_at(SECRET, SERVICE, 1_795_394_922).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.decode(parts[0]).unwrap();
        let claims = b64.decode(parts[1]).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT"}));
        assert_eq!(
            std::str::from_utf8(&claims).unwrap(),
            format!("{{\"iss\":\"{SERVICE}\",\"iat\":1795394922}}")
        );
        assert!(create_token("", SERVICE).is_err());
        assert!(create_token(SECRET, "").is_err());
    }
}
