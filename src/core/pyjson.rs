//! Python's `json.loads(bytes)`, for what the contract reads of it: one object whose members
//! are looked at by name.
//!
//! PyJWT hands `json.loads` the decoded header and claims as bytes. Python then
//! - detects UTF-16 and UTF-32 (by where the zero bytes are) and decodes with `surrogatepass`,
//!   so UTF-8-encoded surrogates are text too, while any other invalid UTF-8 is an error;
//! - reads strict JSON (no control characters in strings, no trailing commas, no leading
//!   zeros), but accepts `\ud800`-style escapes that pair with nothing;
//! - reads integer literals with `int()`, which refuses more than 4300 digits, and any other
//!   number with `float()`, which never fails (`1e400` is infinity);
//! - keeps the last of duplicate keys;
//! - crashes (`RecursionError`) on nesting about 1000 levels deep.
//!
//! [`read_object`] does the same in one pass over the text, without building anything: the
//! members are handed over as they come, each value as a [`Value`] that borrows its text, and
//! nested arrays and objects are checked with a counter and a bit per level instead of
//! recursion. Where the contract lets this crate differ (§9) it refuses: byte-order marks,
//! `NaN` and `Infinity` literals, float literals beyond a 64-bit float (integer literals are
//! read as Python reads them, up to `int()`'s 4300 digits), and nesting deeper than
//! [`MAX_DEPTH`]. A lone surrogate reads as U+FFFD: no rule of the contract can tell the two
//! apart (neither is a digit, a hex digit, or part of an expected string).
//!
//! It replaces serde_json here for cost as much as for fidelity: a crafted 8 KiB token of a
//! thousand one-character members took serde_json's visitors about 11 µs to read, most of a
//! hostile request's CPU besides the HMACs (BENCHMARKS.md, "Hostile tokens").

use std::borrow::Cow;

use super::python::MAX_STR_DIGITS;

/// Nesting deeper than this is refused (the top-level object is level 1). Python's limit is
/// 1000 frames minus those already on the stack: 989 levels of JSON in a bare interpreter,
/// fewer inside Notify's server. Staying below it means never answering a token that makes
/// Notify crash.
pub(crate) const MAX_DEPTH: usize = 900;

const REPLACEMENT: char = '\u{fffd}';

/// The digits of 2¹⁰²⁴ − 2⁹⁷⁰, halfway between the largest `f64` and 2¹⁰²⁴: a number of 309
/// digits before the point is finite for Python's `float()` exactly when its digits are below
/// these (a tie rounds to even, which is infinity). Printed by `str(2**1024 - 2**970)`.
const OVERFLOW_DIGITS: &[u8; 309] = b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";

/// Python's `detect_encoding` and decoding with `surrogatepass`.
pub(crate) fn decode(b: &[u8]) -> Option<Cow<'_, str>> {
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
        // simdutf8 validates non-ASCII text several times faster than `std` (a crafted token
        // is 8 KiB of it), with the same verdict.
        Encoding::Utf8 => match simdutf8::basic::from_utf8(b) {
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
            // ASCII text, the usual content, is copied a unit to a byte without decoding.
            if units.clone().all(|unit| unit < 0x80) {
                return String::from_utf8(units.map(|unit| unit as u8).collect())
                    .ok()
                    .map(Cow::Owned);
            }
            let mut text = String::with_capacity(b.len() / 2 * 3);
            text.extend(char::decode_utf16(units).map(|c| c.unwrap_or(REPLACEMENT)));
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

/// A JSON string as it appears between its quotes, escapes still in (all of them valid).
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonStr<'t> {
    raw: &'t str,
    escaped: bool,
}

impl<'t> JsonStr<'t> {
    /// Whether the string is `""` (an escape always stands for at least one character).
    pub(crate) fn is_empty(self) -> bool {
        self.raw.is_empty()
    }

