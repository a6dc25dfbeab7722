//! Everything `portcullis` prints goes through here.
//!
//! - Text meant for a terminal is escaped: control characters (and the bidirectional
//!   overrides that reorder what a terminal shows) in any value appear as `\u{1b}`, so a
//!   file name or malware name from a phone cannot clear the kiosk's screen, move the
//!   cursor, or print a fake "Clean". JSON output is written as `serde_json` wrote it: it
//!   escapes control characters itself.
//! - A closed output pipe (`portcullis journal export | head -1`) ends the command
//!   quietly with status 141, what a shell reports for a tool stopped by SIGPIPE, instead
//!   of a panic and a backtrace.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// The exit status when an input is unreadable or malformed.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

/// The exit status of a command that judges its input (`inspect`, `evaluate`, `attest`):
/// 0 when it passed, `failed` when it did not, and [`EXIT_BAD_INPUT`], after the reason
/// on standard error, when it could not judge.
pub(crate) fn judged(passed: Result<bool, String>, failed: u8) -> ExitCode {
    match passed {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(failed),
        Err(message) => {
            error(&message);
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The exit status after a closed output pipe: 128 + SIGPIPE.
pub(crate) const BROKEN_PIPE_STATUS: u8 = 141;

/// Prints one line of text for a terminal, every control character escaped.
macro_rules! outln {
    () => {
        $crate::out::text(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::text(format_args!($($arg)*))
    };
}

/// Whether `c` is shown escaped: C0 and C1 controls, DEL, and the invisible characters
/// that change how a line is laid out (bidirectional overrides and isolates, marks).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character written as `\u{..}`; borrowed when none is there.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes one line of text, escaped.
pub(crate) fn text(args: fmt::Arguments<'_>) {
    let line = match args.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(args.to_string()),
    };
    let mut escaped = escape(&line).into_owned();
    escaped.push('\n');
    write_stdout(escaped.as_bytes());
}

/// Writes one JSON document on its own line, as serialised.
pub(crate) fn json(value: &impl fmt::Display) {
    let mut line = value.to_string();
    line.push('\n');
    write_stdout(line.as_bytes());
}

/// Writes text that is this tool's own (a JSON Schema), unchanged.
pub(crate) fn raw(text: &str) {
    write_stdout(text.as_bytes());
}

/// Prints `portcullis: <message>` on standard error, escaped; a closed standard error
/// is ignored (there is nowhere left to say anything).
pub(crate) fn error(message: &str) {
    let _ = writeln!(std::io::stderr(), "portcullis: {}", escape(message));
}

fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        drop(stdout);
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            exit(BROKEN_PIPE_STATUS);
        }
        error(&format!("cannot write the output: {e}"));
        exit(1);
    }
}

/// Files to remove if the process ends early (a temporary database, say).
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes `path` (a folder) should output fail and the process end before its owner
/// drops it.
pub(crate) fn remove_on_early_exit(path: PathBuf) {
    if let Ok(mut paths) = CLEANUP.lock() {
        paths.push(path);
    }
}

fn exit(status: u8) -> ! {
    if let Ok(paths) = CLEANUP.lock() {
        for path in paths.iter() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
    std::process::exit(i32::from(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(escape("\u{1b}[2JClean"), "\\u{1b}[2JClean");
        assert_eq!(escape("a\nb\rc\td"), "a\\u{a}b\\u{d}c\\u{9}d");
        assert_eq!(escape("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
