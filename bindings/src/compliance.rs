//! Compliance across the boundary, typed: the device snapshot the platform fills field by
//! field, and the verdicts and remediation actions the core hands back. Conversions only;
//! every limit and every decision is the core's. Each mapping matches every core variant,
//! so a new core variant fails to compile here until it is mapped.

use std::sync::Arc;
use std::time::SystemTime;

use portcullis_core::compliance::{self as core, actions, codes, rules, snapshot};
use portcullis_core::platform;
use portcullis_core::policy::model;
use portcullis_core::Error as CoreError;

use crate::types::{mirror_enum, to_timestamp, ActionRoute};

mirror_enum!(
    /// An Android user restriction (`UserManager.DISALLOW_*`, `ENSURE_VERIFY_APPS`). Named
    /// `Restriction` so it does not clash with the `Measure.UserRestriction` variant in Kotlin.
    Restriction => actions::UserRestriction {
        /// `DISALLOW_DEBUGGING_FEATURES`.
        DisallowDebuggingFeatures,
        /// `DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY` (API 29).
        DisallowInstallUnknownSourcesGlobally,
        /// `ENSURE_VERIFY_APPS`.
        EnsureVerifyApps,
        /// `DISALLOW_CELLULAR_2G` (API 34).
        DisallowCellular2g,
        /// `DISALLOW_USB_FILE_TRANSFER`.
        DisallowUsbFileTransfer,
        /// `DISALLOW_CONFIG_MOBILE_NETWORKS`.
        DisallowConfigMobileNetworks,
    }
);

mirror_enum!(
    /// The screen-lock complexity a measure requires (`setRequiredPasswordComplexity`).
    PasswordQuality => model::PasswordQuality {
        /// `PASSWORD_COMPLEXITY_LOW`.
        ComplexityLow,
        /// `PASSWORD_COMPLEXITY_MEDIUM`.
        ComplexityMedium,
        /// `PASSWORD_COMPLEXITY_HIGH`.
        ComplexityHigh,
    }
);

mirror_enum!(
    /// Why a rule is not met (stable; the console keys on the core's text form).
    ReasonCode => codes::Reason {
        /// A `BLOCKED` app is installed.
        AppInstalled,
        /// An app the allowlist does not name is installed.
        AppNotInAllowlist,
        /// A `FORCE_INSTALLED` app is missing.
        AppNotInstalled,
        /// No signing certificate of the app is among the rule's.
        AppSigningCertMismatch,
        /// The app's version code is below the rule's minimum.
        AppNotUpdated,
        /// The app came from an installer the policy does not accept.
        InstallerNotAllowed,
        /// The Android API level or the iOS version is below the minimum (AMAPI `OS_NOT_PERMITTED`).
        OsNotPermitted,
        /// The security patch is older than the policy accepts.
        SecurityPatchLevel,
        /// The screen lock is weaker than required.
        PasswordNotSufficient,
        /// No wipe after failed unlocks, or a higher count than the policy's.
        MaximumFailedPasswordsForWipe,
        /// No automatic lock, or a longer one than the policy's.
        MaximumTimeToLock,
        /// Storage is not encrypted as required.
        EncryptionPolicy,
        /// Apps can be installed from unknown sources.
        UnknownSourcesAllowed,
        /// Developer options are on.
        DeveloperOptionsEnabled,
        /// Play Protect app verification is off.
        VerifyAppsDisabled,
        /// USB or wireless debugging is on.
        DebuggingEnabled,
        /// The modem may use 2G.
        Cellular2gEnabled,
        /// Mobile network settings can be changed.
        MobileNetworksConfigAllowed,
        /// More USB data flows than allowed.
        UsbDataAccess,
        /// The always-on VPN is missing, another app, or without lockdown.
        AlwaysOnVpn,
        /// A user-installed CA certificate the policy does not list is present.
        UserCaCertInstalled,
        /// A non-system accessibility service the policy does not permit is enabled.
        AccessibilityServiceNotPermitted,
        /// The agent can be uninstalled.
        AgentUninstallNotBlocked,
        /// The attestation was refused.
        AttestationNotVerified,
        /// The newest verified attestation is too old.
        AttestationStale,
        /// The attested key is not hardware-backed.
        KeyNotHardwareBacked,
        /// The attested key is not in StrongBox.
        KeyNotInStrongBox,
        /// The boot was not verified.
        BootNotVerified,
        /// The bootloader was unlocked.
        BootloaderUnlocked,
        /// The attested patch level is too old.
        AttestedPatchLevelTooOld,
        /// The user can add an eSIM although the policy disallows it.
        EsimAddAllowed,
    }
);