    /// The characters, escapes decoded; a surrogate that pairs with nothing is U+FFFD.
    pub(crate) fn chars(self) -> impl Iterator<Item = char> + 't {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            let (c, len) = match rest.as_bytes() {
                [] => return None,
                [b'\\', b'u', ..] => {
                    let unit = hex4(&rest.as_bytes()[2..6]).expect("validated when read");
                    match unit {
                        0xD800..=0xDBFF => match rest.as_bytes().get(6..12).and_then(|next| {
                            let [b'\\', b'u', hex @ ..] = next else {
                                return None;
                            };
                            hex4(hex).filter(|low| (0xDC00..=0xDFFF).contains(low))
                        }) {
                            Some(low) => {
                                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                (char::from_u32(c).expect("a surrogate pair"), 12)
                            }
                            None => (REPLACEMENT, 6),
                        },
                        _ => (char::from_u32(unit).unwrap_or(REPLACEMENT), 6),
                    }
                }
                [b'\\', escape, ..] => {
                    let c = match escape {
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        other => char::from(*other),
                    };
                    (c, 2)
                }
                _ => {
                    let c = rest.chars().next().expect("not empty");
                    (c, c.len_utf8())
                }
            };
            rest = &rest[len..];
            Some(c)
        })
    }

    /// Whether the text holds a NUL or a surrogate that pairs with nothing (only escapes can
    /// write either), which a database driver cannot send.
    pub(crate) fn has_nul_or_lone_surrogate(self) -> bool {
        if !self.escaped {
            return false;
        }
        let raw = self.raw.as_bytes();
        let unit_at = |i: usize| match raw.get(i..i + 6) {
            Some([b'\\', b'u', hex @ ..]) => hex4(hex),
            _ => None,
        };
        let mut i = 0;
        while i < raw.len() {
            if raw[i] != b'\\' {
                i += 1;
                continue;
            }
            let Some(unit) = unit_at(i) else {
                i += 2;
                continue;
            };
            match unit {
                0 | 0xDC00..=0xDFFF => return true,
                0xD800..=0xDBFF => match unit_at(i + 6) {
                    Some(0xDC00..=0xDFFF) => i += 12,
                    _ => return true,
                },
                _ => i += 6,
            }
        }
        false
    }

    /// The text, escapes decoded: borrowed unless there are escapes.
    pub(crate) fn text(self) -> Cow<'t, str> {
        if self.escaped {
            Cow::Owned(self.chars().collect())
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Whether the text is `expected`, without decoding into memory.
    pub(crate) fn is(self, expected: &str) -> bool {
        if self.escaped {
            // An escape is at most 6 bytes for one character, or 12 for two UTF-16 units.
            self.raw.len() <= 6 * expected.len() && self.chars().eq(expected.chars())
        } else {
            self.raw == expected
        }
    }

    /// The text if it is at most `N` ASCII characters (object keys are matched with this),
    /// decoded into `buf` when it has escapes; `None` otherwise.
    #[inline]
    pub(crate) fn short_ascii<'b, const N: usize>(self, buf: &'b mut [u8; N]) -> Option<&'b str>
    where
        't: 'b,
    {
        if !self.escaped {
            return (self.raw.len() <= N && self.raw.is_ascii()).then_some(self.raw);
        }
        if self.raw.len() > 6 * N {
            return None;
        }
        let mut len = 0;
        for c in self.chars() {
            if !c.is_ascii() || len == N {
                return None;
            }
            buf[len] = c as u8;
            len += 1;
        }
        std::str::from_utf8(&buf[..len]).ok()
    }
}

/// A member's value, as far as the contract's rules look at one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'t> {
    Null,
    Bool(bool),
    /// An integer literal (at most [`MAX_STR_DIGITS`] digits), as written.
    Int(&'t str),
    /// Any other number (a fraction or an exponent), as written; finite as a `f64`.
    Float(&'t str),
    Str(JsonStr<'t>),
    List {
        empty: bool,
        /// Not empty, and holding only `null`s and lists of that kind (`[null]`,
        /// `[null,[null]]`): what psycopg2 writes as an array literal (`'{NULL,{NULL}}'`)
        /// rather than an `ARRAY[…]` constructor.
        null_only: bool,
    },
    Object {
        empty: bool,
    },
}

impl Value<'_> {
    /// An integer literal's value, saturated to `i64`.
    pub(crate) fn int_saturating(text: &str) -> i64 {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, text),
        };
        // JSON integers have no leading zeros: past 19 digits the value is beyond `i64`.
        if digits.len() > 19 {
            return if negative { i64::MIN } else { i64::MAX };
        }
        digits.bytes().fold(0i64, |n, d| {
            let d = i64::from(d - b'0');
            if negative {
                n.saturating_mul(10).saturating_sub(d)
            } else {
                n.saturating_mul(10).saturating_add(d)
            }
        })
    }

    /// A number's value as Python's `float()` gives it (correctly rounded).
    pub(crate) fn float(text: &str) -> f64 {
        text.parse().expect("validated when read")
    }
}

