//! The device settings a phone must have, named as AMAPI names them.

use super::*;

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