mirror_enum!(
    /// A snapshot fact a rule needed and the platform did not observe.
    UnobservedFact => codes::Fact {
        /// The installed-app list.
        Apps,
        /// An app's version code.
        AppVersionCode,
        /// An app's install source.
        AppInstallSource,
        /// An app's signing certificates.
        AppSigningCerts,
        /// The Android API level.
        OsApiLevel,
        /// The OS version.
        OsVersion,
        /// The security patch level.
        OsSecurityPatchLevel,
        /// Screen-lock complexity.
        PasswordComplexity,
        /// Failed unlocks before wipe.
        MaximumFailedPasswordsForWipe,
        /// Idle time before lock.
        MaximumTimeToLock,
        /// Storage encryption.
        Encryption,
        /// Unknown sources.
        UnknownSourcesAllowed,
        /// Developer options.
        DeveloperOptionsEnabled,
        /// Play Protect verification.
        VerifyAppsEnabled,
        /// USB debugging.
        UsbDebuggingEnabled,
        /// Wireless debugging.
        WirelessDebuggingEnabled,
        /// 2G.
        Cellular2gEnabled,
        /// Whether mobile network settings are locked.
        MobileNetworksConfigDisabled,
        /// USB data access.
        UsbDataAccess,
        /// The always-on VPN.
        AlwaysOnVpn,
        /// User-installed CA certificates.
        UserCaCerts,
        /// Enabled accessibility services.
        AccessibilityServices,
        /// Whether the agent's uninstall is blocked.
        AgentUninstallBlocked,
        /// A verified attestation, or the agent's local integrity hint.
        Attestation,
        /// The attested OS patch level.
        AttestedPatchLevel,
        /// Whether adding an eSIM is blocked.
        AddEsimDisallowed,
    }
);

mirror_enum!(
    /// A configuration rule, named after its policy field.
    SettingRule => codes::SettingRule {
        /// `minimumApiLevel`.
        MinimumApiLevel,
        /// `minimumIosVersion`.
        MinimumIosVersion,
        /// `minimumSecurityPatchLevel`.
        MinimumSecurityPatchLevel,
        /// `maximumSecurityPatchAgeDays`.
        MaximumSecurityPatchAgeDays,
        /// `passwordRequirements.passwordQuality`.
        PasswordQuality,
        /// `passwordRequirements.maximumFailedPasswordsForWipe`.
        MaximumFailedPasswordsForWipe,
        /// `maximumTimeToLock`.
        MaximumTimeToLock,
        /// `encryptionPolicy`.
        EncryptionPolicy,
        /// `advancedSecurityOverrides.untrustedAppsPolicy`.
        UntrustedAppsPolicy,
        /// `advancedSecurityOverrides.developerSettings`.
        DeveloperSettings,
        /// `advancedSecurityOverrides.googlePlayProtectVerifyApps`.
        GooglePlayProtectVerifyApps,
        /// `debuggingFeaturesAllowed`.
        DebuggingFeaturesAllowed,
        /// `deviceRadioState.cellularTwoGState`.
        CellularTwoGState,
        /// `mobileNetworksConfigDisabled`.
        MobileNetworksConfigDisabled,
        /// `deviceConnectivityManagement.usbDataAccess`.
        UsbDataAccess,
        /// `alwaysOnVpnPackage`.
        AlwaysOnVpnPackage,
        /// `userInstalledCaCerts`.
        UserInstalledCaCerts,
        /// `permittedAccessibilityServices`.
        PermittedAccessibilityServices,
        /// `deviceRadioState.userInitiatedAddEsimSettings`.
        UserInitiatedAddEsimSettings,
        /// Built in: the agent's uninstall must be blocked.
        AgentUninstallBlocked,
    }
);

mirror_enum!(
    /// The outcome of one rule.
    VerdictStatus => rules::Status {
        /// The rule is met.
        Compliant,
        /// The rule does not concern this device.
        NotApplicable,
        /// Not observed; never counted as compliant.
        Unknown,
        /// The rule is broken; the verdict's reasons say how.
        NonCompliant,
    }
);

mirror_enum!(
    /// What the policy asks for when a rule is broken.
    RuleEnforcement => rules::Enforcement {
        /// Alert the console only.
        Report,
        /// Alert, notify, enforce, and run the escalation ladder.
        MarkNonCompliant,
        /// As `MarkNonCompliant`, and suspend (or hide) the app.
        SuspendApp,
    }
);

mirror_enum!(
    /// A device-integrity rule (judged at the console; on the phone only as a hint).
    IntegrityRule => codes::IntegrityRule {
        /// The attestation verified.
        AttestationVerified,
        /// `requireAttestationWithinDays`.
        RequireAttestationWithinDays,
        /// `requireHardwareBackedKey`.
        RequireHardwareBackedKey,
        /// `requireStrongBox`.
        RequireStrongBox,
        /// `requireVerifiedBoot`.
        RequireVerifiedBoot,
        /// `requireLockedBootloader`.
        RequireLockedBootloader,
        /// `maxAttestedPatchAgeDays`.
        MaxAttestedPatchAgeDays,
    }
);

