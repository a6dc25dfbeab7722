//! What the engine asks of the native layer: lasting [`Measure`]s to apply or lift,
//! and one-shot [`Action`]s, each with a [`Route`] saying whether the agent can carry
//! it out on this platform or must report it to the MDM.

use serde::{Deserialize, Serialize};

mod read;

use super::codes::{Reasons, RuleId, SettingRule};
use super::rules::PreparedPolicy;
use super::snapshot::{DeviceSnapshot, Platform};
use crate::policy::model::{
    DeveloperSettings, GooglePlayProtectVerifyApps, PasswordQuality, Sha256Fingerprint,
    UntrustedAppsPolicy, UsbDataAccess,
};

/// An Android user restriction (`UserManager.DISALLOW_*`, `ENSURE_VERIFY_APPS`), named
/// by its Java constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UserRestriction {
    /// `DISALLOW_DEBUGGING_FEATURES`: developer options and adb off.
    #[serde(rename = "DISALLOW_DEBUGGING_FEATURES")]
    DisallowDebuggingFeatures,
    /// `DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY` (API 29): no sideloading by any app.
    #[serde(rename = "DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY")]
    DisallowInstallUnknownSourcesGlobally,
    /// `ENSURE_VERIFY_APPS`: Play Protect verification stays on.
    #[serde(rename = "ENSURE_VERIFY_APPS")]
    EnsureVerifyApps,
    /// `DISALLOW_CELLULAR_2G` (API 34): the modem never uses 2G.
    #[serde(rename = "DISALLOW_CELLULAR_2G")]
    DisallowCellular2g,
    /// `DISALLOW_USB_FILE_TRANSFER`: no MTP/PTP file transfer over USB.
    #[serde(rename = "DISALLOW_USB_FILE_TRANSFER")]
    DisallowUsbFileTransfer,
    /// `DISALLOW_CONFIG_MOBILE_NETWORKS`: APNs and network selection cannot be changed.
    #[serde(rename = "DISALLOW_CONFIG_MOBILE_NETWORKS")]
    DisallowConfigMobileNetworks,
}

impl UserRestriction {
    /// The Java constant's name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRestriction::DisallowDebuggingFeatures => "DISALLOW_DEBUGGING_FEATURES",
            UserRestriction::DisallowInstallUnknownSourcesGlobally => {
                "DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY"
            }
            UserRestriction::EnsureVerifyApps => "ENSURE_VERIFY_APPS",
            UserRestriction::DisallowCellular2g => "DISALLOW_CELLULAR_2G",
            UserRestriction::DisallowUsbFileTransfer => "DISALLOW_USB_FILE_TRANSFER",
            UserRestriction::DisallowConfigMobileNetworks => "DISALLOW_CONFIG_MOBILE_NETWORKS",
        }
    }

    /// The lowest Android API level that has it.
    pub fn minimum_api_level(self) -> u32 {
        match self {
            UserRestriction::DisallowCellular2g => 34,
            UserRestriction::DisallowInstallUnknownSourcesGlobally => 29,
            _ => 21,
        }
    }
}

/// A lasting change the agent keeps in force until the engine lifts it. Applying one
/// again is harmless, so the native layer may re-apply every measure in force after
/// a restart ([`super::ComplianceEngine::measures_in_force`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(try_from = "read::measure::Fields")]
pub enum Measure {
    /// `DevicePolicyManager.addUserRestriction` (lift: `clearUserRestriction`).
    UserRestriction {
        /// The restriction.
        restriction: UserRestriction,
    },
    /// `DevicePolicyManager.setUsbDataSignalingEnabled(false)` (API 31; lift: `true`).
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
    /// `setRequiredPasswordComplexity` (API 31; lift: `PASSWORD_COMPLEXITY_NONE`);
    /// the user is asked for a stronger lock at the next unlock.
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
    /// `setPermittedAccessibilityServices(packages)`; an empty list permits system
    /// services only (lift: `null`, any service).
    PermittedAccessibilityServices {
        /// Packages whose services may be enabled.
        packages: Vec<String>,
    },
    /// `setUninstallBlocked(package, true)` for the agent itself (lift: `false`).
    UninstallBlocked {
        /// The agent's package.
        package: String,
    },
    /// `setPackagesSuspended([package], true)`: the app cannot run (lift: `false`).
    PackageSuspended {
        /// The app.
        package: String,
    },
    /// `setApplicationHidden(package, true)`: for system apps, which cannot be
    /// uninstalled (lift: `false`).
    PackageHidden {
        /// The app.
        package: String,
    },
    /// The escalation ladder's block step (AMAPI `blockAction`): every app suspended but
    /// the agent, the phone app and settings, with a notice saying how to comply (lift: unsuspend).
    AccessBlocked,
}

