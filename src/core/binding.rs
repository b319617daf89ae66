//! Request binding (contract §10): the `req` and `pay` claims of Notify's first protocol.
//!
//! `req` is the standard base64 (with `+/=`) of HMAC-SHA256(secret, `"<METHOD> <PATH>"`),
//! PATH without scheme, host or query string; `pay` the standard base64 of
//! HMAC-SHA256(secret, the raw body). Notify ignores both today; the layer checks them only
//! when asked to ([`RequestBinding`]), after every other check has passed: the token is then
//! authentic, and the key that signed it is known.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::jwt::{BindingClaim, Claims};
use crate::error::{AuthError, ErrorKind};
use crate::model::{Principal, Secret};

/// Whether tokens must be bound to the request they came with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestBinding {
    /// Notify today: `req` and `pay` are ignored.
    #[default]
    Off,
    /// `req` and `pay` are checked when the token carries them (lets clients migrate).
    VerifyIfPresent,
    /// Every token must carry `req`, and `pay` when the request has a body.
    Required,
}

impl std::str::FromStr for RequestBinding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(RequestBinding::Off),
            "verify-if-present" => Ok(RequestBinding::VerifyIfPresent),
            "required" => Ok(RequestBinding::Required),
            other => Err(format!(
                "unknown request binding {other:?} (expected off, verify-if-present or required)"
            )),
        }
    }
}

/// A token the key loop accepted, with the key that signed it.
#[derive(Debug)]
pub struct Authorized<'s> {
    principal: Principal,
    secret: &'s Secret,
    req: BindingClaim,
    pay: BindingClaim,
}

impl<'s> Authorized<'s> {
    pub(super) fn new(principal: Principal, secret: &'s Secret, claims: &Claims) -> Self {
        Authorized {
            principal,
            secret,
            req: claims.req,
            pay: claims.pay,
        }
    }

    /// A key that signed nothing (GC Notify's raw keys): no `req`, no `pay`.
    pub(super) fn unbound(principal: Principal, secret: &'s Secret) -> Self {
        Authorized {
            principal,
            secret,
            req: BindingClaim::Absent,
            pay: BindingClaim::Absent,
        }
    }

    /// Who the request is from.
    pub fn principal(&self) -> Principal {
        self.principal
    }

    /// Checks `req` against `"<method> <path>"` (`path` without query string).
    pub fn check_request(
        &self,
        mode: RequestBinding,
        method: &str,
        path: &str,
    ) -> Result<(), AuthError> {
        let mac = || self.secret.mac(&[method.as_bytes(), b" ", path.as_bytes()]);
        self.check(mode, self.req, true, mac, ErrorKind::RequestMismatch)
    }

    /// Whether the body must be read to check `pay`: always in `Required` mode (when there is
    /// a body), and in `VerifyIfPresent` mode when the token carries `pay`.
    pub fn wants_payload(&self, mode: RequestBinding) -> bool {
        match mode {
            RequestBinding::Off => false,
            RequestBinding::VerifyIfPresent => self.pay != BindingClaim::Absent,
            RequestBinding::Required => true,
        }
    }

    /// Checks `pay` against the body (`has_body` false and `body` empty when there is none:
    /// `pay` is then optional even in `Required` mode, and signs the empty string if given).
    pub fn check_payload(
        &self,
        mode: RequestBinding,
        body: &[u8],
        has_body: bool,
    ) -> Result<(), AuthError> {
        let mac = || self.secret.mac(&[body]);
        self.check(mode, self.pay, has_body, mac, ErrorKind::PayloadMismatch)
    }

    /// Judges `claim` against the MAC (computed only when there is a claim to compare).
    fn check(
        &self,
        mode: RequestBinding,
        claim: BindingClaim,
        required: bool,
        mac: impl FnOnce() -> [u8; 32],
        kind: ErrorKind,
    ) -> Result<(), AuthError> {
        let ok = match (mode, claim) {
            (RequestBinding::Off, _) => true,
            (RequestBinding::VerifyIfPresent, BindingClaim::Absent) => true,
            (RequestBinding::Required, BindingClaim::Absent) => !required,
            (_, BindingClaim::Other) => false,
            (_, BindingClaim::Text(text)) => {
                let mut expected = [0u8; 44];
                let n = STANDARD
                    .encode_slice(mac(), &mut expected)
                    .expect("32 bytes encode to 44 characters");
                debug_assert_eq!(n, 44);
                bool::from(expected.ct_eq(&text))
            }
        };
        if ok {
            Ok(())
        } else {
            let p = self.principal;
            Err(AuthError::for_key(kind, p.service_id, p.api_key_id))
        }
    }
}
