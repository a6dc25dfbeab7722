//! Stable codes: rule identifiers, non-compliance reasons, unobserved facts, and the
//! small copyable sets of them a verdict carries.
//!
//! Every code has a stable text form the console keys on; none is ever renamed.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::Severity;
use crate::policy::model::SettingName;

/// A code with a stable text form, usable in a [`CodeSet`].
pub trait Code: Copy + Eq + 'static {
    /// Every code, in its stable order (a code's position is its bit in a [`CodeSet`]).
    const ALL: &'static [Self];
    /// The stable text form.
    fn as_str(self) -> &'static str;
    /// Position in [`Code::ALL`].
    fn index(self) -> u32;
}

macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )* }

        impl Code for $name {
            const ALL: &'static [Self] = &[$($name::$variant),*];
            fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
            fn index(self) -> u32 {
                self as u32
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            /// Reads a code by its text form, or by a form it had before (states
            /// stored by an older agent keep loading).
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $( $text $(| $alias)* => Ok($name::$variant), )*
                    _ => Err(()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(|()| serde::de::Error::custom(concat!("unknown ", stringify!($name))))
            }
        }
    };
}

codes! {
    /// Why a rule is not met. Where the Android Management API has a code for the
    /// condition (`NonComplianceReason`, or `SpecificNonComplianceReason` for the
    /// screen lock), the text is AMAPI's; the others are the project's own, listed in
    /// docs/compliance.md. A renamed code still parses under its old text.
    pub enum Reason {
        /// A `BLOCKED` app is installed.
        AppInstalled = "APP_INSTALLED",
        /// An app the allowlist does not name is installed (system apps excepted).
        AppNotInAllowlist = "APP_NOT_IN_ALLOWLIST",
        /// A `FORCE_INSTALLED` app is missing.
        AppNotInstalled = "APP_NOT_INSTALLED",
        /// No signing certificate of the app is among the rule's `signingKeyCerts`.
        AppSigningCertMismatch = "APP_SIGNING_CERT_MISMATCH",
        /// The app's `versionCode` is below the rule's `minimumVersionCode`.
        AppNotUpdated = "APP_NOT_UPDATED",
        /// The app came from an installer the policy does not accept (or over adb).
        InstallerNotAllowed = "INSTALLER_NOT_ALLOWED",
        /// The Android API level is below `minimumApiLevel`, or the iOS version below
        /// `minimumIosVersion` (AMAPI `OS_NOT_PERMITTED`; formerly `API_LEVEL` and
        /// `OS_VERSION`, AMAPI's `API_LEVEL` meaning a setting the OS release lacks).
        OsNotPermitted = "OS_NOT_PERMITTED" | "OS_VERSION" | "API_LEVEL",
        /// The security patch is older than the policy accepts.
        SecurityPatchLevel = "SECURITY_PATCH_LEVEL",
        /// The screen lock is weaker than `passwordQuality` (AMAPI's specific reason;
        /// formerly `PASSWORD_NOT_SUFFICIENT`).
        PasswordNotSufficient = "PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT" | "PASSWORD_NOT_SUFFICIENT",
        /// No wipe after failed unlocks, or a higher count than the policy's.
        MaximumFailedPasswordsForWipe = "MAXIMUM_FAILED_PASSWORDS_FOR_WIPE",
        /// No automatic lock, or a longer one than the policy's.
        MaximumTimeToLock = "MAXIMUM_TIME_TO_LOCK",
        /// Storage is not encrypted as `encryptionPolicy` asks.
        EncryptionPolicy = "ENCRYPTION_POLICY",
        /// Apps can be installed from unknown sources.
        UnknownSourcesAllowed = "UNKNOWN_SOURCES_ALLOWED",
        /// Developer options are on.
        DeveloperOptionsEnabled = "DEVELOPER_OPTIONS_ENABLED",
        /// Play Protect app verification is off.
        VerifyAppsDisabled = "VERIFY_APPS_DISABLED",
        /// USB or wireless debugging (adb) is on.
        DebuggingEnabled = "DEBUGGING_ENABLED",
        /// The modem may use 2G.
        Cellular2gEnabled = "CELLULAR_2G_ENABLED",
        /// The user can change mobile network settings (APNs, network selection).
        MobileNetworksConfigAllowed = "MOBILE_NETWORKS_CONFIG_ALLOWED",
        /// More USB data flows than `usbDataAccess` allows.
        UsbDataAccess = "USB_DATA_ACCESS",
        /// The always-on VPN is missing, another app, or without lockdown.
        AlwaysOnVpn = "ALWAYS_ON_VPN",
        /// A user-installed CA certificate the policy does not list is present.
        UserCaCertInstalled = "USER_CA_CERT_INSTALLED",
        /// A non-system accessibility service the policy does not permit is enabled.
        AccessibilityServiceNotPermitted = "ACCESSIBILITY_SERVICE_NOT_PERMITTED",
        /// The agent can be uninstalled.
        AgentUninstallNotBlocked = "AGENT_UNINSTALL_NOT_BLOCKED",
        /// The attestation was refused (broken chain, wrong challenge, revoked, ...).
        AttestationNotVerified = "ATTESTATION_NOT_VERIFIED",
        /// The newest verified attestation is older than `requireAttestationWithinDays`.
        AttestationStale = "ATTESTATION_STALE",
        /// The attested key is software-only, or was imported rather than generated inside.
        KeyNotHardwareBacked = "KEY_NOT_HARDWARE_BACKED",
        /// The attested key is not in a StrongBox secure element.
        KeyNotInStrongBox = "KEY_NOT_IN_STRONG_BOX",
        /// The boot was not verified against the manufacturer's key.
        BootNotVerified = "BOOT_NOT_VERIFIED",
        /// The bootloader was unlocked.
        BootloaderUnlocked = "BOOTLOADER_UNLOCKED",
        /// The attested OS patch level is older than `maxAttestedPatchAgeDays`.
        AttestedPatchLevelTooOld = "ATTESTED_PATCH_LEVEL_TOO_OLD",
        /// The user can add an eSIM although the policy disallows it.
        EsimAddAllowed = "ESIM_ADD_ALLOWED",
    }
}

