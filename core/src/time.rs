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

    /// Parses an RFC 3339 time such as `2026-03-01T09:30:00Z` or `...+02:00`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let ts: jiff::Timestamp = text.parse().ok()?;
        Some(Timestamp(ts.as_millisecond()))
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
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => write!(f, "{ts}"),
            Err(_) => write!(f, "@{}ms", self.0),
        }
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
        assert_eq!(t.plus_millis(MINUTE_MS).millis_since(t), MINUTE_MS);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-03-01T09:30:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
