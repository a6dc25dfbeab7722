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

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use ring::hmac;
#[cfg(feature = "schema")]
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PolicyError;
use crate::alert::Severity;
use crate::identity::{hex, normalize, DeviceKey, IdentityKind};
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
        crate::journal::unhex32(&self.receipt_key)
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

// ---------------------------------------------------------------------------------
// Apps

/// How the app list is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppMode {
    /// Only listed apps (not `BLOCKED`) may be installed; anything else is a violation.
    Allowlist,
    /// Any app may be installed except those listed as `BLOCKED`.
    Blocklist,
    /// Evaluate as an allowlist, but only report: no app is suspended, no device marked non-compliant.
    Audit,
}

/// What to do when an app breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppViolationAction {
    /// Alert the console only; the device stays compliant.
    Report,
    /// Alert, and mark the device non-compliant so the `apps` escalation rule runs.
    MarkNonCompliant,
    /// Suspend the offending app (DevicePolicyManager `setPackagesSuspended`), alert, and mark non-compliant.
    SuspendApp,
}

/// What to do when a device setting breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViolationAction {
    /// Alert the console only; the device stays compliant.
    Report,
    /// Alert, and mark the device non-compliant so the section's escalation rule runs.
    MarkNonCompliant,
}

/// AMAPI `installType`, every value AMAPI defines. An on-device agent checks only
/// presence: the types AMAPI keeps installed are required, the others allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstallType {
    /// Allowed, not required.
    Available,
    /// Installed automatically once, and the user may remove it: allowed, not required.
    Preinstalled,
    /// Must be installed (missing: `APP_NOT_INSTALLED`).
    ForceInstalled,
    /// Must be installed, and setup waits for it (missing: `APP_NOT_INSTALLED`).
    RequiredForSetup,
    /// Must be installed, and runs as the kiosk (missing: `APP_NOT_INSTALLED`).
    Kiosk,
    /// Installed by an extension app (AMAPI `CUSTOM`): allowed, not required.
    Custom,
    /// Must not be installed (present: `APP_INSTALLED`).
    Blocked,
}

impl InstallType {
    /// Whether a device without the app breaks the rule (AMAPI keeps these installed).
    pub fn required(self) -> bool {
        matches!(
            self,
            InstallType::ForceInstalled | InstallType::RequiredForSetup | InstallType::Kiosk
        )
    }
}

/// The app rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRules {
    /// Allowlist, blocklist or audit.
    pub mode: AppMode,
    /// Installer packages trusted for apps whose rule lists none (e.g. `com.android.vending`). Empty: any installer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_installers: Vec<String>,
    /// What to do on a violation when the app's rule does not say.
    #[serde(default = "default_app_violation")]
    pub on_violation: AppViolationAction,
    /// Per-app rules, each naming an Android `packageName` or an iOS `bundleId`.
    #[serde(default)]
    pub applications: Vec<AppRule>,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_app_violation() -> AppViolationAction {
    AppViolationAction::MarkNonCompliant
}

/// A rule for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRule {
    /// Android package name (exactly one of `packageName` and `bundleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    /// iOS bundle identifier (exactly one of `packageName` and `bundleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Allowed, required or blocked (AMAPI `installType`).
    #[serde(default = "default_install_type")]
    pub install_type: InstallType,
    /// Accepted signing certificates (Android). Empty: not checked. A mismatch is `APP_SIGNING_CERT_MISMATCH`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_key_certs: Vec<SigningKeyCert>,
    /// Lowest accepted `versionCode` (Android); lower is `APP_NOT_UPDATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_version_code: Option<u64>,
    /// Installer packages accepted for this app (Android); absent: the section's `allowedInstallers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_installers: Option<Vec<String>>,
    /// What to do on a violation; absent: the section's `onViolation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_violation: Option<AppViolationAction>,
    /// Why this rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_install_type() -> InstallType {
    InstallType::Available
}

/// One accepted signing certificate (AMAPI `signingKeyCerts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKeyCert {
    /// SHA-256 of the signing certificate, as `apksigner verify --print-certs` or `keytool` print it.
    pub signing_key_cert_fingerprint_sha256: Sha256Fingerprint,
}

/// A SHA-256 fingerprint: 64 hex digits (colons between bytes allowed) or the 32 bytes in
/// base64, the form AMAPI's `signingKeyCertFingerprintSha256` uses; stored as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Fingerprint(pub [u8; 32]);

