//! The front end of Python's `json.loads(bytes)`, so that serde_json reads what Python reads.
//!
//! PyJWT hands `json.loads` the decoded header and claims as bytes. Python then
//! - detects UTF-16 and UTF-32 (by where the zero bytes are) and decodes with `surrogatepass`,
//!   so UTF-8-encoded surrogates are text too, while any other invalid UTF-8 is an error;
//! - accepts `\ud800`-style escapes that pair with nothing;
//! - reads integer literals with `int()`, which refuses more than 4300 digits;
//! - crashes (`RecursionError`) on nesting about 1000 levels deep.
//!
//! serde_json differs on each point, so [`prepare`] turns the bytes into text serde_json reads
//! the same way, or refuses them. A lone surrogate becomes U+FFFD: no rule of the contract
//! can tell the two apart (neither is a digit, a hex digit, or part of an expected string).
//! Byte-order marks are refused (contract §9).

use std::borrow::Cow;

use super::python::MAX_STR_DIGITS;

/// Nesting deeper than this is refused. Python's limit is 1000 frames minus those already on
/// the stack: 989 levels of JSON in a bare interpreter, fewer inside Notify's server. Staying
/// below it means never answering a token that makes Notify crash.
pub(crate) const MAX_DEPTH: usize = 900;

const REPLACEMENT: char = '\u{fffd}';

/// The text of `bytes` as Python's `json.loads` would decode it, ready for serde_json; `None`
/// if Python would fail (or §9 lets us refuse).
pub(crate) fn prepare(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let text = decode(bytes)?;
    let scan = scan(&text)?;
    if scan.lone_surrogate_escapes.is_empty() {
        return Some(text);
    }
    let mut owned = String::with_capacity(text.len());
    let mut copied = 0;
    for &at in &scan.lone_surrogate_escapes {
        owned.push_str(&text[copied..at + 2]);
        owned.push_str("fffd");
        copied = at + 6;
    }
    owned.push_str(&text[copied..]);
    Some(Cow::Owned(owned))
}