/// What a rule is about.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RuleRef {
    /// Whether the platform could list the installed apps at all.
    AppInventory,
    /// One app, by package name or bundle id.
    App {
        /// The app's id.
        id: String,
    },
    /// A configuration rule.
    Setting {
        /// The setting the rule checks, so the app can point the user at it.
        rule: SettingRule,
    },
    /// A device-integrity rule.
    Integrity {
        /// The integrity check that failed, so the app can explain what to fix.
        rule: IntegrityRule,
    },
}

impl From<codes::RuleId> for RuleRef {
    fn from(r: codes::RuleId) -> Self {
        match r {
            codes::RuleId::AppInventory => RuleRef::AppInventory,
            codes::RuleId::App(id) => RuleRef::App { id: id.to_string() },
            codes::RuleId::Setting(rule) => RuleRef::Setting { rule: rule.into() },
            codes::RuleId::Integrity(rule) => RuleRef::Integrity { rule: rule.into() },
        }
    }
}

impl From<RuleRef> for codes::RuleId {
    fn from(r: RuleRef) -> Self {
        match r {
            RuleRef::AppInventory => codes::RuleId::AppInventory,
            RuleRef::App { id } => codes::RuleId::App(Arc::from(id)),
            RuleRef::Setting { rule } => codes::RuleId::Setting(rule.into()),
            RuleRef::Integrity { rule } => codes::RuleId::Integrity(rule.into()),
        }
    }
}

/// The core's stable text for a rule (`apps`, `app:<id>`, or the policy path), for the
/// console's vocabulary; never parsed by the apps.
#[uniffi::export]
pub fn rule_text(rule: RuleRef) -> String {
    codes::RuleId::from(rule).to_string()
}

/// The core's stable text for a reason code (`APP_INSTALLED`, ...), for the console.
#[uniffi::export]
pub fn reason_text(reason: ReasonCode) -> String {
    codes::Code::as_str(codes::Reason::from(reason)).to_owned()
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Verdict {
    /// The rule judged.
    pub rule: RuleRef,
    /// Its outcome.
    pub status: VerdictStatus,
    /// Why it is non-compliant (empty otherwise).
    pub reasons: Vec<ReasonCode>,
    /// What the platform did not observe.
    pub unobserved: Vec<UnobservedFact>,
    /// What the policy asks for when it is broken.
    pub enforcement: RuleEnforcement,
    /// Judged on what the phone says of itself (device integrity): a hint that never
    /// counts; the console's judgement on a verified attestation is the one that does.
    pub hint: bool,
}

impl From<rules::Verdict> for Verdict {
    fn from(v: rules::Verdict) -> Self {
        Verdict {
            rule: v.rule.into(),
            status: v.status.into(),
            reasons: v.reasons.iter().map(Into::into).collect(),
            unobserved: v.unobserved.iter().map(Into::into).collect(),
            enforcement: v.enforcement.into(),
            hint: v.hint,
        }
    }
}

/// A lasting change the agent keeps in force until the core lifts it; applying one again
/// is harmless.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Measure {
    /// `addUserRestriction` (lift: `clearUserRestriction`).
    UserRestriction {
        /// The restriction.
        restriction: Restriction,
    },
    /// `setUsbDataSignalingEnabled(false)` (API 31; lift: `true`).
    UsbDataSignalingDisabled,
    /// `setMaximumTimeToLock(millis)` (lift: 0).
    MaximumTimeToLock {
        /// Longest idle time before the screen locks.
        millis: u64,
    },
    /// `setMaximumFailedPasswordsForWipe(attempts)` (lift: 0).
    MaximumFailedPasswordsForWipe {
        /// Failed unlocks before the device wipes itself.
        attempts: u32,
    },
    /// `setRequiredPasswordComplexity` (API 31; lift: none).
    RequiredPasswordComplexity {
        /// The complexity bucket.
        complexity: PasswordQuality,
    },
    /// `setAlwaysOnVpnPackage(package, lockdown)` (lift: `null`).
    AlwaysOnVpn {
        /// The VPN app.
        package: String,
        /// Block traffic while the VPN is down.
        lockdown: bool,
    },
    /// `setPermittedAccessibilityServices(packages)`; empty: system services only (lift: `null`).
    PermittedAccessibilityServices {
        /// Packages whose services may be enabled.
        packages: Vec<String>,
    },
    /// `setUninstallBlocked(package, true)` for the agent itself (lift: `false`).
    UninstallBlocked {
        /// The agent's package.
        package: String,
    },
    /// `setPackagesSuspended([package], true)` (lift: `false`).
    PackageSuspended {
        /// The app.
        package: String,
    },
    /// `setApplicationHidden(package, true)`, for system apps (lift: `false`).
    PackageHidden {
        /// The app.
        package: String,
    },
    /// The escalation ladder's block: every app suspended but the agent, the phone app and
    /// settings (lift: unsuspend them).
    AccessBlocked,
}

