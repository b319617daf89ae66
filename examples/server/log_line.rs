//! The demo server's log lines: the shape of `tracing-subscriber`'s default format
//! (`<time>  INFO <spans>: <target>: <message> <field>=<value> …`), written with less work per
//! line, since Notify's success line is logged for every request.
//!
//! Measured under `scripts/load-test` (`MODE=profile SERVER_LOG=info`), the default format spent
//! most of its time escaping field values one `char` at a time (its guard against terminal
//! escape sequences in logged values) and formatting the time from scratch. Here values are
//! scanned in one pass and written in runs, and the date and time of day are formatted once
//! per second. The escaping is stricter than the default's (which escapes ESC, BEL, BS, FF,
//! DEL and the C1 controls): every C0 control (tab, CR and LF included, so that no value can
//! start a line of its own), DEL and C1 are escaped in the message and the fields. The fields
//! of spans, if a server adds any, are written as `tracing-subscriber` formatted them.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format: `tracing_subscriber::fmt().event_format(LogLine)`.
pub struct LogLine;

impl<S, N> FormatEvent<S, N> for LogLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_time(&mut writer, SystemTime::now())?;
        let metadata = event.metadata();
        write_level(&mut writer, metadata.level())?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(metadata.target())?;
        writer.write_str(": ")?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
            first: true,
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// `2026-12-01T05:30:12.123456Z `: UTC with microseconds, as the default format's timer
/// writes it. The part up to the seconds is formatted once per second per thread.
fn write_time(writer: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [b'?'; 19])) };
    }
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since_epoch.as_secs();
    let date_time = SECOND.with(|cached| {
        let (at, text) = cached.get();
        if at == second {
            return text;
        }
        let text = date_and_time(second);
        cached.set((second, text));
        text
    });
    let mut fraction = *b".000000Z ";
    let mut micros = since_epoch.subsec_micros();
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    writer.write_str(std::str::from_utf8(&date_time).map_err(|_| fmt::Error)?)?;
    writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// `YYYY-MM-DDTHH:MM:SS` for a unix second, formatted by the `time` crate (`?`s for a
/// second it cannot write in 19 bytes).
fn date_and_time(second: u64) -> [u8; 19] {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let mut text = [b'?'; 19];
    let at = i64::try_from(second)
        .ok()
        .and_then(|second| time::OffsetDateTime::from_unix_timestamp(second).ok());
    if let Some(at) = at {
        let mut out = &mut text[..];
        if at.format_into(&mut out, FORMAT).is_err() {
            text = [b'?'; 19];
        }
    }
    text
}

/// The level, right-aligned on five columns, coloured as the default format colours it when
/// the writer takes colours (a terminal).
fn write_level(writer: &mut Writer<'_>, level: &Level) -> fmt::Result {
    let (text, colour) = match *level {
        Level::TRACE => ("TRACE", "35"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::INFO => (" INFO", "32"),
        Level::WARN => (" WARN", "33"),
        Level::ERROR => ("ERROR", "31"),
    };
    if writer.has_ansi_escapes() {
        write!(writer, "\x1b[{colour}m{text}\x1b[0m ")
    } else {
        writer.write_str(text)?;
        writer.write_char(' ')
    }
}

/// Writes the message, then the other fields as `name=value`: strings quoted (Rust's `Debug`,
/// which escapes control characters), anything else through [`Escaped`].
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    first: bool,
}

impl Fields<'_, '_> {
    /// Starts a field: a space before all but the first; `false` for the fields not written
    /// (those `tracing-log` adds, as the default format skips them).
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() || field.name().starts_with("log.") {
            return false;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        if field.name() != "message" {
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(name))
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            self.result = if field.name() == "message" {
                Escaped(self.writer).write_str(value)
            } else {
                write!(self.writer, "{value:?}")
            };
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(Escaped(self.writer), "{value:?}");
        }
    }
}

/// Writes text in runs, escaping the control characters a terminal could act on (C0, DEL and
/// C1, newlines included) as `\x1b` or `\u{9b}`.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        // Almost every value is clean: one pass without branches (the compiler vectorises
        // it) finds out, and the text is written whole.
        let suspect = bytes.iter().fold(false, |any, &b| {
            any | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
        });
        if !suspect {
            return self.0.write_str(text);
        }
        let (mut run, mut at) = (0, 0);
        while at < bytes.len() {
            let byte = bytes[at];
            // C1 controls are U+0080 to U+009F: 0xC2 then 0x80 to 0x9F in UTF-8.
            let c1 = byte == 0xc2 && matches!(bytes.get(at + 1), Some(0x80..=0x9f));
            if !(byte < 0x20 || byte == 0x7f || c1) {
                at += 1;
                continue;
            }
            self.0.write_str(&text[run..at])?;
            if c1 {
                write!(self.0, "\\u{{{:x}}}", bytes[at + 1])?;
                at += 2;
            } else {
                write!(self.0, "\\x{byte:02x}")?;
                at += 1;
            }
            run = at;
        }
        self.0.write_str(&text[run..])
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn written(f: impl FnOnce(&mut Writer<'_>) -> fmt::Result) -> String {
        let mut text = String::new();
        f(&mut Writer::new(&mut text)).unwrap();
        text
    }

    #[test]
    fn the_time_is_utc_with_microseconds() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_567_012_000_042);
        assert_eq!(
            written(|w| write_time(w, at)),
            "2025-12-01T05:30:12.000042Z "
        );
        // The cached second is not reused for another one.
        let next = at + Duration::from_millis(1500);
        assert_eq!(
            written(|w| write_time(w, next)),
            "2025-12-01T05:30:13.500042Z "
        );
        assert_eq!(
            written(|w| write_time(w, UNIX_EPOCH)),
            "1970-01-01T00:00:00.000000Z "
        );
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_written_as_is() {
        let text = "ok \x1b[31mred\x07 é\u{85}ü\nnext\t\x7f";
        assert_eq!(
            written(|w| Escaped(w).write_str(text)),
            "ok \\x1b[31mred\\x07 é\\u{85}ü\\x0anext\\x09\\x7f"
        );
    }
}
