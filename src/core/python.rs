//! The two Python conversions Notify's answers depend on: `int(text, base)` and
//! `uuid.UUID(text)`.
//!
//! Notify converts `iat`, `nbf` and `exp` with `int()` and `iss` with `uuid.UUID()`, and both
//! accept more than the obvious spellings (surrounding whitespace, a sign, underscores between
//! digits, `0x`, braces, `urn:uuid:`, hyphens anywhere, digits of any script). No crate
//! reproduces CPython's rules, so they are restated here from CPython 3.11's
//! `PyLong_FromUnicodeObject` and `uuid.UUID.__init__`.

use uuid::Uuid;

/// CPython's limit on the digits `int()` reads in base 10 (`sys.get_int_max_str_digits()`).
pub(crate) const MAX_STR_DIGITS: usize = 4300;

/// What `int(text, base)` would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PyInt {
    /// The value: sign and magnitude, the magnitude saturated at `u128::MAX`.
    Value { negative: bool, magnitude: u128 },
    /// `int()` raises `ValueError`.
    Invalid,
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
            PyInt::Invalid => None,
        }
    }
}

/// The white space `int()` strips: ASCII space, tab, line feed, vertical tab, form feed and
/// carriage return, and any non-ASCII white space (CPython turns it into a space first).
/// Unlike `str.isspace()`, the ASCII separators U+001C..U+001F are not stripped.
fn is_int_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
    } else {
        c.is_whitespace()
    }
}

/// The runs of decimal digits (Unicode category Nd) in the Unicode database of Python 3.11
/// (`unicodedata.unidata_version` 14.0.0), as Notify's `int()` reads them: each run's first
/// code point and its length, a multiple of ten whose digits go 0 to 9 and again. Made with
///
/// ```text
/// import unicodedata
/// runs = []
/// for c in range(0x80, 0x110000):
///     if unicodedata.category(chr(c)) == "Nd":
///         if runs and sum(runs[-1]) == c:
///             runs[-1][1] += 1
///         else:
///             runs.append([c, 1])
/// print(runs)
/// ```
///
/// A table rather than a Unicode crate's general category: a crate follows a newer Unicode
/// than Notify's Python (Kawi's digits, U+11F50.., are digits to it and not to Python 3.11),
/// and finding a digit's value from the category took a walk back through its run.
const DECIMAL_RUNS: [(u32, u32); 61] = [
    (0x660, 10),
    (0x6f0, 10),
    (0x7c0, 10),
    (0x966, 10),
    (0x9e6, 10),
    (0xa66, 10),
    (0xae6, 10),
    (0xb66, 10),
    (0xbe6, 10),
    (0xc66, 10),
    (0xce6, 10),
    (0xd66, 10),
    (0xde6, 10),
    (0xe50, 10),
    (0xed0, 10),
    (0xf20, 10),
    (0x1040, 10),
    (0x1090, 10),
    (0x17e0, 10),
    (0x1810, 10),
    (0x1946, 10),
    (0x19d0, 10),
    (0x1a80, 10),
    (0x1a90, 10),
    (0x1b50, 10),
    (0x1bb0, 10),
    (0x1c40, 10),
    (0x1c50, 10),
    (0xa620, 10),
    (0xa8d0, 10),
    (0xa900, 10),
    (0xa9d0, 10),
    (0xa9f0, 10),
    (0xaa50, 10),
    (0xabf0, 10),
    (0xff10, 10),
    (0x104a0, 10),
    (0x10d30, 10),
    (0x11066, 10),
    (0x110f0, 10),
    (0x11136, 10),
    (0x111d0, 10),
    (0x112f0, 10),
    (0x11450, 10),
    (0x114d0, 10),
    (0x11650, 10),
    (0x116c0, 10),
    (0x11730, 10),
    (0x118e0, 10),
    (0x11950, 10),
    (0x11c50, 10),
    (0x11d50, 10),
    (0x11da0, 10),
    (0x16a60, 10),
    (0x16ac0, 10),
    (0x16b50, 10),
    (0x1d7ce, 50),
    (0x1e140, 10),
    (0x1e2f0, 10),
    (0x1e950, 10),
    (0x1fbf0, 10),
];