/// Where [`read_object`] puts the members a caller wants.
pub(crate) trait Members<'t> {
    /// Names a wanted member.
    type Slot;
    /// The slot of the member `key` names, if its value is wanted. The others are read only
    /// to check them, without making a [`Value`].
    fn slot(&self, key: JsonStr<'t>) -> Option<Self::Slot>;
    /// Receives a wanted member's value, in the order of the text.
    fn set(&mut self, slot: Self::Slot, value: Value<'t>);
}

/// Reads `text` as Python's `json.loads` does (with §9's refusals), requiring an object, and
/// hands the members `members` wants to it in order. `None` if Python would fail (or §9 lets
/// the crate refuse), or if the value is not an object; `members` may then have some.
pub(crate) fn read_object<'t>(text: &'t str, members: &mut impl Members<'t>) -> Option<()> {
    let mut r = Reader {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    r.ws();
    r.eat(b'{')?;
    r.ws();
    if r.eat(b'}').is_none() {
        loop {
            let key = r.key()?;
            match members.slot(key) {
                Some(slot) => members.set(slot, r.value()?),
                None => match r.peek()? {
                    b'[' | b'{' => drop(r.nested()?),
                    _ => r.skip_scalar()?,
                },
            }
            r.ws();
            match r.next()? {
                b',' => r.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.ws();
    (r.i == r.b.len()).then_some(())
}

/// The bytes that end a run of a string's plain characters: the quote, the backslash, and the
/// control characters (refused).
static STRING_SPECIAL: [bool; 256] = {
    let mut special = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        special[c] = true;
        c += 1;
    }
    special[b'"' as usize] = true;
    special[b'\\' as usize] = true;
    special
};

/// One bit per level of nesting below the top-level object: set for an object.
struct Levels([u64; MAX_DEPTH.div_ceil(64)]);

impl Levels {
    fn set(&mut self, level: usize, object: bool) {
        let (word, bit) = (level / 64, level % 64);
        if object {
            self.0[word] |= 1 << bit;
        } else {
            self.0[word] &= !(1 << bit);
        }
    }

    fn is_object(&self, level: usize) -> bool {
        self.0[level / 64] & (1 << (level % 64)) != 0
    }
}

/// The cursor over the text. Its small methods are always inlined into the loops of
/// [`read_object`] and [`Reader::nested`]: the cursor then stays in a register, instead of
/// going through memory at every call (which, at a thousand members per token, tripled the
/// cost of reading one).
struct Reader<'t> {
    text: &'t str,
    b: &'t [u8],
    i: usize,
}

impl<'t> Reader<'t> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    /// JSON's (and Python's) white space.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// An object key, the colon after it, and the white space around it.
    #[inline(always)]
    fn key(&mut self) -> Option<JsonStr<'t>> {
        let key = self.str_value()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Some(key)
    }

    /// The array or object at the cursor, read to its end: whether it is empty, and whether
    /// it holds only `null`s and non-empty lists of them ([`Value::List`]'s `null_only`). It
    /// is at level 2 (inside the top-level object).
    fn nested(&mut self) -> Option<(bool, bool)> {
        let mut levels = Levels([0; MAX_DEPTH.div_ceil(64)]);
        // Open containers; the one at the cursor is opened first.
        let mut open = 0usize;
        let mut at_value = true;
        let mut null_only = true;
        loop {
            if at_value {
                match self.peek()? {
                    c @ (b'[' | b'{') => {
                        // Levels 1 (the top-level object) to `open + 1` are open already.
                        if open + 2 > MAX_DEPTH {
                            return None;
                        }
                        let object = c == b'{';
                        levels.set(open, object);
                        open += 1;
                        self.i += 1;
                        self.ws();
                        null_only &= !object;
                        if self.eat(if object { b'}' } else { b']' }).is_some() {
                            open -= 1;
                            if open == 0 {
                                return Some((true, false));
                            }
                            null_only = false;
                            at_value = false;
                        } else if object {
                            self.key()?;
                        }
                        continue;
                    }
                    c => {
                        null_only &= c == b'n';
                        self.skip_scalar()?;
                        at_value = false;
                    }
                }
            }
            self.ws();
            let object = levels.is_object(open - 1);
            match self.next()? {
                b',' => {
                    self.ws();
                    if object {
                        self.key()?;
                    }
                    at_value = true;
                }
                b'}' if object => open -= 1,
                b']' if !object => open -= 1,
                _ => return None,
            }
            if open == 0 {
                return Some((false, null_only));
            }
        }
    }

    /// The value at the cursor.
    #[inline(always)]
    fn value(&mut self) -> Option<Value<'t>> {
        match self.peek()? {
            b'[' => self
                .nested()
                .map(|(empty, null_only)| Value::List { empty, null_only }),
            b'{' => self.nested().map(|(empty, _)| Value::Object { empty }),
            b'"' => self.str_value().map(Value::Str),
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                let integer = self.number()?;
                let text = &self.text[start..self.i];
                Some(if integer {
                    Value::Int(text)
                } else {
                    Value::Float(text)
                })
            }
            _ => None,
        }
    }

    /// Checks the string, number, `true`, `false` or `null` at the cursor, and reads past it.
    #[inline(always)]
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// Reads past `word` (`true`, `false` or `null`) if it is at the cursor.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// The string at the cursor.
    #[inline(always)]
    fn str_value(&mut self) -> Option<JsonStr<'t>> {
        let start = self.i + 1;
        let escaped = self.string()?;
        Some(JsonStr {
            raw: &self.text[start..self.i - 1],
            escaped,
        })
    }

    /// Reads past the string at the cursor (its opening quote): whether it has escapes.
    /// Control characters are refused, and every escape must be one of JSON's (a `\u` escape
    /// of a lone surrogate is one). (Positions, not a [`JsonStr`], come back: that keeps the
    /// result in registers, which matters at a thousand keys per token.)
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        /// Runs up to this long are walked byte by byte; longer ones are searched (SIMD).
        const SHORT: usize = 16;
        if self.peek() != Some(b'"') {
            return None;
        }
        let mut i = self.i + 1;
        let mut escaped = false;
        // Plain bytes walked since the last search.
        let mut plain = 0;
        loop {
            let c = *self.b.get(i)?;
            if !STRING_SPECIAL[usize::from(c)] {
                i += 1;
                plain += 1;
                if plain == SHORT {
                    // A long run: search for its end instead.
                    let rest = &self.b[i..];
                    let run = memchr::memchr2(b'"', b'\\', rest)?;
                    // No control character in the run: its smallest byte (a vectorised minimum)
                    // is not one.
                    if rest[..run].iter().fold(u8::MAX, |min, &c| min.min(c)) < 0x20 {
                        return None;
                    }
                    i += run;
                    plain = 0;
                }
                continue;
            }
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    plain = 0;
                    i += match *self.b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => {
                            hex4(self.b.get(i + 2..i + 6)?)?;
                            6
                        }
                        _ => return None,
                    };
                }
                _ => return None,
            }
        }
        self.i = i + 1;
        Some(escaped)
    }

    /// Reads past the number at the cursor, by Python's pattern
    /// `(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?` (what follows it is the caller's to judge):
    /// whether it is an integer literal (else it has a fraction or an exponent).
    #[inline(always)]
    fn number(&mut self) -> Option<bool> {
        /// Integers up to this long are walked byte by byte; longer runs are read eight
        /// bytes at a time.
        const SHORT: usize = 16;
        let b = self.b;
        let int_start = self.i + usize::from(b[self.i] == b'-');
        let int_end = match b.get(int_start)? {
            b'0' => int_start + 1,
            b'1'..=b'9' => {
                let mut end = int_start + 1;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                    if end - int_start == SHORT {
                        end += digit_run(&b[end..]);
                        break;
                    }
                }
                end
            }
            _ => return None, // `-Infinity`, which §9 lets us refuse, or no number at all.
        };
        if !matches!(b.get(int_end), Some(b'.' | b'e' | b'E')) {
            self.i = int_end;
            return (int_end - int_start <= MAX_STR_DIGITS).then_some(true);
        }
        self.float_tail(int_start, int_end)
    }

    /// The rest of a number whose integer part is `int_start..int_end`, if a fraction or an
    /// exponent follows it (else it is an integer, and what follows is the caller's).
    #[inline(never)]
    fn float_tail(&mut self, int_start: usize, int_end: usize) -> Option<bool> {
        let b = self.b;
        let digits_from = |at: usize| at + digit_run(&b[at..]);
        let mut end = int_end;
        let mut fraction = &b[end..end];
        if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            let fraction_end = digits_from(end + 1);
            fraction = &b[end + 1..fraction_end];
            end = fraction_end;
        }
        let mut exponent = None;
        if let Some(b'e' | b'E') = b.get(end) {
            let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
            if b.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                let digits_end = digits_from(end + 1 + sign);
                let negative = b[end + 1] == b'-';
                exponent = Some((negative, &b[end + 1 + sign..digits_end]));
                end = digits_end;
            }
        }
        self.i = end;
        let integer = &b[int_start..int_end];
        if fraction.is_empty() && exponent.is_none() {
            return (integer.len() <= MAX_STR_DIGITS).then_some(true);
        }
        finite(integer, fraction, exponent).then_some(false)
    }
}

