//! Time as the core sees it: a value handed in by the caller, never read from a clock.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// The core never reads a clock: every entry point takes the current time as a
/// `Timestamp`, so scenario replays and tests drive the agent on a fake clock.
///
/// It serialises as an RFC 3339 string (UTC), the form traces and exports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Builds a timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 time such as `2026-03-01T09:30:00Z` or `...+02:00`. Also taken:
    /// `t`, `z` and a space as separators, minutes without seconds, up to nine fraction
    /// digits after `.` or `,` (cut to the millisecond), and offsets `+HH`, `+HHMM`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        parse_instant(text.as_bytes()).map(Timestamp)
    }

    /// This time plus `millis` milliseconds, saturating at the ends of the range.
    pub const fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, the form used in traces, exports and the console.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !(MIN_MILLIS..=MAX_MILLIS).contains(&self.0) {
            return write!(f, "@{}ms", self.0);
        }
        let days = self.0.div_euclid(DAY_MS);
        let of_day = self.0.rem_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else {
            write!(f, "{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())?;
        }
        write!(
            f,
            "-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            of_day / HOUR_MS,
            of_day / MINUTE_MS % 60,
            of_day / 1000 % 60
        )?;
        let mut millis = of_day % 1000;
        if millis != 0 {
            let mut width = 3;
            while millis % 10 == 0 {
                millis /= 10;
                width -= 1;
            }
            write!(f, ".{millis:0width$}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom("expected an RFC 3339 time such as 2026-03-01T09:30:00Z")
        })
    }
}

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The range of instants the text forms cover: years -9999 to 9999, with a day of
/// slack for offsets at either end (the range of the common date-time libraries).
const MIN_MILLIS: i64 = -377_705_023_201_000;
const MAX_MILLIS: i64 = 253_402_207_200_999;

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1-12, `day` 1-31).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date (year, month, day) `days` after 1970-01-01.
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `count` ASCII digits at `at`, as a number.
fn digits(text: &[u8], at: usize, count: usize) -> Option<i64> {
    let part = text.get(at..at + count)?;
    part.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` (or `±YYYYYY-MM-DD`, the extended years the printer writes outside
/// 0000-9999) at the start of `text`: days since the epoch, and the length read.
fn parse_day(text: &[u8]) -> Option<(i64, usize)> {
    let (year, at) = match text.first()? {
        sign @ (b'+' | b'-') => {
            let year = digits(text, 1, 6)?;
            // ISO 8601's extended years: year zero is never negative (`-000000`).
            if *sign == b'-' && year == 0 {
                return None;
            }
            (if *sign == b'-' { -year } else { year }, 7)
        }
        _ => (digits(text, 0, 4)?, 4),
    };
    let (month, day) = (digits(text, at + 1, 2)?, digits(text, at + 4, 2)?);
    if text.get(at) != Some(&b'-') || text.get(at + 3) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    Some((days_from_civil(year, month, day), at + 6))
}

fn parse_instant(text: &[u8]) -> Option<i64> {
    let (days, end) = parse_day(text)?;
    if !matches!(text.get(end), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(text, end + 1, 2)?;
    let minute = if text.get(end + 3) == Some(&b':') {
        digits(text, end + 4, 2)?
    } else {
        return None;
    };
    let mut at = end + 6;
    let mut second = 0;
    let mut millis = 0;
    if text.get(at) == Some(&b':') {
        second = digits(text, at + 1, 2)?;
        at += 3;
        if matches!(text.get(at), Some(b'.' | b',')) {
            at += 1;
            let start = at;
            while text.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let count = at - start;
            if count == 0 || count > 9 {
                return None;
            }
            let first = digits(text, start, count.min(3))?;
            millis = first * 10i64.pow(3 - count.min(3) as u32);
        }
    }
    // A leap second reads as the last millisecond-aligned second before it.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59);
    let offset_minutes = match text.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [_, _] => (digits(rest, 0, 2)?, 0),
                [_, _, b':', _, _] | [_, _, _, _] => {
                    (digits(rest, 0, 2)?, digits(rest, rest.len() - 2, 2)?)
                }
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let local = days * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS + second * 1000 + millis;
    let utc = local - offset_minutes * MINUTE_MS;
    (MIN_MILLIS..=MAX_MILLIS).contains(&utc).then_some(utc)
}

/// A calendar day in UTC (proleptic Gregorian), for security-patch dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

impl Date {
    /// The earliest day: -9999-01-01.
    pub const MIN: Date = Date(days_from_civil(-9999, 1, 1));

    /// Parses `YYYY-MM-DD` strictly: ten characters, a real calendar date.
    pub fn parse_ymd(text: &str) -> Option<Date> {
        match parse_day(text.as_bytes()) {
            Some((days, 10)) if text.len() == 10 => Some(Date(days)),
            _ => None,
        }
    }

    /// The UTC day `t` falls on; `None` outside the years the text forms cover.
    pub fn of(t: Timestamp) -> Option<Date> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&t.0)
            .then(|| Date(t.0.div_euclid(DAY_MS)))
    }

    /// `days` days earlier, no earlier than [`Date::MIN`].
    pub fn minus_days(self, days: u32) -> Date {
        Date(self.0 - i64::from(days)).max(Date::MIN)
    }
}

/// `t` plus `offset_minutes` as the local date and time to the minute:
/// (year, month, day, hour, minute); `None` outside the years the text forms cover.
pub(crate) fn local_civil(t: Timestamp, offset_minutes: i64) -> Option<(i64, i64, i64, i64, i64)> {
    let local = t.0.checked_add(offset_minutes.checked_mul(MINUTE_MS)?)?;
    if !(MIN_MILLIS..=MAX_MILLIS).contains(&local) {
        return None;
    }
    let (year, month, day) = civil_from_days(local.div_euclid(DAY_MS));
    let of_day = local.rem_euclid(DAY_MS);
    Some((year, month, day, of_day / HOUR_MS, of_day / MINUTE_MS % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_and_offsets() {
        let t = Timestamp::parse_rfc3339("2026-03-01T09:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T09:30:00Z");
        let with_offset = Timestamp::parse_rfc3339("2026-03-01T11:30:00+02:00").unwrap();
        assert_eq!(t, with_offset);
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
        // Year zero written with a minus sign is not a date (ISO 8601, as jiff reads it).
        assert!(Timestamp::parse_rfc3339("-000000-09-01T00:00:00Z").is_none());
        assert!(Timestamp::parse_rfc3339("+000000-09-01T00:00:00Z").is_some());
        assert_eq!(t.plus_millis(MINUTE_MS).millis_since(t), MINUTE_MS);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-03-01T09:30:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
    proptest::proptest! {
        #[test]
        fn text_forms_match_an_independent_implementation(millis in MIN_MILLIS..=MAX_MILLIS) {
            let ours = Timestamp(millis).to_string();
            let theirs = jiff::Timestamp::from_millisecond(millis).unwrap().to_string();
            proptest::prop_assert_eq!(&ours, &theirs);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&ours), Some(Timestamp(millis)));
            let day = Date::of(Timestamp(millis)).unwrap();
            let jday = jiff::Timestamp::from_millisecond(millis).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
            // Patch dates are four-digit years; the day itself is checked for every year.
            let days = i64::from(jday.since(jiff::civil::date(1970, 1, 1)).unwrap().get_days());
            proptest::prop_assert_eq!(day, Date(days));
            if (0..=9999).contains(&jday.year()) {
                proptest::prop_assert_eq!(Date::parse_ymd(&jday.to_string()), Some(day));
            }
        }

        #[test]
        fn offsets_and_fractions_parse_as_the_independent_implementation_does(
            seconds in 0i64..4_102_444_800,
            fraction in proptest::option::of(1u32..1_000_000_000),
            offset in -1439i32..=1439,
            compact in proptest::bool::ANY,
        ) {
            let local = jiff::Timestamp::from_second(seconds).unwrap().to_zoned(jiff::tz::TimeZone::UTC).datetime();
            let mut text = format!("{}", local.strftime("%Y-%m-%dT%H:%M:%S"));
            if let Some(f) = fraction {
                text.push_str(&format!(".{f:09}"));
            }
            let (h, m) = (offset.abs() / 60, offset.abs() % 60);
            let sign = if offset < 0 { '-' } else { '+' };
            text.push_str(&if compact { format!("{sign}{h:02}{m:02}") } else { format!("{sign}{h:02}:{m:02}") });
            let theirs: jiff::Timestamp = text.parse().unwrap();
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&text), Some(Timestamp(theirs.as_millisecond())), "{}", text);
        }
    }

    #[test]
    fn malformed_times_and_dates_are_refused() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T09:30:00",
            "2026-03-01T09:30:00+25:00",
            "2026-03-01T09:30:00.Z",
            "2026-03-01T09:30:00.1234567890Z",
            "2026-3-01T09:30:00Z",
            "2026-03-01T09:30:00Zjunk",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-03-01t09:30z"),
            Timestamp::parse_rfc3339("2026-03-01T09:30:00Z")
        );
        assert_eq!(
            Date::parse_ymd("2024-02-29").map(|d| d.minus_days(0)),
            Date::parse_ymd("2024-02-29")
        );
        assert_eq!(Date::parse_ymd("2023-02-29"), None);
        assert_eq!(Date::parse_ymd("2026-03-01 "), None);
        assert_eq!(
            Date::parse_ymd("2026-03-01").unwrap().minus_days(u32::MAX),
            Date::MIN
        );
        assert_eq!(
            Date::parse_ymd("2026-03-01").unwrap().minus_days(1),
            Date::parse_ymd("2026-02-28").unwrap()
        );
        assert_eq!(
            Timestamp(MAX_MILLIS + 1).to_string(),
            format!("@{}ms", MAX_MILLIS + 1)
        );
    }
}
