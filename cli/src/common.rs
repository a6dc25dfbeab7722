//! Helpers every subcommand shares: reading and writing files with errors that name
//! them, this machine's clock, and the time and duration arguments.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Arg;
use portcullis_core::Timestamp;

/// Words the help of argument `id` for one command, where a flattened argument struct
/// serves several. Unlike `mut_arg`, which moves the argument to the end of the usage
/// line, it leaves the argument in place: use it as `mut_args(help_for(..))`.
pub(crate) fn help_for(id: &'static str, help: &'static str) -> impl FnMut(Arg) -> Arg {
    move |arg| {
        if arg.get_id() == id {
            arg.help(help)
        } else {
            arg
        }
    }
}

/// A day in milliseconds.
pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Reads a file; the error names it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes a file; the error names it.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// This machine's clock, the one the CLI reads (the core reads none). A clock set
/// before 1970 reads as the negative time it is, not as 1970.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_millis(unix_millis(SystemTime::now()))
}

/// Milliseconds from the Unix epoch to `t`, negative before it, saturating at the ends.
fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Parses an RFC 3339 time given with `flag`.
pub(crate) fn time_arg(flag: &str, text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{flag}: expected an RFC 3339 time such as 2026-03-01T09:30:00Z"))
}

/// Parses `30d`, `12h`, `90m` or `3600s` into milliseconds.
pub(crate) fn duration_ms(text: &str) -> Result<i64, String> {
    let err = || "--expires-in: expected a duration such as 30d, 12h, 90m or 3600s".to_string();
    let unit_ms = match text.chars().last() {
        Some('d') => DAY_MS,
        Some('h') => 60 * 60 * 1000,
        Some('m') => 60 * 1000,
        Some('s') => 1000,
        _ => return Err(err()),
    };
    let n: i64 = text[..text.len() - 1].parse().map_err(|_| err())?;
    if n <= 0 {
        return Err(err());
    }
    n.checked_mul(unit_ms).ok_or_else(err)
}

/// The time to judge at: `--now`, or this machine's clock.
pub(crate) fn now_arg(text: Option<&str>) -> Result<Timestamp, String> {
    match text {
        Some(t) => time_arg("--now", t),
        None => Ok(now()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_clock_reads_times_before_1970_as_negative() {
        assert_eq!(unix_millis(UNIX_EPOCH), 0);
        assert_eq!(
            unix_millis(UNIX_EPOCH + Duration::from_millis(1_500)),
            1_500
        );
        assert_eq!(
            unix_millis(UNIX_EPOCH - Duration::from_millis(1_500)),
            -1_500
        );
    }

    #[test]
    fn help_for_words_one_argument_and_leaves_the_usage_order() {
        let command = clap::Command::new("sign")
            .arg(Arg::new("keys").long("key").required(true).help("a key"))
            .arg(Arg::new("input").long("in").required(true).help("a file"))
            .mut_args(help_for("input", "the policy"));
        let help = |id: &str| {
            let arg = command.get_arguments().find(|a| a.get_id() == id).unwrap();
            arg.get_help().map(ToString::to_string)
        };
        assert_eq!(help("input").as_deref(), Some("the policy"));
        assert_eq!(help("keys").as_deref(), Some("a key"));
        let order: Vec<&str> = command
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        assert_eq!(order, ["keys", "input"]);
    }

    #[test]
    fn durations_parse_or_fail_without_panicking() {
        assert_eq!(duration_ms("30d"), Ok(30 * DAY_MS));
        assert_eq!(duration_ms("90m"), Ok(90 * 60_000));
        for bad in ["", "d", "0d", "-1d", "3w", "3é", "é", "99999999999999999d"] {
            assert!(duration_ms(bad).is_err(), "{bad}");
        }
    }
}
