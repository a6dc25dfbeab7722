//! The device snapshot: what the native layer observes on the phone for a compliance
//! evaluation, as JSON (`portcullis/snapshot/v1`, documented in `docs/compliance.md`,
//! schema in `policies/snapshot.schema.json`).
//!
//! Every observation is optional, and *absent means not observed*: a platform that
//! cannot see a setting leaves it out, and the rules that need it are judged
//! `UNKNOWN`, never compliant. Where "nothing" is itself an observation (no installer
//! recorded, no always-on VPN), the format has an explicit empty value for it
//! (`"installSource": {}`, `"alwaysOnVpn": {}`), so a serialiser that drops nulls
//! cannot turn "none" into "unknown" or the reverse.
//!
//! Parsing is strict (unknown fields are refused, naming the field) and bounded, and
//! errors name the place, never a value from the phone.
//!
//! Why not [`crate::inspection::EvidenceSnapshot`]: evidence is a best-effort forensic
//! dump (absent sections are simply empty; certificates are kept as text in three
//! digest algorithms for indicator matching; snake_case). Compliance needs the
//! opposite trade-offs: a tri-state for every fact (observed / not observed), the
//! SHA-256 signing certificates parsed once into bytes so a 1,000-app snapshot
//! evaluates in microseconds, typed settings, and the policy document's camelCase
//! vocabulary. The [`Platform`] enum is shared.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::actions::DelegatedScope;
use super::critical::PackageRoles;
use super::integrity::{IntegrityHint, IntegrityInput};
use crate::error::{Error, Result};
pub use crate::inspection::evidence::Platform;
use crate::policy::model::{PasswordQuality, Sha256Fingerprint, UsbDataAccess};
use crate::time::Timestamp;

/// The `schema` value of the only snapshot version this build reads.
pub const SNAPSHOT_SCHEMA_V1: &str = "portcullis/snapshot/v1";

/// Largest snapshot accepted, in bytes, before any parsing (a 20,000-app phone with
/// three certificates per app stays far below it).
pub const MAX_SNAPSHOT_BYTES: usize = 8 * 1024 * 1024;
/// Most apps a snapshot may list.
pub const MAX_APPS: usize = 20_000;
/// Most signing certificates one app may list (rotation lineages are short).
pub const MAX_CERTS_PER_APP: usize = 16;
/// Most entries in the other lists (CA certificates, accessibility services).
pub const MAX_LIST: usize = 1_024;
/// Longest app id, package name or version text accepted.
pub const MAX_NAME_LEN: usize = 255;

/// Which version of the snapshot format a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum SnapshotSchema {
    /// The first version of the snapshot format.
    #[serde(rename = "portcullis/snapshot/v1")]
    V1,
}

/// What the native layer observed on one phone, for a compliance evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "Portcullis device snapshot"))]
pub struct DeviceSnapshot {
    /// Editor hint only (e.g. `./snapshot.schema.json`). Ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    /// Format version; must be `portcullis/snapshot/v1`.
    pub schema: SnapshotSchema,
    /// The platform that produced it: decides which rules apply and what the agent can do.
    pub platform: Platform,
    /// Whether the agent is the device owner (Android fully managed device); only a
    /// device owner can suspend apps, set user restrictions, lock or wipe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub device_owner: bool,
    /// The scopes the EMM's device policy controller delegated to the agent
    /// (`DevicePolicyManager.getDelegatedScopes`), by their AMAPI names: what a companion
    /// agent may do itself. Absent or `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 32)))]
    pub delegated_scopes: Option<Vec<DelegatedScope>>,
    /// iOS: whether the device is supervised, as the MDM reports it in the managed
    /// configuration; absent when not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervised: Option<bool>,
    /// The packages that fill the roles no enforcement may suspend (launcher, installer,
    /// permission controller, device owner, phone app), as the platform resolved them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_roles: Option<PackageRoles>,
    /// When the native layer collected the snapshot (RFC 3339); informational, the
    /// evaluation runs on the time the caller passes in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "optional_time"))]
    pub collected_at: Option<Timestamp>,
    /// Operating-system facts.
    #[serde(default)]
    pub os: OsFacts,
    /// Device settings.
    #[serde(default)]
    pub settings: DeviceSettings,
    /// Installed apps, including system, suspended and hidden ones. Absent: the platform
    /// cannot list apps (an iOS managed app), and every app rule is `UNKNOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<InstalledApp>>,
    /// The agent app's own state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentFacts>,
    /// What the agent sees of the phone's integrity by itself: judged only as a hint
    /// (`deviceIntegrity` rules count only on a console-verified attestation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity_hint: Option<IntegrityHint>,
    /// Where the `deviceIntegrity` rules take their facts from: never read from the
    /// snapshot (the phone cannot vouch for itself); the console sets it.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub integrity_input: IntegrityInput,
}

