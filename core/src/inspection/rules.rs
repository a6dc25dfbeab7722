//! The policy's inspection rules: when forensic-inspection windows happen and which
//! alerts trigger one. The policy document carries them (`inspection`); they live here,
//! beside the scheduler that reads them, so inspection does not depend on the policy.

use serde::{Deserialize, Serialize};

use crate::alert::Severity;

/// When forensic-inspection windows happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InspectionRules {
    /// Days between routine inspections (the exact day is drawn unpredictably within the cadence).
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 365)))]
    pub cadence_days: u32,
    /// Length of an inspection window, in minutes.
    #[cfg_attr(feature = "schema", schemars(range(min = 5, max = 1440)))]
    pub window_minutes: u32,
    /// Local hours a window may fall in.
    pub allowed_local_hours: LocalHours,
    /// Delay before an inspection triggered by an alert, in minutes.
    #[serde(default = "default_triggered_delay")]
    #[cfg_attr(feature = "schema", schemars(range(max = 10_080)))]
    pub triggered_inspection_delay_minutes: u32,
    /// Lowest alert severity that triggers an inspection.
    #[serde(default = "default_trigger_severity")]
    pub trigger_on_severity: TriggerSeverity,
    /// How long a missed window may stay missed before the device is non-compliant, in hours.
    #[cfg_attr(feature = "schema", schemars(range(max = 720)))]
    pub grace_period_hours: u32,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_triggered_delay() -> u32 {
    30
}

fn default_trigger_severity() -> TriggerSeverity {
    TriggerSeverity::High
}

/// A span of local hours: `from` inclusive to `until` exclusive; wraps past midnight when `from > until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalHours {
    /// First hour (0–23).
    #[cfg_attr(feature = "schema", schemars(range(max = 23)))]
    pub from: u8,
    /// Hour the span ends at (1–24, exclusive).
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 24)))]
    pub until: u8,
}

impl LocalHours {
    /// Length of the span in hours.
    pub fn hours(self) -> u32 {
        if self.from < self.until {
            u32::from(self.until - self.from)
        } else {
            24 - u32::from(self.from) + u32::from(self.until % 24)
        }
    }

    /// Whether a local hour (0–23) falls in the span.
    pub fn contains(self, hour: u8) -> bool {
        if self.from < self.until {
            (self.from..self.until).contains(&hour)
        } else {
            hour >= self.from || hour < self.until % 24
        }
    }
}

/// Alert severities that can trigger an inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerSeverity {
    /// High and critical alerts.
    High,
    /// Critical alerts only.
    Critical,
}

impl TriggerSeverity {
    /// Whether an alert of `severity` triggers an inspection.
    pub fn triggers(self, severity: Severity) -> bool {
        match self {
            TriggerSeverity::High => severity >= Severity::High,
            TriggerSeverity::Critical => severity >= Severity::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hours_wrap_past_midnight() {
        let night = LocalHours { from: 22, until: 5 };
        assert_eq!(night.hours(), 7);
        assert!(night.contains(23) && night.contains(0) && night.contains(4));
        assert!(!night.contains(5) && !night.contains(12));
        let day = LocalHours { from: 0, until: 24 };
        assert_eq!(day.hours(), 24);
        assert!((0..24).all(|h| day.contains(h)));
        assert_eq!(LocalHours { from: 1, until: 5 }.hours(), 4);
    }

    #[test]
    fn trigger_severity_orders_alerts() {
        assert!(TriggerSeverity::High.triggers(Severity::Critical));
        assert!(TriggerSeverity::High.triggers(Severity::High));
        assert!(!TriggerSeverity::High.triggers(Severity::Medium));
        assert!(!TriggerSeverity::Critical.triggers(Severity::High));
    }
}
