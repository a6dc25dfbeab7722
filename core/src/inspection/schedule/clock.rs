//! Local time as the scheduler sees it: the UTC offset the phone reports, and the
//! next change of it the platform already knows of (a daylight-saving transition).
//!
//! The core carries no time-zone database: the native layer knows the zone and
//! reports the offset in force (Android `ZoneRules.getOffset`, iOS
//! `TimeZone.secondsFromGMT`) and, when it can, the next transition
//! (`ZoneRules.nextTransition`, `TimeZone.nextDaylightSavingTimeTransition`). With the
//! transition known in advance, a window planned across it is placed in the right
//! local hours even if the phone sleeps through the change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inspection::rules::LocalHours;
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// The largest offset accepted either side of UTC, in minutes (±18:00, as `java.time.ZoneOffset`).
pub const MAX_OFFSET_MINUTES: i32 = 18 * 60;

/// A UTC offset in whole minutes (`+02:00`, `-05:30`): local time = UTC + offset.
///
/// Serialised as `±HH:MM`, the form the console and the command line use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UtcOffset {
    minutes: i32,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };

    /// An offset of `minutes` east of UTC (negative: west); within ±18:00.
    pub fn from_minutes(minutes: i32) -> Result<Self> {
        if minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(Error::invalid(
                "utc_offset",
                "must lie between -18:00 and +18:00",
            ));
        }
        Ok(UtcOffset { minutes })
    }

    /// An offset given in seconds (what iOS `secondsFromGMT` returns); whole minutes only.
    pub fn from_seconds(seconds: i32) -> Result<Self> {
        if seconds % 60 != 0 {
            return Err(Error::invalid(
                "utc_offset",
                "must be a whole number of minutes",
            ));
        }
        Self::from_minutes(seconds / 60)
    }

    /// Parses `Z`, `+02:00`, `-0530` or `+02`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::invalid("utc_offset", "expected Z or ±HH:MM, e.g. +02:00");
        if text == "Z" || text == "z" {
            return Ok(UtcOffset::UTC);
        }
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(bad()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        let colons = rest.chars().filter(|c| *c == ':').count();
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || !(digits.len() == 2 || digits.len() == 4)
            || colons > 1
            || (colons == 1 && rest.len() != 5)
        {
            return Err(bad());
        }
        let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
        let minutes: i32 = if digits.len() == 4 {
            digits[2..].parse().map_err(|_| bad())?
        } else {
            0
        };
        if minutes > 59 {
            return Err(bad());
        }
        Self::from_minutes(sign * (hours * 60 + minutes))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i32 {
        self.minutes
    }

    pub(crate) fn millis(self) -> i64 {
        i64::from(self.minutes) * MINUTE_MS
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let m = self.minutes.abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

impl Serialize for UtcOffset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        UtcOffset::parse(&text)
            .map_err(|_| serde::de::Error::custom("expected a UTC offset as ±HH:MM within ±18:00"))
    }
}

/// A change of UTC offset the platform announces ahead of time (a DST transition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetChange {
    /// The instant the new offset takes effect.
    pub at: Timestamp,
    /// The offset from then on.
    pub offset: UtcOffset,
}

/// The phone's local clock: the offset in force and, optionally, the next known change.
///
/// Travel changes the offset without notice; the native layer reports the new one
/// when the zone changes, and the scheduler re-plans windows not yet opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalClock {
    /// The offset in force now.
    pub offset: UtcOffset,
    /// The next change the platform knows of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_change: Option<OffsetChange>,
}

impl LocalClock {
    /// A clock with one offset and no known change.
    pub fn fixed(offset: UtcOffset) -> Self {
        LocalClock {
            offset,
            next_change: None,
        }
    }

    /// A clock whose offset becomes `change.offset` at `change.at`.
    pub fn with_change(offset: UtcOffset, change: OffsetChange) -> Self {
        LocalClock {
            offset,
            next_change: Some(change),
        }
    }

    /// The offset in force at `t`, as far as this clock knows.
    pub fn offset_at(&self, t: Timestamp) -> UtcOffset {
        match self.next_change {
            Some(change) if t >= change.at => change.offset,
            _ => self.offset,
        }
    }