impl Reason {
    /// How urgently the security team must look at a violation for this reason.
    pub fn severity(self) -> Severity {
        use Reason::*;
        match self {
            AttestationNotVerified
            | KeyNotHardwareBacked
            | BootNotVerified
            | BootloaderUnlocked => Severity::Critical,
            AppInstalled
            | AppSigningCertMismatch
            | EncryptionPolicy
            | DebuggingEnabled
            | UserCaCertInstalled
            | AccessibilityServiceNotPermitted => Severity::High,
            AppNotInAllowlist
            | AppNotInstalled
            | InstallerNotAllowed
            | SecurityPatchLevel
            | PasswordNotSufficient
            | UnknownSourcesAllowed
            | DeveloperOptionsEnabled
            | VerifyAppsDisabled
            | Cellular2gEnabled
            | MobileNetworksConfigAllowed
            | UsbDataAccess
            | AlwaysOnVpn
            | AgentUninstallNotBlocked
            | AttestationStale
            | KeyNotInStrongBox
            | AttestedPatchLevelTooOld
            | EsimAddAllowed => Severity::Medium,
            AppNotUpdated | OsNotPermitted | MaximumFailedPasswordsForWipe | MaximumTimeToLock => {
                Severity::Low
            }
        }
    }
}

codes! {
    /// A snapshot field a rule needed and the platform did not observe (its path in
    /// the snapshot format), so the rule is `UNKNOWN`.
    pub enum Fact {
        /// The installed-app list.
        Apps = "apps",
        /// An app's version code.
        AppVersionCode = "apps[].versionCode",
        /// An app's install source.
        AppInstallSource = "apps[].installSource",
        /// An app's signing certificates.
        AppSigningCerts = "apps[].signingCertsSha256",
        /// The Android API level.
        OsApiLevel = "os.apiLevel",
        /// The OS version (or it is not a dotted version).
        OsVersion = "os.version",
        /// The security patch level.
        OsSecurityPatchLevel = "os.securityPatchLevel",
        /// Screen-lock complexity.
        PasswordComplexity = "settings.passwordComplexity",
        /// Failed unlocks before wipe.
        MaximumFailedPasswordsForWipe = "settings.maximumFailedPasswordsForWipe",
        /// Idle time before lock.
        MaximumTimeToLock = "settings.maximumTimeToLock",
        /// Storage encryption.
        Encryption = "settings.encryption",
        /// Unknown sources.
        UnknownSourcesAllowed = "settings.unknownSourcesAllowed",
        /// Developer options.
        DeveloperOptionsEnabled = "settings.developerOptionsEnabled",
        /// Play Protect verification.
        VerifyAppsEnabled = "settings.verifyAppsEnabled",
        /// USB debugging.
        UsbDebuggingEnabled = "settings.usbDebuggingEnabled",
        /// Wireless debugging.
        WirelessDebuggingEnabled = "settings.wirelessDebuggingEnabled",
        /// 2G.
        Cellular2gEnabled = "settings.cellular2gEnabled",
        /// Whether mobile network settings are locked.
        MobileNetworksConfigDisabled = "settings.mobileNetworksConfigDisabled",
        /// USB data access.
        UsbDataAccess = "settings.usbDataAccess",
        /// The always-on VPN.
        AlwaysOnVpn = "settings.alwaysOnVpn",
        /// User-installed CA certificates.
        UserCaCerts = "settings.userCaCertsSha256",
        /// Enabled accessibility services.
        AccessibilityServices = "settings.accessibilityServices",
        /// Whether the agent's uninstall is blocked.
        AgentUninstallBlocked = "agent.uninstallBlocked",
        /// A verified attestation (console), or the agent's local integrity hint (phone).
        Attestation = "attestation",
        /// The attested OS patch level (or it is not a date).
        AttestedPatchLevel = "attestation.device.osPatchLevel",
        /// Whether adding an eSIM is blocked.
        AddEsimDisallowed = "settings.addEsimDisallowed",
    }
}