impl From<actions::Measure> for Measure {
    fn from(m: actions::Measure) -> Self {
        use actions::Measure as M;
        match m {
            M::UserRestriction { restriction } => Measure::UserRestriction {
                restriction: restriction.into(),
            },
            M::UsbDataSignalingDisabled => Measure::UsbDataSignalingDisabled,
            M::MaximumTimeToLock { millis } => Measure::MaximumTimeToLock { millis },
            M::MaximumFailedPasswordsForWipe { attempts } => {
                Measure::MaximumFailedPasswordsForWipe { attempts }
            }
            M::RequiredPasswordComplexity { complexity } => Measure::RequiredPasswordComplexity {
                complexity: complexity.into(),
            },
            M::AlwaysOnVpn { package, lockdown } => Measure::AlwaysOnVpn { package, lockdown },
            M::PermittedAccessibilityServices { packages } => {
                Measure::PermittedAccessibilityServices { packages }
            }
            M::UninstallBlocked { package } => Measure::UninstallBlocked { package },
            M::PackageSuspended { package } => Measure::PackageSuspended { package },
            M::PackageHidden { package } => Measure::PackageHidden { package },
            M::AccessBlocked => Measure::AccessBlocked,
        }
    }
}

/// One entry of a notice for the staff member (the app localises the codes).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplianceNotice {
    /// The rule broken.
    pub rule: RuleRef,
    /// Why the rule is broken, as codes the app localises into the notice's text.
    pub reasons: Vec<ReasonCode>,
}

/// Something the compliance engine asks for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Remediation {
    /// Put a measure in force.
    Apply {
        /// The measure.
        measure: Measure,
    },
    /// Undo a measure applied before.
    Lift {
        /// The measure.
        measure: Measure,
    },
    /// Tell the staff member what to fix.
    NotifyUser {
        /// One entry per newly broken rule.
        notices: Vec<ComplianceNotice>,
    },
    /// Remove a user-installed CA certificate (`uninstallCaCert`).
    RemoveCaCert {
        /// Its SHA-256, 64 lower-case hex digits.
        sha256: String,
    },
    /// Lock the screen now (`lockNow`).
    LockDevice,
    /// Factory-reset the device (`wipeDevice`): the ladder's last step.
    WipeDevice {
        /// Keep factory-reset protection data.
        preserve_frp: bool,
    },
}

impl From<actions::Action> for Remediation {
    fn from(a: actions::Action) -> Self {
        use actions::Action as A;
        match a {
            A::Apply { measure } => Remediation::Apply {
                measure: measure.into(),
            },
            A::Lift { measure } => Remediation::Lift {
                measure: measure.into(),
            },
            A::NotifyUser { notices } => Remediation::NotifyUser {
                notices: notices
                    .into_iter()
                    .map(|n| ComplianceNotice {
                        rule: n.rule.into(),
                        reasons: n.reasons.iter().map(Into::into).collect(),
                    })
                    .collect(),
            },
            A::RemoveCaCert { sha256 } => Remediation::RemoveCaCert {
                sha256: sha256.to_string(),
            },
            A::LockDevice => Remediation::LockDevice,
            A::WipeDevice { preserve_frp } => Remediation::WipeDevice { preserve_frp },
        }
    }
}

mirror_enum!(
    /// Why neither the agent nor the MDM can carry an action out on this device.
    NotPossibleReason => actions::NotPossibleReason {
        /// The OS release lacks the control.
        ApiLevel,
        /// iOS: the MDM's command needs a supervised device.
        NotSupervised,
        /// The platform has no such control.
        NotOnPlatform,
        /// A fully managed phone has no separate work data.
        NoWorkData,
    }
);

/// One remediation action, handed out once: carry out those routed to `AGENT`, report
/// those routed to `MDM` to the console, and report those `NOT_POSSIBLE` with their reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RemediationAction {
    /// Who carries it out.
    pub route: ActionRoute,
    /// The rule that caused it; absent for the escalation ladder's steps.
    pub rule: Option<RuleRef>,
    /// What to do.
    pub action: Remediation,
    /// Why no one can, when `route` is `NOT_POSSIBLE`.
    #[uniffi(default = None)]
    pub not_possible: Option<NotPossibleReason>,
}

impl From<core::RequestedAction> for RemediationAction {
    fn from(a: core::RequestedAction) -> Self {
        let not_possible = match a.route {
            actions::Route::NotPossible(reason) => Some(reason.into()),
            actions::Route::Agent | actions::Route::Mdm => None,
        };
        RemediationAction {
            route: a.route.into(),
            rule: a.rule.map(Into::into),
            action: a.action.into(),
            not_possible,
        }
    }
}

/// The outcome of judging one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplianceReport {
    /// Every section complies: nothing broken, nothing unknown.
    pub compliant: bool,
    /// Rules non-compliant or unknown.
    pub open_rules: u32,
    /// Every verdict, in the core's rule order.
    pub verdicts: Vec<Verdict>,
    /// Alerts queued by this evaluation.
    pub alerts: Vec<crate::Alert>,
}