#[cfg(test)]
thread_local! {
    /// Characters `int()` has read on this thread, for the tests that bound parsing work.
    pub(crate) static DIGIT_STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The value of a digit `int()` reads in `base`: ASCII digits and letters, and the decimal
/// digits of every script. Constant time: the run of the digit before (`run`, which a string
/// of digits of one script hits every time), else a binary search of [`DECIMAL_RUNS`].
fn digit_value(c: char, base: u32, run: &mut usize) -> Option<u32> {
    #[cfg(test)]
    DIGIT_STEPS.with(|steps| steps.set(steps.get() + 1));
    if c.is_ascii() {
        return c.to_digit(base);
    }
    let c = u32::from(c);
    let (start, len) = DECIMAL_RUNS[*run];
    let offset = if c.wrapping_sub(start) < len {
        c - start
    } else {
        *run = DECIMAL_RUNS
            .partition_point(|&(start, _)| start <= c)
            .checked_sub(1)?;
        c - DECIMAL_RUNS[*run].0
    };
    let len = DECIMAL_RUNS[*run].1;
    (offset < len).then_some(offset % 10).filter(|&v| v < base)
}

/// `int(text, base)` for `base` 10 or 16.
pub(crate) fn py_int(text: &str, base: u32) -> PyInt {
    debug_assert!(base == 10 || base == 16);
    let s = text.trim_matches(is_int_space);
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
    let limit = (u128::MAX - u128::from(base - 1)) / u128::from(base);
    let mut digits = 0usize;
    let mut previous_underscore = false;
    let mut run = 0;
    for c in chars.chars() {
        if c == '_' {
            if digits == 0 || previous_underscore {
                return PyInt::Invalid;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let Some(value) = digit_value(c, base, &mut run) else {
            return PyInt::Invalid;
        };
        // Past the limit the value only saturates: no more 128-bit arithmetic.
        magnitude = if magnitude <= limit {
            magnitude * u128::from(base) + u128::from(value)
        } else {
            u128::MAX
        };
        digits += 1;
    }
    if digits == 0 || previous_underscore || (base == 10 && digits > MAX_STR_DIGITS) {
        PyInt::Invalid
    } else {
        PyInt::Value {
            negative,
            magnitude,
        }
    }
}

/// `uuid.UUID(text)`: drops every `urn:` then every `uuid:` (case-sensitively), strips braces
/// from both ends, drops every hyphen, requires 32 characters, and reads them with
/// `int(…, 16)`. `None` when `UUID()` raises.
pub(crate) fn py_uuid(text: &str) -> Option<Uuid> {
    // The plain, hyphenated and braced spellings need no allocation; `Uuid::try_parse` would
    // also take a `urn:uuid:` prefix in any case, which Python does not.
    if matches!(text.len(), 32 | 36 | 38)
        && let Ok(uuid) = Uuid::try_parse(text)
    {
        return Some(uuid);
    }
    let stripped = text.replace("urn:", "").replace("uuid:", "");
    let hex: String = stripped
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|&c| c != '-')
        .collect();
    if hex.chars().count() != 32 {
        return None;
    }
    match py_int(&hex, 16) {
        // A minus sign cannot survive (hyphens are gone), but "-0"-like values could.
        PyInt::Value {
            negative,
            magnitude,
        } if !negative || magnitude == 0 => Some(Uuid::from_u128(magnitude)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int10(s: &str) -> Option<i64> {
        py_int(s, 10).saturating_i64()
    }

    // Expected values checked against CPython 3.11's int() and uuid.UUID().

    #[test]
    fn int_accepts_what_python_accepts() {
        assert_eq!(int10("1795394922"), Some(1795394922));
        assert_eq!(int10(" +1795394922 "), Some(1795394922));
        assert_eq!(int10("\t-12\n"), Some(-12));
        assert_eq!(int10("\u{b}\u{c}\r12"), Some(12));
        assert_eq!(int10("1_000"), Some(1000));
        assert_eq!(int10("\u{a0}7\u{2003}"), Some(7));
        assert_eq!(int10("007"), Some(7));
        assert_eq!(int10("\u{661}\u{662}"), Some(12));
        assert_eq!(int10("\u{ff11}"), Some(1));
        assert_eq!(int10("\u{1d7d8}\u{1d7e3}"), Some(1));
        assert_eq!(int10("99999999999999999999999999"), Some(i64::MAX));
        assert_eq!(int10("-99999999999999999999999999"), Some(-i64::MAX));
        assert_eq!(int10(&"1".repeat(MAX_STR_DIGITS)), Some(i64::MAX));
    }

    #[test]
    fn int_rejects_what_python_rejects() {
        let too_long = "0".repeat(MAX_STR_DIGITS + 1);
        let too_long_with_underscores = format!("{}1", "1_".repeat(MAX_STR_DIGITS));
        for s in [
            "",
            " ",
            "abc",
            "1.5",
            "_1",
            "1_",
            "1__0",
            "+-1",
            "--1",
            "1 2",
            "0x10",
            "+",
            "1e3",
            "\u{1c}7",
            "7\u{1f}",
            "\u{b2}",
            "1\u{a0}2",
            &too_long,
            &too_long_with_underscores,
        ] {
            assert_eq!(py_int(s, 10), PyInt::Invalid, "{s:?}");
        }
    }

    #[test]
    fn the_digit_table_has_the_shape_of_unicode_decimal_runs() {
        for pair in DECIMAL_RUNS.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "{pair:x?}");
        }
        for (start, len) in DECIMAL_RUNS {
            assert!(len > 0 && len % 10 == 0, "{start:x}");
            assert!(start > 0x7f);
            for offset in 0..len {
                let c = char::from_u32(start + offset).unwrap();
                assert_eq!(digit_value(c, 10, &mut 0), Some(offset % 10), "{c:?}");
            }
            let before = char::from_u32(start - 1).unwrap();
            assert!(
                digit_value(before, 10, &mut 0).is_none()
                    || DECIMAL_RUNS.iter().any(|r| r.0 + r.1 == start)
            );
        }
        // Digits of a Unicode newer than Python 3.11's 14.0 are not digits to Notify.
        assert_eq!(py_int("\u{11f51}", 10), PyInt::Invalid);
        assert_eq!(py_int("\u{1e4f1}", 10), PyInt::Invalid);
        assert_eq!(int10("\u{1d7ff}\u{1d7ce}"), Some(90));
    }

    #[test]
    fn int_reads_each_character_once() {
        let digits = "\u{1d7ff}".repeat(1400);
        DIGIT_STEPS.with(|steps| steps.set(0));
        assert_eq!(int10(&digits), Some(i64::MAX));
        assert_eq!(DIGIT_STEPS.with(|steps| steps.get()), 1400);
    }

    #[test]
    fn hex_prefix_and_underscore() {
        assert_eq!(py_int("0x_ff", 16).saturating_i64(), Some(255));
        assert_eq!(py_int("0Xff", 16).saturating_i64(), Some(255));
        assert_eq!(py_int("0x", 16), PyInt::Invalid);
        assert_eq!(py_int("0x__f", 16), PyInt::Invalid);
        // No digit limit in base 16.
        assert!(py_int(&"f".repeat(5000), 16).saturating_i64().is_some());
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
            assert_eq!(py_uuid(s), Some(u), "{s:?}");
        }
        // int() leniency inside the 32 characters.
        assert_eq!(
            py_uuid("+0000000000000000000000000000001"),
            Some(Uuid::from_u128(1))
        );
        assert_eq!(
            py_uuid(" 0000000000000000000000000000001"),
            Some(Uuid::from_u128(1))
        );
        assert_eq!(
            py_uuid("\u{661}0000000000000000000000000000000"),
            Some(Uuid::from_u128(1 << 124))
        );
        // Hyphens go before int() sees the text, so a minus sign never survives.
        assert_eq!(
            py_uuid("-00000000000000000000000000000000"),
            Some(Uuid::nil())
        );
        for s in [
            "not-a-valid-id",
            "",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6bb",
            "7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6g",
            "-0000000000000000000000000000001",
            "URN:UUID:7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b",
            "urn:UUID:7c2d8c1f-3a5b-4e6f-9a0b-1c2d3e4f5a6b",
            "\u{1c}0000000000000000000000000000001",
            "\u{b2}0000000000000000000000000000000",
        ] {
            assert_eq!(py_uuid(s), None, "{s:?}");
        }
    }

    /// [`DECIMAL_RUNS`] against the Unicode database of the oracle's Python (Notify's, 3.11:
    /// Unicode 14.0.0), made by the script in its documentation.
    #[test]
    fn decimal_runs_are_those_of_pythons_unicode_database() {
        let python = crate::core::oracle_python();
        let script = "import unicodedata\n\
            runs = []\n\
            for c in range(0x80, 0x110000):\n\
            \x20   if unicodedata.category(chr(c)) == 'Nd':\n\
            \x20       if runs and sum(runs[-1]) == c:\n\
            \x20           runs[-1][1] += 1\n\
            \x20       else:\n\
            \x20           runs.append([c, 1])\n\
            print(unicodedata.unidata_version)\n\
            for start, length in runs:\n\
            \x20   print(start, length)\n";
        let Ok(output) = std::process::Command::new(&python)
            .args(["-c", script])
            .output()
        else {
            return crate::core::skip::skipped(&format!("{python} does not run"));
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let mut lines = text.lines();
        let version = lines.next().unwrap();
        if version != "14.0.0" {
            // Another Python's database is not Notify's: nothing to compare with.
            return crate::core::skip::skipped(&format!(
                "{python} has Unicode {version}, Notify's Python 14.0.0"
            ));
        }
        let runs: Vec<(u32, u32)> = lines
            .map(|line| {
                let (start, length) = line.split_once(' ').unwrap();
                (start.parse().unwrap(), length.parse().unwrap())
            })
            .collect();
        assert_eq!(runs, DECIMAL_RUNS);
    }
}