codes! {
    /// A configuration rule, named by the path of its policy field.
    pub enum SettingRule {
        /// `minimumApiLevel` (Android).
        MinimumApiLevel = "configuration.minimumApiLevel",
        /// `minimumIosVersion` (iOS).
        MinimumIosVersion = "configuration.minimumIosVersion",
        /// `minimumSecurityPatchLevel` (Android).
        MinimumSecurityPatchLevel = "configuration.minimumSecurityPatchLevel",
        /// `maximumSecurityPatchAgeDays` (Android).
        MaximumSecurityPatchAgeDays = "configuration.maximumSecurityPatchAgeDays",
        /// `passwordRequirements.passwordQuality`.
        PasswordQuality = "configuration.passwordRequirements.passwordQuality",
        /// `passwordRequirements.maximumFailedPasswordsForWipe`.
        MaximumFailedPasswordsForWipe = "configuration.passwordRequirements.maximumFailedPasswordsForWipe",
        /// `maximumTimeToLock`.
        MaximumTimeToLock = "configuration.maximumTimeToLock",
        /// `encryptionPolicy`.
        EncryptionPolicy = "configuration.encryptionPolicy",
        /// `advancedSecurityOverrides.untrustedAppsPolicy` (Android).
        UntrustedAppsPolicy = "configuration.advancedSecurityOverrides.untrustedAppsPolicy",
        /// `advancedSecurityOverrides.developerSettings` (Android).
        DeveloperSettings = "configuration.advancedSecurityOverrides.developerSettings",
        /// `advancedSecurityOverrides.googlePlayProtectVerifyApps` (Android).
        GooglePlayProtectVerifyApps = "configuration.advancedSecurityOverrides.googlePlayProtectVerifyApps",
        /// `debuggingFeaturesAllowed` (Android).
        DebuggingFeaturesAllowed = "configuration.debuggingFeaturesAllowed",
        /// `deviceRadioState.cellularTwoGState`.
        CellularTwoGState = "configuration.deviceRadioState.cellularTwoGState",
        /// `mobileNetworksConfigDisabled` (Android).
        MobileNetworksConfigDisabled = "configuration.mobileNetworksConfigDisabled",
        /// `deviceConnectivityManagement.usbDataAccess` (Android).
        UsbDataAccess = "configuration.deviceConnectivityManagement.usbDataAccess",
        /// `alwaysOnVpnPackage` (Android).
        AlwaysOnVpnPackage = "configuration.alwaysOnVpnPackage",
        /// `userInstalledCaCerts`.
        UserInstalledCaCerts = "configuration.userInstalledCaCerts",
        /// `permittedAccessibilityServices` (Android).
        PermittedAccessibilityServices = "configuration.permittedAccessibilityServices",
        /// `deviceRadioState.userInitiatedAddEsimSettings`.
        UserInitiatedAddEsimSettings = "configuration.deviceRadioState.userInitiatedAddEsimSettings",
        /// Built in, not a policy field: the agent's uninstall must be blocked (Android).
        AgentUninstallBlocked = "agent.uninstallBlocked",
    }
}

