//! What GC Notify and VA Notify make of `iss`: they hand the claim, whatever its JSON type, to
//! SQLAlchemy as the service's id, and PostgreSQL decides.
//!
//! Both query `services` by `id`, a `UUID(as_uuid=True)` column, with the decoded claim, and
//! answer a `DataError` with "service id is not the right data type", no row with "service not
//! found", and anything else with an uncaught 500. SQLAlchemy 1.4 (both pin 1.4.54) hands such
//! a value to psycopg2 as it is (`_PGUUID.bind_processor` in `dialects/postgresql/psycopg2.py`
//! converts only when `as_uuid` is false), and psycopg2 writes it into the SQL by its type
//! (`list_quote` in `psycopg/adapter_list.c` for lists). VA Notify's lookup is also cached
//! (cachetools' `@cached(TTLCache(…))`), which hashes the claim first:
//!
//! | `iss` | the query | GC Notify | VA Notify |
//! |---|---|---|---|
//! | a string | `id = '…'`: PostgreSQL's `uuid` input reads it | the id, or a `DataError` | the same |
//! | a string with a NUL, or a lone surrogate | psycopg2 cannot write it | 500 | 500 |
//! | `null` | `id IS NULL` | no row | no row |
//! | `[]`; `[null]`, `[null,[null]]` (only `null`s and lists of them) | `id = '{}'`, `id = '{NULL,{NULL}}'` | a `DataError` | 500 (unhashable) |
//! | a number, `true`, `false` | `id = 1`, `id = true`: no such operator | 500 | 500 |
//! | any other list | `id = ARRAY[…]`: no such operator (mostly) | 500 | 500 (unhashable) |
//! | an object | psycopg2 cannot adapt a `dict` | 500 | 500 (unhashable) |
//!
//! One case is not restated: in GC Notify, an `ARRAY[…]` whose quoted item PostgreSQL's
//! typing of the array rejects (`[1,"a"]`, `[true,"x"]`, `[[1],"x"]`) fails with a
//! `DataError` before the missing operator is found; here it is a 500 like the other lists
//! (`docs/compatibility.md`).
//!
//! `conformance/orm_issuer.py` restates the same, and checks it against SQLAlchemy 1.4.54,
//! psycopg2 2.9.11, cachetools and a real PostgreSQL.

use uuid::Uuid;

use super::pyjson::Value;
use crate::dialect::Dialect;

/// What the forks' database lookup makes of an `iss` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DbIssuer {
    /// PostgreSQL reads it as this id.
    Id(Uuid),
    /// A `DataError`: "service id is not the right data type".
    NotUuid,
    /// No row can match (`id IS NULL`): "service not found".
    NoService,
    /// The query cannot be made: an uncaught exception.
    Crash,
}

/// The verdict of `dialect`'s fork (GC or VA Notify) for an `iss` claim's value.
pub(crate) fn database_issuer(value: Value<'_>, dialect: Dialect) -> DbIssuer {
    match value {
        Value::Null => DbIssuer::NoService,
        Value::Str(s) if s.has_nul_or_lone_surrogate() => DbIssuer::Crash,
        Value::Str(s) => pg_uuid(s.text().as_bytes()).map_or(DbIssuer::NotUuid, DbIssuer::Id),
        // VA Notify's cache cannot hash a list or a dict.
        Value::List { .. } | Value::Object { .. } if dialect == Dialect::Va => DbIssuer::Crash,
        // An array literal for the `uuid` input to refuse.
        Value::List { empty: true, .. }
        | Value::List {
            null_only: true, ..
        } => DbIssuer::NotUuid,
        Value::Bool(_)
        | Value::Int(_)
        | Value::Float(_)
        | Value::List { .. }
        | Value::Object { .. } => DbIssuer::Crash,
    }
}

/// PostgreSQL's `uuid` input (`string_to_uuid` in `src/backend/utils/adt/uuid.c`): an
/// optional `{`, 32 hex digits in either case with at most one `-` after each group of four
/// (none after the last), the matching `}`, and nothing else (no blanks).
pub(crate) fn pg_uuid(text: &[u8]) -> Option<Uuid> {
    let (braced, mut rest) = match text.split_first() {
        Some((b'{', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let [hi, lo, tail @ ..] = rest else {
            return None;
        };
        *byte = (hex(*hi)? << 4) | hex(*lo)?;
        rest = tail;
        if i % 2 == 1
            && i < 15
            && let [b'-', tail @ ..] = rest
        {
            rest = tail;
        }
    }
    if braced {
        rest = rest.strip_prefix(b"}")?;
    }
    rest.is_empty().then(|| Uuid::from_bytes(bytes))
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Uuid = uuid::uuid!("26785a09-ab16-4eb0-8407-a37497a57506");

    #[test]
    fn reads_uuids_as_postgresql_does() {
        for taken in [
            "26785a09-ab16-4eb0-8407-a37497a57506",
            "26785A09-AB16-4EB0-8407-A37497A57506",
            "26785a09ab164eb08407a37497a57506",
            "{26785a09-ab16-4eb0-8407-a37497a57506}",
            "{26785a09ab164eb08407a37497a57506}",
            "2678-5a09-ab16-4eb0-8407-a374-97a5-7506",
            "26785a09-ab164eb0-8407a374-97a57506",
        ] {
            assert_eq!(pg_uuid(taken.as_bytes()), Some(ID), "{taken}");
        }
        for refused in [
            "",
            "urn:uuid:26785a09-ab16-4eb0-8407-a37497a57506",
            " 26785a09-ab16-4eb0-8407-a37497a57506",
            "26785a09-ab16-4eb0-8407-a37497a57506 ",
            "26-785a09-ab16-4eb0-8407-a37497a57506",
            "26785a09--ab16-4eb0-8407-a37497a57506",
            "-26785a09-ab16-4eb0-8407-a37497a57506",
            "26785a09-ab16-4eb0-8407-a37497a57506-",
            "{26785a09-ab16-4eb0-8407-a37497a57506",
            "26785a09-ab16-4eb0-8407-a37497a57506}",
            "26785a09ab164eb08407a37497a5750",
            "26785a09ab164eb08407a37497a575066",
            "26785a09ab164eb08407a37497a5750g",
        ] {
            assert_eq!(pg_uuid(refused.as_bytes()), None, "{refused:?}");
        }
        assert_eq!(
            pg_uuid(b"12345678901234567890123456789012"),
            Some(uuid::uuid!("12345678-9012-3456-7890-123456789012"))
        );
    }
}