impl Measure {
    /// Measures that replace one another when their value changes share a slot: a new
    /// value is applied without lifting the old one first.
    pub(crate) fn same_slot(&self, other: &Measure) -> bool {
        use Measure::*;
        match (self, other) {
            (UserRestriction { restriction: a }, UserRestriction { restriction: b }) => a == b,
            (PackageSuspended { package: a }, PackageSuspended { package: b })
            | (PackageHidden { package: a }, PackageHidden { package: b })
            | (UninstallBlocked { package: a }, UninstallBlocked { package: b }) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }

    /// The lowest API level whose OS has this control at all (`None`: every supported level).
    pub fn os_minimum_api_level(&self) -> Option<u32> {
        match self {
            Measure::UserRestriction { restriction } => {
                Some(restriction.minimum_api_level()).filter(|&l| l > 21)
            }
            Measure::UsbDataSignalingDisabled => Some(31),
            _ => None,
        }
    }

    /// The lowest API level on which the agent's call exists.
    pub fn agent_minimum_api_level(&self) -> Option<u32> {
        match self {
            Measure::RequiredPasswordComplexity { .. } => Some(31),
            _ => self.os_minimum_api_level(),
        }
    }

    /// The app a package measure concerns.
    pub fn package(&self) -> Option<&str> {
        match self {
            Measure::PackageSuspended { package } | Measure::PackageHidden { package } => {
                Some(package)
            }
            _ => None,
        }
    }
}

/// A notice for the staff member: which rule, and why (the app localises the text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The rule broken.
    pub rule: RuleId,
    /// Why the rule is broken, as codes the app localises into the notice's text.
    pub reasons: Reasons,
}

/// Something the engine asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(try_from = "read::action::Fields")]
pub enum Action {
    /// Put a measure in force.
    Apply {
        /// The measure.
        measure: Measure,
    },
    /// Undo a measure the engine applied before.
    Lift {
        /// The measure.
        measure: Measure,
    },
    /// Tell the staff member, in a short notice, what to fix.
    NotifyUser {
        /// One entry per newly broken rule.
        notices: Vec<Notice>,
    },
    /// Remove a user-installed CA certificate (`DevicePolicyManager.uninstallCaCert`).
    RemoveCaCert {
        /// Its SHA-256.
        sha256: Sha256Fingerprint,
    },
    /// Lock the screen now (`lockNow`); the escalation ladder's block step.
    LockDevice,
    /// Factory-reset the device (`wipeDevice`): the ladder's last step, never requested otherwise.
    WipeDevice {
        /// Keep factory-reset protection data.
        preserve_frp: bool,
    },
}

/// Why no one on this device can carry an action out. The console reads the code; the
/// staff member never sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotPossibleReason {
    /// The OS release lacks the control (`DISALLOW_CELLULAR_2G` before API 34, USB data
    /// signalling before API 31): neither the agent nor the MDM can set it.
    ApiLevel,
    /// iOS: the MDM's command for it (app blocking, removal lock) needs a supervised device.
    NotSupervised,
    /// The platform has no such control (an Android user restriction on iOS).
    NotOnPlatform,
    /// A fully managed phone has no separate work data: only a full wipe removes it.
    NoWorkData,
}

impl NotPossibleReason {
    /// The code as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            NotPossibleReason::ApiLevel => "API_LEVEL",
            NotPossibleReason::NotSupervised => "NOT_SUPERVISED",
            NotPossibleReason::NotOnPlatform => "NOT_ON_PLATFORM",
            NotPossibleReason::NoWorkData => "NO_WORK_DATA",
        }
    }
}

/// Who carries an action out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Route {
    /// The agent, on the device, through the platform's APIs (as device owner, or with
    /// a scope the EMM's DPC delegated to it).
    Agent,
    /// The platform does not let the agent do it (iOS, or an Android companion without
    /// the scope): report it to the MDM (managed-app feedback / keyed app states), whose
    /// own commands may (remove a managed app, lock, erase).
    Mdm,
    /// No one on this device can: reported with the reason, never attempted.
    NotPossible(NotPossibleReason),
}

