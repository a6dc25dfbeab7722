//! The escalation ladder for a device that does not comply (AMAPI `policyEnforcementRules`).

use super::*;

// ---------------------------------------------------------------------------------
// Escalation

/// The policy section a rule escalates (AMAPI `settingName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum SettingName {
    /// The `apps` section.
    Apps,
    /// The `configuration` section.
    Configuration,
    /// The `sim` section.
    Sim,
    /// The `inspection` section.
    Inspection,
    /// The `deviceIntegrity` section (judged at the console).
    DeviceIntegrity,
}

/// One rung set of the escalation ladder (AMAPI `policyEnforcementRules[]`): the
/// staff member and the console are notified at once; then access is blocked after
/// `blockAfterDays`, then the device is wiped after `wipeAfterDays`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyEnforcementRule {
    /// Which section's non-compliance this rule escalates.
    pub setting_name: SettingName,
    /// Block access to apps and data after some days. Absent: notify only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_action: Option<BlockAction>,
    /// Wipe after some days; needs `blockAction`, and must come after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe_action: Option<WipeAction>,
    /// Why this ladder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// AMAPI `blockAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockAction {
    /// Days of non-compliance before access is blocked (0: at once).
    #[cfg_attr(feature = "schema", schemars(range(max = 365)))]
    pub block_after_days: u32,
}

/// AMAPI `wipeAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WipeAction {
    /// Days of non-compliance before the device is wiped; must exceed `blockAfterDays`.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 365)))]
    pub wipe_after_days: u32,
    /// Whether factory-reset protection data survives the wipe.
    #[serde(default)]
    pub preserve_frp: bool,
}
