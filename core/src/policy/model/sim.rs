//! The SIM-port guard's rules and the pinned subscriptions a phone is expected to carry.

use super::*;

// ---------------------------------------------------------------------------------
// SIM

/// Port-out detection window used when a policy does not set one.
pub const DEFAULT_PORT_OUT_WINDOW_MINUTES: u32 = 10;

/// How often the agent re-reads SIM and service state when a policy does not say: the
/// platform's change broadcasts cover a running process, the re-read covers changes made
/// while it was not running, and each one costs a wake-up of a phone carried all day.
pub const DEFAULT_REREAD_INTERVAL_MINUTES: u32 = 60;
/// The shortest re-read interval a policy may set (the platforms' own floor for periodic work).
pub const MIN_REREAD_INTERVAL_MINUTES: u32 = 15;
/// The longest re-read interval a policy may set: at least one re-read a day.
pub const MAX_REREAD_INTERVAL_MINUTES: u32 = 1440;

/// The SIM-port guard's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimRules {
    /// The subscriptions the phone was issued with, one per slot.
    #[serde(default)]
    pub expected_subscriptions: Vec<ExpectedSubscription>,
    /// How long service may stay lost (with Wi-Fi up) before a port-out is suspected, in minutes.
    #[serde(default = "default_port_out_window")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1440)))]
    pub port_out_window_minutes: u32,
    /// How often the agent asks to be woken to re-read SIM and service state, in minutes.
    /// Left out of a document at its default, so bundles agents without the field accept
    /// stay byte-for-byte what they were.
    #[serde(
        default = "default_reread_interval",
        skip_serializing_if = "is_default_reread_interval"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 15, max = 1440)))]
    pub reread_interval_minutes: u32,
    /// What the phone does, besides alerting the console (always), when its SIM or number changes.
    #[serde(default)]
    pub on_change: Vec<SimChangeAction>,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_port_out_window() -> u32 {
    DEFAULT_PORT_OUT_WINDOW_MINUTES
}

fn default_reread_interval() -> u32 {
    DEFAULT_REREAD_INTERVAL_MINUTES
}

fn is_default_reread_interval(minutes: &u32) -> bool {
    *minutes == DEFAULT_REREAD_INTERVAL_MINUTES
}

/// A subscription expected in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpectedSubscription {
    /// SIM slot index (0 is the first).
    #[cfg_attr(feature = "schema", schemars(range(max = 7)))]
    pub slot: u8,
    /// Whether the slot must hold a working SIM.
    #[serde(default = "default_true")]
    pub required: bool,
    /// Home network as MCC-MNC (5 or 6 digits): an operator code, not a personal identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9]{5,6}$")))]
    pub home_network: Option<String>,
    /// Identities pinned as keyed hashes (never raw numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PinnedIdentity>,
    /// Why this expectation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_true() -> bool {
    true
}

/// What the phone does when its SIM or number changes, besides alerting the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimChangeAction {
    /// Show the staff member a short notice.
    NotifyUser,
    /// Schedule an inspection window after `inspection.triggeredInspectionDelayMinutes`.
    TriggerInspection,
    /// Lock the screen (DevicePolicyManager `lockNow`).
    LockDevice,
}