/// Whether Python's `float()` of the number with these integer and fraction digits and this
/// exponent (sign, digits) is finite, decided from its digits: the number is
/// `0.d₁d₂… × 10^(magnitude + 1)` with `d₁` its first non-zero digit, and only a
/// magnitude of 308 needs the digits compared with [`OVERFLOW_DIGITS`].
fn finite(integer: &[u8], fraction: &[u8], exponent: Option<(bool, &[u8])>) -> bool {
    let digits = || integer.iter().chain(fraction).copied();
    let Some(leading_zeros) = digits().position(|d| d != b'0') else {
        return true; // zero
    };
    let exponent = exponent.map_or(0i64, |(negative, digits)| {
        // Past 18 significant digits the exponent is beyond any magnitude a token can offset.
        let significant = &digits[digits.iter().take_while(|&&d| d == b'0').count()..];
        let e = if significant.len() > 18 {
            i64::MAX / 2
        } else {
            significant
                .iter()
                .fold(0i64, |e, &d| e * 10 + i64::from(d - b'0'))
        };
        if negative { -e } else { e }
    });
    let magnitude = (integer.len() as i64 - 1 - leading_zeros as i64).saturating_add(exponent);
    match magnitude.cmp(&308) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => {
            let mut significant = digits().skip(leading_zeros);
            for &limit in OVERFLOW_DIGITS {
                let d = significant.next().unwrap_or(b'0');
                if d != limit {
                    return d < limit;
                }
            }
            false // equal to the limit or above it
        }
    }
}