impl From<portcullis_core::agent::ComplianceOutcome> for ComplianceReport {
    fn from(o: portcullis_core::agent::ComplianceOutcome) -> Self {
        ComplianceReport {
            compliant: o.evaluation.is_compliant(),
            open_rules: u32::try_from(o.evaluation.open_verdicts().count()).unwrap_or(u32::MAX),
            verdicts: o.evaluation.verdicts.into_iter().map(Into::into).collect(),
            alerts: o.alerts.into_iter().map(Into::into).collect(),
        }
    }
}

// ---------------------------------------------------------------- the snapshot builder

mirror_enum!(
    /// The platform a snapshot comes from.
    Platform => snapshot::Platform {
        /// Android.
        Android,
        /// iOS or iPadOS.
        Ios,
    }
);

mirror_enum!(
    /// Screen-lock complexity as `DevicePolicyManager.getPasswordComplexity` reports it.
    PasswordComplexity => snapshot::PasswordComplexity {
        /// No lock, or swipe.
        None,
        /// Pattern, or a PIN with repeats or sequences.
        Low,
        /// PIN of 4+ without repeats, or alphanumeric of 4+.
        Medium,
        /// PIN of 8+ without repeats, or alphanumeric of 6+.
        High,
    }
);

mirror_enum!(
    /// Storage encryption as observed.
    EncryptionStatus => snapshot::EncryptionStatus {
        /// Not encrypted.
        Unencrypted,
        /// Encrypted, no credential needed at boot.
        EncryptedWithoutPassword,
        /// Encrypted and bound to the screen-lock credential.
        EncryptedWithPassword,
    }
);

mirror_enum!(
    /// The USB data the device lets through.
    UsbDataAccess => model::UsbDataAccess {
        /// Any USB data.
        AllowUsbDataTransfer,
        /// No file transfer.
        DisallowUsbFileTransfer,
        /// No USB data at all.
        DisallowUsbDataTransfer,
    }
);

/// What the platform observed for a compliance evaluation, field by field. Every optional
/// field left `null` is "not observed", and rules that need it are judged `UNKNOWN`. The
/// core checks every limit and names the field it refuses (`apps[3].signingCertsSha256`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplianceSnapshot {
    /// The platform that produced it.
    pub platform: Platform,
    /// Whether the agent is the device owner (Android fully managed device).
    #[uniffi(default = false)]
    pub device_owner: bool,
    /// The scopes the EMM's DPC delegated to the agent, by their AMAPI names
    /// (`android_deployment`'s `delegated_scopes`); `null`: not observed.
    #[uniffi(default = None)]
    pub delegated_scopes: Option<Vec<String>>,
    /// Whether an iOS device is supervised; `null`: not observed.
    #[uniffi(default = None)]
    pub supervised: Option<bool>,
    /// The packages filling the critical roles, which no enforcement may touch.
    #[uniffi(default = None)]
    pub package_roles: Option<crate::deployment::PackageRoles>,
    /// When the snapshot was collected (informational).
    #[uniffi(default = None)]
    pub collected_at: Option<SystemTime>,
    /// Operating-system facts.
    pub os: SnapshotOs,
    /// Device settings.
    pub settings: SnapshotSettings,
    /// Installed apps; `null` when the platform cannot list them.
    #[uniffi(default = None)]
    pub apps: Option<Vec<SnapshotApp>>,
    /// The agent app's own state.
    #[uniffi(default = None)]
    pub agent: Option<SnapshotAgent>,
    /// What the agent sees of the phone's integrity by itself (judged only as a hint).
    #[uniffi(default = None)]
    pub integrity_hint: Option<SnapshotIntegrityHint>,
}

/// What the agent sees of the phone's integrity by itself; each absent field is not observed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotIntegrityHint {
    /// The signing key is in secure hardware, as `KeyInfo` says.
    #[uniffi(default = None)]
    pub key_hardware_backed: Option<bool>,
    /// The signing key is in StrongBox, as `KeyInfo` says.
    #[uniffi(default = None)]
    pub key_strong_box: Option<bool>,
    /// The OS says the boot was verified.
    #[uniffi(default = None)]
    pub boot_verified: Option<bool>,
    /// The OS says the bootloader is locked.
    #[uniffi(default = None)]
    pub bootloader_locked: Option<bool>,
}

/// Operating-system facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotOs {
    /// Android API level.
    #[uniffi(default = None)]
    pub api_level: Option<u32>,
    /// OS version as the platform reports it.
    #[uniffi(default = None)]
    pub version: Option<String>,
    /// Android security patch level, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub security_patch_level: Option<String>,
}