impl Route {
    /// Whether the agent carries it out itself.
    pub fn is_agent(self) -> bool {
        self == Route::Agent
    }

    /// `AGENT`, `MDM` or `NOT_POSSIBLE`: the route's name without its reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Agent => "AGENT",
            Route::Mdm => "MDM",
            Route::NotPossible(_) => "NOT_POSSIBLE",
        }
    }

    /// Why the action is not possible, for that route.
    pub fn not_possible_reason(self) -> Option<NotPossibleReason> {
        match self {
            Route::NotPossible(reason) => Some(reason),
            _ => None,
        }
    }
}

/// An action with its route and the rule that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "read::action::Fields")]
pub struct RequestedAction {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Who does it.
    pub route: Route,
    /// The rule that caused it; absent for the ladder's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
}

/// A power the EMM's device policy controller can hand a managed app
/// (`DevicePolicyManager.setDelegatedScopes`; AMAPI `applications[].delegatedScopes`),
/// named as AMAPI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DelegatedScope {
    /// `setPackagesSuspended`, `setApplicationHidden` and their getters.
    PackageAccess,
    /// `setUninstallBlocked`.
    BlockUninstall,
    /// `installCaCert`, `uninstallCaCert`, `getInstalledCaCerts` and key-pair installation.
    CertInstall,
    /// Certificate selection for other apps.
    CertSelection,
    /// Managed configurations of other apps (`setApplicationRestrictions`).
    ManagedConfigurations,
    /// Runtime permission grants.
    PermissionGrant,
    /// Enabling system apps.
    EnableSystemApp,
    /// Network activity logs (`retrieveNetworkLogs`).
    NetworkActivityLogs,
    /// Security logs (`retrieveSecurityLogs`).
    SecurityLogs,
}

impl DelegatedScope {
    /// Every scope, in bit order.
    pub const ALL: [DelegatedScope; 9] = [
        DelegatedScope::PackageAccess,
        DelegatedScope::BlockUninstall,
        DelegatedScope::CertInstall,
        DelegatedScope::CertSelection,
        DelegatedScope::ManagedConfigurations,
        DelegatedScope::PermissionGrant,
        DelegatedScope::EnableSystemApp,
        DelegatedScope::NetworkActivityLogs,
        DelegatedScope::SecurityLogs,
    ];

    /// The AMAPI name.
    pub fn as_str(self) -> &'static str {
        match self {
            DelegatedScope::PackageAccess => "PACKAGE_ACCESS",
            DelegatedScope::BlockUninstall => "BLOCK_UNINSTALL",
            DelegatedScope::CertInstall => "CERT_INSTALL",
            DelegatedScope::CertSelection => "CERT_SELECTION",
            DelegatedScope::ManagedConfigurations => "MANAGED_CONFIGURATIONS",
            DelegatedScope::PermissionGrant => "PERMISSION_GRANT",
            DelegatedScope::EnableSystemApp => "ENABLE_SYSTEM_APP",
            DelegatedScope::NetworkActivityLogs => "NETWORK_ACTIVITY_LOGS",
            DelegatedScope::SecurityLogs => "SECURITY_LOGS",
        }
    }

    /// The `DevicePolicyManager.DELEGATION_*` value `getDelegatedScopes` returns.
    pub fn android_constant(self) -> &'static str {
        match self {
            DelegatedScope::PackageAccess => "delegation-package-access",
            DelegatedScope::BlockUninstall => "delegation-block-uninstall",
            DelegatedScope::CertInstall => "delegation-cert-install",
            DelegatedScope::CertSelection => "delegation-cert-selection",
            DelegatedScope::ManagedConfigurations => "delegation-app-restrictions",
            DelegatedScope::PermissionGrant => "delegation-permission-grant",
            DelegatedScope::EnableSystemApp => "delegation-enable-system-app",
            DelegatedScope::NetworkActivityLogs => "delegation-network-logging",
            DelegatedScope::SecurityLogs => "delegation-security-logging",
        }
    }

    /// The scope a `DELEGATION_*` value names; `None` for one this build does not use.
    pub fn from_android_constant(constant: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.android_constant() == constant)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl Measure {
    /// The delegated scope that lets an agent which is not the device owner apply or lift
    /// this measure; `None` when only the device owner can.
    pub fn delegated_scope(&self) -> Option<DelegatedScope> {
        match self {
            Measure::PackageSuspended { .. }
            | Measure::PackageHidden { .. }
            | Measure::AccessBlocked => Some(DelegatedScope::PackageAccess),
            Measure::UninstallBlocked { .. } => Some(DelegatedScope::BlockUninstall),
            _ => None,
        }
    }
}