/// Operating-system facts; each absent fact is not observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OsFacts {
    /// Android API level (`Build.VERSION.SDK_INT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1000)))]
    pub api_level: Option<u32>,
    /// OS version as the platform reports it, e.g. `18.3.1` on iOS, `14` on Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 32)))]
    pub version: Option<String>,
    /// Android security patch level, `YYYY-MM-DD` (`Build.VERSION.SECURITY_PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    )]
    pub security_patch_level: Option<String>,
}

/// Screen-lock complexity as Android's `DevicePolicyManager.getPasswordComplexity` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PasswordComplexity {
    /// No screen lock, or swipe.
    None,
    /// Pattern, or a PIN with repeats or sequences.
    Low,
    /// PIN of 4+ without repeats or sequences, or alphanumeric of 4+.
    Medium,
    /// PIN of 8+ without repeats or sequences, or alphanumeric of 6+.
    High,
}

impl PasswordComplexity {
    /// Whether this complexity reaches the policy's bucket.
    pub fn satisfies(self, required: PasswordQuality) -> bool {
        let needed = match required {
            PasswordQuality::ComplexityLow => PasswordComplexity::Low,
            PasswordQuality::ComplexityMedium => PasswordComplexity::Medium,
            PasswordQuality::ComplexityHigh => PasswordComplexity::High,
        };
        self >= needed
    }
}

/// Storage encryption as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EncryptionStatus {
    /// Storage is not encrypted.
    Unencrypted,
    /// Encrypted, but no credential is needed at boot (Android `ACTIVE_DEFAULT_KEY`).
    EncryptedWithoutPassword,
    /// Encrypted and bound to the screen-lock credential (Android `ACTIVE_PER_USER`,
    /// iOS Data Protection with a passcode).
    EncryptedWithPassword,
}

/// Device settings; each absent setting is not observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceSettings {
    /// Screen-lock complexity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_complexity: Option<PasswordComplexity>,
    /// Failed unlocks before the device wipes itself; 0 when none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_failed_passwords_for_wipe: Option<u32>,
    /// Longest idle time before the screen locks, in milliseconds; 0 when there is no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_time_to_lock: Option<u64>,
    /// Storage encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionStatus>,
    /// Whether apps may be installed from unknown sources (no
    /// `DISALLOW_INSTALL_UNKNOWN_SOURCES*` restriction and some app may install packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_sources_allowed: Option<bool>,
    /// Whether developer options are on (`Settings.Global.DEVELOPMENT_SETTINGS_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_options_enabled: Option<bool>,
    /// Whether Google Play Protect verifies apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_apps_enabled: Option<bool>,
    /// Whether USB debugging (adb) is on (`Settings.Global.ADB_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_debugging_enabled: Option<bool>,
    /// Whether wireless debugging is on (`Settings.Global.ADB_WIFI_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireless_debugging_enabled: Option<bool>,
    /// Whether the modem may use 2G.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cellular_2g_enabled: Option<bool>,
    /// Whether mobile network settings are locked (`DISALLOW_CONFIG_MOBILE_NETWORKS` in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_networks_config_disabled: Option<bool>,
    /// Whether adding an eSIM is blocked (Android 15 `DISALLOW_SIM_GLOBALLY` in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_esim_disallowed: Option<bool>,
    /// The USB data the device lets through (the strictest restriction in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_data_access: Option<UsbDataAccess>,
    /// The always-on VPN; `{}` when none is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_on_vpn: Option<AlwaysOnVpnState>,
    /// SHA-256 of every user-installed CA certificate; `[]` when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub user_ca_certs_sha256: Option<Vec<Sha256Fingerprint>>,
    /// Enabled accessibility services; `[]` when none is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub accessibility_services: Option<Vec<AccessibilityService>>,
}

/// The always-on VPN as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlwaysOnVpnState {
    /// The always-on VPN app; absent when none is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub package_name: Option<String>,
    /// Whether traffic is blocked while the VPN is down (lockdown).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lockdown_enabled: bool,
}

/// An enabled accessibility service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessibilityService {
    /// The package providing it.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub package_name: String,
    /// Whether that package is part of the system image (system services are always permitted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
}

