//! Why a request was not authenticated: the contract's status codes and exact messages.

use std::fmt;

use uuid::Uuid;

/// Notify's catch-all answer for a token it cannot use.
pub const GENERAL_MESSAGE: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";

/// Notify's answer for a token whose `iat` is outside the 30-second window.
pub const CLOCK_MESSAGE: &str = "Error: Your system clock must be accurate to within 30 seconds";

/// Why a token got the [`GENERAL_MESSAGE`]; for logs only, the answer is the same for all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The token is not three base64url segments.
    Segments,
    /// A segment is not unpadded base64url.
    Base64,
    /// The JWT header is not a JSON object Python reads (or is one §9 lets this crate refuse).
    HeaderJson,
    /// The claims are not a JSON object Python reads (or are one §9 lets this crate refuse).
    ClaimsJson,
    /// The header's `kid` is not a string.
    KeyId,
    /// The header carries `crit`, or `b64: false`.
    CriticalHeader,
    /// The header value is longer than the configured limit.
    TooLong,
    /// The token is longer than [`LONG_TOKEN_LEN`](crate::core::LONG_TOKEN_LEN) and its
    /// service has so many keys that trying each would hash more than
    /// [`KEY_LOOP_BUDGET`](crate::core::KEY_LOOP_BUDGET) bytes (a forged token's worst case).
    TooLongForKeys,
    /// `iat`, `nbf` or `exp` is `null`, a list, an object, or infinite.
    UnusableTime,
    /// `exp` is more than 30 seconds in the past.
    Expired,
    /// `aud` is present and truthy.
    Audience,
    /// `sub` or `jti` is present and not a string.
    SubjectOrId,
}

/// Which of the contract's answers a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: no `Authorization` header, or an empty one.
    MissingToken,
    /// 401: the header does not start with `Bearer ` (any case).
    NotBearer,
    /// 403 GENERAL: see the reason.
    InvalidToken(InvalidReason),
    /// 403: the claims have no `iss`.
    MissingIssuer,
    /// 403: `iss` is not a UUID string.
    IssuerNotUuid,
    /// 401: `iss` is not the internal client this route expects.
    NotAllowed,
    /// 403: no service has the `iss` id.
    ServiceNotFound,
    /// 403: the service has no visible API keys.
    NoApiKeys,
    /// 403: the service is archived.
    ServiceArchived,
    /// 403: the JWT header's `alg` is not exactly `HS256`.
    Algorithm,
    /// 403: `iat` (or `nbf`) is outside the 30-second window, or not an integer.
    Clock,
    /// 403: the signing key has been revoked.
    Revoked,
    /// 403: no key of the service verifies the signature.
    KeyNotFound,
    /// 403: request binding (contract §10): `req` is missing or does not sign
    /// `"<METHOD> <PATH>"`.
    RequestMismatch,
    /// 403: request binding (contract §10): `pay` is missing or does not sign the body.
    PayloadMismatch,
}

impl ErrorKind {
    /// One kind for each of the contract's answers (status and message), in the order of
    /// [`ErrorKind::answer`]: what the layer makes its response bodies from, once each.
    pub(crate) const ANSWERS: [ErrorKind; 15] = [
        ErrorKind::MissingToken,
        ErrorKind::NotBearer,
        ErrorKind::InvalidToken(InvalidReason::Segments),
        ErrorKind::MissingIssuer,
        ErrorKind::IssuerNotUuid,
        ErrorKind::NotAllowed,
        ErrorKind::ServiceNotFound,
        ErrorKind::NoApiKeys,
        ErrorKind::ServiceArchived,
        ErrorKind::Algorithm,
        ErrorKind::Clock,
        ErrorKind::Revoked,
        ErrorKind::KeyNotFound,
        ErrorKind::RequestMismatch,
        ErrorKind::PayloadMismatch,
    ];

    /// Which of [`ErrorKind::ANSWERS`] this kind answers as (every [`InvalidReason`] gets the
    /// same answer).
    pub(crate) fn answer(self) -> usize {
        match self {
            ErrorKind::MissingToken => 0,
            ErrorKind::NotBearer => 1,
            ErrorKind::InvalidToken(_) => 2,
            ErrorKind::MissingIssuer => 3,
            ErrorKind::IssuerNotUuid => 4,
            ErrorKind::NotAllowed => 5,
            ErrorKind::ServiceNotFound => 6,
            ErrorKind::NoApiKeys => 7,
            ErrorKind::ServiceArchived => 8,
            ErrorKind::Algorithm => 9,
            ErrorKind::Clock => 10,
            ErrorKind::Revoked => 11,
            ErrorKind::KeyNotFound => 12,
            ErrorKind::RequestMismatch => 13,
            ErrorKind::PayloadMismatch => 14,
        }
    }