impl Sha256Fingerprint {
    /// Parses 64 hex digits, optionally colon-separated (`29:F3:...`), or 32 bytes in
    /// base64 (standard or URL-safe alphabet, padding optional). The two forms cannot be
    /// confused: hex is 64 characters long, base64 of 32 bytes 43 or 44.
    pub fn parse(text: &str) -> Option<Self> {
        if matches!(text.len(), 43 | 44) {
            return Self::parse_base64(text);
        }
        let compact: String = if text.contains(':') {
            let parts: Vec<&str> = text.split(':').collect();
            if parts.len() != 32 || parts.iter().any(|p| p.len() != 2) {
                return None;
            }
            parts.concat()
        } else {
            text.to_owned()
        };
        parse_hex32(&compact).map(Sha256Fingerprint)
    }
}

impl Sha256Fingerprint {
    fn parse_base64(text: &str) -> Option<Self> {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        use base64::Engine as _;
        let body = text.strip_suffix('=').unwrap_or(text);
        if body.len() != 43 {
            return None;
        }
        let bytes = if body.contains(['-', '_']) {
            URL_SAFE_NO_PAD.decode(body)
        } else {
            STANDARD_NO_PAD.decode(body)
        }
        .ok()?;
        bytes.try_into().ok().map(Sha256Fingerprint)
    }

    /// The fingerprint in standard base64 with padding, as AMAPI writes it.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl fmt::Debug for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Fingerprint({})", hex(&self.0))
    }
}

impl fmt::Display for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for Sha256Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Sha256Fingerprint::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "expected a SHA-256 fingerprint: 64 hex digits (optionally colon-separated) or 32 bytes in base64",
            )
        })
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Sha256Fingerprint {
    fn schema_name() -> Cow<'static, str> {
        "Sha256Fingerprint".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "SHA-256 fingerprint: 64 hex digits, optionally colon-separated (`29:F3:...`), or the 32 bytes in base64 as AMAPI writes them.",
            "type": "string",
            "pattern": "^([0-9A-Fa-f]{64}|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[A-Za-z0-9+/_-]{43}=?)$"
        })
    }
}

// ---------------------------------------------------------------------------------
// Configuration

/// The device settings the phone must have. Absent optional rules are not checked;
/// settings AMAPI defaults to their most secure value default the same way here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigurationRules {
    /// Lowest Android API level accepted (AMAPI `minimumApiLevel`); lower is `OS_NOT_PERMITTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 21, max = 100)))]
    pub minimum_api_level: Option<u32>,
    /// Lowest iOS version accepted, e.g. `17.6` or `18.3.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,3}(\.[0-9]{1,3}){0,2}$"))
    )]
    pub minimum_ios_version: Option<String>,
    /// Oldest Android security patch level accepted, `YYYY-MM-DD` (as in `softwareInfo.securityPatchLevel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    )]
    pub minimum_security_patch_level: Option<String>,
    /// Oldest security patch accepted relative to today, in days (a rolling floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3650)))]
    pub maximum_security_patch_age_days: Option<u32>,
    /// Screen-lock strength (AMAPI `passwordRequirements`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_requirements: Option<PasswordRequirements>,
    /// Longest idle time before the screen locks, in milliseconds (AMAPI `maximumTimeToLock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1000, max = 86_400_000)))]
    pub maximum_time_to_lock: Option<u64>,
    /// Device encryption (AMAPI `encryptionPolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_policy: Option<EncryptionPolicy>,
    /// Developer options, unknown sources and app verification (AMAPI `advancedSecurityOverrides`).
    #[serde(default)]
    pub advanced_security_overrides: AdvancedSecurityOverrides,
    /// Whether USB / wireless debugging (adb) may be on (AMAPI `debuggingFeaturesAllowed`).
    #[serde(default)]
    pub debugging_features_allowed: bool,
    /// Radio rules (AMAPI `deviceRadioState`): 2G is disabled unless this says otherwise.
    #[serde(default)]
    pub device_radio_state: DeviceRadioState,
    /// Lock the mobile network settings (APNs, network selection, preferred network type;
    /// Android `DISALLOW_CONFIG_MOBILE_NETWORKS`): an APN pointed at an attacker's gateway
    /// or a manually chosen network helps interception along from the handset itself.
    #[serde(default)]
    pub mobile_networks_config_disabled: bool,
    /// USB data rules (AMAPI `deviceConnectivityManagement`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_connectivity_management: Option<DeviceConnectivityManagement>,
    /// The always-on VPN that must be configured (AMAPI `alwaysOnVpnPackage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_on_vpn_package: Option<AlwaysOnVpnPackage>,
    /// User-installed CA certificates (a classic interception set-up): refused unless listed.
    #[serde(default)]
    pub user_installed_ca_certs: UserInstalledCaCerts,
    /// Accessibility services that may be enabled (AMAPI `permittedAccessibilityServices`).
    /// Absent: any; an empty list: system services only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted_accessibility_services: Option<PackageNameList>,
    /// What to do when a setting breaks a rule.
    #[serde(default = "default_violation")]
    pub on_violation: ViolationAction,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_violation() -> ViolationAction {
    ViolationAction::MarkNonCompliant
}