/// An installed app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstalledApp {
    /// Android package name or iOS bundle identifier.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 255), regex(pattern = r"^[A-Za-z0-9._-]+$"))
    )]
    pub id: Arc<str>,
    /// Android `versionCode` (`longVersionCode`); absent when not observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_code: Option<u64>,
    /// Part of the system image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
    /// Who installed it; absent when not observed, `{}` when no installer is recorded
    /// (installed over adb, or by the system image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_source: Option<InstallSource>,
    /// SHA-256 of the signing certificates (every signer, and the current key of a
    /// rotation lineage); `[]` or absent when not observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(length(max = 16)))]
    pub signing_certs_sha256: Vec<Sha256Fingerprint>,
}

impl InstalledApp {
    /// An app known only by its id (every other fact not observed).
    pub fn new(id: &str) -> Self {
        InstalledApp {
            id: Arc::from(id),
            version_code: None,
            system: false,
            install_source: None,
            signing_certs_sha256: Vec::new(),
        }
    }
}

/// Android `InstallSourceInfo`, reduced to what the rules use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallSource {
    /// The installer package (`getInstallingPackageName`), e.g. `com.android.vending`;
    /// absent when none is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub installing_package_name: Option<String>,
}

impl InstallSource {
    /// An install source naming `installer`.
    pub fn from_installer(installer: &str) -> Self {
        InstallSource {
            installing_package_name: Some(installer.to_owned()),
        }
    }
}

/// The agent app's own state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentFacts {
    /// The agent's package name or bundle id; never suspended or hidden by the engine.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub package_name: String,
    /// Whether uninstalling the agent is blocked (`DevicePolicyManager.isUninstallBlocked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall_blocked: Option<bool>,
}

#[cfg(feature = "schema")]
fn optional_time(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["string", "null"],
        "format": "date-time"
    })
}

fn snapshot_error(problem: impl Into<String>) -> Error {
    Error::invalid("snapshot", problem)
}

impl DeviceSnapshot {
    /// An empty snapshot of `platform`: nothing observed.
    pub fn new(platform: Platform) -> Self {
        DeviceSnapshot {
            json_schema: None,
            schema: SnapshotSchema::V1,
            platform,
            device_owner: false,
            delegated_scopes: None,
            supervised: None,
            package_roles: None,
            collected_at: None,
            os: OsFacts::default(),
            settings: DeviceSettings::default(),
            apps: None,
            agent: None,
            integrity_hint: None,
            integrity_input: IntegrityInput::OnDevice,
        }
    }