    /// The HTTP status Notify answers with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::MissingToken | ErrorKind::NotBearer | ErrorKind::NotAllowed => 401,
            _ => 403,
        }
    }

    /// The exact message Notify answers with.
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "Unauthorized: authentication token must be provided",
            ErrorKind::NotBearer => "Unauthorized: authentication bearer scheme must be used",
            ErrorKind::InvalidToken(_) => GENERAL_MESSAGE,
            ErrorKind::MissingIssuer => "Invalid token: iss field not provided",
            ErrorKind::IssuerNotUuid => "Invalid token: service id is not the right data type",
            ErrorKind::NotAllowed => "Unauthorized: not allowed to perform this action",
            ErrorKind::ServiceNotFound => "Invalid token: service not found",
            ErrorKind::NoApiKeys => "Invalid token: service has no API keys",
            ErrorKind::ServiceArchived => "Invalid token: service is archived",
            ErrorKind::Algorithm => "Invalid token: algorithm used is not HS256",
            ErrorKind::Clock => CLOCK_MESSAGE,
            ErrorKind::Revoked => "Invalid token: API key revoked",
            ErrorKind::KeyNotFound => "Invalid token: API key not found",
            ErrorKind::RequestMismatch => "Invalid token: request",
            ErrorKind::PayloadMismatch => "Invalid token: payload",
        }
    }
}

/// A rejected request: the contract's answer, plus the ids known when it was decided (for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthError {
    kind: ErrorKind,
    service_id: Option<Uuid>,
    api_key_id: Option<Uuid>,
    token_iat: Option<i64>,
}

impl AuthError {
    /// An error with no ids attached.
    pub fn new(kind: ErrorKind) -> Self {
        AuthError {
            kind,
            service_id: None,
            api_key_id: None,
            token_iat: None,
        }
    }

    pub(crate) fn for_service(kind: ErrorKind, service_id: Uuid) -> Self {
        AuthError {
            service_id: Some(service_id),
            ..AuthError::new(kind)
        }
    }

    pub(crate) fn for_key(kind: ErrorKind, service_id: Uuid, api_key_id: Uuid) -> Self {
        AuthError {
            service_id: Some(service_id),
            api_key_id: Some(api_key_id),
            ..AuthError::new(kind)
        }
    }

    /// Attaches the token's `iat` (an integer, as Python's `int()` read it) to a clock
    /// rejection, for the log line that says how far the client's clock is off.
    pub(crate) fn with_token_iat(mut self, iat: Option<i64>) -> Self {
        if self.kind == ErrorKind::Clock {
            self.token_iat = iat;
        }
        self
    }

    /// For the clock rejection (`Error: Your system clock must be accurate to within 30
    /// seconds`): the token's `iat` as an integer, when it has one. Clock skew is the most
    /// common support question; the layer logs it with the server's time.
    pub fn token_iat(&self) -> Option<i64> {
        self.token_iat
    }

    /// Which answer this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status (401 or 403).
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The exact message.
    pub fn message(&self) -> &'static str {
        self.kind.message()
    }

    /// The service the token named, when the decision got that far.
    pub fn service_id(&self) -> Option<Uuid> {
        self.service_id
    }

    /// The key whose secret verified the signature, when one did.
    pub fn api_key_id(&self) -> Option<Uuid> {
        self.api_key_id
    }

    /// The public (v2) error body: `{"errors":[{"error":"AuthError","message":…}],"status_code":…}`
    /// and a newline.
    pub fn v2_body(&self) -> String {
        let message = json_string(self.message());
        format!(
            "{{\"errors\":[{{\"error\":\"AuthError\",\"message\":{message}}}],\"status_code\":{}}}\n",
            self.status()
        )
    }

    /// The internal (v1) error body: `{"message":{"token":[…]},"result":"error"}` and a newline.
    pub fn v1_body(&self) -> String {
        let message = json_string(self.message());
        format!("{{\"message\":{{\"token\":[{message}]}},\"result\":\"error\"}}\n")
    }
}

impl From<ErrorKind> for AuthError {
    fn from(kind: ErrorKind) -> Self {
        AuthError::new(kind)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AuthError {}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_byte_exact() {
        let e = AuthError::new(ErrorKind::KeyNotFound);
        assert_eq!(
            e.v2_body(),
            "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Invalid token: API key not found\"}],\"status_code\":403}\n"
        );
        let e = AuthError::new(ErrorKind::NotAllowed);
        assert_eq!(
            e.v1_body(),
            "{\"message\":{\"token\":[\"Unauthorized: not allowed to perform this action\"]},\"result\":\"error\"}\n"
        );
        assert_eq!(e.status(), 401);
    }

    #[test]
    fn answers_are_listed_once_each_in_order() {
        for (i, kind) in ErrorKind::ANSWERS.into_iter().enumerate() {
            assert_eq!(kind.answer(), i, "{kind:?}");
        }
        let reasons = [
            InvalidReason::Segments,
            InvalidReason::Base64,
            InvalidReason::HeaderJson,
            InvalidReason::ClaimsJson,
            InvalidReason::KeyId,
            InvalidReason::CriticalHeader,
            InvalidReason::TooLong,
            InvalidReason::TooLongForKeys,
            InvalidReason::UnusableTime,
            InvalidReason::Expired,
            InvalidReason::Audience,
            InvalidReason::SubjectOrId,
        ];
        for reason in reasons {
            let kind = ErrorKind::InvalidToken(reason);
            let listed = ErrorKind::ANSWERS[kind.answer()];
            assert_eq!(
                (kind.status(), kind.message()),
                (listed.status(), listed.message())
            );
        }
    }
}