/// Device settings; each `null` is not observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotSettings {
    /// Screen-lock complexity.
    #[uniffi(default = None)]
    pub password_complexity: Option<PasswordComplexity>,
    /// Failed unlocks before wipe; 0 when none is set.
    #[uniffi(default = None)]
    pub maximum_failed_passwords_for_wipe: Option<u32>,
    /// Idle time before lock in milliseconds; 0 when unlimited.
    #[uniffi(default = None)]
    pub maximum_time_to_lock: Option<u64>,
    /// Storage encryption.
    #[uniffi(default = None)]
    pub encryption: Option<EncryptionStatus>,
    /// Whether apps may be installed from unknown sources.
    #[uniffi(default = None)]
    pub unknown_sources_allowed: Option<bool>,
    /// Whether developer options are on.
    #[uniffi(default = None)]
    pub developer_options_enabled: Option<bool>,
    /// Whether Play Protect verifies apps.
    #[uniffi(default = None)]
    pub verify_apps_enabled: Option<bool>,
    /// Whether USB debugging is on.
    #[uniffi(default = None)]
    pub usb_debugging_enabled: Option<bool>,
    /// Whether wireless debugging is on.
    #[uniffi(default = None)]
    pub wireless_debugging_enabled: Option<bool>,
    /// Whether the modem may use 2G.
    #[uniffi(default = None)]
    pub cellular_2g_enabled: Option<bool>,
    /// Whether mobile network settings are locked.
    #[uniffi(default = None)]
    pub mobile_networks_config_disabled: Option<bool>,
    /// Whether adding an eSIM is blocked (Android 15 `DISALLOW_SIM_GLOBALLY`).
    #[uniffi(default = None)]
    pub add_esim_disallowed: Option<bool>,
    /// The USB data the device lets through.
    #[uniffi(default = None)]
    pub usb_data_access: Option<UsbDataAccess>,
    /// The always-on VPN; a value with no package when none is configured.
    #[uniffi(default = None)]
    pub always_on_vpn: Option<SnapshotVpn>,
    /// SHA-256 of every user-installed CA certificate (hex, colons allowed); empty when none.
    #[uniffi(default = None)]
    pub user_ca_certs_sha256: Option<Vec<String>>,
    /// Enabled accessibility services; empty when none.
    #[uniffi(default = None)]
    pub accessibility_services: Option<Vec<SnapshotAccessibilityService>>,
}

/// The always-on VPN as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotVpn {
    /// The VPN app; `null` when none is configured.
    #[uniffi(default = None)]
    pub package_name: Option<String>,
    /// Whether traffic is blocked while the VPN is down.
    #[uniffi(default = false)]
    pub lockdown_enabled: bool,
}

/// An enabled accessibility service.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotAccessibilityService {
    /// The package providing it.
    pub package_name: String,
    /// Whether that package is part of the system image.
    #[uniffi(default = false)]
    pub system: bool,
}

/// An installed app.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotApp {
    /// Package name or bundle id.
    pub id: String,
    /// `longVersionCode` as the platform reports it; a negative one (a negative
    /// `versionCodeMajor`) is not a version code, and counts as not observed. `null` when
    /// not observed.
    #[uniffi(default = None)]
    pub version_code: Option<i64>,
    /// Part of the system image.
    #[uniffi(default = false)]
    pub system: bool,
    /// Who installed it: `null` not observed; a value with no package when no installer is recorded.
    #[uniffi(default = None)]
    pub install_source: Option<SnapshotInstallSource>,
    /// SHA-256 of the signing certificates (hex, colons allowed); empty when not observed.
    #[uniffi(default = [])]
    pub signing_certs_sha256: Vec<String>,
}

/// An app's installer.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotInstallSource {
    /// The installer package; `null` when none is recorded.
    #[uniffi(default = None)]
    pub installing_package_name: Option<String>,
}

/// The agent app's own state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotAgent {
    /// The agent's package name or bundle id.
    pub package_name: String,
    /// Whether uninstalling the agent is blocked; `null` when not observed.
    #[uniffi(default = None)]
    pub uninstall_blocked: Option<bool>,
}

fn fingerprint(
    field: impl FnOnce() -> String,
    text: &str,
) -> Result<model::Sha256Fingerprint, CoreError> {
    model::Sha256Fingerprint::parse(text).ok_or_else(|| {
        CoreError::invalid(
            field(),
            "not a SHA-256 fingerprint (64 hex digits, optionally colon-separated)",
        )
    })
}

impl TryFrom<ComplianceSnapshot> for snapshot::DeviceSnapshot {
    type Error = CoreError;