/// The scope that lets a companion remove a user-installed CA certificate.
pub const REMOVE_CA_CERT_SCOPE: DelegatedScope = DelegatedScope::CertInstall;

impl Action {
    /// The delegated scope that lets an agent which is not the device owner carry this
    /// action out; `None` when only the device owner can (a notice needs no scope at all).
    pub fn delegated_scope(&self) -> Option<DelegatedScope> {
        match self {
            Action::Apply { measure } | Action::Lift { measure } => measure.delegated_scope(),
            Action::RemoveCaCert { .. } => Some(REMOVE_CA_CERT_SCOPE),
            Action::NotifyUser { .. } | Action::LockDevice | Action::WipeDevice { .. } => None,
        }
    }
}

/// A set of [`DelegatedScope`]s, small enough to keep [`Capabilities`] `Copy`;
/// serialised as the sorted list of names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<DelegatedScope>", into = "Vec<DelegatedScope>")]
pub struct DelegatedScopes(u16);

impl DelegatedScopes {
    /// No scope.
    pub const NONE: DelegatedScopes = DelegatedScopes(0);

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: DelegatedScope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The scopes, in bit order.
    pub fn iter(self) -> impl Iterator<Item = DelegatedScope> {
        DelegatedScope::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl FromIterator<DelegatedScope> for DelegatedScopes {
    fn from_iter<I: IntoIterator<Item = DelegatedScope>>(iter: I) -> Self {
        DelegatedScopes(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl From<Vec<DelegatedScope>> for DelegatedScopes {
    fn from(scopes: Vec<DelegatedScope>) -> Self {
        scopes.into_iter().collect()
    }
}

impl From<DelegatedScopes> for Vec<DelegatedScope> {
    fn from(scopes: DelegatedScopes) -> Self {
        scopes.iter().collect()
    }
}

/// How the agent is deployed, which decides what it can do itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentMode {
    /// The agent is the device policy controller (Android device owner): it has every
    /// device-owner power; its keyed app states have no reader, so alerts go through
    /// the office's collector channel.
    Owner,
    /// The agent is a managed app beside the EMM's DPC (or the MDM on iOS): it uses the
    /// scopes delegated to it, and everything else is the MDM's to do.
    Companion,
}

impl DeploymentMode {
    /// `owner` or `companion`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentMode::Owner => "owner",
            DeploymentMode::Companion => "companion",
        }
    }
}

/// What the agent can do on this device, as the platform reports it in the snapshot:
/// the core routes every action from these facts, the native layer decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// The platform.
    pub platform: Platform,
    /// Whether the agent is device owner (Android).
    pub device_owner: bool,
    /// The scopes the EMM's DPC delegated to the agent (Android companion).
    #[serde(default, skip_serializing_if = "DelegatedScopes::is_empty")]
    pub delegated_scopes: DelegatedScopes,
    /// The Android API level, when observed; API-gated measures need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_level: Option<u32>,
    /// iOS: whether the device is supervised, when observed; the MDM's app blocking
    /// and removal lock need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervised: Option<bool>,
}

impl Capabilities {
    /// The capabilities a snapshot shows.
    pub fn of(snapshot: &DeviceSnapshot) -> Self {
        Capabilities {
            platform: snapshot.platform,
            device_owner: snapshot.device_owner,
            delegated_scopes: snapshot
                .delegated_scopes
                .iter()
                .flatten()
                .copied()
                .collect(),
            api_level: snapshot.os.api_level,
            supervised: snapshot.supervised,
        }
    }

    /// An Android agent that is device owner.
    pub fn android_owner(api_level: Option<u32>) -> Self {
        Capabilities {
            platform: Platform::Android,
            device_owner: true,
            delegated_scopes: DelegatedScopes::NONE,
            api_level,
            supervised: None,
        }
    }

    /// An Android agent beside the EMM's DPC, holding `scopes`.
    pub fn android_companion(
        scopes: impl IntoIterator<Item = DelegatedScope>,
        api_level: Option<u32>,
    ) -> Self {
        Capabilities {
            platform: Platform::Android,
            device_owner: false,
            delegated_scopes: scopes.into_iter().collect(),
            api_level,
            supervised: None,
        }
    }

