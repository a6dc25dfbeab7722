//! Device telemetry: what the platform logs, how long it is kept, and the detectors' thresholds.

use super::*;

// ---------------------------------------------------------------------------------
// Telemetry

/// The longest rolling window of network events a policy may ask for, in days.
pub const MAX_NETWORK_WINDOW_DAYS: u32 = 90;

/// Device telemetry (Android network and security logs): what the agent asks the
/// platform to log, how long network events are kept for scheduled inspections, and
/// the thresholds of the living-off-the-land detectors. CA and USB rules come from
/// `configuration` (`userInstalledCaCerts`, `deviceConnectivityManagement`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelemetryRules {
    /// Turn on the platform's network log (Android `setNetworkLoggingEnabled`: DNS
    /// lookups and connections with the package that made them).
    #[serde(default)]
    pub network_logging: bool,
    /// Turn on the platform's security log (Android `setSecurityLoggingEnabled`: adb,
    /// process starts, CA installs, unlock attempts, boot state, media mounts).
    #[serde(default)]
    pub security_logging: bool,
    /// Days network events stay in the rolling window that scheduled inspections scan.
    #[serde(default = "default_network_window_days")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 90)))]
    pub network_window_days: u32,
    /// Failed unlock attempts that make a brute-force alert...
    #[serde(default = "default_keyguard_failures")]
    #[cfg_attr(feature = "schema", schemars(range(min = 2, max = 100)))]
    pub keyguard_failures: u32,
    /// ...when they fall within this many minutes.
    #[serde(default = "default_keyguard_window")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1440)))]
    pub keyguard_window_minutes: u32,
    /// Authorised maintenance windows in which adb shell use raises no alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adb_maintenance_windows: Vec<MaintenanceWindow>,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Default for TelemetryRules {
    fn default() -> Self {
        TelemetryRules {
            network_logging: false,
            security_logging: false,
            network_window_days: default_network_window_days(),
            keyguard_failures: default_keyguard_failures(),
            keyguard_window_minutes: default_keyguard_window(),
            adb_maintenance_windows: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl TelemetryRules {
    pub(super) fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `at` falls in one of the authorised adb maintenance windows.
    pub fn adb_authorised_at(&self, at: crate::time::Timestamp) -> bool {
        self.adb_maintenance_windows
            .iter()
            .any(|w| matches!((w.start(), w.end()), (Some(s), Some(e)) if s <= at && at < e))
    }
}

fn default_network_window_days() -> u32 {
    7
}

fn default_keyguard_failures() -> u32 {
    5
}

fn default_keyguard_window() -> u32 {
    15
}

/// A span of time, `from` inclusive to `until` exclusive, both RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Start (RFC 3339).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub from: String,
    /// End (RFC 3339), after `from`.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub until: String,
}

impl MaintenanceWindow {
    pub(super) fn start(&self) -> Option<crate::time::Timestamp> {
        crate::time::Timestamp::parse_rfc3339(&self.from)
    }

    pub(super) fn end(&self) -> Option<crate::time::Timestamp> {
        crate::time::Timestamp::parse_rfc3339(&self.until)
    }
}
