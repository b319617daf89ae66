//! The two Python conversions Notify's answers depend on: `int(text, base)` and
//! `uuid.UUID(text)`.
//!
//! Notify converts `iat`, `nbf` and `exp` with `int()` and `iss` with `uuid.UUID()`, and both
//! accept more than the obvious spellings (surrounding whitespace, a sign, underscores between
//! digits, `0x`, braces, `urn:uuid:`, hyphens anywhere). No crate reproduces CPython's rules,
//! so they are restated here from CPython's `PyLong_FromString` and `uuid.UUID.__init__`.
//! The one leniency not reproduced is non-ASCII digits, which contract §9 lets us refuse.

use uuid::Uuid;

/// What `int(text, base)` would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PyInt {
    /// The value: sign and magnitude, the magnitude saturated at `u128::MAX`.
    Value { negative: bool, magnitude: u128 },
    /// `int()` raises `ValueError`.
    Invalid,
    /// Python would accept it only thanks to non-ASCII digits (contract §9).
    NonAsciiDigits,
}

impl PyInt {
    /// The value saturated into an `i64` (values beyond are "far away" either way).
    pub(crate) fn saturating_i64(self) -> Option<i64> {
        match self {
            PyInt::Value {
                negative,
                magnitude,
            } => {
                let m = i64::try_from(magnitude).unwrap_or(i64::MAX);
                Some(if negative { -m } else { m })
            }
            _ => None,
        }
    }
}

/// Python's `str.isspace()`, which `int()` strips: Unicode white space plus the four ASCII
/// separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `int(text, base)` for `base` 10 or 16.
pub(crate) fn py_int(text: &str, base: u32) -> PyInt {
    debug_assert!(base == 10 || base == 16);
    let s = text.trim_matches(is_py_space);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut chars = s;
    if base == 16 && (chars.starts_with("0x") || chars.starts_with("0X")) {
        chars = &chars[2..];
        // CPython allows one underscore right after the base prefix.
        if let Some(rest) = chars.strip_prefix('_') {
            chars = rest;
        }
    }
    let mut magnitude: u128 = 0;
    let mut digits = 0usize;
    let mut previous_underscore = false;
    let mut non_ascii = false;
    for c in chars.chars() {
        if c == '_' {
            if digits == 0 || previous_underscore {
                return PyInt::Invalid;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let value = match c.to_digit(base) {
            Some(v) => v,
            None if !c.is_ascii() && c.is_numeric() => {
                non_ascii = true;
                0
            }
            None => return PyInt::Invalid,
        };
        magnitude = magnitude
            .saturating_mul(u128::from(base))
            .saturating_add(u128::from(value));
        digits += 1;
    }
    if digits == 0 || previous_underscore {
        PyInt::Invalid
    } else if non_ascii {
        PyInt::NonAsciiDigits
    } else {
        PyInt::Value {
            negative,
            magnitude,
        }
    }
}

/// What `uuid.UUID(text)` would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PyUuid {
    /// The UUID.
    Valid(Uuid),
    /// `UUID()` raises.
    Invalid,
    /// Python would accept it only thanks to non-ASCII digits (contract §9).
    NonAsciiDigits,
}

/// `uuid.UUID(text)`: drops every `urn:` then every `uuid:`, strips braces from both ends,
/// drops every hyphen, requires 32 characters, and reads them with `int(…, 16)`.
pub(crate) fn py_uuid(text: &str) -> PyUuid {
    // The common spellings (hyphenated or 32 hex digits) need no allocation.
    // (`Uuid::try_parse` accepts only spellings Python reads the same way.)
    if let Ok(uuid) = Uuid::try_parse(text) {
        return PyUuid::Valid(uuid);
    }
    let stripped = text.replace("urn:", "").replace("uuid:", "");
    let hex: String = stripped
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|&c| c != '-')
        .collect();
    if hex.chars().count() != 32 {
        return PyUuid::Invalid;
    }
    match py_int(&hex, 16) {
        PyInt::Value {
            negative,
            magnitude,
        } => {
            if negative && magnitude != 0 {
                PyUuid::Invalid
            } else {
                PyUuid::Valid(Uuid::from_u128(magnitude))
            }
        }
        PyInt::Invalid => PyUuid::Invalid,
        PyInt::NonAsciiDigits => PyUuid::NonAsciiDigits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int10(s: &str) -> Option<i64> {
        py_int(s, 10).saturating_i64()
    }

    #[test]
    fn int_accepts_what_python_accepts() {
        assert_eq!(int10("1795394922"), Some(1795394922));
        assert_eq!(int10(" +1795394922 "), Some(1795394922));
        assert_eq!(int10("\t-12\n"), Some(-12));
        assert_eq!(int10("1_000"), Some(1000));
        assert_eq!(int10("\u{a0}7\u{2003}"), Some(7));
        assert_eq!(int10("\u{1c}7"), Some(7));
        assert_eq!(int10("007"), Some(7));
        assert_eq!(int10("99999999999999999999999999"), Some(i64::MAX));
        assert_eq!(int10("-99999999999999999999999999"), Some(-i64::MAX));
    }

    #[test]
    fn int_rejects_what_python_rejects() {
        for s in [
            "", " ", "abc", "1.5", "_1", "1_", "1__0", "+-1", "--1", "1 2", "0x10", "+", "1e3",
        ] {
            assert_eq!(py_int(s, 10), PyInt::Invalid, "{s:?}");
        }
        assert_eq!(py_int("\u{661}\u{662}", 10), PyInt::NonAsciiDigits);
    }

    #[test]
    fn hex_prefix_and_underscore() {
        assert_eq!(py_int("0x_ff", 16).saturating_i64(), Some(255));
        assert_eq!(py_int("0Xff", 16).saturating_i64(), Some(255));
        assert_eq!(py_int("0x", 16), PyInt::Invalid);
        assert_eq!(py_int("0x__f", 16), PyInt::Invalid);
    }

    #[test]
    fn uuid_spellings() {
        let u = Uuid::parse_str("7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b").unwrap();
        for s in [
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b",
            "7C2D8C1F-3A5B-4E6F-9A0B-1C2D3E4F5A6B",
            "7c2d8c1f3a5b4e6f9a0b1c2d3e4f5a6b",
            "{7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b}",
            "urn:uuid:7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b",
            "uuid:7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b",
            "7c-2d8c1f3a5b4e6f9a0b1c2d3e4f5a6-b",
            "{{7c2d8c1f3a5b4e6f9a0b1c2d3e4f5a6b}",
            "7c2d8c1f3a5burn:4e6f9a0b1c2d3e4f5a6b",
        ] {
            assert_eq!(py_uuid(s), PyUuid::Valid(u), "{s:?}");
        }
        // int() leniency inside the 32 characters.
        assert_eq!(
            py_uuid("+0000000000000000000000000000001"),
            PyUuid::Valid(Uuid::from_u128(1))
        );
        // Hyphens go before int() sees the text, so a minus sign never survives.
        assert_eq!(
            py_uuid("-00000000000000000000000000000000"),
            PyUuid::Valid(Uuid::nil())
        );
        for s in [
            "not-a-valid-id",
            "",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6bb",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6g",
            "-0000000000000000000000000000001",
        ] {
            assert_eq!(py_uuid(s), PyUuid::Invalid, "{s:?}");
        }
        assert_eq!(
            py_uuid("\u{661}0000000000000000000000000000000"),
            PyUuid::NonAsciiDigits
        );
    }
}