    /// An iOS managed app; `supervised` as the MDM reports it (`None`: unknown).
    pub fn ios(supervised: Option<bool>) -> Self {
        Capabilities {
            platform: Platform::Ios,
            device_owner: false,
            delegated_scopes: DelegatedScopes::NONE,
            api_level: None,
            supervised,
        }
    }

    /// Whether the agent has device-owner powers (Android device owner).
    pub fn is_device_owner(self) -> bool {
        self.platform == Platform::Android && self.device_owner
    }

    /// Owner when the agent is the Android device owner; companion otherwise (iOS
    /// included: there the agent is always a managed app beside the MDM).
    pub fn deployment_mode(self) -> DeploymentMode {
        if self.is_device_owner() {
            DeploymentMode::Owner
        } else {
            DeploymentMode::Companion
        }
    }

    /// Whether the agent may call the APIs `scope` covers: as device owner, or delegated.
    pub fn holds(self, scope: DelegatedScope) -> bool {
        self.platform == Platform::Android
            && (self.device_owner || self.delegated_scopes.contains(scope))
    }

    /// Whether the agent can put `measure` in force itself.
    pub fn can_apply(self, measure: &Measure) -> bool {
        self.route_measure(measure).is_agent()
    }

    /// Who applies or lifts `measure` here.
    pub fn route_measure(self, measure: &Measure) -> Route {
        if self.platform == Platform::Ios {
            return self.route_ios_measure(measure);
        }
        let os_min = measure.os_minimum_api_level();
        if os_min.is_some_and(|min| self.api_level.is_some_and(|level| level < min)) {
            return Route::NotPossible(NotPossibleReason::ApiLevel);
        }
        let power = match measure.delegated_scope() {
            Some(scope) => self.holds(scope),
            None => self.is_device_owner(),
        };
        // The agent calls an API-gated method only on a level it knows has it; the EMM
        // knows its device and has older calls (password quality) to fall back on.
        let level_known = measure
            .agent_minimum_api_level()
            .is_none_or(|min| self.api_level.is_some_and(|level| level >= min));
        if power && level_known {
            Route::Agent
        } else {
            Route::Mdm
        }
    }

    fn route_ios_measure(self, measure: &Measure) -> Route {
        match measure {
            Measure::UserRestriction { .. }
            | Measure::UsbDataSignalingDisabled
            | Measure::PermittedAccessibilityServices { .. } => {
                Route::NotPossible(NotPossibleReason::NotOnPlatform)
            }
            Measure::PackageSuspended { .. }
            | Measure::PackageHidden { .. }
            | Measure::AccessBlocked
            | Measure::UninstallBlocked { .. }
                if self.supervised == Some(false) =>
            {
                Route::NotPossible(NotPossibleReason::NotSupervised)
            }
            _ => Route::Mdm,
        }
    }

    /// Who carries out `action` here.
    pub fn route_action(self, action: &Action) -> Route {
        match action {
            Action::Apply { measure } | Action::Lift { measure } => self.route_measure(measure),
            Action::NotifyUser { .. } => Route::Agent,
            Action::RemoveCaCert { .. } => {
                if action
                    .delegated_scope()
                    .is_some_and(|scope| self.holds(scope))
                {
                    Route::Agent
                } else {
                    Route::Mdm
                }
            }
            Action::LockDevice | Action::WipeDevice { .. } => self.route_owner_power(),
        }
    }

    /// Locking and factory-resetting the phone: the device owner's alone. A companion
    /// (Android or iOS) hands them to the MDM; no scope delegates them.
    pub fn route_owner_power(self) -> Route {
        if self.is_device_owner() {
            Route::Agent
        } else {
            Route::Mdm
        }
    }