codes! {
    /// A device-integrity rule, named by the path of its policy field.
    pub enum IntegrityRule {
        /// Built in whenever a `deviceIntegrity` rule is set: the attestation verified.
        AttestationVerified = "deviceIntegrity.attestation",
        /// `requireAttestationWithinDays`.
        RequireAttestationWithinDays = "deviceIntegrity.requireAttestationWithinDays",
        /// `requireHardwareBackedKey`.
        RequireHardwareBackedKey = "deviceIntegrity.requireHardwareBackedKey",
        /// `requireStrongBox`.
        RequireStrongBox = "deviceIntegrity.requireStrongBox",
        /// `requireVerifiedBoot`.
        RequireVerifiedBoot = "deviceIntegrity.requireVerifiedBoot",
        /// `requireLockedBootloader`.
        RequireLockedBootloader = "deviceIntegrity.requireLockedBootloader",
        /// `maxAttestedPatchAgeDays`.
        MaxAttestedPatchAgeDays = "deviceIntegrity.maxAttestedPatchAgeDays",
    }
}

/// A small set of codes, stored as bits; serialised as a list of their text forms.
pub struct CodeSet<T> {
    bits: u32,
    marker: PhantomData<T>,
}

/// Non-compliance reasons of one verdict.
pub type Reasons = CodeSet<Reason>;
/// Facts a verdict could not check.
pub type Facts = CodeSet<Fact>;

impl<T: Code> CodeSet<T> {
    /// The empty set.
    pub const EMPTY: Self = CodeSet {
        bits: 0,
        marker: PhantomData,
    };

    /// A set of one code.
    pub fn of(code: T) -> Self {
        let mut s = Self::EMPTY;
        s.insert(code);
        s
    }

    /// Adds `code`.
    pub fn insert(&mut self, code: T) {
        self.bits |= 1 << code.index();
    }

    /// Whether `code` is in the set.
    pub fn contains(self, code: T) -> bool {
        self.bits & (1 << code.index()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Whether every code of `self` is in `other`.
    pub fn is_subset(self, other: Self) -> bool {
        self.bits & !other.bits == 0
    }

    /// The union of two sets.
    pub fn union(self, other: Self) -> Self {
        CodeSet {
            bits: self.bits | other.bits,
            marker: PhantomData,
        }
    }

    /// The codes, in their stable order.
    pub fn iter(self) -> impl Iterator<Item = T> {
        T::ALL.iter().copied().filter(move |c| self.contains(*c))
    }

    /// The text forms joined with `,` (for alert evidence and text output).
    pub fn joined(self) -> String {
        self.iter().map(Code::as_str).collect::<Vec<_>>().join(",")
    }
}

impl<T> Clone for CodeSet<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for CodeSet<T> {}
impl<T> PartialEq for CodeSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}
impl<T> Eq for CodeSet<T> {}
impl<T> Default for CodeSet<T> {
    fn default() -> Self {
        CodeSet {
            bits: 0,
            marker: PhantomData,
        }
    }
}

impl<T: Code + fmt::Debug> fmt::Debug for CodeSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Code> FromIterator<T> for CodeSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = Self::EMPTY;
        for c in iter {
            s.insert(c);
        }
        s
    }
}

