//! Why a request was not authenticated: the contract's status codes and exact messages.

use std::fmt;

use uuid::Uuid;

use crate::dialect::Dialect;

/// Notify's catch-all answer for a token it cannot use (GOV.UK Notify and Notify.gov).
pub const GENERAL_MESSAGE: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";

/// GC Notify's and VA Notify's answer for a token they cannot decode, and the crate's answer
/// in their dialects where they would crash.
pub const GC_GENERAL_MESSAGE: &str = "Invalid token: signature, api token is not valid";

/// Notify's answer for a token whose `iat` is outside the 30-second window.
pub const CLOCK_MESSAGE: &str = "Error: Your system clock must be accurate to within 30 seconds";

/// GC Notify's answer to an `Authorization` header with none of its schemes.
pub const GC_SCHEMES_MESSAGE: &str = "Unauthorized, Authorization header is invalid. GC Notify supports the following authentication methods. Bearer: JWT token that the client generates and passes in, Learn more: https://documentation.notification.canada.ca/en/start.html#headers., ApiKey-v1: If you cannot generate a JWT token you may optionally use the API secret generated for you by GC Notify. Learn more: https://documentation.notification.canada.ca/en/start.html#headers.";

/// Why a token got the dialect's general message ([`GENERAL_MESSAGE`] in GOV.UK Notify's);
/// for logs only: the answer is the same for all, but for the few that a fork words on their
/// own (see [`ErrorKind::message_in`]).
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
    /// The header's `kid` is not a string (GC Notify: `Invalid token: Key ID header parameter
    /// must be a string`; VA Notify's PyJWT does not look).
    KeyId,
    /// The header carries `crit`, or `b64: false`.
    CriticalHeader,
    /// The header value is longer than the configured limit.
    TooLong,
    /// The token is longer than [`LONG_TOKEN_LEN`](crate::core::LONG_TOKEN_LEN) and its
    /// service has so many keys that trying each would hash more than
    /// [`KEY_LOOP_BUDGET`](crate::core::KEY_LOOP_BUDGET) bytes (a forged token's worst case).
    TooLongForKeys,
    /// `iat`, `nbf` or `exp` is `null`, a list, an object, or infinite (Notify.gov: `Invalid
    /// token: type error`).
    UnusableTime,
    /// `exp` is more than 30 seconds in the past.
    Expired,
    /// `aud` is present and truthy.
    Audience,
    /// `sub` or `jti` is present and not a string.
    SubjectOrId,
    /// GC Notify: `nbf` is in the future and there is no `iat`, which GC's log line of the
    /// clock rejection reads (it crashes).
    NoIatToLog,
    /// GC and VA Notify: `iss` is a number, a boolean, an object, a list with items, or a
    /// string with a NUL or a lone surrogate, with which their database query cannot be made
    /// (they crash).
    IssuerUnqueryable,
    /// VA Notify: the key that signed has no expiry date, which VA compares with now (it
    /// crashes).
    NoExpiryDate,
    /// GC and VA Notify's internal routes: the header's `alg` is not `HS256`.
    Algorithm,
    /// GC and VA Notify's internal routes: no secret verifies the signature.
    Signature,
}

/// Which of the contract's answers a request gets. The words are the dialect's
/// ([`ErrorKind::message_in`]); the kinds a dialect never gives are marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: no `Authorization` header, or an empty one.
    MissingToken,
    /// 401: the header does not start with `Bearer ` (any case; GC Notify: none of its
    /// schemes starts it).
    NotBearer,
    /// 403, the dialect's general message: see the reason.
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
    /// 403: the JWT header's `alg` is not exactly `HS256` (GOV.UK Notify, Notify.gov; GC and
    /// VA try the next key).
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
    /// 403, VA Notify: the signing key's expiry date has passed.
    KeyExpired,
    /// 403, GC Notify's `ApiKey-v1`: the key string does not start with `gcntfy-`, is shorter
    /// than 79 characters, or does not carry its key's service id.
    IncompleteApiKey,
    /// 403, GC Notify's `ApiKey-v1`: no key has the secret the key string ends with.
    UnknownApiKey,
    /// 403: an `ApiKey-v1` key string, but the key store cannot find keys by their secret
    /// ([`KeyStore::key_by_secret`](crate::KeyStore::key_by_secret)).
    ApiKeysUnsupported,
    /// 403, GC and VA Notify's internal routes: `iat` is outside the window.
    InternalClock,
    /// 401, GC Notify's internal routes: a scheme other than `Bearer`.
    InternalScheme,
}