/// Screen-lock strength (AMAPI `passwordRequirements`, complexity buckets only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordRequirements {
    /// The complexity bucket the screen lock must reach.
    pub password_quality: PasswordQuality,
    /// Failed unlock attempts before the device wipes itself (AMAPI `maximumFailedPasswordsForWipe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 4, max = 100)))]
    pub maximum_failed_passwords_for_wipe: Option<u32>,
}

/// AMAPI `passwordQuality` complexity buckets (Android 12+ `getPasswordComplexity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PasswordQuality {
    /// Pattern or PIN with repeating or ordered digits.
    ComplexityLow,
    /// PIN of 4+ without repeats or sequences, or alphanumeric of 4+.
    ComplexityMedium,
    /// PIN of 8+ without repeats or sequences, or alphanumeric of 6+.
    ComplexityHigh,
}

/// AMAPI `encryptionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EncryptionPolicy {
    /// Storage encrypted; no credential needed at boot.
    EnabledWithoutPassword,
    /// Storage encrypted; the screen-lock credential is needed at boot.
    EnabledWithPassword,
}

/// AMAPI `advancedSecurityOverrides`; every field defaults to its most secure value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvancedSecurityOverrides {
    /// Apps from unknown sources.
    #[serde(default = "default_untrusted_apps")]
    pub untrusted_apps_policy: UntrustedAppsPolicy,
    /// Developer options.
    #[serde(default = "default_developer_settings")]
    pub developer_settings: DeveloperSettings,
    /// Google Play Protect app verification.
    #[serde(default = "default_verify_apps")]
    pub google_play_protect_verify_apps: GooglePlayProtectVerifyApps,
}

impl Default for AdvancedSecurityOverrides {
    fn default() -> Self {
        AdvancedSecurityOverrides {
            untrusted_apps_policy: default_untrusted_apps(),
            developer_settings: default_developer_settings(),
            google_play_protect_verify_apps: default_verify_apps(),
        }
    }
}

fn default_untrusted_apps() -> UntrustedAppsPolicy {
    UntrustedAppsPolicy::DisallowInstall
}
fn default_developer_settings() -> DeveloperSettings {
    DeveloperSettings::DeveloperSettingsDisabled
}
fn default_verify_apps() -> GooglePlayProtectVerifyApps {
    GooglePlayProtectVerifyApps::VerifyAppsEnforced
}

/// AMAPI `untrustedAppsPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UntrustedAppsPolicy {
    /// No installs from unknown sources.
    DisallowInstall,
    /// Unknown sources only in a personal profile.
    AllowInstallInPersonalProfileOnly,
    /// Unknown sources anywhere.
    AllowInstallDeviceWide,
}

/// AMAPI `developerSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeveloperSettings {
    /// Developer options and safe boot are off.
    DeveloperSettingsDisabled,
    /// Developer options may be turned on.
    DeveloperSettingsAllowed,
}

/// AMAPI `googlePlayProtectVerifyApps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GooglePlayProtectVerifyApps {
    /// Play Protect verification is on and locked.
    VerifyAppsEnforced,
    /// The user may turn it off.
    VerifyAppsUserChoice,
}

/// AMAPI `deviceRadioState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceRadioState {
    /// 2G (Android 14 `DISALLOW_CELLULAR_2G`); disabled unless set to `CELLULAR_TWO_G_USER_CHOICE`.
    #[serde(default = "default_two_g")]
    pub cellular_two_g_state: CellularTwoGState,
    /// Whether the user may add an eSIM (AMAPI `userInitiatedAddEsimSettings`; Android 15
    /// `DISALLOW_SIM_GLOBALLY` on a fully managed phone, iOS `allowESIMModification` on a
    /// supervised one). Adding an eSIM is a SIM-swap path that needs no card in hand.
    /// Absent: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_initiated_add_esim_settings: Option<UserInitiatedAddEsimSettings>,
}

impl Default for DeviceRadioState {
    fn default() -> Self {
        DeviceRadioState {
            cellular_two_g_state: default_two_g(),
            user_initiated_add_esim_settings: None,
        }
    }
}

/// AMAPI `userInitiatedAddEsimSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserInitiatedAddEsimSettings {
    /// The user may add (download) an eSIM.
    UserInitiatedAddEsimAllowed,
    /// The user may not add an eSIM; the MDM or the carrier still can.
    UserInitiatedAddEsimDisallowed,
}

fn default_two_g() -> CellularTwoGState {
    CellularTwoGState::CellularTwoGDisabled
}