    /// `t` as local time with its offset, to the minute: `2026-03-02T03:17+02:00`.
    pub fn local_text(&self, t: Timestamp) -> String {
        let offset = self.offset_at(t);
        match crate::time::local_civil(t, offset.millis() / MINUTE_MS) {
            Some((year, month, day, hour, minute)) => {
                format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}{offset}")
            }
            None => format!("{t}"),
        }
    }

    /// The local day number (days since 1970-01-01, local) `t` falls on.
    pub(crate) fn local_day(&self, t: Timestamp) -> i64 {
        (t.as_unix_millis() + self.offset_at(t).millis()).div_euclid(DAY_MS)
    }

    /// The UTC intervals, in order and merged, during which the local time (with the
    /// offset in force at each instant) lies in the occurrence of `hours` that starts
    /// on local day `night`. Usually one interval; a DST change inside it shortens or
    /// lengthens it; an unusual jump can split it in two.
    pub(crate) fn spans(&self, hours: LocalHours, night: i64) -> Vec<Span> {
        let local_start = night * DAY_MS + i64::from(hours.from) * HOUR_MS;
        let local_end = local_start + i64::from(hours.hours()) * HOUR_MS;
        let mut pieces: Vec<Span> = Vec::with_capacity(2);
        let mut push = |offset: UtcOffset, from: i64, until: i64| {
            let start = (local_start - offset.millis()).max(from);
            let end = (local_end - offset.millis()).min(until);
            if start < end {
                pieces.push(Span { start, end });
            }
        };
        match self.next_change {
            Some(change) => {
                let at = change.at.as_unix_millis();
                push(self.offset, i64::MIN, at);
                push(change.offset, at, i64::MAX);
            }
            None => push(self.offset, i64::MIN, i64::MAX),
        }
        crate::sort::sort_by_key(&mut pieces, |s| s.start);
        let mut merged: Vec<Span> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match merged.last_mut() {
                Some(last) if piece.start <= last.end => last.end = last.end.max(piece.end),
                _ => merged.push(piece),
            }
        }
        merged
    }
}

/// A half-open UTC interval `[start, end)` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: i64,
    pub end: i64,
}

/// Rounds down to a whole minute.
pub(crate) fn floor_minute(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// Rounds up to a whole minute.
pub(crate) fn ceil_minute(ms: i64) -> i64 {
    -floor_minute(-ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn offsets_parse_and_print() {
        for (text, minutes, shown) in [
            ("Z", 0, "+00:00"),
            ("+02:00", 120, "+02:00"),
            ("-05:30", -330, "-05:30"),
            ("+0545", 345, "+05:45"),
            ("+14", 840, "+14:00"),
            ("-00:30", -30, "-00:30"),
        ] {
            let o = UtcOffset::parse(text).unwrap();
            assert_eq!(o.minutes(), minutes, "{text}");
            assert_eq!(o.to_string(), shown);
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<UtcOffset>(&json).unwrap(), o);
        }
        for bad in [
            "", "2", "+2", "+02:0", "+02:60", "+19:00", "02:00", "+02::00", "+ab:cd",
        ] {
            assert!(UtcOffset::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(UtcOffset::from_seconds(3600).unwrap().minutes(), 60);
        assert!(UtcOffset::from_seconds(3601).is_err());
    }

    #[test]
    fn spans_follow_dst_changes() {
        let night = LocalHours { from: 1, until: 5 };
        // Spring forward in Central Europe: 2026-03-29 02:00 +01:00 becomes 03:00 +02:00.
        let cet = UtcOffset::parse("+01:00").unwrap();
        let cest = UtcOffset::parse("+02:00").unwrap();
        let change = OffsetChange {
            at: at("2026-03-29T01:00:00Z"),
            offset: cest,
        };
        let clock = LocalClock::with_change(cet, change);
        let day = clock.local_day(at("2026-03-29T00:30:00Z"));
        let spans = clock.spans(night, day);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].start, at("2026-03-29T00:00:00Z").as_unix_millis());
        assert_eq!(spans[0].end, at("2026-03-29T03:00:00Z").as_unix_millis());
        // Fall back: 2026-10-25 03:00 +02:00 becomes 02:00 +01:00; the night lasts 5 hours.
        let change = OffsetChange {
            at: at("2026-10-25T01:00:00Z"),
            offset: cet,
        };
        let clock = LocalClock::with_change(cest, change);
        let day = clock.local_day(at("2026-10-24T23:30:00Z"));
        let spans = clock.spans(night, day);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].start, at("2026-10-24T23:00:00Z").as_unix_millis());
        assert_eq!(spans[0].end, at("2026-10-25T04:00:00Z").as_unix_millis());
        assert_eq!(
            clock.local_text(at("2026-10-25T00:30:00Z")),
            "2026-10-25T02:30+02:00"
        );
        assert_eq!(
            clock.local_text(at("2026-10-25T01:30:00Z")),
            "2026-10-25T02:30+01:00"
        );
    }

    #[test]
    fn minute_rounding_handles_negative_times() {
        assert_eq!(floor_minute(-1), -MINUTE_MS);
        assert_eq!(ceil_minute(-1), 0);
        assert_eq!(ceil_minute(1), MINUTE_MS);
        assert_eq!(floor_minute(MINUTE_MS), MINUTE_MS);
    }
}