impl InvalidReason {
    /// A stable snake_case code, for logs and metrics labels (never the `Debug` form).
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidReason::Segments => "segments",
            InvalidReason::Base64 => "base64",
            InvalidReason::HeaderJson => "header_json",
            InvalidReason::ClaimsJson => "claims_json",
            InvalidReason::KeyId => "key_id",
            InvalidReason::CriticalHeader => "critical_header",
            InvalidReason::TooLong => "too_long",
            InvalidReason::TooLongForKeys => "too_long_for_keys",
            InvalidReason::UnusableTime => "unusable_time",
            InvalidReason::Expired => "expired",
            InvalidReason::Audience => "audience",
            InvalidReason::SubjectOrId => "subject_or_id",
            InvalidReason::NoIatToLog => "no_iat_to_log",
            InvalidReason::IssuerUnqueryable => "issuer_unqueryable",
            InvalidReason::NoExpiryDate => "no_expiry_date",
            InvalidReason::Algorithm => "algorithm",
            InvalidReason::Signature => "signature",
        }
    }
}

impl ErrorKind {
    /// A stable snake_case code for the answer (`InvalidToken`'s is `invalid_token`, whatever
    /// the reason: see [`InvalidReason::as_str`]), for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::NotBearer => "not_bearer",
            ErrorKind::InvalidToken(_) => "invalid_token",
            ErrorKind::MissingIssuer => "missing_issuer",
            ErrorKind::IssuerNotUuid => "issuer_not_uuid",
            ErrorKind::NotAllowed => "not_allowed",
            ErrorKind::ServiceNotFound => "service_not_found",
            ErrorKind::NoApiKeys => "no_api_keys",
            ErrorKind::ServiceArchived => "service_archived",
            ErrorKind::Algorithm => "algorithm",
            ErrorKind::Clock => "clock",
            ErrorKind::Revoked => "revoked",
            ErrorKind::KeyNotFound => "key_not_found",
            ErrorKind::RequestMismatch => "request_mismatch",
            ErrorKind::PayloadMismatch => "payload_mismatch",
            ErrorKind::KeyExpired => "key_expired",
            ErrorKind::IncompleteApiKey => "incomplete_api_key",
            ErrorKind::UnknownApiKey => "unknown_api_key",
            ErrorKind::ApiKeysUnsupported => "api_keys_unsupported",
            ErrorKind::InternalClock => "internal_clock",
            ErrorKind::InternalScheme => "internal_scheme",
        }
    }

    /// The reason, for [`ErrorKind::InvalidToken`].
    pub fn reason(self) -> Option<InvalidReason> {
        match self {
            ErrorKind::InvalidToken(reason) => Some(reason),
            _ => None,
        }
    }

    /// One kind for each answer a dialect words on its own, in the order of
    /// [`ErrorKind::answer`]: what the layer makes its response bodies from, once each.
    pub(crate) const ANSWERS: [ErrorKind; 23] = [
        ErrorKind::MissingToken,
        ErrorKind::NotBearer,
        ErrorKind::InvalidToken(InvalidReason::Segments),
        ErrorKind::InvalidToken(InvalidReason::UnusableTime),
        ErrorKind::InvalidToken(InvalidReason::KeyId),
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
        ErrorKind::KeyExpired,
        ErrorKind::IncompleteApiKey,
        ErrorKind::UnknownApiKey,
        ErrorKind::ApiKeysUnsupported,
        ErrorKind::InternalClock,
        ErrorKind::InternalScheme,
    ];

    /// Which of [`ErrorKind::ANSWERS`] this kind answers as, in every dialect.
    pub(crate) fn answer(self) -> usize {
        match self {
            ErrorKind::MissingToken => 0,
            ErrorKind::NotBearer => 1,
            ErrorKind::InvalidToken(InvalidReason::UnusableTime) => 3,
            ErrorKind::InvalidToken(InvalidReason::KeyId) => 4,
            ErrorKind::InvalidToken(_) => 2,
            ErrorKind::MissingIssuer => 5,
            ErrorKind::IssuerNotUuid => 6,
            ErrorKind::NotAllowed => 7,
            ErrorKind::ServiceNotFound => 8,
            ErrorKind::NoApiKeys => 9,
            ErrorKind::ServiceArchived => 10,
            ErrorKind::Algorithm => 11,
            ErrorKind::Clock => 12,
            ErrorKind::Revoked => 13,
            ErrorKind::KeyNotFound => 14,
            ErrorKind::RequestMismatch => 15,
            ErrorKind::PayloadMismatch => 16,
            ErrorKind::KeyExpired => 17,
            ErrorKind::IncompleteApiKey => 18,
            ErrorKind::UnknownApiKey => 19,
            ErrorKind::ApiKeysUnsupported => 20,
            ErrorKind::InternalClock => 21,
            ErrorKind::InternalScheme => 22,
        }
    }

    /// The HTTP status Notify answers with (the same in every dialect): 401 or 403.
    pub fn status(self) -> http::StatusCode {
        match self {
            ErrorKind::MissingToken
            | ErrorKind::NotBearer
            | ErrorKind::NotAllowed
            | ErrorKind::InternalScheme => http::StatusCode::UNAUTHORIZED,
            _ => http::StatusCode::FORBIDDEN,
        }
    }

    /// The exact message GOV.UK Notify answers with.
    pub fn message(self) -> &'static str {
        self.message_in(Dialect::Uk)
    }

    /// The exact message the `dialect`'s fork answers with (for GC Notify's internal routes,
    /// its admin client's: [`AuthError::message`] words the others).
    pub fn message_in(self, dialect: Dialect) -> &'static str {
        self.worded(dialect, InternalRole::Admin)
    }

    fn worded(self, dialect: Dialect, role: InternalRole) -> &'static str {
        let comma = matches!(dialect, Dialect::Gc | Dialect::Va);
        match self {
            ErrorKind::MissingToken if comma => {
                "Unauthorized, authentication token must be provided"
            }
            ErrorKind::MissingToken => "Unauthorized: authentication token must be provided",
            ErrorKind::NotBearer if dialect == Dialect::Gc => GC_SCHEMES_MESSAGE,
            ErrorKind::NotBearer if comma => {
                "Unauthorized, authentication bearer scheme must be used"
            }
            ErrorKind::NotBearer => "Unauthorized: authentication bearer scheme must be used",
            ErrorKind::InvalidToken(InvalidReason::UnusableTime) if dialect == Dialect::Gov => {
                "Invalid token: type error"
            }
            ErrorKind::InvalidToken(InvalidReason::KeyId) if dialect == Dialect::Gc => {
                "Invalid token: Key ID header parameter must be a string"
            }
            ErrorKind::InvalidToken(_) => dialect.general_message(),
            ErrorKind::MissingIssuer => "Invalid token: iss field not provided",
            ErrorKind::IssuerNotUuid => "Invalid token: service id is not the right data type",
            ErrorKind::NotAllowed => match (dialect, role) {
                (Dialect::Uk | Dialect::Gov, _) => {
                    "Unauthorized: not allowed to perform this action"
                }
                (Dialect::Gc, InternalRole::Sre) => {
                    "Unauthorized, sre authentication token required"
                }
                (Dialect::Gc, InternalRole::CacheClear) => {
                    "Unauthorized, cache clear authentication token required"
                }
                (Dialect::Gc, InternalRole::Cypress) => {
                    "Unauthorized, cypress authentication token required"
                }
                (Dialect::Gc | Dialect::Va, _) => {
                    "Unauthorized, admin authentication token required"
                }
            },
            ErrorKind::ServiceNotFound => "Invalid token: service not found",
            ErrorKind::NoApiKeys => "Invalid token: service has no API keys",
            ErrorKind::ServiceArchived => "Invalid token: service is archived",
            ErrorKind::Algorithm => "Invalid token: algorithm used is not HS256",
            ErrorKind::Clock => CLOCK_MESSAGE,
            ErrorKind::Revoked => "Invalid token: API key revoked",
            ErrorKind::KeyNotFound if comma => "Invalid token: signature, api token not found",
            ErrorKind::KeyNotFound | ErrorKind::UnknownApiKey => "Invalid token: API key not found",
            ErrorKind::RequestMismatch => "Invalid token: request",
            ErrorKind::PayloadMismatch => "Invalid token: payload",
            ErrorKind::KeyExpired => "Invalid token: API key expired",
            ErrorKind::IncompleteApiKey => "Invalid token: Enter your full API key",
            ErrorKind::ApiKeysUnsupported => {
                "Invalid token: this server cannot look up API keys by their secret; send a JWT \
                 with the Bearer scheme"
            }
            ErrorKind::InternalClock => {
                "Invalid token: expired, check that your system clock is accurate"
            }
            // GC Notify words its cache-clear route's as its SRE route's.
            ErrorKind::InternalScheme => match role {
                InternalRole::Admin => "Invalid scheme: can only use JWT for admin authentication",
                InternalRole::Sre | InternalRole::CacheClear => {
                    "Invalid scheme: can only use JWT for sre authentication"
                }
                InternalRole::Cypress => {
                    "Invalid scheme: can only use JWT for cypress authentication"
                }
            },
        }
    }
}

