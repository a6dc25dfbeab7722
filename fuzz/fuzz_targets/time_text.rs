//! Times reach the core as text from outside: instructions' `issuedAt` and `expiresAt`,
//! policy validity, carrier answers, traces. The core reads them with its own RFC 3339
//! reader (decision 0009), so this target holds it to jiff's: whatever the core accepts,
//! jiff reads as the same instant (to the millisecond), and the core's own rendering reads
//! back to it. The core may refuse forms jiff takes (time-zone annotations), never the
//! reverse of a disagreement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::time::{Date, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ours) = Timestamp::parse_rfc3339(text) {
        let theirs: jiff::Timestamp = text
            .parse()
            .unwrap_or_else(|e| panic!("core accepted {text:?}, jiff refused it: {e}"));
        // The core cuts fractions to the millisecond; jiff keeps nanoseconds.
        let theirs_ms = theirs.as_nanosecond().div_euclid(1_000_000);
        assert_eq!(
            i128::from(ours.as_unix_millis()),
            theirs_ms,
            "core and jiff read {text:?} differently"
        );
        let rendered = ours.to_string();
        assert_eq!(
            Timestamp::parse_rfc3339(&rendered),
            Some(ours),
            "{rendered:?} (from {text:?}) does not read back"
        );
    }
    if let Some(day) = Date::parse_ymd(text) {
        let theirs: jiff::civil::Date = text
            .parse()
            .unwrap_or_else(|e| panic!("core accepted the date {text:?}, jiff refused it: {e}"));
        let days = theirs
            .since(jiff::civil::date(1970, 1, 1))
            .expect("a civil date is within jiff's span")
            .get_days();
        let midnight = Timestamp::from_unix_millis(i64::from(days) * 86_400_000);
        assert_eq!(Some(day), Date::of(midnight), "core and jiff read the date {text:?} differently");
    }
});