    /// Parses, validates and normalises a snapshot (apps sorted by id).
    ///
    /// Errors name the place (line and column, or list and index) and never repeat a
    /// value from the phone.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_SNAPSHOT_BYTES {
            return Err(snapshot_error(format!(
                "{} bytes is over the {MAX_SNAPSHOT_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let mut snapshot: DeviceSnapshot = crate::json::from_slice(bytes)
            .map_err(|e| snapshot_error(crate::json::describe(&e)))?;
        snapshot.normalize()?;
        Ok(snapshot)
    }

    /// The snapshot as compact JSON (the form `from_json` reads back).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serialises")
    }

    /// Validates, then sorts the apps by id: the canonical form `from_json` returns.
    /// Evaluation does not need it (any order gives the same result) but is fastest on it.
    pub fn normalize(&mut self) -> Result<()> {
        self.validate()?;
        if let Some(apps) = &mut self.apps {
            if !apps.is_sorted_by(|a, b| a.id <= b.id) {
                crate::sort::sort_by(apps, |a, b| a.id.cmp(&b.id));
            }
        }
        Ok(())
    }

    /// Checks what JSON types cannot: sizes, name syntax, dates, and that no app is listed twice.
    ///
    /// The error's field is the place in the snapshot (`apps[3].signingCertsSha256`), so a
    /// platform filling the typed snapshot learns which field to fix.
    pub fn validate(&self) -> Result<()> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_NAME_LEN
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        const NOT_A_NAME: &str = "not a package name or bundle id";
        if let Some(v) = &self.os.version {
            if v.is_empty() || v.len() > 32 || v.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "os.version",
                    "must be 1 to 32 printable characters",
                ));
            }
        }
        if let Some(level) = self.os.api_level {
            if !(1..=1000).contains(&level) {
                return Err(Error::invalid("os.apiLevel", "must be between 1 and 1000"));
            }
        }
        if let Some(date) = &self.os.security_patch_level {
            if parse_date(date).is_none() {
                return Err(Error::invalid(
                    "os.securityPatchLevel",
                    "not a date as YYYY-MM-DD",
                ));
            }
        }
        let s = &self.settings;
        if let Some(vpn) = &s.always_on_vpn {
            if vpn.package_name.as_deref().is_some_and(|p| !name_ok(p)) {
                return Err(Error::invalid(
                    "settings.alwaysOnVpn.packageName",
                    NOT_A_NAME,
                ));
            }
        }
        if let Some(certs) = &s.user_ca_certs_sha256 {
            if certs.len() > MAX_LIST {
                return Err(Error::invalid(
                    "settings.userCaCertsSha256",
                    format!("lists more than {MAX_LIST} certificates"),
                ));
            }
        }
        if let Some(services) = &s.accessibility_services {
            if services.len() > MAX_LIST {
                return Err(Error::invalid(
                    "settings.accessibilityServices",
                    format!("lists more than {MAX_LIST} services"),
                ));
            }
            for (i, service) in services.iter().enumerate() {
                if !name_ok(&service.package_name) {
                    return Err(Error::invalid(
                        format!("settings.accessibilityServices[{i}].packageName"),
                        NOT_A_NAME,
                    ));
                }
            }
        }
        if self.delegated_scopes.as_ref().is_some_and(|s| s.len() > 32) {
            return Err(snapshot_error("delegatedScopes lists more than 32 scopes"));
        }
        if let Some(roles) = &self.package_roles {
            if roles.named().any(|p| !name_ok(p)) {
                return Err(snapshot_error(
                    "packageRoles names something that is not a package name",
                ));
            }
        }
        if let Some(agent) = &self.agent {
            if !name_ok(&agent.package_name) {
                return Err(Error::invalid("agent.packageName", NOT_A_NAME));
            }
        }
        if let Some(apps) = &self.apps {
            if apps.len() > MAX_APPS {
                return Err(Error::invalid(
                    "apps",
                    format!("lists more than {MAX_APPS} apps"),
                ));
            }
            for (i, app) in apps.iter().enumerate() {
                if !name_ok(&app.id) {
                    return Err(Error::invalid(format!("apps[{i}].id"), NOT_A_NAME));
                }
                if app.signing_certs_sha256.len() > MAX_CERTS_PER_APP {
                    return Err(Error::invalid(
                        format!("apps[{i}].signingCertsSha256"),
                        format!("lists more than {MAX_CERTS_PER_APP} certificates"),
                    ));
                }
                let installer = app
                    .install_source
                    .as_ref()
                    .and_then(|s| s.installing_package_name.as_deref());
                if installer.is_some_and(|p| !name_ok(p)) {
                    return Err(Error::invalid(
                        format!("apps[{i}].installSource.installingPackageName"),
                        NOT_A_NAME,
                    ));
                }
            }
            let mut order: Vec<usize> = (0..apps.len()).collect();
            crate::sort::sort_by(&mut order, |&a, &b| {
                apps[a].id.cmp(&apps[b].id).then(a.cmp(&b))
            });
            if let Some(pair) = order.windows(2).find(|w| apps[w[0]].id == apps[w[1]].id) {
                return Err(Error::invalid(
                    format!("apps[{}].id", pair[1]),
                    format!("repeats the id of apps[{}]", pair[0]),
                ));
            }
        }
        Ok(())
    }

    /// The installed app with `id`, if listed (binary search on a normalised snapshot).
    pub fn app(&self, id: &str) -> Option<&InstalledApp> {
        let apps = self.apps.as_deref()?;
        if apps.is_sorted_by(|a, b| a.id <= b.id) {
            apps.binary_search_by(|a| (*a.id).cmp(id))
                .ok()
                .map(|i| &apps[i])
        } else {
            apps.iter().find(|a| &*a.id == id)
        }
    }

    #[cfg(feature = "schema")]
    /// The JSON Schema of the format (draft 2020-12), generated from these types;
    /// `policies/snapshot.schema.json` is this text, kept in sync by a test.
    pub fn json_schema() -> serde_json::Value {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<DeviceSnapshot>();
        serde_json::to_value(schema).expect("a schema always serialises")
    }

    #[cfg(feature = "schema")]
    /// [`DeviceSnapshot::json_schema`] as the exact text committed in `policies/snapshot.schema.json`.
    pub fn json_schema_text() -> String {
        let mut text =
            serde_json::to_string_pretty(&Self::json_schema()).expect("a schema always serialises");
        text.push('\n');
        text
    }
}

