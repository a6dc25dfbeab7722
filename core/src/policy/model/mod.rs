//! The policy document: what a security team asks of every phone in a scope.
//!
//! One JSON document per policy, versioned by its `schema` field. Names of Android
//! settings follow the Android Management API (AMAPI) where it has one
//! (`installType`, `signingKeyCerts`, `minimumApiLevel`, `advancedSecurityOverrides`,
//! `deviceRadioState.cellularTwoGState`, `policyEnforcementRules`, ...), so an
//! administrator who knows AMAPI recognises them; the document is camelCase
//! throughout for the same reason. Where AMAPI defaults a security setting to its
//! most secure value, so does this model. JSON has no comments: every section takes
//! `notes`, and the document a `description`.
//!
//! Parsing is strict (unknown fields are refused, naming the field), and
//! [`Policy::validate`] checks the rules serde cannot express, naming the path of
//! the offending field (`apps.applications[2].packageName`) and the rule broken.

mod apps;
mod configuration;
mod escalation;
mod sim;
mod telemetry;
mod validate;

pub use apps::*;
pub use configuration::*;
pub use escalation::*;
pub use sim::*;
pub use telemetry::*;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

#[cfg(feature = "schema")]
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PolicyError;
use crate::identity::{hex, unhex32};
pub use crate::identity::{IdentityPin, PinKey, PinnedIdentity};
pub use crate::inspection::rules::{InspectionRules, LocalHours, TriggerSeverity};
use crate::sim::{SimPolicy, MAX_SLOT};
use crate::time::MINUTE_MS;

/// The `schema` value of the only document version this build reads.
pub const POLICY_SCHEMA_V1: &str = "portcullis/policy/v1";

/// Which version of the document format a policy is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum PolicySchema {
    /// The first version of the policy document.
    #[serde(rename = "portcullis/policy/v1")]
    V1,
}

/// A policy document: app, configuration, SIM and inspection rules, and the
/// escalation ladder that applies when a device does not comply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "Portcullis policy"))]
pub struct Policy {
    /// Editor hint only (e.g. `./policy.schema.json`): lets editors validate the file. Ignored by the agent.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    /// Document format version; must be `portcullis/policy/v1`.
    pub schema: PolicySchema,
    /// Short name shown in the console and in alerts, e.g. `baseline`.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub name: String,
    /// What the policy is for and who it applies to.
    #[serde(default)]
    pub description: String,
    /// Free-form notes explaining the choices (JSON has no comments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which apps may be on the phone.
    pub apps: AppRules,
    /// Device settings the phone must have.
    pub configuration: ConfigurationRules,
    /// The SIM-port guard's rules.
    pub sim: SimRules,
    /// When forensic-inspection windows happen.
    pub inspection: InspectionRules,
    /// The escalation ladder for non-compliance, one rule per section (AMAPI `policyEnforcementRules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_enforcement_rules: Vec<PolicyEnforcementRule>,
    /// How much the console's signed instructions may ask of this device.
    #[serde(default, skip_serializing_if = "InstructionRules::is_default")]
    pub instructions: InstructionRules,
    /// Device telemetry: which platform logs the agent turns on, how long network events
    /// stay for inspections, and the living-off-the-land detectors' thresholds.
    #[serde(default, skip_serializing_if = "TelemetryRules::is_default")]
    pub telemetry: TelemetryRules,
    /// Journal shipping to the office's collector (docs/upload.md); absent: the journal
    /// stays on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadRules>,
    /// What the phone's hardware key attestation must show, judged at the console
    /// against a verified attestation (`portcullis evaluate --attestation`).
    #[serde(default, skip_serializing_if = "DeviceIntegrityRules::is_default")]
    pub device_integrity: DeviceIntegrityRules,
}

// ---------------------------------------------------------------------------------
// Upload

/// The shortest and longest upload cadence, in minutes.
pub const UPLOAD_INTERVAL_MINUTES: std::ops::RangeInclusive<u32> = 5..=1440;
/// The smallest and largest batch a policy may ask for, in bytes.
pub const UPLOAD_BATCH_BYTES: std::ops::RangeInclusive<u32> = 16 * 1024..=8 * 1024 * 1024;

/// Where and how often the phone ships its journal, checkpoints and evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRules {
    /// The collector's base URL (`https://...`); batches are posted to its `/v1/upload`.
    #[cfg_attr(feature = "schema", schemars(length(min = 9, max = 512)))]
    pub collector_url: String,
    /// SHA-256 of the collector's TLS certificate (DER), hex: the platform's HTTP stack
    /// refuses any other certificate. Two let a new certificate be rolled out first.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4)))]
    pub certificate_sha256: Vec<String>,
    /// The collector's Ed25519 receipt key (64 hex digits): only receipts signed with it
    /// move the phone's upload cursor and allow pruning.
    #[cfg_attr(feature = "schema", schemars(length(min = 64, max = 64)))]
    pub receipt_key: String,
    /// Upload at least this often (and at once after a high or critical alert).
    #[serde(default = "default_upload_interval")]
    #[cfg_attr(feature = "schema", schemars(range(min = 5, max = 1440)))]
    pub interval_minutes: u32,
    /// The largest batch the phone sends, in bytes; the collector's cap must be at least this.
    #[serde(default = "default_upload_batch_bytes")]
    #[cfg_attr(feature = "schema", schemars(range(min = 16384, max = 8388608)))]
    pub max_batch_bytes: u32,
    /// The collector alerts when a device is silent for longer than this; at least the interval.
    #[serde(default = "default_upload_heartbeat")]
    #[cfg_attr(feature = "schema", schemars(range(min = 5, max = 10080)))]
    pub heartbeat_minutes: u32,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------------------------