    /// Wiping the managed (work) data: the MDM's on a companion (it removes the work
    /// profile or the managed apps); not possible for a device owner, whose work data
    /// is the whole phone.
    pub fn route_work_data_wipe(self) -> Route {
        if self.is_device_owner() {
            Route::NotPossible(NotPossibleReason::NoWorkData)
        } else {
            Route::Mdm
        }
    }
}

/// The measures that enforce one configuration rule of `policy` (empty for rules
/// nothing on the device can enforce: OS version, patch level, encryption, CA
/// certificates, which are removed one by one instead).
pub(crate) fn setting_measures(
    policy: &PreparedPolicy,
    rule: SettingRule,
    agent_package: Option<&str>,
) -> Vec<Measure> {
    use SettingRule as R;
    let c = &policy.config;
    let restriction = |restriction| Measure::UserRestriction { restriction };
    match rule {
        R::PasswordQuality => c
            .password_requirements
            .iter()
            .map(|p| Measure::RequiredPasswordComplexity {
                complexity: p.password_quality,
            })
            .collect(),
        R::MaximumFailedPasswordsForWipe => c
            .password_requirements
            .iter()
            .filter_map(|p| p.maximum_failed_passwords_for_wipe)
            .map(|attempts| Measure::MaximumFailedPasswordsForWipe { attempts })
            .collect(),
        R::MaximumTimeToLock => c
            .maximum_time_to_lock
            .map(|millis| Measure::MaximumTimeToLock { millis })
            .into_iter()
            .collect(),
        R::UntrustedAppsPolicy => {
            if c.advanced_security_overrides.untrusted_apps_policy
                == UntrustedAppsPolicy::AllowInstallDeviceWide
            {
                vec![]
            } else {
                vec![restriction(
                    UserRestriction::DisallowInstallUnknownSourcesGlobally,
                )]
            }
        }
        R::DeveloperSettings => {
            if c.advanced_security_overrides.developer_settings
                == DeveloperSettings::DeveloperSettingsAllowed
            {
                vec![]
            } else {
                vec![restriction(UserRestriction::DisallowDebuggingFeatures)]
            }
        }
        R::GooglePlayProtectVerifyApps => {
            if c.advanced_security_overrides
                .google_play_protect_verify_apps
                == GooglePlayProtectVerifyApps::VerifyAppsUserChoice
            {
                vec![]
            } else {
                vec![restriction(UserRestriction::EnsureVerifyApps)]
            }
        }
        R::DebuggingFeaturesAllowed => {
            if c.debugging_features_allowed {
                vec![]
            } else {
                vec![restriction(UserRestriction::DisallowDebuggingFeatures)]
            }
        }
        R::CellularTwoGState => {
            if c.device_radio_state.cellular_two_g_state
                == crate::policy::model::CellularTwoGState::CellularTwoGDisabled
            {
                vec![restriction(UserRestriction::DisallowCellular2g)]
            } else {
                vec![]
            }
        }
        R::MobileNetworksConfigDisabled => {
            if c.mobile_networks_config_disabled {
                vec![restriction(UserRestriction::DisallowConfigMobileNetworks)]
            } else {
                vec![]
            }
        }
        R::UsbDataAccess => match c
            .device_connectivity_management
            .as_ref()
            .map(|m| m.usb_data_access)
        {
            Some(UsbDataAccess::DisallowUsbFileTransfer) => {
                vec![restriction(UserRestriction::DisallowUsbFileTransfer)]
            }
            Some(UsbDataAccess::DisallowUsbDataTransfer) => vec![
                restriction(UserRestriction::DisallowUsbFileTransfer),
                Measure::UsbDataSignalingDisabled,
            ],
            _ => vec![],
        },
        R::AlwaysOnVpnPackage => c
            .always_on_vpn_package
            .iter()
            .map(|v| Measure::AlwaysOnVpn {
                package: v.package_name.clone(),
                lockdown: v.lockdown_enabled,
            })
            .collect(),
        R::PermittedAccessibilityServices => c
            .permitted_accessibility_services
            .iter()
            .map(|list| {
                let mut packages = list.package_names.clone();
                crate::sort::sort(&mut packages);
                packages.dedup();
                Measure::PermittedAccessibilityServices { packages }
            })
            .collect(),
        R::AgentUninstallBlocked => agent_package
            .map(|p| Measure::UninstallBlocked {
                package: p.to_owned(),
            })
            .into_iter()
            .collect(),
        R::MinimumApiLevel
        | R::MinimumIosVersion
        | R::MinimumSecurityPatchLevel
        | R::MaximumSecurityPatchAgeDays
        | R::EncryptionPolicy
        | R::UserInstalledCaCerts => vec![],
        // Observed and reported only: the MDM sets the restriction from the exported AMAPI
        // policy or Apple profile (docs/amapi.md).
        R::UserInitiatedAddEsimSettings => vec![],
    }
}