/// Python's `detect_encoding` and decoding with `surrogatepass`.
fn decode(b: &[u8]) -> Option<Cow<'_, str>> {
    const BOMS: [&[u8]; 5] = [
        b"\x00\x00\xfe\xff",
        b"\xff\xfe\x00\x00",
        b"\xfe\xff",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
    ];
    if BOMS.iter().any(|bom| b.starts_with(bom)) {
        return None;
    }
    let encoding = match b {
        [0, b1, ..] if b.len() >= 4 => {
            if *b1 != 0 {
                Encoding::Utf16Be
            } else {
                Encoding::Utf32Be
            }
        }
        [_, 0, b2, b3, ..] => {
            if *b2 != 0 || *b3 != 0 {
                Encoding::Utf16Le
            } else {
                Encoding::Utf32Le
            }
        }
        [0, _] => Encoding::Utf16Be,
        [_, 0] => Encoding::Utf16Le,
        _ => Encoding::Utf8,
    };
    match encoding {
        Encoding::Utf8 => match std::str::from_utf8(b) {
            Ok(text) => Some(Cow::Borrowed(text)),
            Err(_) => utf8_surrogatepass(b).map(Cow::Owned),
        },
        Encoding::Utf16Be | Encoding::Utf16Le => {
            if !b.len().is_multiple_of(2) {
                return None;
            }
            let big = encoding == Encoding::Utf16Be;
            let units = b.chunks_exact(2).map(|c| {
                let pair = [c[0], c[1]];
                if big {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            });
            let text = char::decode_utf16(units)
                .map(|c| c.unwrap_or(REPLACEMENT))
                .collect();
            Some(Cow::Owned(text))
        }
        Encoding::Utf32Be | Encoding::Utf32Le => {
            if !b.len().is_multiple_of(4) {
                return None;
            }
            let big = encoding == Encoding::Utf32Be;
            b.chunks_exact(4)
                .map(|c| {
                    let quad = [c[0], c[1], c[2], c[3]];
                    let v = if big {
                        u32::from_be_bytes(quad)
                    } else {
                        u32::from_le_bytes(quad)
                    };
                    match v {
                        0xD800..=0xDFFF => Some(REPLACEMENT),
                        _ => char::from_u32(v),
                    }
                })
                .collect::<Option<String>>()
                .map(Cow::Owned)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Be,
    Utf16Le,
    Utf32Be,
    Utf32Le,
}

/// UTF-8 where encoded surrogates (`ED A0..BF xx`) are accepted, as Python's `surrogatepass`
/// does; anything else invalid is refused.
fn utf8_surrogatepass(b: &[u8]) -> Option<String> {
    let mut fixed = b.to_vec();
    let mut i = 0;
    while i + 2 < fixed.len() {
        if fixed[i] == 0xED
            && (0xA0..=0xBF).contains(&fixed[i + 1])
            && (0x80..=0xBF).contains(&fixed[i + 2])
        {
            fixed[i..i + 3].copy_from_slice("\u{fffd}".as_bytes());
            i += 3;
        } else {
            i += 1;
        }
    }
    String::from_utf8(fixed).ok()
}

struct Scan {
    /// Byte offsets of `\uXXXX` escapes of surrogates that pair with nothing.
    lone_surrogate_escapes: Vec<usize>,
}

/// One pass over the JSON text, outside and inside strings, for what serde_json would read
/// differently from Python: nesting depth, integer literals too long for `int()`, and lone
/// surrogate escapes. Syntax errors are left to serde_json.
fn scan(text: &str) -> Option<Scan> {
    if cannot_differ(text.as_bytes()) {
        return Some(Scan {
            lone_surrogate_escapes: Vec::new(),
        });
    }
    full_scan(text)
}

/// [`scan`] without the counting prefilter.
fn full_scan(text: &str) -> Option<Scan> {
    let b = text.as_bytes();
    let mut lone = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                // An unterminated string ends the scan (serde_json refuses it).
                while i < b.len() && b[i] != b'"' {
                    if b[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    if b.get(i + 1) != Some(&b'u') {
                        i += 2;
                        continue;
                    }
                    match escape_at(b, i) {
                        Some(0xD800..=0xDBFF) => {
                            if matches!(escape_at(b, i + 6), Some(0xDC00..=0xDFFF)) {
                                i += 12;
                                continue;
                            }
                            lone.push(i);
                        }
                        Some(0xDC00..=0xDFFF) => lone.push(i),
                        _ => {}
                    }
                    i += 6;
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i + usize::from(b[i] == b'-');
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                let is_integer = !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
                if is_integer && end - start > MAX_STR_DIGITS {
                    return None;
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    Some(Scan {
        lone_surrogate_escapes: lone,
    })
}

/// Whether `b` is plainly free of what [`scan`] looks for, judged by counting (which the
/// compiler vectorises) instead of parsing: no backslash (so no escape), too few opening
/// brackets to nest beyond [`MAX_DEPTH`], and no run of digits longer than `int()` reads.
/// Most JSON, crafted or not, is settled here at a fraction of the cost of the full scan.
fn cannot_differ(b: &[u8]) -> bool {
    if memchr::memchr(b'\\', b).is_some() {
        return false;
    }
    let opening = b.iter().filter(|&&c| c == b'[' || c == b'{').count();
    if opening > MAX_DEPTH {
        return false;
    }
    // Any run of more than MAX_STR_DIGITS positions holds a multiple of MAX_STR_DIGITS + 1:
    // measure only the runs found there (they are disjoint, so this is linear at worst).
    (0..b.len()).step_by(MAX_STR_DIGITS + 1).all(|p| {
        let is_digit = |c: &u8| c.is_ascii_digit();
        let start = b[..p]
            .iter()
            .rposition(|c| !is_digit(c))
            .map_or(0, |i| i + 1);
        let end = b[p..]
            .iter()
            .position(|c| !is_digit(c))
            .map_or(b.len(), |i| p + i);
        end.saturating_sub(start) <= MAX_STR_DIGITS
    })
}

/// The code unit of the `\uXXXX` escape at `at`, if there is one.
fn escape_at(b: &[u8], at: usize) -> Option<u32> {
    let [b'\\', b'u', hex @ ..] = b.get(at..at + 6)? else {
        return None;
    };
    hex.iter().try_fold(0, |unit, &digit| {
        Some(unit << 4 | char::from(digit).to_digit(16)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> Option<String> {
        prepare(b).map(Cow::into_owned)
    }

    #[test]
    fn plain_utf8_is_borrowed() {
        assert!(matches!(prepare(br#"{"a":"b"}"#), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn encodings_as_python_detects_them() {
        let json = r#"{"iss":"x"}"#;
        let utf16le: Vec<u8> = json.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = json.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32le: Vec<u8> = json
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let utf32be: Vec<u8> = json
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        for encoded in [utf16le, utf16be, utf32le, utf32be] {
            assert_eq!(text(&encoded).as_deref(), Some(json));
        }
        assert_eq!(
            text(b"\xef\xbb\xbf{}"),
            None,
            "byte-order marks are refused (§9)"
        );
        assert_eq!(text(b"\xff\xfe{\x00}\x00"), None);
        assert_eq!(text(b"{\"a\":\"\xff\"}"), None, "invalid UTF-8");
        assert_eq!(text(b"{\"a\":\"\xc0\xaf\"}"), None, "overlong UTF-8");
        assert_eq!(
            text(b"{\"a\":\"\xed\xa0\x80\"}").as_deref(),
            Some("{\"a\":\"\u{fffd}\"}"),
            "an encoded surrogate passes"
        );
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        assert_eq!(
            text(br#"{"a":"\ud800","b":"\ude00\ud83d","c":"\ud83d\ude00","d":"\\ud800"}"#)
                .as_deref(),
            Some(r#"{"a":"\ufffd","b":"\ufffd\ufffd","c":"\ud83d\ude00","d":"\\ud800"}"#)
        );
    }

    #[test]
    fn depth_and_integer_limits() {
        let deep = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
        assert!(text(deep(MAX_DEPTH).as_bytes()).is_some());
        assert!(text(deep(MAX_DEPTH + 1).as_bytes()).is_none());
        // Brackets inside strings do not count.
        assert!(text(format!("[\"{}\"]", "[".repeat(5000)).as_bytes()).is_some());
        let digits = |n: usize| "9".repeat(n);
        assert!(text(format!("[{}]", digits(MAX_STR_DIGITS)).as_bytes()).is_some());
        assert!(text(format!("[-{}]", digits(MAX_STR_DIGITS + 1)).as_bytes()).is_none());
        // Floats have no digit limit in Python (serde_json refuses them beyond f64: §9).
        assert!(text(format!("[{}.0]", digits(MAX_STR_DIGITS + 1)).as_bytes()).is_some());
        assert!(text(format!("[\"{}\"]", digits(MAX_STR_DIGITS + 1)).as_bytes()).is_some());
    }

    proptest::proptest! {
        /// Whatever the counting prefilter settles, the full scan settles the same way.
        #[test]
        fn the_prefilter_agrees_with_the_full_scan(
            text in "[\\[\\]{}\"\\\\u0-9a-f:,\\- ]{0,64}",
            depth in 0usize..=MAX_DEPTH + 2,
            digits in 0usize..=MAX_STR_DIGITS + 2,
        ) {
            let candidates = [
                text.clone(),
                format!("{}{text}{}", "[".repeat(depth), "]".repeat(depth)),
                format!("[{}{text}]", "7".repeat(digits)),
                format!("[\"{}\",{text}]", "7".repeat(digits)),
            ];
            for candidate in candidates {
                if cannot_differ(candidate.as_bytes()) {
                    let full = full_scan(&candidate);
                    proptest::prop_assert!(
                        full.as_ref().is_some_and(|s| s.lone_surrogate_escapes.is_empty()),
                        "{candidate:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn strings_cut_short_end_the_scan() {
        for cut in [
            &b"[\"\\"[..],
            b"[\"\\u",
            b"[\"\\u12",
            b"[\"\\ud800\\u",
            b"[\"abc",
            b"\"",
        ] {
            assert!(
                full_scan(std::str::from_utf8(cut).unwrap()).is_some(),
                "{cut:?}"
            );
        }
    }
}