    /// Field for field; a fingerprint that does not read is refused naming its place. The
    /// core's own validation (limits, names, dates) follows in `evaluate_compliance`.
    fn try_from(s: ComplianceSnapshot) -> Result<Self, CoreError> {
        let mut out = snapshot::DeviceSnapshot::new(s.platform.into());
        out.device_owner = s.device_owner;
        out.delegated_scopes = s
            .delegated_scopes
            .map(|names| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        serde_json::from_value::<actions::DelegatedScope>(
                            serde_json::Value::String(name.clone()),
                        )
                        .map_err(|_| {
                            CoreError::invalid(
                                format!("delegatedScopes[{i}]"),
                                "not a delegated scope the core knows (AMAPI names, e.g. PACKAGE_ACCESS)",
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        out.supervised = s.supervised;
        out.package_roles = s.package_roles.map(Into::into);
        out.collected_at = s.collected_at.map(to_timestamp);
        out.os = snapshot::OsFacts {
            api_level: s.os.api_level,
            version: s.os.version,
            security_patch_level: s.os.security_patch_level,
        };
        let t = s.settings;
        out.settings = snapshot::DeviceSettings {
            password_complexity: t.password_complexity.map(Into::into),
            maximum_failed_passwords_for_wipe: t.maximum_failed_passwords_for_wipe,
            maximum_time_to_lock: t.maximum_time_to_lock,
            encryption: t.encryption.map(Into::into),
            unknown_sources_allowed: t.unknown_sources_allowed,
            developer_options_enabled: t.developer_options_enabled,
            verify_apps_enabled: t.verify_apps_enabled,
            usb_debugging_enabled: t.usb_debugging_enabled,
            wireless_debugging_enabled: t.wireless_debugging_enabled,
            cellular_2g_enabled: t.cellular_2g_enabled,
            mobile_networks_config_disabled: t.mobile_networks_config_disabled,
            add_esim_disallowed: t.add_esim_disallowed,
            usb_data_access: t.usb_data_access.map(Into::into),
            always_on_vpn: t.always_on_vpn.map(|v| snapshot::AlwaysOnVpnState {
                package_name: v.package_name,
                lockdown_enabled: v.lockdown_enabled,
            }),
            user_ca_certs_sha256: t
                .user_ca_certs_sha256
                .map(|certs| {
                    platform::first_of_each(certs, Clone::clone)
                        .iter()
                        .enumerate()
                        .map(|(i, c)| fingerprint(|| format!("settings.userCaCertsSha256[{i}]"), c))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            accessibility_services: t.accessibility_services.map(|list| {
                platform::first_of_each(list, |a| a.package_name.clone())
                    .into_iter()
                    .map(|a| snapshot::AccessibilityService {
                        package_name: a.package_name,
                        system: a.system,
                    })
                    .collect()
            }),
        };
        out.apps = s
            .apps
            .map(|apps| {
                platform::first_of_each(apps, |a| a.id.clone())
                    .into_iter()
                    .enumerate()
                    .map(|(i, app)| {
                        let signing_certs_sha256 =
                            platform::first_of_each(app.signing_certs_sha256, Clone::clone)
                                .iter()
                                .enumerate()
                                .map(|(j, c)| {
                                    fingerprint(|| format!("apps[{i}].signingCertsSha256[{j}]"), c)
                                })
                                .collect::<Result<Vec<_>, _>>()?;
                        Ok(snapshot::InstalledApp {
                            id: Arc::from(app.id),
                            version_code: app.version_code.and_then(platform::version_code),
                            system: app.system,
                            install_source: app.install_source.map(|s| snapshot::InstallSource {
                                installing_package_name: s.installing_package_name,
                            }),
                            signing_certs_sha256,
                        })
                    })
                    .collect::<Result<Vec<_>, CoreError>>()
            })
            .transpose()?;
        out.agent = s.agent.map(|a| snapshot::AgentFacts {
            package_name: a.package_name,
            uninstall_blocked: a.uninstall_blocked,
        });
        out.integrity_hint = s.integrity_hint.map(|h| core::IntegrityHint {
            key_hardware_backed: h.key_hardware_backed,
            key_strong_box: h.key_strong_box,
            boot_verified: h.boot_verified,
            bootloader_locked: h.bootloader_locked,
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::compliance::Code;

    #[test]
    fn every_code_and_rule_crosses_and_comes_back() {
        for r in codes::Reason::ALL {
            assert_eq!(codes::Reason::from(ReasonCode::from(*r)), *r);
            assert_eq!(reason_text(ReasonCode::from(*r)), r.as_str());
        }
        for f in codes::Fact::ALL {
            assert_eq!(codes::Fact::from(UnobservedFact::from(*f)), *f);
        }
        for s in codes::SettingRule::ALL {
            let rule = codes::RuleId::Setting(*s);
            assert_eq!(rule_text(RuleRef::from(rule.clone())), rule.to_string());
        }
        let app = codes::RuleId::App(Arc::from("org.example"));
        assert_eq!(rule_text(app.into()), "app:org.example");
    }

    #[test]
    fn platform_lists_cross_as_read_and_the_core_drops_repeats_and_sentinels() {
        let cert = "ab".repeat(32);
        let app = |id: &str, version_code: i64| SnapshotApp {
            id: id.into(),
            version_code: Some(version_code),
            system: false,
            install_source: None,
            signing_certs_sha256: vec![cert.clone(), cert.clone()],
        };
        let s = ComplianceSnapshot {
            platform: Platform::Android,
            device_owner: true,
            delegated_scopes: None,
            supervised: None,
            package_roles: None,
            collected_at: None,
            os: SnapshotOs::default(),
            settings: SnapshotSettings {
                user_ca_certs_sha256: Some(vec![cert.clone(), cert.clone()]),
                accessibility_services: Some(vec![
                    SnapshotAccessibilityService {
                        package_name: "org.example.a11y".into(),
                        system: false,
                    },
                    SnapshotAccessibilityService {
                        package_name: "org.example.a11y".into(),
                        system: false,
                    },
                ]),
                ..SnapshotSettings::default()
            },
            apps: Some(vec![
                app("org.example", 7),
                app("org.example", 8),
                app("org.other", -2),
            ]),
            agent: None,
            integrity_hint: None,
        };
        let core = snapshot::DeviceSnapshot::try_from(s).expect("repeats are no error");
        let apps = core.apps.expect("apps");
        assert_eq!(
            apps.len(),
            2,
            "the repeated package once, the first reading"
        );
        assert_eq!(apps[0].version_code, Some(7));
        assert_eq!(
            apps[0].signing_certs_sha256.len(),
            1,
            "a certificate listed twice"
        );
        assert_eq!(
            apps[1].version_code, None,
            "a negative version code is not observed"
        );
        assert_eq!(core.settings.user_ca_certs_sha256.map(|c| c.len()), Some(1));
        assert_eq!(
            core.settings.accessibility_services.map(|a| a.len()),
            Some(1)
        );
    }

    #[test]
    fn delegated_scopes_cross_by_their_amapi_names_and_an_unknown_one_is_named() {
        let snapshot = |scopes: &[&str]| ComplianceSnapshot {
            platform: Platform::Android,
            device_owner: false,
            delegated_scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            supervised: None,
            package_roles: Some(crate::deployment::PackageRoles {
                home: Some("com.example.launcher".into()),
                ..Default::default()
            }),
            collected_at: None,
            os: SnapshotOs::default(),
            settings: SnapshotSettings::default(),
            apps: None,
            agent: None,
            integrity_hint: Some(SnapshotIntegrityHint {
                key_hardware_backed: Some(true),
                key_strong_box: None,
                boot_verified: Some(false),
                bootloader_locked: None,
            }),
        };
        let core =
            snapshot::DeviceSnapshot::try_from(snapshot(&["PACKAGE_ACCESS", "CERT_INSTALL"]))
                .expect("known scopes");
        // The hint crosses field for field; the judged input stays the phone's own.
        let hint = core.integrity_hint.as_ref().expect("the hint crosses");
        assert_eq!(
            (
                hint.key_hardware_backed,
                hint.key_strong_box,
                hint.boot_verified,
                hint.bootloader_locked
            ),
            (Some(true), None, Some(false), None)
        );
        assert_eq!(core.integrity_input, core::IntegrityInput::OnDevice);
        assert_eq!(
            core.delegated_scopes,
            Some(vec![
                actions::DelegatedScope::PackageAccess,
                actions::DelegatedScope::CertInstall
            ])
        );
        assert_eq!(
            core.package_roles.and_then(|r| r.home).as_deref(),
            Some("com.example.launcher")
        );
        let err = snapshot::DeviceSnapshot::try_from(snapshot(&["PACKAGE_ACCESS", "delegation-x"]))
            .expect_err("unknown scope");
        assert!(
            matches!(&err, CoreError::InvalidInput { field, .. } if field == "delegatedScopes[1]"),
            "{err:?}"
        );
    }

    #[test]
    fn a_fingerprint_that_does_not_read_is_refused_naming_its_place() {
        let snapshot = ComplianceSnapshot {
            platform: Platform::Android,
            device_owner: true,
            delegated_scopes: None,
            supervised: None,
            package_roles: None,
            collected_at: None,
            os: SnapshotOs::default(),
            settings: SnapshotSettings {
                user_ca_certs_sha256: Some(vec![vec!["D4"; 32].join(":")]),
                ..SnapshotSettings::default()
            },
            apps: Some(vec![SnapshotApp {
                id: "org.example".into(),
                version_code: None,
                system: false,
                install_source: None,
                signing_certs_sha256: vec!["ab".repeat(32), "not hex".into()],
            }]),
            agent: None,
            integrity_hint: None,
        };
        let err = snapshot::DeviceSnapshot::try_from(snapshot).unwrap_err();
        let CoreError::InvalidInput { field, .. } = &err else {
            panic!("not InvalidInput: {err}");
        };
        assert_eq!(field, "apps[0].signingCertsSha256[1]");
        assert!(!err.to_string().contains("not hex"), "{err}");
    }
}