/// Which of GC Notify's internal clients an internal route is for: it words the route's 401
/// answers (`Unauthorized, sre authentication token required`, …). The other dialects have
/// one wording for every internal route. [`InternalRole::Admin`] by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InternalRole {
    /// The admin app (`notify-admin`).
    #[default]
    Admin,
    /// GC Notify's SRE tools (`SRE_CLIENT_USER`).
    Sre,
    /// GC Notify's cache clearing after a deployment (`CACHE_CLEAR_USER`).
    CacheClear,
    /// GC Notify's Cypress tests (`CYPRESS_AUTH_USER`).
    Cypress,
}

/// A rejected request: the contract's answer in a dialect's words, plus the ids known when it
/// was decided (for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthError {
    kind: ErrorKind,
    dialect: Dialect,
    role: InternalRole,
    service_id: Option<Uuid>,
    api_key_id: Option<Uuid>,
    token_iat: Option<i64>,
}

impl AuthError {
    /// An error with no ids attached, in GOV.UK Notify's words.
    pub fn new(kind: ErrorKind) -> Self {
        AuthError {
            kind,
            dialect: Dialect::Uk,
            role: InternalRole::Admin,
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

    /// The same answer in `dialect`'s words.
    pub fn in_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// The same answer worded for an internal route of `role` (GC Notify's words differ).
    pub(crate) fn for_role(mut self, role: InternalRole) -> Self {
        self.role = role;
        self
    }

    /// Attaches the token's `iat` (an integer, as Python's `int()` read it) to a clock
    /// rejection, for the log line that says how far the client's clock is off.
    pub(crate) fn with_token_iat(mut self, iat: Option<i64>) -> Self {
        if matches!(self.kind, ErrorKind::Clock | ErrorKind::InternalClock) {
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

    /// Whose words it is in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The HTTP status (401 or 403).
    pub fn status(&self) -> http::StatusCode {
        self.kind.status()
    }

    /// The exact message, in the dialect's words.
    pub fn message(&self) -> &'static str {
        self.kind.worded(self.dialect, self.role)
    }

    /// Which of the answers made once per dialect this is (`None` for GC Notify's internal
    /// routes other than the admin one, worded per request).
    pub(crate) fn answer(&self) -> Option<usize> {
        let worded_by_role = matches!(self.kind, ErrorKind::NotAllowed | ErrorKind::InternalScheme);
        (!worded_by_role || self.role == InternalRole::Admin).then(|| self.kind.answer())
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
    /// and a newline (the same shape in every dialect).
    pub fn v2_body(&self) -> String {
        v2_error_body("AuthError", self.message(), self.status())
    }

    /// The internal (v1) error body and a newline: `{"message":{"token":[…]},"result":"error"}`,
    /// or in VA Notify's dialect `{"message":…,"result":"error"}`.
    pub fn v1_body(&self) -> String {
        let message = json_string(self.message());
        match self.dialect {
            Dialect::Va => format!("{{\"message\":{message},\"result\":\"error\"}}\n"),
            _ => format!("{{\"message\":{{\"token\":[{message}]}},\"result\":\"error\"}}\n"),
        }
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

/// A v2 error body as Notify's API writes one, and a newline:
/// `{"errors":[{"error":…,"message":…}],"status_code":…}`.
pub(crate) fn v2_error_body(error: &str, message: &str, status: http::StatusCode) -> String {
    let (error, message) = (json_string(error), json_string(message));
    format!(
        "{{\"errors\":[{{\"error\":{error},\"message\":{message}}}],\"status_code\":{}}}\n",
        status.as_u16()
    )
}

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
            InvalidReason::NoIatToLog,
            InvalidReason::IssuerUnqueryable,
            InvalidReason::NoExpiryDate,
            InvalidReason::Algorithm,
            InvalidReason::Signature,
        ];
        for dialect in Dialect::ALL {
            for reason in reasons {
                let kind = ErrorKind::InvalidToken(reason);
                let listed = ErrorKind::ANSWERS[kind.answer()];
                assert_eq!(
                    (kind.status(), kind.message_in(dialect)),
                    (listed.status(), listed.message_in(dialect)),
                    "{dialect} {reason:?}"
                );
            }
        }
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut codes: Vec<&str> = ErrorKind::ANSWERS.iter().map(|k| k.as_str()).collect();
        // `InvalidToken` appears three times in ANSWERS, one code.
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ANSWERS.len() - 2);
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn each_dialect_words_its_own_answers() {
        let words = |kind: ErrorKind| Dialect::ALL.map(|d| kind.message_in(d));
        assert_eq!(
            words(ErrorKind::MissingToken),
            [
                "Unauthorized: authentication token must be provided",
                "Unauthorized, authentication token must be provided",
                "Unauthorized: authentication token must be provided",
                "Unauthorized, authentication token must be provided",
            ]
        );
        assert_eq!(
            words(ErrorKind::KeyNotFound),
            [
                "Invalid token: API key not found",
                "Invalid token: signature, api token not found",
                "Invalid token: API key not found",
                "Invalid token: signature, api token not found",
            ]
        );
        assert_eq!(
            words(ErrorKind::InvalidToken(InvalidReason::UnusableTime)),
            [
                GENERAL_MESSAGE,
                GC_GENERAL_MESSAGE,
                "Invalid token: type error",
                GC_GENERAL_MESSAGE
            ]
        );
        assert_eq!(
            ErrorKind::NotBearer.message_in(Dialect::Gc),
            GC_SCHEMES_MESSAGE
        );
        let sre = AuthError::new(ErrorKind::InternalScheme)
            .in_dialect(Dialect::Gc)
            .for_role(InternalRole::CacheClear);
        assert_eq!(
            sre.message(),
            "Invalid scheme: can only use JWT for sre authentication"
        );
        assert_eq!(sre.answer(), None, "worded per request");
        let va = AuthError::new(ErrorKind::NotAllowed).in_dialect(Dialect::Va);
        assert_eq!(
            va.v1_body(),
            "{\"message\":\"Unauthorized, admin authentication token required\",\"result\":\"error\"}\n"
        );
    }
}