/// AMAPI `cellularTwoGState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CellularTwoGState {
    /// 2G is off; service on 2G raises `downgrade_2g`.
    CellularTwoGDisabled,
    /// The user may use 2G (e.g. travel where nothing else covers); no 2G alert.
    CellularTwoGUserChoice,
}

/// AMAPI `deviceConnectivityManagement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceConnectivityManagement {
    /// What USB data may flow.
    pub usb_data_access: UsbDataAccess,
}

/// AMAPI `usbDataAccess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UsbDataAccess {
    /// Any USB data.
    AllowUsbDataTransfer,
    /// No file transfer; other USB data (e.g. accessories) allowed.
    DisallowUsbFileTransfer,
    /// No USB data at all; charging only.
    DisallowUsbDataTransfer,
}

/// AMAPI `alwaysOnVpnPackage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlwaysOnVpnPackage {
    /// The VPN app's package name.
    pub package_name: String,
    /// Whether traffic is blocked while the VPN is down.
    #[serde(default)]
    pub lockdown_enabled: bool,
}

/// User-installed CA certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInstalledCaCerts {
    /// Whether any user-installed CA certificate is acceptable.
    #[serde(default)]
    pub allowed: bool,
    /// Certificates accepted even when `allowed` is false (e.g. the office's own inspection CA).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_fingerprints_sha256: Vec<Sha256Fingerprint>,
}

/// AMAPI `PackageNameList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageNameList {
    /// Package names.
    #[serde(default)]
    pub package_names: Vec<String>,
}

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

/// A SIM identity pinned by keyed hashes: each is HMAC-SHA-256 under the device's
/// pin key (see [`PinKey`]), so the policy reveals no ICCID, IMSI or number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinnedIdentity {
    /// Keyed hash of the ICCID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<IdentityPin>,
    /// Keyed hash of the IMSI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<IdentityPin>,
    /// Keyed hash of the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<IdentityPin>,
}

/// A keyed hash of one identifier: 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityPin(pub [u8; 32]);

impl fmt::Debug for IdentityPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityPin({}…)", hex(&self.0[..4]))
    }
}

impl Serialize for IdentityPin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for IdentityPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "an identity pin is 64 lower-case hex digits",
            ));
        }
        parse_hex32(&text)
            .map(IdentityPin)
            .ok_or_else(|| serde::de::Error::custom("an identity pin is 64 lower-case hex digits"))
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for IdentityPin {
    fn schema_name() -> Cow<'static, str> {
        "IdentityPin".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "HMAC-SHA-256 of the normalised identifier under the device's pin key: 64 lower-case hex digits.",
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
        })
    }
}

const PIN_KEY_LABEL: &[u8] = b"portcullis/identity-pin-key/v1";

/// The key identity pins are computed under.
///
/// Derived on the device from its [`DeviceKey`] and handed to the console once, at
/// enrollment, so the console can pin the SIM it issued without the policy (which
/// travels through MDM channels) revealing enumerable identifiers. It is distinct
/// from the key the device hashes its own stored identifiers with.
pub struct PinKey {
    key: hmac::Key,
}

impl PinKey {
    /// Derives the device's pin key (one call into the platform key store).
    pub fn derive(device_key: &dyn DeviceKey) -> crate::Result<[u8; 32]> {
        device_key.hmac_sha256(PIN_KEY_LABEL)
    }

    /// Wraps pin-key bytes (from [`PinKey::derive`] on the device, or the console's record).
    pub fn new(key: &[u8; 32]) -> Self {
        PinKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The pin of a raw identifier: normalised as the SIM guard does, then
    /// HMAC-SHA-256 over `label || 0x00 || normalised` (labels `iccid`, `imsi`, `msisdn`).
    pub fn pin(&self, kind: IdentityKind, raw: &str) -> crate::Result<IdentityPin> {
        let normalized = normalize(kind, raw)?;
        let label: &[u8] = match kind {
            IdentityKind::Iccid => b"iccid",
            IdentityKind::Imsi => b"imsi",
            IdentityKind::PhoneNumber => b"msisdn",
        };
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(label);
        ctx.update(&[0]);
        ctx.update(normalized.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Ok(IdentityPin(out))
    }
}

impl fmt::Debug for PinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinKey(..)")
    }
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

// ---------------------------------------------------------------------------------
// Inspection

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
    fn is_default(&self) -> bool {
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
    fn start(&self) -> Option<crate::time::Timestamp> {
        crate::time::Timestamp::parse_rfc3339(&self.from)
    }

    fn end(&self) -> Option<crate::time::Timestamp> {
        crate::time::Timestamp::parse_rfc3339(&self.until)
    }
}

// ---------------------------------------------------------------------------------
// Parsing and validation

impl Policy {
    /// Parses and validates a policy document. Errors name the field and the rule.
    pub fn from_json(bytes: &[u8]) -> crate::Result<Policy> {
        let policy: Policy = crate::json::from_slice(bytes)
            .map_err(|e| PolicyError::document("policy document", &e))?;
        policy.validate()?;
        Ok(policy)
    }

