//! Which Notify the crate answers as: GOV.UK Notify (the default), GC Notify, Notify.gov or VA
//! Notify.
//!
//! The four APIs authenticate the same HS256 tokens (`iss` = service id, `iat` within 30
//! seconds), but each answers in its own words, and each reads the header, the `iss` and the
//! keys a little differently. A [`Dialect`] on a layer (or on a call into [`core`](crate::core))
//! makes every answer that fork's, byte for byte:
//!
//! | | [`Dialect::Uk`] | [`Dialect::Gov`] | [`Dialect::Gc`] | [`Dialect::Va`] |
//! |---|---|---|---|---|
//! | schemes | `Bearer ` | `Bearer ` | `Bearer`, `ApiKey-v1` (a raw key), `CacheClear-v1`, `Cypress-v1`, as prefixes | `Bearer ` |
//! | messages | colon forms | colon forms, plus `Invalid token: type error` | comma forms | comma forms |
//! | `iss` | Python's `uuid.UUID` | Python's `uuid.UUID` | PostgreSQL's `uuid` cast, through SQLAlchemy | the same as GC |
//! | keys tried | active, and revoked within 7 days | the same as UK | every key | every key |
//! | wrong `alg` | stops: `algorithm used is not HS256` | the same as UK | next key | next key |
//! | other token errors | stop | stop | uncaught (a 500) | next key |
//! | after the match | revoked? | revoked? | revoked? | revoked? then expired? |
//! | `OPTIONS` | authenticated | authenticated | passes unauthenticated | authenticated |
//!
//! Where a fork would crash (an uncaught exception, a 500), the crate answers 403 with that
//! dialect's general message ([`Dialect::general_message`]). `docs/compatibility.md` has every
//! message of every dialect, and the README a section per fork: what to set, what differs.
//!
//! Sources, restated and never copied (the forks are public): GOV.UK Notify
//! `alphagov/notifications-api` `app/authentication/auth.py` (8ea2366); GC Notify
//! `cds-snc/notification-api` `app/authentication/auth.py` and `app/dao/api_key_dao.py`
//! (72e3ae1); Notify.gov `GSA/notifications-api` `app/authentication/auth.py` (0bc76ba); VA
//! Notify `department-of-veterans-affairs/notification-api` `app/authentication/auth.py`
//! (742080a); each with the `notifications-python-client` and PyJWT it pins (UK and
//! Notify.gov 12.1.0 + 2.13.0, GC 6.4.1 + 2.12.0, VA 10.0.1 + 2.11.0).

use std::fmt;
use std::str::FromStr;

/// A member of the Notify family: whose answers the crate gives. [`Dialect::Uk`] by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// GOV.UK Notify (`alphagov/notifications-api`).
    #[default]
    Uk,
    /// GC Notify, Canada (`cds-snc/notification-api`).
    Gc,
    /// Notify.gov, the United States (`GSA/notifications-api`).
    Gov,
    /// VA Notify, the US Department of Veterans Affairs
    /// (`department-of-veterans-affairs/notification-api`).
    Va,
}

impl Dialect {
    /// Every dialect, in a fixed order.
    pub const ALL: [Dialect; 4] = [Dialect::Uk, Dialect::Gc, Dialect::Gov, Dialect::Va];

    /// The name the demo server's `--dialect` takes: `uk`, `gc`, `gov` or `va`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Uk => "uk",
            Dialect::Gc => "gc",
            Dialect::Gov => "gov",
            Dialect::Va => "va",
        }
    }

    /// The answer (with status 403) where this fork would crash with a 500: GOV.UK Notify's
    /// and Notify.gov's "make sure your API token matches the example" text, GC Notify's and
    /// VA Notify's `Invalid token: signature, api token is not valid`.
    pub fn general_message(self) -> &'static str {
        match self {
            Dialect::Uk | Dialect::Gov => crate::error::GENERAL_MESSAGE,
            Dialect::Gc | Dialect::Va => crate::error::GC_GENERAL_MESSAGE,
        }
    }

    /// Whether the fork tries every key of a service, revoked ones of any age included (GC
    /// and VA load them all); GOV.UK Notify and Notify.gov list active keys and keys revoked
    /// within the last seven days (see [`ApiKey::revoked_at`](crate::ApiKey::revoked_at)).
    pub fn tries_every_key(self) -> bool {
        matches!(self, Dialect::Gc | Dialect::Va)
    }

    /// Whether `iss` is read as PostgreSQL reads a `uuid` that SQLAlchemy hands it (GC and
    /// VA, which query the database with the claim as it is), rather than by Python's
    /// `uuid.UUID` (GOV.UK Notify, Notify.gov).
    pub(crate) fn issuer_by_database(self) -> bool {
        matches!(self, Dialect::Gc | Dialect::Va)
    }

    /// The index of this dialect in [`Dialect::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a dialect name other than `uk`, `gc`, `gov` or `va`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {0:?} (expected uk, gc, gov or va)")]
pub struct UnknownDialect(pub String);

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDialect(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_the_list() {
        for (i, d) in Dialect::ALL.into_iter().enumerate() {
            assert_eq!(d.as_str().parse::<Dialect>(), Ok(d));
            assert_eq!(d.index(), i);
        }
        assert_eq!(
            "UK".parse::<Dialect>().unwrap_err().to_string(),
            "unknown dialect \"UK\" (expected uk, gc, gov or va)"
        );
        assert_eq!(Dialect::default(), Dialect::Uk);
    }
}