/// Parses `YYYY-MM-DD` strictly (ten characters, a real calendar date).
pub(crate) fn parse_date(text: &str) -> Option<crate::time::Date> {
    crate::time::Date::parse_ymd(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_snapshot_is_schema_and_platform() {
        let s = DeviceSnapshot::from_json(
            br#"{"schema": "portcullis/snapshot/v1", "platform": "ios"}"#,
        )
        .unwrap();
        assert_eq!(s, DeviceSnapshot::new(Platform::Ios));
        assert_eq!(
            s.to_json(),
            r#"{"schema":"portcullis/snapshot/v1","platform":"ios","os":{},"settings":{}}"#
        );
        assert_eq!(
            DeviceSnapshot::from_json(s.to_json().as_bytes()).unwrap(),
            s
        );
    }

    #[test]
    fn apps_come_back_sorted_and_duplicates_are_refused() {
        let json = br#"{"schema": "portcullis/snapshot/v1", "platform": "android",
            "apps": [{"id": "org.b"}, {"id": "org.a", "installSource": {}}]}"#;
        let s = DeviceSnapshot::from_json(json).unwrap();
        let apps = s.apps.as_ref().unwrap();
        assert_eq!(&*apps[0].id, "org.a");
        assert_eq!(apps[0].install_source, Some(InstallSource::default()));
        assert_eq!(apps[1].install_source, None);
        assert!(s.app("org.b").is_some() && s.app("org.c").is_none());
        let dup = br#"{"schema": "portcullis/snapshot/v1", "platform": "android",
            "apps": [{"id": "org.a"}, {"id": "org.b"}, {"id": "org.a"}]}"#;
        let err = DeviceSnapshot::from_json(dup).unwrap_err().to_string();
        assert!(
            err.contains("apps[2].id: repeats the id of apps[0]"),
            "{err}"
        );
    }

    /// Issue 14, item 17: the `compliance_snapshot` fuzz target's failure after 1.39M runs.
    /// A field name with a back-quote used to split the redaction; an unknown field is
    /// now named by its position, and by its text only when that is a short run of
    /// letters and underscores.
    #[test]
    fn an_unknown_field_is_named_by_its_position() {
        for (input, secret) in [
            ("{\"horm`nd, eA@eroid\":\"\u{2026}\"}", "eroid"),
            ("{\"horm`nd, eA@eroid\":\"horm`nd, eA@eroid\"}", "eA@"),
            ("{\"a`, expected x\":1}", "expected x"),
            ("{\"8944 1100 1234 5678 901\":1}", "8944"),
            ("{\"colour2\":1}", "colour2"),
        ] {
            let err = DeviceSnapshot::from_json(input.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("unknown field") && err.contains("line 1 column"),
                "{err}"
            );
            assert!(!err.contains(secret), "{input}: {err}");
        }
        let err = DeviceSnapshot::from_json(br#"{"plattform":"ios"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `plattform`"), "{err}");
    }

    #[test]
    fn errors_name_the_place_never_the_value() {
        let cases: [(&str, &str); 9] = [
            (
                r#"{"schema": "portcullis/snapshot/v2", "platform": "ios"}"#,
                "unknown variant",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "someone@example.org"}"#,
                "unknown variant",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "ios", "imei": 1}"#,
                "unknown field `imei`",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "ios", "someone@example.org": 1}"#,
                "unknown field",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "android", "apps": [{"id": "someone@example.org"}]}"#,
                "apps[0].id",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "android", "os": {"securityPatchLevel": "someone@example.org"}}"#,
                "os.securityPatchLevel",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "android", "settings": {"userCaCertsSha256": ["someone@example.org"]}}"#,
                "SHA-256",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1", "platform": "android", "apps": [{"id": "a.b", "versionCode": "someone@example.org"}]}"#,
                "invalid type",
            ),
            (
                r#"{"schema": "portcullis/snapshot/v1","#,
                "unexpected end of input",
            ),
        ];
        for (json, want) in cases {
            let err = DeviceSnapshot::from_json(json.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{json}: {err}");
            assert!(!err.contains("someone"), "{json}: {err}");
            assert!(!err.contains("snapshot/v2"), "{json}: {err}");
        }
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let big = vec![b' '; MAX_SNAPSHOT_BYTES + 1];
        let err = DeviceSnapshot::from_json(&big).unwrap_err().to_string();
        assert!(err.contains("limit"), "{err}");
    }

    #[test]
    fn password_complexity_meets_buckets_in_order() {
        use PasswordQuality::*;
        assert!(PasswordComplexity::High.satisfies(ComplexityHigh));
        assert!(PasswordComplexity::Medium.satisfies(ComplexityLow));
        assert!(!PasswordComplexity::Medium.satisfies(ComplexityHigh));
        assert!(!PasswordComplexity::None.satisfies(ComplexityLow));
    }
}