    /// The document as pretty JSON (the form the signing tool embeds in bundles).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serialises")
    }

    /// Checks the rules serde cannot express; the error names the path and the rule.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.trim().is_empty() || self.name.chars().count() > 64 {
            return Err(invalid("name", "must be 1 to 64 characters").into());
        }
        self.validate_apps()?;
        self.validate_configuration()?;
        self.validate_sim()?;
        self.validate_inspection()?;
        self.validate_escalation()?;
        self.validate_telemetry()?;
        self.validate_upload()?;
        self.validate_device_integrity()?;
        let limits = &self.instructions;
        if !(1..=MAX_INSTRUCTION_LIFETIME_HOURS).contains(&limits.max_lifetime_hours) {
            return Err(invalid(
                "instructions.maxLifetimeHours",
                format!("must be 1 to {MAX_INSTRUCTION_LIFETIME_HOURS}"),
            )
            .into());
        }
        if !(1..=MAX_SIM_CHANGE_WINDOW_HOURS).contains(&limits.max_sim_change_window_hours) {
            return Err(invalid(
                "instructions.maxSimChangeWindowHours",
                format!("must be 1 to {MAX_SIM_CHANGE_WINDOW_HOURS}"),
            )
            .into());
        }
        Ok(())
    }

    /// The SIM guard's rules under this policy.
    pub fn sim_policy(&self) -> SimPolicy {
        SimPolicy::from(self)
    }

    fn validate_apps(&self) -> Result<(), PolicyError> {
        let apps = &self.apps;
        for (i, installer) in apps.allowed_installers.iter().enumerate() {
            check_package(&format!("apps.allowedInstallers[{i}]"), installer)?;
        }
        let mut seen = BTreeSet::new();
        for (i, rule) in apps.applications.iter().enumerate() {
            let at = |field: &str| format!("apps.applications[{i}].{field}");
            let id = match (&rule.package_name, &rule.bundle_id) {
                (Some(p), None) => {
                    check_package(&at("packageName"), p)?;
                    format!("android:{p}")
                }
                (None, Some(b)) => {
                    check_bundle_id(&at("bundleId"), b)?;
                    if !rule.signing_key_certs.is_empty()
                        || rule.minimum_version_code.is_some()
                        || rule.allowed_installers.is_some()
                    {
                        return Err(invalid(
                            format!("apps.applications[{i}]"),
                            "signingKeyCerts, minimumVersionCode and allowedInstallers apply to Android packageName rules only",
                        ));
                    }
                    format!("ios:{b}")
                }
                _ => {
                    return Err(invalid(
                        format!("apps.applications[{i}]"),
                        "name exactly one of packageName (Android) and bundleId (iOS)",
                    ))
                }
            };
            if !seen.insert(id) {
                return Err(invalid(
                    format!("apps.applications[{i}]"),
                    "the same app has two rules; merge them",
                ));
            }
            if let Some(installers) = &rule.allowed_installers {
                for (j, installer) in installers.iter().enumerate() {
                    check_package(&at(&format!("allowedInstallers[{j}]")), installer)?;
                }
            }
            let mut certs = BTreeSet::new();
            for (j, cert) in rule.signing_key_certs.iter().enumerate() {
                if !certs.insert(cert.signing_key_cert_fingerprint_sha256) {
                    return Err(invalid(
                        at(&format!(
                            "signingKeyCerts[{j}].signingKeyCertFingerprintSha256"
                        )),
                        "listed twice",
                    ));
                }
            }
            if rule.install_type == InstallType::Blocked
                && (!rule.signing_key_certs.is_empty() || rule.minimum_version_code.is_some())
            {
                return Err(invalid(
                    at("installType"),
                    "a BLOCKED app takes no signingKeyCerts or minimumVersionCode",
                ));
            }
        }
        Ok(())
    }

    fn validate_configuration(&self) -> Result<(), PolicyError> {
        let c = &self.configuration;
        if let Some(level) = c.minimum_api_level {
            if !(21..=100).contains(&level) {
                return Err(invalid(
                    "configuration.minimumApiLevel",
                    "must be between 21 and 100",
                ));
            }
        }
        if let Some(v) = &c.minimum_ios_version {
            let parts: Vec<&str> = v.split('.').collect();
            let ok = (1..=3).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(invalid(
                    "configuration.minimumIosVersion",
                    "expected a version such as 17.6 or 18.3.1",
                ));
            }
        }
        if let Some(date) = &c.minimum_security_patch_level {
            if crate::time::Date::parse_ymd(date).is_none() {
                return Err(invalid(
                    "configuration.minimumSecurityPatchLevel",
                    "expected a date as YYYY-MM-DD",
                ));
            }
        }
        if let Some(days) = c.maximum_security_patch_age_days {
            if !(1..=3650).contains(&days) {
                return Err(invalid(
                    "configuration.maximumSecurityPatchAgeDays",
                    "must be between 1 and 3650",
                ));
            }
        }
        if let Some(p) = &c.password_requirements {
            if let Some(n) = p.maximum_failed_passwords_for_wipe {
                if !(4..=100).contains(&n) {
                    return Err(invalid(
                        "configuration.passwordRequirements.maximumFailedPasswordsForWipe",
                        "must be between 4 and 100 (fewer wipes phones by accident)",
                    ));
                }
            }
        }
        if let Some(ms) = c.maximum_time_to_lock {
            if !(1000..=86_400_000).contains(&ms) {
                return Err(invalid(
                    "configuration.maximumTimeToLock",
                    "must be between 1000 ms and 86400000 ms (one day)",
                ));
            }
        }
        if let Some(vpn) = &c.always_on_vpn_package {
            check_package(
                "configuration.alwaysOnVpnPackage.packageName",
                &vpn.package_name,
            )?;
        }
        if let Some(list) = &c.permitted_accessibility_services {
            for (i, p) in list.package_names.iter().enumerate() {
                check_package(
                    &format!("configuration.permittedAccessibilityServices.packageNames[{i}]"),
                    p,
                )?;
            }
        }
        Ok(())
    }

    fn validate_sim(&self) -> Result<(), PolicyError> {
        let s = &self.sim;
        if !(1..=1440).contains(&s.port_out_window_minutes) {
            return Err(invalid(
                "sim.portOutWindowMinutes",
                "must be between 1 and 1440",
            ));
        }
        if !(MIN_REREAD_INTERVAL_MINUTES..=MAX_REREAD_INTERVAL_MINUTES)
            .contains(&s.reread_interval_minutes)
        {
            return Err(invalid(
                "sim.rereadIntervalMinutes",
                format!(
                    "must be between {MIN_REREAD_INTERVAL_MINUTES} and {MAX_REREAD_INTERVAL_MINUTES}"
                ),
            ));
        }
        let mut slots = BTreeSet::new();
        for (i, sub) in s.expected_subscriptions.iter().enumerate() {
            if sub.slot > MAX_SLOT {
                return Err(invalid(
                    format!("sim.expectedSubscriptions[{i}].slot"),
                    format!("must be between 0 and {MAX_SLOT}"),
                ));
            }
            if !slots.insert(sub.slot) {
                return Err(invalid(
                    format!("sim.expectedSubscriptions[{i}].slot"),
                    "two expectations for the same slot",
                ));
            }
            if let Some(home) = &sub.home_network {
                if !(5..=6).contains(&home.len()) || !home.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(
                        format!("sim.expectedSubscriptions[{i}].homeNetwork"),
                        "expected MCC-MNC as 5 or 6 digits",
                    ));
                }
            }
            if let Some(pin) = &sub.pinned {
                if pin.iccid.is_none() && pin.imsi.is_none() && pin.msisdn.is_none() {
                    return Err(invalid(
                        format!("sim.expectedSubscriptions[{i}].pinned"),
                        "pins nothing: give iccid, imsi or msisdn, or drop the field",
                    ));
                }
            }
        }
        let mut actions = BTreeSet::new();
        for (i, a) in s.on_change.iter().enumerate() {
            if !actions.insert(*a) {
                return Err(invalid(format!("sim.onChange[{i}]"), "listed twice"));
            }
        }
        Ok(())
    }

    fn validate_inspection(&self) -> Result<(), PolicyError> {
        let r = &self.inspection;
        if !(1..=365).contains(&r.cadence_days) {
            return Err(invalid(
                "inspection.cadenceDays",
                "must be between 1 and 365",
            ));
        }
        if !(5..=1440).contains(&r.window_minutes) {
            return Err(invalid(
                "inspection.windowMinutes",
                "must be between 5 and 1440",
            ));
        }
        let h = r.allowed_local_hours;
        if h.from > 23 || !(1..=24).contains(&h.until) || (h.from == h.until % 24 && h.until != 24)
        {
            return Err(invalid(
                "inspection.allowedLocalHours",
                "from must be 0-23 and until 1-24, and they must differ",
            ));
        }
        if r.window_minutes > h.hours() * 60 {
            return Err(invalid(
                "inspection.windowMinutes",
                "the window is longer than allowedLocalHours",
            ));
        }
        if r.triggered_inspection_delay_minutes > 10_080 {
            return Err(invalid(
                "inspection.triggeredInspectionDelayMinutes",
                "must be at most 10080 (one week)",
            ));
        }
        if r.grace_period_hours > 720 {
            return Err(invalid(
                "inspection.gracePeriodHours",
                "must be at most 720 (30 days)",
            ));
        }
        Ok(())
    }

    fn validate_telemetry(&self) -> Result<(), PolicyError> {
        let t = &self.telemetry;
        if !(1..=MAX_NETWORK_WINDOW_DAYS).contains(&t.network_window_days) {
            return Err(invalid(
                "telemetry.networkWindowDays",
                format!("must be between 1 and {MAX_NETWORK_WINDOW_DAYS}"),
            ));
        }
        if !(2..=100).contains(&t.keyguard_failures) {
            return Err(invalid(
                "telemetry.keyguardFailures",
                "must be between 2 and 100",
            ));
        }
        if !(1..=1440).contains(&t.keyguard_window_minutes) {
            return Err(invalid(
                "telemetry.keyguardWindowMinutes",
                "must be between 1 and 1440",
            ));
        }
        for (i, w) in t.adb_maintenance_windows.iter().enumerate() {
            let at = |f: &str| format!("telemetry.adbMaintenanceWindows[{i}].{f}");
            let Some(start) = w.start() else {
                return Err(invalid(at("from"), "is not an RFC 3339 time"));
            };
            let Some(end) = w.end() else {
                return Err(invalid(at("until"), "is not an RFC 3339 time"));
            };
            if end <= start {
                return Err(invalid(at("until"), "must be after `from`"));
            }
        }
        Ok(())
    }

    fn validate_upload(&self) -> Result<(), PolicyError> {
        let Some(u) = &self.upload else {
            return Ok(());
        };
        let url = u.collector_url.as_str();
        let host = url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty()
            || url.len() > 512
            || url.ends_with('/')
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "upload.collectorUrl",
                "must be an https:// URL of at most 512 characters without a trailing slash",
            ));
        }
        if u.certificate_sha256.is_empty() || u.certificate_sha256.len() > 4 {
            return Err(invalid(
                "upload.certificateSha256",
                "must list 1 to 4 certificate digests",
            ));
        }
        for (i, pin) in u.certificate_sha256.iter().enumerate() {
            if crate::journal::unhex32(pin).is_none() {
                return Err(invalid(
                    format!("upload.certificateSha256[{i}]"),
                    "must be 64 hex digits",
                ));
            }
        }
        if u.receipt_key_bytes().is_none() {
            return Err(invalid("upload.receiptKey", "must be 64 hex digits"));
        }
        if !UPLOAD_INTERVAL_MINUTES.contains(&u.interval_minutes) {
            return Err(invalid(
                "upload.intervalMinutes",
                "must be between 5 and 1440",
            ));
        }
        if !UPLOAD_BATCH_BYTES.contains(&u.max_batch_bytes) {
            return Err(invalid(
                "upload.maxBatchBytes",
                "must be between 16384 and 8388608",
            ));
        }
        if u.heartbeat_minutes < u.interval_minutes || u.heartbeat_minutes > 10080 {
            return Err(invalid(
                "upload.heartbeatMinutes",
                "must be at least intervalMinutes and at most 10080",
            ));
        }
        Ok(())
    }

    fn validate_device_integrity(&self) -> Result<(), PolicyError> {
        let d = &self.device_integrity;
        if d.max_attested_patch_age_days
            .is_some_and(|days| !(1..=MAX_ATTESTED_PATCH_AGE_DAYS).contains(&days))
        {
            return Err(invalid(
                "deviceIntegrity.maxAttestedPatchAgeDays",
                format!("must be between 1 and {MAX_ATTESTED_PATCH_AGE_DAYS}"),
            ));
        }
        if d.require_attestation_within_days
            .is_some_and(|days| !(1..=MAX_ATTESTATION_AGE_DAYS).contains(&days))
        {
            return Err(invalid(
                "deviceIntegrity.requireAttestationWithinDays",
                format!("must be between 1 and {MAX_ATTESTATION_AGE_DAYS}"),
            ));
        }
        if d.require_strong_box && !d.require_hardware_backed_key {
            return Err(invalid(
                "deviceIntegrity.requireStrongBox",
                "a StrongBox key is hardware-backed: set requireHardwareBackedKey too",
            ));
        }
        if !d.is_active()
            && self
                .policy_enforcement_rules
                .iter()
                .any(|r| r.setting_name == SettingName::DeviceIntegrity)
        {
            return Err(invalid(
                "policyEnforcementRules",
                "a deviceIntegrity ladder without any deviceIntegrity rule",
            ));
        }
        Ok(())
    }

    fn validate_escalation(&self) -> Result<(), PolicyError> {
        let mut seen = BTreeSet::new();
        for (i, rule) in self.policy_enforcement_rules.iter().enumerate() {
            let at = |f: &str| format!("policyEnforcementRules[{i}].{f}");
            if !seen.insert(rule.setting_name) {
                return Err(invalid(
                    at("settingName"),
                    "two rules for the same setting; merge them",
                ));
            }
            if let Some(block) = &rule.block_action {
                if block.block_after_days > 365 {
                    return Err(invalid(
                        at("blockAction.blockAfterDays"),
                        "must be at most 365",
                    ));
                }
            }
            if let Some(wipe) = &rule.wipe_action {
                let Some(block) = &rule.block_action else {
                    return Err(invalid(
                        at("wipeAction"),
                        "a wipe needs a blockAction before it",
                    ));
                };
                if wipe.wipe_after_days <= block.block_after_days || wipe.wipe_after_days > 365 {
                    return Err(invalid(
                        at("wipeAction.wipeAfterDays"),
                        "must be greater than blockAction.blockAfterDays and at most 365",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl From<&Policy> for SimPolicy {
    /// The guard's rules: the policy's port-out window, 2G forbidden unless the
    /// policy leaves 2G to the user's choice, and the expected subscriptions per slot
    /// (whether required, the pinned identity and the home network).
    fn from(policy: &Policy) -> Self {
        SimPolicy {
            port_out_window_ms: i64::from(policy.sim.port_out_window_minutes) * MINUTE_MS,
            forbid_2g: policy.configuration.device_radio_state.cellular_two_g_state
                == CellularTwoGState::CellularTwoGDisabled,
            expected: policy
                .sim
                .expected_subscriptions
                .iter()
                .map(|sub| {
                    let pinned = sub.pinned.as_ref();
                    let pins = crate::sim::SimPins {
                        iccid: pinned.and_then(|p| p.iccid),
                        imsi: pinned.and_then(|p| p.imsi),
                        msisdn: pinned.and_then(|p| p.msisdn),
                        home_network: sub.home_network.clone(),
                    };
                    let expected = crate::sim::ExpectedSim {
                        required: sub.required,
                        pins,
                    };
                    (sub.slot, expected)
                })
                .collect(),
        }
    }
}

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::InvalidPolicy {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Android package names: dot-separated segments of letters, digits and `_`, each
/// starting with a letter, at least two segments.
fn check_package(path: &str, name: &str) -> Result<(), PolicyError> {
    let ok = name.len() <= 255
        && name.split('.').count() >= 2
        && name.split('.').all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "not an Android package name (letters, digits and _ in two or more dot-separated parts)",
        ))
    }
}

/// iOS bundle identifiers: letters, digits, `-` and `.`.
fn check_bundle_id(path: &str, id: &str) -> Result<(), PolicyError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.contains('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "not an iOS bundle identifier (letters, digits, - and .)",
        ))
    }
}

pub(crate) fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_accept_apksigner_and_keytool_forms() {
        let plain = "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26";
        let colons = "29:F3:4E:5F:27:F2:11:B4:24:BC:5B:F9:D6:71:62:C0:EA:FB:A2:DA:35:AF:35:C1:64:16:FC:44:62:76:BA:26";
        let a = Sha256Fingerprint::parse(plain).unwrap();
        assert_eq!(Sha256Fingerprint::parse(colons), Some(a));
        assert_eq!(a.to_string(), plain);
        for bad in ["", "29:F3", &plain[..63], &format!("{plain}0"), "29F3:4E5F"] {
            assert_eq!(Sha256Fingerprint::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn fingerprints_accept_amapi_base64() {
        let plain = "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26";
        let a = Sha256Fingerprint::parse(plain).unwrap();
        let b64 = a.to_base64();
        assert_eq!(b64.len(), 44);
        assert_eq!(Sha256Fingerprint::parse(&b64), Some(a));
        assert_eq!(Sha256Fingerprint::parse(b64.trim_end_matches('=')), Some(a));
        let url = b64.replace('+', "-").replace('/', "_");
        assert_eq!(Sha256Fingerprint::parse(&url), Some(a));
        // 31 or 33 bytes, and characters outside both alphabets, are refused.
        use base64::Engine as _;
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        let long = base64::engine::general_purpose::STANDARD.encode([7u8; 33]);
        for bad in [short.as_str(), long.as_str(), &b64.replace(&b64[..1], "*")] {
            assert_eq!(Sha256Fingerprint::parse(bad), None, "{bad}");
        }
    }

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