// Device integrity

/// The oldest attested patch level a policy may tolerate, in days (ten years).
pub const MAX_ATTESTED_PATCH_AGE_DAYS: u32 = 3650;
/// The longest a policy may let an attestation stand before a new one is required, in days.
pub const MAX_ATTESTATION_AGE_DAYS: u32 = 365;

/// Rules on the phone's hardware key attestation. The phone cannot vouch for itself,
/// so these are judged at the console on the verdict of `portcullis attest verify`;
/// the agent judges what it sees locally only as a hint that never counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceIntegrityRules {
    /// The attested key must be made and kept in secure hardware (TEE or StrongBox).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_hardware_backed_key: bool,
    /// The attested key must live in a StrongBox secure element.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_strong_box: bool,
    /// The bootloader must have verified the OS against the manufacturer's key (`VERIFIED`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_verified_boot: bool,
    /// The bootloader must have been locked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_locked_bootloader: bool,
    /// The attested OS patch level may be at most this many days old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3650)))]
    pub max_attested_patch_age_days: Option<u32>,
    /// A verified attestation must be at most this many days old; older ones are stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 365)))]
    pub require_attestation_within_days: Option<u32>,
    /// What a broken rule does (default `MARK_NON_COMPLIANT`).
    #[serde(default = "default_integrity_violation")]
    pub on_violation: ViolationAction,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl UploadRules {
    /// The receipt key, once validated.
    pub fn receipt_key_bytes(&self) -> Option<[u8; 32]> {
        crate::identity::unhex32(&self.receipt_key)
    }
}

fn default_upload_interval() -> u32 {
    60
}

fn default_upload_batch_bytes() -> u32 {
    1024 * 1024
}

fn default_upload_heartbeat() -> u32 {
    24 * 60
}

fn default_integrity_violation() -> ViolationAction {
    ViolationAction::MarkNonCompliant
}

impl Default for DeviceIntegrityRules {
    fn default() -> Self {
        DeviceIntegrityRules {
            require_hardware_backed_key: false,
            require_strong_box: false,
            require_verified_boot: false,
            require_locked_bootloader: false,
            max_attested_patch_age_days: None,
            require_attestation_within_days: None,
            on_violation: default_integrity_violation(),
            notes: Vec::new(),
        }
    }
}

impl DeviceIntegrityRules {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether any rule is set (then a verified attestation is required at all).
    pub fn is_active(&self) -> bool {
        self.require_hardware_backed_key
            || self.require_strong_box
            || self.require_verified_boot
            || self.require_locked_bootloader
            || self.max_attested_patch_age_days.is_some()
            || self.require_attestation_within_days.is_some()
    }
}

// ---------------------------------------------------------------------------------
// Instructions

/// The longest an instruction may stay valid after it is issued, and the default.
pub const MAX_INSTRUCTION_LIFETIME_HOURS: u32 = 7 * 24;
/// The longest SIM-change window an authorisation may open after it is issued, and the default.
pub const MAX_SIM_CHANGE_WINDOW_HOURS: u32 = 72;

/// Limits on the console's signed instructions. The built-in limits are the ceilings;
/// a policy may only lower them, so a stolen operations key buys as little time as
/// the security team chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstructionRules {
    /// Longest time from an instruction's `issuedAt` to its `expires`, in hours.
    #[serde(default = "default_instruction_lifetime")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 168)))]
    pub max_lifetime_hours: u32,
    /// Longest time from an authorisation's `issuedAt` to its window's end (`until`), in hours.
    #[serde(default = "default_sim_change_window")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 72)))]
    pub max_sim_change_window_hours: u32,
}

impl Default for InstructionRules {
    fn default() -> Self {
        InstructionRules {
            max_lifetime_hours: MAX_INSTRUCTION_LIFETIME_HOURS,
            max_sim_change_window_hours: MAX_SIM_CHANGE_WINDOW_HOURS,
        }
    }
}

impl InstructionRules {
    fn is_default(&self) -> bool {
        *self == InstructionRules::default()
    }
}

fn default_instruction_lifetime() -> u32 {
    MAX_INSTRUCTION_LIFETIME_HOURS
}

fn default_sim_change_window() -> u32 {
    MAX_SIM_CHANGE_WINDOW_HOURS
}