impl<T: Code + Serialize> Serialize for CodeSet<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Code + Deserialize<'de>> Deserialize<'de> for CodeSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into_iter().collect())
    }
}

/// What a rule is about: the app inventory, one app, or one configuration rule.
///
/// Ordered as verdicts are listed: the inventory, apps by id, then settings in policy
/// order. Written as text: `apps`, `app:<id>`, or the setting's policy path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// Whether the platform could list the installed apps at all.
    AppInventory,
    /// One app (installed, or required by a rule), by Android package name or iOS bundle id.
    App(Arc<str>),
    /// A configuration rule.
    Setting(SettingRule),
    /// A device-integrity rule.
    Integrity(IntegrityRule),
}

impl RuleId {
    /// The policy section (and escalation ladder) the rule belongs to.
    pub fn section(&self) -> SettingName {
        match self {
            RuleId::AppInventory | RuleId::App(_) => SettingName::Apps,
            RuleId::Setting(_) => SettingName::Configuration,
            RuleId::Integrity(_) => SettingName::DeviceIntegrity,
        }
    }

    /// The app id, for app rules.
    pub fn app(&self) -> Option<&str> {
        match self {
            RuleId::App(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleId::AppInventory => f.write_str("apps"),
            RuleId::App(id) => write!(f, "app:{id}"),
            RuleId::Setting(s) => f.write_str(s.as_str()),
            RuleId::Integrity(r) => f.write_str(r.as_str()),
        }
    }
}

impl FromStr for RuleId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s == "apps" {
            Ok(RuleId::AppInventory)
        } else if let Some(id) = s.strip_prefix("app:") {
            if id.is_empty() {
                return Err(());
            }
            Ok(RuleId::App(Arc::from(id)))
        } else if let Ok(rule) = s.parse() {
            Ok(RuleId::Setting(rule))
        } else {
            s.parse().map(RuleId::Integrity)
        }
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse()
            .map_err(|()| serde::de::Error::custom("unknown rule id"))
    }
}

/// `SettingName` as the stable lower-case section name.
pub fn section_name(section: SettingName) -> &'static str {
    match section {
        SettingName::Apps => "apps",
        SettingName::Configuration => "configuration",
        SettingName::Sim => "sim",
        SettingName::Inspection => "inspection",
        SettingName::DeviceIntegrity => "deviceIntegrity",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_sets_serialise_as_lists() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(*r));
        }
        for f in Fact::ALL {
            assert_eq!(f.as_str().parse::<Fact>(), Ok(*f));
        }
        assert!(Reason::ALL.len() <= 32 && Fact::ALL.len() <= 32);
        let set: Reasons = [Reason::AppNotUpdated, Reason::AppInstalled]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["APP_INSTALLED","APP_NOT_UPDATED"]"#);
        assert_eq!(serde_json::from_str::<Reasons>(&json).unwrap(), set);
        assert!(Reasons::of(Reason::AppInstalled).is_subset(set));
        assert!(!set.is_subset(Reasons::of(Reason::AppInstalled)));
    }

    #[test]
    fn rule_ids_round_trip_and_order_as_listed() {
        let ids = [
            RuleId::AppInventory,
            RuleId::App(Arc::from("a.b")),
            RuleId::App(Arc::from("a.c")),
            RuleId::Setting(SettingRule::MinimumApiLevel),
            RuleId::Setting(SettingRule::AgentUninstallBlocked),
            RuleId::Integrity(IntegrityRule::AttestationVerified),
            RuleId::Integrity(IntegrityRule::MaxAttestedPatchAgeDays),
        ];
        assert!(ids.is_sorted());
        for id in &ids {
            assert_eq!(id.to_string().parse::<RuleId>().as_ref(), Ok(id));
        }
        assert!("app:".parse::<RuleId>().is_err());
        assert!("configuration.nope".parse::<RuleId>().is_err());
    }
}