/// The length of the run of ASCII digits `b` starts with, eight bytes at a time.
#[inline(never)]
fn digit_run(b: &[u8]) -> usize {
    let mut n = 0;
    for chunk in b.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // A byte's high bit is set below '0' (after subtracting 0x30) or above '9' (after
        // adding 0x46); borrows and carries between bytes only start past such a byte.
        let outside = (x.wrapping_sub(0x3030_3030_3030_3030)
            | x.wrapping_add(0x4646_4646_4646_4646))
            & 0x8080_8080_8080_8080;
        if outside != 0 {
            return n + (outside.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// The value of each hex digit, and 0xFF for every other byte.
static HEX: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c as u8 {
            d @ b'0'..=b'9' => d - b'0',
            d @ b'a'..=b'f' => d - b'a' + 10,
            d @ b'A'..=b'F' => d - b'A' + 10,
            _ => 0xFF,
        };
        c += 1;
    }
    table
};

/// The value of four hex digits.
fn hex4(hex: &[u8]) -> Option<u32> {
    let &[a, b, c, d] = hex else {
        return None;
    };
    let [a, b, c, d] = [a, b, c, d].map(|x| HEX[usize::from(x)]);
    // A byte that is not a hex digit (0xFF) leaves bits above the fourth.
    ((a | b | c | d) < 0x10)
        .then(|| u32::from(a) << 12 | u32::from(b) << 8 | u32::from(c) << 4 | u32::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member, in order.
    struct All<'t>(Vec<(JsonStr<'t>, Value<'t>)>);

    impl<'t> Members<'t> for All<'t> {
        type Slot = JsonStr<'t>;
        fn slot(&self, key: JsonStr<'t>) -> Option<JsonStr<'t>> {
            Some(key)
        }
        fn set(&mut self, key: JsonStr<'t>, value: Value<'t>) {
            self.0.push((key, value));
        }
    }

    /// The members of `json` (UTF-8) if [`read_object`] accepts it.
    fn members(json: &str) -> Option<Vec<(String, Value<'_>)>> {
        let mut all = All(Vec::new());
        read_object(json, &mut all)?;
        Some(
            all.0
                .into_iter()
                .map(|(k, v)| (k.text().into_owned(), v))
                .collect(),
        )
    }

    /// The keys of `json`, in order.
    fn keys(json: &str) -> Vec<JsonStr<'_>> {
        let mut all = All(Vec::new());
        read_object(json, &mut all).unwrap();
        all.0.into_iter().map(|(k, _)| k).collect()
    }

    fn text(b: &[u8]) -> Option<String> {
        decode(b).map(Cow::into_owned)
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
    fn escapes_decode_as_python_decodes_them_lone_surrogates_as_replacement_characters() {
        let json = r#"{"a":"\ud800","b":"\ude00\ud83d","c":"\ud83d\ude00","d":"\\ud800","e":"\"\/\b\f\n\r\t\u00e9x"}"#;
        let read: Vec<(String, String)> = members(json)
            .unwrap()
            .into_iter()
            .map(|(k, v)| match v {
                Value::Str(s) => (k, s.text().into_owned()),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = [
            ("a", "\u{fffd}"),
            ("b", "\u{fffd}\u{fffd}"),
            ("c", "\u{1f600}"),
            ("d", "\\ud800"),
            ("e", "\"/\u{8}\u{c}\n\r\t\u{e9}x"),
        ];
        assert_eq!(
            read,
            expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
        for bad in [
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\u12g4"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\t\"}",
            r#"{"a":"\"#,
            r#"{"a":"abc"#,
        ] {
            assert!(members(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_match_by_their_decoded_text() {
        let short = keys(r#"{"i\u0061t":1,"iat":2,"\u0069\u0061\u0074\u0020":3,"":4}"#);
        let mut buf = [0u8; 4];
        assert!(short[0].is("iat") && short[1].is("iat") && !short[2].is("iat"));
        assert_eq!(short[0].short_ascii(&mut buf), Some("iat"));
        assert_eq!(short[2].short_ascii(&mut buf), Some("iat "));
        assert_eq!(short[3].short_ascii(&mut buf), Some(""));
        assert!(short[3].is_empty() && !short[0].is_empty());
        let long = keys(r#"{"\u0069\u0061\u0074\u0020\u0020":1,"caf\u00e9":2,"é":3}"#);
        assert_eq!(long[0].short_ascii(&mut buf), None, "five characters");
        assert_eq!(long[1].short_ascii(&mut buf), None, "not ASCII");
        assert_eq!(long[2].short_ascii(&mut buf), None, "not ASCII, unescaped");
    }

    #[test]
    fn depth_and_integer_limits() {
        let deep = |d: usize| format!("{{\"x\":{}{}}}", "[".repeat(d - 1), "]".repeat(d - 1));
        assert!(members(&deep(MAX_DEPTH)).is_some());
        assert!(members(&deep(MAX_DEPTH + 1)).is_none());
        let objects = |d: usize| format!("{}1{}", r#"{"a":"#.repeat(d), "}".repeat(d));
        assert!(members(&objects(MAX_DEPTH)).is_some());
        assert!(members(&objects(MAX_DEPTH + 1)).is_none());
        // Brackets inside strings do not count.
        assert!(members(&format!("{{\"x\":\"{}\"}}", "[".repeat(5000))).is_some());
        let digits = |n: usize| "9".repeat(n);
        assert!(members(&format!(r#"{{"x":{}}}"#, digits(MAX_STR_DIGITS))).is_some());
        assert!(members(&format!(r#"{{"x":-{}}}"#, digits(MAX_STR_DIGITS + 1))).is_none());
        // Floats have no digit limit in Python.
        assert!(
            members(&format!(
                r#"{{"x":{}.0e-4000}}"#,
                digits(MAX_STR_DIGITS + 1)
            ))
            .is_some()
        );
        assert!(members(&format!(r#"{{"x":"{}"}}"#, digits(MAX_STR_DIGITS + 1))).is_some());
    }

    #[test]
    fn floats_are_finite_exactly_below_the_overflow_threshold() {
        let limit = std::str::from_utf8(OVERFLOW_DIGITS).unwrap();
        let below = format!("{}1.5", &limit[..308]);
        let finite = [
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "0.17976931348623157e309",
            "17976931348623157e292",
            &below,
            "0e999999999999999999999",
            "1e-99999999999999999999",
            "-1.5e307",
            "0.000001e313",
        ];
        let infinite = [
            "1e309",
            "1.797693134862315808e308",
            "-1.8e308",
            "10e308",
            "0.1e310",
            "1e99999999999999999999",
            &format!("{limit}.0"),
            &format!("{limit}.0000001"),
        ];
        for (numbers, expect_finite) in [(&finite[..], true), (&infinite[..], false)] {
            for n in numbers {
                let python = n.parse::<f64>().unwrap().is_finite();
                assert_eq!(python, expect_finite, "{n}: the test's own expectation");
                assert_eq!(
                    members(&format!(r#"{{"x":{n}}}"#)).is_some(),
                    expect_finite,
                    "{n}"
                );
            }
        }
    }

    /// `int_saturating` and `float` on the literals [`read_object`] hands over.
    #[test]
    fn number_values() {
        assert_eq!(Value::int_saturating("0"), 0);
        assert_eq!(Value::int_saturating("-0"), 0);
        assert_eq!(Value::int_saturating("1795394922"), 1_795_394_922);
        assert_eq!(Value::int_saturating("-9223372036854775808"), i64::MIN);
        assert_eq!(Value::int_saturating(&"9".repeat(400)), i64::MAX);
        assert_eq!(
            Value::int_saturating(&format!("-{}", "9".repeat(400))),
            i64::MIN
        );
        assert_eq!(Value::float("1795394922.75"), 1_795_394_922.75);
        assert_eq!(Value::float("-1E+2"), -100.0);
    }

    /// A small deterministic generator (xorshift), enough to vary the texts below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const NAMES: [&str; 13] = [
        "iss", "iat", "nbf", "exp", "aud", "sub", "jti", "req", "pay", "alg", "kid", "crit", "b64",
    ];

    fn ws(rng: &mut Rng) -> &'static str {
        match rng.below(12) {
            0 => " ",
            1 => "\n\t ",
            2 => "\r",
            3 if rng.below(8) == 0 => "\u{b}",
            4 if rng.below(8) == 0 => "\u{a0}",
            _ => "",
        }
    }

    fn string(rng: &mut Rng, out: &mut String) {
        out.push('"');
        for _ in 0..rng.below(5) {
            out.push_str(rng.pick(&[
                "a",
                "iat",
                "é",
                "😀",
                "\\n",
                "\\\"",
                "\\/",
                "\\\\",
                "\\u00e9",
                "\\u0069",
                "\\ud83d\\ude00",
                "\\ud800",
                "\\udc00",
                "\\ude00\\ud83d",
                "\\ud800\\u0041",
                "\\uD83D\\uDE00",
                "\\u0000",
                "1795394922",
                " 12_3 ",
                "٣",
                "HS256",
            ]));
            if rng.below(40) == 0 {
                out.push_str(rng.pick(&["\\x", "\\u12", "\\uZZZZ", "\u{1}", "\t", "\\"]));
            }
        }
        out.push('"');
    }

    fn key(rng: &mut Rng, out: &mut String) {
        if rng.below(3) == 0 {
            return string(rng, out);
        }
        let name = rng.pick(&NAMES);
        out.push('"');
        for c in name.chars() {
            if rng.below(6) == 0 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        out.push('"');
    }

    fn number(rng: &mut Rng, out: &mut String) {
        let digits = |rng: &mut Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect()
        };
        match rng.below(10) {
            0 => out.push_str(rng.pick(&[
                "0",
                "-0",
                "1",
                "-1",
                "01",
                "-",
                "+1",
                "1.",
                ".5",
                "1e",
                "1e+",
                "0x10",
                "1.5",
                "1E+2",
                "-0.0",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "1e308",
                "1e309",
                "1.7976931348623157e308",
                "1.7976931348623158e308",
                "1.797693134862315808e308",
                "2e308",
                "1e-400",
                "0e99999",
                "1795394922.999999999999999999",
                "NaN",
                "Infinity",
                "-Infinity",
            ])),
            1 => {
                let n = rng.pick(&["300", "309", "310", "4299", "4300", "4301"]);
                out.push('1');
                out.push_str(&digits(rng, n.parse::<usize>().unwrap() - 1));
            }
            2 => {
                let n = 1 + rng.below(3);
                out.push_str(&digits(rng, n));
                out.push('.');
                let n = 1 + rng.below(20);
                out.push_str(&digits(rng, n));
                out.push('e');
                out.push_str(rng.pick(&["", "+", "-"]));
                out.push_str(&(300 + rng.below(15)).to_string());
            }
            _ => {
                if rng.below(3) == 0 {
                    out.push('-');
                }
                out.push(char::from(b'1' + rng.below(9) as u8));
                let n = rng.below(22);
                out.push_str(&digits(rng, n));
                if rng.below(3) == 0 {
                    out.push('.');
                    let n = 1 + rng.below(5);
                    out.push_str(&digits(rng, n));
                }
                if rng.below(4) == 0 {
                    out.push_str(rng.pick(&["e", "E", "e+", "e-"]));
                    let n = 1 + rng.below(3);
                    out.push_str(&digits(rng, n));
                }
            }
        }
    }

    fn value(rng: &mut Rng, depth: usize, out: &mut String) {
        out.push_str(ws(rng));
        let choice = if depth > 6 {
            rng.below(6)
        } else {
            rng.below(9)
        };
        match choice {
            0 | 1 => string(rng, out),
            2 | 3 => number(rng, out),
            4 => out.push_str(rng.pick(&["true", "false", "null", "tru", "nul", "True"])),
            5 => {
                let d = rng
                    .pick(&["1", "3", "898", "899", "900", "901"])
                    .parse()
                    .unwrap();
                out.push_str(&"[".repeat(d));
                out.push_str(&"]".repeat(d));
            }
            6 | 7 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(rng, depth + 1, out);
                }
                if rng.below(30) == 0 {
                    out.push(',');
                }
                out.push_str(ws(rng));
                out.push(']');
            }
            _ => object(rng, depth + 1, out),
        }
        out.push_str(ws(rng));
    }

    fn object(rng: &mut Rng, depth: usize, out: &mut String) {
        out.push('{');
        out.push_str(ws(rng));
        for i in 0..rng.below(6) {
            if i > 0 {
                out.push(',');
                out.push_str(ws(rng));
            }
            key(rng, out);
            out.push_str(ws(rng));
            out.push(':');
            value(rng, depth, out);
        }
        if rng.below(30) == 0 {
            out.push(',');
        }
        out.push('}');
    }

    fn text_for(rng: &mut Rng) -> String {
        let mut out = String::new();
        out.push_str(ws(rng));
        if rng.below(20) == 0 {
            value(rng, 0, &mut out);
        } else {
            object(rng, 0, &mut out);
        }
        out.push_str(ws(rng));
        if rng.below(30) == 0 {
            out.push_str(rng.pick(&["x", "{}", ",", "]"]));
        }
        // A few random edits, to reach the errors a grammar does not think of.
        if rng.below(4) == 0 {
            let mut chars: Vec<char> = out.chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => {
                        let c = rng.pick(&[
                            "{", "}", "[", "]", ",", ":", "\"", "\\", "0", "-", ".", "e", " ", "u",
                            "a",
                        ]);
                        chars.insert(at, c.chars().next().unwrap());
                    }
                }
            }
            out = chars.into_iter().collect();
        }
        out
    }

    /// What the test's Python says of a member's value, written the same way here.
    fn summary(value: Value<'_>) -> String {
        match value {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => format!("bool:{}", u8::from(b)),
            Value::Int(text) => format!("int:{}", Value::int_saturating(text)),
            Value::Float(text) => format!("float:{:016x}", Value::float(text).to_bits()),
            Value::Str(s) => {
                let hex: String = s.text().bytes().map(|b| format!("{b:02x}")).collect();
                format!("str:{hex}")
            }
            Value::List { empty, .. } => format!("list:{}", u8::from(!empty)),
            Value::Object { empty } => format!("obj:{}", u8::from(!empty)),
        }
    }

    const PYTHON_READER: &str = r#"
import json, math, struct, sys
sys.setrecursionlimit(20000)
NAMES = sys.argv[1].split(",")
def refuse(text):
    raise ValueError(text)
def finite(text):
    f = float(text)
    if math.isinf(f):
        raise ValueError(text)
    return f
def depth(text):
    # Of valid JSON, counting brackets outside strings (values a duplicate key replaced too).
    deepest = level = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            level += 1
            deepest = max(deepest, level)
        elif c in "]}":
            level -= 1
    return deepest
def summary(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool:%d" % v
    if isinstance(v, int):
        return "int:%d" % max(-2**63, min(2**63 - 1, v))
    if isinstance(v, float):
        return "float:" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        v = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in v)
        return "str:" + v.encode().hex()
    if isinstance(v, list):
        return "list:%d" % bool(v)
    return "obj:%d" % bool(v)
for line in sys.stdin:
    text = bytes.fromhex(line.strip()).decode()
    try:
        v = json.loads(text, parse_constant=refuse, parse_float=finite)
        if not isinstance(v, dict) or depth(text) > 900:
            raise ValueError("not an object, or too deep")
    except (ValueError, RecursionError):
        print("refused")
        continue
    print(";".join("%s=%s" % (k, summary(v[k])) for k in NAMES if k in v))
"#;

    /// Python's own `json.loads` (the `json` of the interpreter that runs Notify's oracle, or
    /// `python3`) against [`read_object`] on thousands of generated texts, valid and not:
    /// whether each is accepted, and the last value of each member the contract reads.
    #[test]
    fn reads_json_as_python_does() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let python = crate::core::oracle_python();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let texts: Vec<String> = (0..20_000).map(|_| text_for(&mut rng)).collect();
        let child = Command::new(&python)
            .args(["-c", PYTHON_READER, &NAMES.join(",")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            return crate::core::skip::skipped(&format!("{python} does not run"));
        };
        let mut stdin = child.stdin.take().unwrap();
        let input: String = texts
            .iter()
            .map(|t| t.bytes().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
            .collect();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(output.status.success());
        let answers = String::from_utf8(output.stdout).unwrap();
        let answers: Vec<&str> = answers.lines().collect();
        assert_eq!(answers.len(), texts.len());

        let mut accepted = 0;
        for (text, python) in texts.iter().zip(answers) {
            let mut all = All(Vec::new());
            let mut last: [Option<String>; NAMES.len()] = Default::default();
            let ours = read_object(text, &mut all)
                .map(|()| {
                    for (key, value) in all.0 {
                        let mut buf = [0u8; 4];
                        let short = key.short_ascii(&mut buf).map(str::to_owned);
                        if let Some(i) = NAMES.iter().position(|n| key.is(n)) {
                            assert_eq!(short.as_deref(), Some(NAMES[i]), "{text:?}");
                            last[i] = Some(summary(value));
                        }
                    }
                    NAMES
                        .iter()
                        .zip(&last)
                        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}")))
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_else(|| "refused".to_owned());
            assert_eq!(ours, python, "{text:?}");
            accepted += usize::from(python != "refused");
        }
        // The texts must exercise both answers.
        assert!((5_000..15_000).contains(&accepted), "{accepted} accepted");
    }
}
