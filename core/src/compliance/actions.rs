//! What the engine asks of the native layer: lasting [`Measure`]s to apply or lift,
//! and one-shot [`Action`]s, each with a [`Route`] saying whether the agent can carry
//! it out on this platform or must report it to the MDM.

use serde::{Deserialize, Serialize};

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
    /// How.
    pub reasons: Reasons,
}

/// Something the engine asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
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

/// Who carries an action out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Route {
    /// The agent, on the device, through the platform's APIs.
    Agent,
    /// The platform does not let the agent do it (iOS, or an Android agent that is not
    /// device owner): report it to the MDM (managed-app feedback / keyed app states),
    /// whose own commands may (remove a managed app, lock, erase).
    Mdm,
}

/// An action with its route and the rule that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What the agent can do on this device, derived from the snapshot's platform facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// The platform.
    pub platform: Platform,
    /// Whether the agent is device owner (Android).
    pub device_owner: bool,
    /// The Android API level, when observed; API-gated measures need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_level: Option<u32>,
}

impl Capabilities {
    /// The capabilities a snapshot shows.
    pub fn of(snapshot: &DeviceSnapshot) -> Self {
        Capabilities {
            platform: snapshot.platform,
            device_owner: snapshot.device_owner,
            api_level: snapshot.os.api_level,
        }
    }

    /// Whether the agent has device-owner powers (Android device owner).
    pub fn is_device_owner(self) -> bool {
        self.platform == Platform::Android && self.device_owner
    }

    fn api_at_least(self, level: u32) -> bool {
        self.api_level.is_some_and(|l| l >= level)
    }

    /// Whether the agent can put `measure` in force itself.
    pub fn can_apply(self, measure: &Measure) -> bool {
        self.is_device_owner()
            && match measure {
                Measure::UserRestriction { restriction } => {
                    self.api_at_least(restriction.minimum_api_level())
                }
                Measure::UsbDataSignalingDisabled | Measure::RequiredPasswordComplexity { .. } => {
                    self.api_at_least(31)
                }
                _ => true,
            }
    }

    /// The route for a device-owner action (remove a certificate, lock, wipe).
    pub fn route_for_owner_action(self) -> Route {
        if self.is_device_owner() {
            Route::Agent
        } else {
            Route::Mdm
        }
    }

    /// The route for a measure.
    pub fn route(self, measure: &Measure) -> Route {
        if self.can_apply(measure) {
            Route::Agent
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
                packages.sort();
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
    }
}
