//! Android's integer constants as the core's values, and the choices made in reading
//! them: which SIM states say nothing, which network types have no generation the guard
//! knows, which registration serves the slot, and when full-disk encryption counts as
//! protected. The Android layer hands the platform's numbers over as it reads them.

use crate::agent::ChannelOutcome;
use crate::compliance::actions::{DelegatedScope, UserRestriction};
use crate::compliance::{EncryptionStatus, PasswordComplexity};
use crate::policy::model::UsbDataAccess;
use crate::sim::{Rat, ServiceState, SimState};
use crate::telemetry::{BootState, DmVerity, SecurityEventKind};

/// `TelephonyManager.SIM_STATE_*`; `None` for `SIM_STATE_UNKNOWN` (a transition, which
/// says nothing, so nothing is observed) and values this table does not know.
pub fn sim_state(value: i32) -> Option<SimState> {
    Some(match value {
        1 => SimState::Absent,        // ABSENT
        2..=4 => SimState::Locked,    // PIN_REQUIRED, PUK_REQUIRED, NETWORK_LOCKED
        5 | 10 => SimState::Ready,    // READY, LOADED
        6 | 11 => SimState::NotReady, // NOT_READY, PRESENT
        7..=9 => SimState::Error,     // PERM_DISABLED, CARD_IO_ERROR, CARD_RESTRICTED
        _ => return None,             // UNKNOWN (0), newer values
    })
}

/// `ServiceState.STATE_*`; `None` for values this table does not know.
pub fn service_state(value: i32) -> Option<ServiceState> {
    Some(match value {
        0 => ServiceState::InService,
        1 => ServiceState::OutOfService,
        2 => ServiceState::EmergencyOnly,
        3 => ServiceState::PowerOff,
        _ => return None,
    })
}

/// `TelephonyManager.NETWORK_TYPE_*`; `None` when no cellular technology is reported
/// (`UNKNOWN`) or none is involved (`IWLAN`, calls over Wi-Fi). EV-DO, eHRPD (3G CDMA2000
/// data) and iDEN have no variant: they are `Unknown` rather than a neighbour that would
/// misstate their generation.
pub fn rat(network_type: i32) -> Option<Rat> {
    Some(match network_type {
        16 => Rat::Gsm,
        1 => Rat::Gprs,
        2 => Rat::Edge,
        4 => Rat::Cdma,
        7 => Rat::OneXRtt,
        3 | 17 => Rat::Umts,      // UMTS, TD_SCDMA
        8..=10 | 15 => Rat::Hspa, // HSDPA, HSUPA, HSPA, HSPAP
        13 | 19 => Rat::Lte,      // LTE, LTE_CA
        20 => Rat::Nr,
        5 | 6 | 11 | 12 | 14 => Rat::Unknown, // EVDO_0, EVDO_A, IDEN, EVDO_B, EHRPD
        _ => return None,                     // UNKNOWN (0), IWLAN (18), newer values
    })
}

/// The technology serving a slot: the voice (circuit-switched) registration when it
/// reports one, else the data registration. Voice comes first because calls and SMS,
/// what a rogue 2G base station intercepts, ride on it.
pub fn serving_rat(voice_network_type: i32, data_network_type: i32) -> Option<Rat> {
    rat(voice_network_type).or_else(|| rat(data_network_type))
}

/// `DevicePolicyManager.ENCRYPTION_STATUS_*`; `None` while encryption is being set up
/// (`ACTIVATING`) and for values this table does not know. Full-disk encryption (`ACTIVE`)
/// binds the key to the lock screen only when one is set (`device_secure`).
pub fn encryption(status: i32, device_secure: bool) -> Option<EncryptionStatus> {
    Some(match status {
        0 | 1 => EncryptionStatus::Unencrypted, // UNSUPPORTED, INACTIVE
        4 => EncryptionStatus::EncryptedWithoutPassword, // ACTIVE_DEFAULT_KEY
        5 => EncryptionStatus::EncryptedWithPassword, // ACTIVE_PER_USER
        3 if device_secure => EncryptionStatus::EncryptedWithPassword,
        3 => EncryptionStatus::EncryptedWithoutPassword,
        _ => return None,
    })
}

/// `DevicePolicyManager.PASSWORD_COMPLEXITY_*`; `None` for values this table does not know.
pub fn password_complexity(value: i32) -> Option<PasswordComplexity> {
    Some(match value {
        0 => PasswordComplexity::None,
        0x10000 => PasswordComplexity::Low,
        0x30000 => PasswordComplexity::Medium,
        0x50000 => PasswordComplexity::High,
        _ => return None,
    })
}

/// `UserManager.DISALLOW_*` (and `ENSURE_VERIFY_APPS`) keys the agent reads and sets.
mod restriction_key {
    pub(super) const DEBUGGING_FEATURES: &str = "no_debugging_features";
    pub(super) const INSTALL_UNKNOWN_SOURCES: &str = "no_install_unknown_sources";
    pub(super) const INSTALL_UNKNOWN_SOURCES_GLOBALLY: &str = "no_install_unknown_sources_globally";
    pub(super) const ENSURE_VERIFY_APPS: &str = "ensure_verify_apps";
    pub(super) const CELLULAR_2G: &str = "no_cellular_2g";
    pub(super) const USB_FILE_TRANSFER: &str = "no_usb_file_transfer";
    pub(super) const CONFIG_MOBILE_NETWORKS: &str = "no_config_mobile_networks";
    pub(super) const SIM_GLOBALLY: &str = "no_sim_globally";
}

/// The `UserManager` key a restriction of the core is set under
/// (`DevicePolicyManager.addUserRestriction`).
pub fn restriction_key(restriction: UserRestriction) -> &'static str {
    use restriction_key as k;
    match restriction {
        UserRestriction::DisallowDebuggingFeatures => k::DEBUGGING_FEATURES,
        UserRestriction::DisallowInstallUnknownSourcesGlobally => {
            k::INSTALL_UNKNOWN_SOURCES_GLOBALLY
        }
        UserRestriction::EnsureVerifyApps => k::ENSURE_VERIFY_APPS,
        UserRestriction::DisallowCellular2g => k::CELLULAR_2G,
        UserRestriction::DisallowUsbFileTransfer => k::USB_FILE_TRANSFER,
        UserRestriction::DisallowConfigMobileNetworks => k::CONFIG_MOBILE_NETWORKS,
    }
}

/// What the user restrictions in force say about the device settings the compliance
/// rules read. `None`: not observable this way (without privileges, a setting that no
/// restriction pins can be either way), so the rule is judged unknown, never compliant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestrictionFacts {
    /// No `DISALLOW_INSTALL_UNKNOWN_SOURCES(_GLOBALLY)` is in force.
    pub unknown_sources_allowed: bool,
    /// `true` while `ENSURE_VERIFY_APPS` is in force.
    pub verify_apps_enabled: Option<bool>,
    /// `false` while `DISALLOW_CELLULAR_2G` is in force (API 34 and later).
    pub cellular_2g_enabled: Option<bool>,
    /// `DISALLOW_CONFIG_MOBILE_NETWORKS` is in force.
    pub mobile_networks_config_disabled: bool,
    /// `DISALLOW_SIM_GLOBALLY` is in force (API 35; below it no such control exists).
    pub add_esim_disallowed: bool,
    /// USB data: none when data signalling is off (API 31), no file transfer under
    /// `DISALLOW_USB_FILE_TRANSFER`, otherwise allowed.
    pub usb_data_access: UsbDataAccess,
}

/// The facts from the restriction keys in force (`UserManager.getUserRestrictions()`,
/// the keys set to true), the API level, and `DevicePolicyManager.isUsbDataSignalingEnabled()`
/// where it exists (API 31).
pub fn restriction_facts(
    active: &[String],
    api_level: u32,
    usb_data_signaling_enabled: Option<bool>,
) -> RestrictionFacts {
    use restriction_key as k;
    let on = |key: &str| active.iter().any(|a| a == key);
    RestrictionFacts {
        unknown_sources_allowed: !(on(k::INSTALL_UNKNOWN_SOURCES)
            || on(k::INSTALL_UNKNOWN_SOURCES_GLOBALLY)),
        verify_apps_enabled: on(k::ENSURE_VERIFY_APPS).then_some(true),
        cellular_2g_enabled: (api_level >= 34 && on(k::CELLULAR_2G)).then_some(false),
        mobile_networks_config_disabled: on(k::CONFIG_MOBILE_NETWORKS),
        add_esim_disallowed: api_level >= 35 && on(k::SIM_GLOBALLY),
        usb_data_access: if api_level >= 31 && usb_data_signaling_enabled == Some(false) {
            UsbDataAccess::DisallowUsbDataTransfer
        } else if on(k::USB_FILE_TRANSFER) {
            UsbDataAccess::DisallowUsbFileTransfer
        } else {
            UsbDataAccess::AllowUsbDataTransfer
        },
    }
}

/// The `android.util.Log` priority (`VERBOSE` 2 to `ERROR` 6) of a log record's level.
pub fn log_priority(level: log::Level) -> i32 {
    match level {
        log::Level::Error => 6,
        log::Level::Warn => 5,
        log::Level::Info => 4,
        log::Level::Debug => 3,
        log::Level::Trace => 2,
    }
}

/// How the agent makes a `DevicePolicyManager` call for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// As the device owner, through its admin component.
    Owner,
    /// As a delegate of the device owner, with a null admin.
    Delegate,
    /// Neither: the agent is not the device owner and holds no scope for it.
    NotPermitted {
        /// Why, naming the scope when one would do.
        reason: String,
    },
}

/// Who makes the calls for an action that needs `scope` (`None`: the device owner's
/// alone), given whether the agent is the device owner (with an admin component) and the
/// `DELEGATION_*` scopes `getDelegatedScopes` reports now: the core routed the action by
/// the deployment it last read, and the phone may have changed since.
pub fn caller(scope: Option<DelegatedScope>, device_owner: bool, delegated: &[String]) -> Caller {
    if device_owner {
        return Caller::Owner;
    }
    match scope {
        None => Caller::NotPermitted {
            reason: "this app is not the device owner".into(),
        },
        Some(scope) if delegated.iter().any(|d| d == scope.android_constant()) => Caller::Delegate,
        Some(scope) => Caller::NotPermitted {
            reason: format!(
                "this app is not the device owner and holds no {}",
                scope.android_constant()
            ),
        },
    }
}

/// `SubscriptionInfo.getMccString()` and `getMncString()` as the home network "MCCMNC";
/// `None` unless both are there (blank counts as absent).
pub fn mcc_mnc(mcc: Option<&str>, mnc: Option<&str>) -> Option<String> {
    let mcc = mcc.map(str::trim).filter(|s| !s.is_empty())?;
    let mnc = mnc.map(str::trim).filter(|s| !s.is_empty())?;
    Some(format!("{mcc}{mnc}"))
}

/// Whether a reading of `slot_index` (`SubscriptionInfo.getSimSlotIndex()`, the slot a
/// service listener was registered for) names a slot: `INVALID_SIM_SLOT_INDEX` (-1), which
/// an inactive subscription also reports, does not, and such a reading says nothing.
pub fn names_slot(slot_index: i32) -> bool {
    slot_index >= 0
}

/// `KeyedAppStatesCallback.STATUS_*` (enterprise-feedback 1.1) with the callback's
/// exception type, as the delivery run takes it. "No receiver" is not among them: the
/// reporter counts it as success, so the platform checks for a receiver itself.
pub fn keyed_app_states_outcome(status: i32, error_name: Option<&str>) -> ChannelOutcome {
    match status {
        0 => ChannelOutcome::Sent,     // STATUS_SUCCESS
        2 => ChannelOutcome::TooLarge, // STATUS_TRANSACTION_TOO_LARGE_ERROR
        3 => ChannelOutcome::Failed {
            // STATUS_EXCEEDED_BUFFER_ERROR: too many sends without a connection to the DPC
            reason: "reporter buffer exceeded (no connection to the DPC)".into(),
        },
        _ => ChannelOutcome::Failed {
            reason: match error_name {
                Some(name) => format!("reporter status {status}: {name}"),
                None => format!("reporter status {status}"),
            },
        },
    }
}

/// One value of a security-log entry's payload (`SecurityEvent.getData()`), as the
/// platform typed it: the layout of each tag's payload is read here, not natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogValue {
    /// A `String`.
    Text(String),
    /// Any `Number` (`Integer`, `Long`).
    Number(i64),
    /// Anything else (`null`, a nested array, a type a later release adds).
    Other,
}

/// `SecurityEvent.getData()`: a single string, an `Object[]`, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPayload {
    /// No payload (or one of a type the agent does not read).
    None,
    /// A single string (the adb command, the pulled path).
    Text(String),
    /// An `Object[]`, field by field.
    Fields(Vec<LogValue>),
}

/// `SecurityLog.TAG_*` values (AOSP `SecurityLogTags.logtags`).
mod security_tag {
    pub(super) const ADB_SHELL_INTERACTIVE: i32 = 210001;
    pub(super) const ADB_SHELL_CMD: i32 = 210002;
    pub(super) const SYNC_RECV_FILE: i32 = 210003;
    pub(super) const APP_PROCESS_START: i32 = 210005;
    pub(super) const KEYGUARD_DISMISS_AUTH_ATTEMPT: i32 = 210007;
    pub(super) const OS_STARTUP: i32 = 210009;
    pub(super) const MEDIA_MOUNT: i32 = 210013;
    pub(super) const WIPE_FAILURE: i32 = 210023;
    pub(super) const CERT_AUTHORITY_INSTALLED: i32 = 210029;
    pub(super) const WIFI_CONNECTION: i32 = 210037;
    pub(super) const BLUETOOTH_CONNECTION: i32 = 210039;
}

/// A security-log entry (`SecurityEvent.getTag()`, `getData()`) as the core's event;
/// `None` for a tag the agent does not read, or a payload whose fields are not where
/// the tag puts them (a later release may add fields; missing ones are never guessed).
pub fn security_event(tag: i32, payload: &LogPayload) -> Option<SecurityEventKind> {
    use security_tag as t;
    let fields: &[LogValue] = match payload {
        LogPayload::Fields(fields) => fields,
        _ => &[],
    };
    let text = |i: usize| match fields.get(i) {
        Some(LogValue::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = |i: usize| match fields.get(i) {
        Some(LogValue::Number(n)) => Some(*n == 1),
        _ => None,
    };
    let single = || match payload {
        LogPayload::Text(s) => Some(s.clone()),
        _ => None,
    };
    Some(match tag {
        t::ADB_SHELL_INTERACTIVE => SecurityEventKind::AdbShellInteractive,
        t::ADB_SHELL_CMD => SecurityEventKind::AdbShellCommand { command: single()? },
        t::SYNC_RECV_FILE => SecurityEventKind::AdbFilePulled { path: single()? },
        // [processName, startTime, uid, pid, seinfo, apkHash]
        t::APP_PROCESS_START => SecurityEventKind::AppProcessStart {
            process: text(0)?,
            package: None,
            apk_sha256: text(5).filter(|h| h.len() == 64),
        },
        // [result, strength]
        t::KEYGUARD_DISMISS_AUTH_ATTEMPT => {
            SecurityEventKind::KeyguardAuthAttempt { success: flag(0)? }
        }
        // [verifiedBootState, dmVerityMode]
        t::OS_STARTUP => SecurityEventKind::OsStartup {
            verified_boot_state: boot_state(&text(0)?)?,
            dm_verity: dm_verity(&text(1)?)?,
        },
        // [mountPoint, volumeLabel]
        t::MEDIA_MOUNT => SecurityEventKind::MediaMount {
            mount_point: text(0)?,
        },
        // [result, subject, userId]
        t::CERT_AUTHORITY_INSTALLED => SecurityEventKind::CertAuthorityInstalled {
            success: flag(0)?,
            subject: text(1).unwrap_or_default(),
            sha256: None,
        },
        t::WIFI_CONNECTION => SecurityEventKind::WifiConnection,
        // [address, success, reason]
        t::BLUETOOTH_CONNECTION => SecurityEventKind::BluetoothConnection { success: flag(1)? },
        t::WIPE_FAILURE => SecurityEventKind::WipeFailure,
        _ => return None,
    })
}

/// `ro.boot.verifiedbootstate` as the security log writes it (any case).
fn boot_state(text: &str) -> Option<BootState> {
    Some(match text.to_ascii_lowercase().as_str() {
        "green" => BootState::Green,
        "yellow" => BootState::Yellow,
        "orange" => BootState::Orange,
        "red" => BootState::Red,
        _ => return None,
    })
}

/// `ro.boot.veritymode` as the security log writes it (any case).
fn dm_verity(text: &str) -> Option<DmVerity> {
    Some(match text.to_ascii_lowercase().as_str() {
        "enforcing" => DmVerity::Enforcing,
        "eio" => DmVerity::Eio,
        "disabled" => DmVerity::Disabled,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(values: &[LogValue]) -> LogPayload {
        LogPayload::Fields(values.to_vec())
    }

    fn text(s: &str) -> LogValue {
        LogValue::Text(s.into())
    }

    #[test]
    fn restrictions_in_force_become_setting_facts_and_unpinned_ones_stay_unknown() {
        let keys = |ks: &[&str]| ks.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let none = restriction_facts(&[], 34, Some(true));
        assert!(none.unknown_sources_allowed);
        assert_eq!(none.verify_apps_enabled, None, "not pinned: unknown");
        assert_eq!(none.cellular_2g_enabled, None);
        assert_eq!(none.usb_data_access, UsbDataAccess::AllowUsbDataTransfer);
        let all = restriction_facts(
            &keys(&[
                "no_install_unknown_sources_globally",
                "ensure_verify_apps",
                "no_cellular_2g",
                "no_config_mobile_networks",
                "no_sim_globally",
                "no_usb_file_transfer",
            ]),
            35,
            Some(true),
        );
        assert!(!all.unknown_sources_allowed);
        assert_eq!(all.verify_apps_enabled, Some(true));
        assert_eq!(all.cellular_2g_enabled, Some(false));
        assert!(all.mobile_networks_config_disabled && all.add_esim_disallowed);
        assert_eq!(all.usb_data_access, UsbDataAccess::DisallowUsbFileTransfer);
        let old = restriction_facts(&keys(&["no_cellular_2g", "no_sim_globally"]), 33, None);
        assert_eq!(old.cellular_2g_enabled, None, "no 2G control below API 34");
        assert!(!old.add_esim_disallowed, "no eSIM control below API 35");
        let off = restriction_facts(&keys(&["no_usb_file_transfer"]), 31, Some(false));
        assert_eq!(
            off.usb_data_access,
            UsbDataAccess::DisallowUsbDataTransfer,
            "signalling off wins"
        );
        assert_eq!(
            restriction_key(UserRestriction::DisallowConfigMobileNetworks),
            "no_config_mobile_networks"
        );
        assert_eq!(
            restriction_key(UserRestriction::EnsureVerifyApps),
            "ensure_verify_apps"
        );
    }

    #[test]
    fn log_levels_take_logcat_priorities() {
        assert_eq!(log_priority(log::Level::Error), 6);
        assert_eq!(log_priority(log::Level::Info), 4);
        assert_eq!(log_priority(log::Level::Trace), 2, "VERBOSE");
        assert!(log_priority(log::Level::Warn) > log_priority(log::Level::Debug));
    }

    #[test]
    fn the_owner_calls_through_its_admin_and_a_companion_only_with_the_scope() {
        let package_access = Some(DelegatedScope::PackageAccess);
        assert_eq!(caller(package_access, true, &[]), Caller::Owner);
        assert_eq!(
            caller(package_access, false, &["delegation-package-access".into()]),
            Caller::Delegate
        );
        assert_eq!(
            caller(
                package_access,
                false,
                &["delegation-block-uninstall".into()]
            ),
            Caller::NotPermitted {
                reason: "this app is not the device owner and holds no delegation-package-access"
                    .into()
            }
        );
        assert_eq!(
            caller(None, false, &["delegation-package-access".into()]),
            Caller::NotPermitted {
                reason: "this app is not the device owner".into()
            },
            "no scope delegates a user restriction"
        );
        use crate::compliance::actions::{Action, Measure};
        assert_eq!(
            Action::Apply {
                measure: Measure::AccessBlocked
            }
            .delegated_scope(),
            Some(DelegatedScope::PackageAccess)
        );
        assert_eq!(
            Action::Lift {
                measure: Measure::UninstallBlocked {
                    package: "org.portcullis".into()
                }
            }
            .delegated_scope(),
            Some(DelegatedScope::BlockUninstall)
        );
        assert_eq!(Action::LockDevice.delegated_scope(), None);
    }

    #[test]
    fn home_network_needs_both_codes_and_a_slot_needs_an_index() {
        assert_eq!(mcc_mnc(Some(" 234"), Some("15 ")), Some("23415".into()));
        assert_eq!(mcc_mnc(Some("234"), Some(" ")), None);
        assert_eq!(mcc_mnc(None, Some("15")), None);
        assert!(names_slot(0));
        assert!(!names_slot(-1), "INVALID_SIM_SLOT_INDEX");
    }

    #[test]
    fn keyed_app_states_answers_become_channel_outcomes() {
        assert_eq!(keyed_app_states_outcome(0, None), ChannelOutcome::Sent);
        assert_eq!(keyed_app_states_outcome(2, None), ChannelOutcome::TooLarge);
        assert!(matches!(
            keyed_app_states_outcome(3, None),
            ChannelOutcome::Failed { reason } if reason.contains("buffer exceeded")
        ));
        assert_eq!(
            keyed_app_states_outcome(1, Some("IllegalStateException")),
            ChannelOutcome::Failed {
                reason: "reporter status 1: IllegalStateException".into()
            }
        );
        assert_eq!(
            keyed_app_states_outcome(9, None),
            ChannelOutcome::Failed {
                reason: "reporter status 9".into()
            }
        );
    }

    #[test]
    fn security_log_payloads_are_read_by_tag() {
        assert_eq!(
            security_event(210002, &LogPayload::Text("pm list packages".into())),
            Some(SecurityEventKind::AdbShellCommand {
                command: "pm list packages".into()
            })
        );
        assert_eq!(
            security_event(210002, &LogPayload::None),
            None,
            "a command without its text is not guessed"
        );
        assert_eq!(
            security_event(210001, &LogPayload::None),
            Some(SecurityEventKind::AdbShellInteractive)
        );
        let hash = "ab".repeat(32);
        let start = fields(&[
            text("com.example"),
            LogValue::Number(1),
            LogValue::Number(10123),
            LogValue::Number(42),
            text("default"),
            text(&hash),
        ]);
        assert_eq!(
            security_event(210005, &start),
            Some(SecurityEventKind::AppProcessStart {
                process: "com.example".into(),
                package: None,
                apk_sha256: Some(hash),
            })
        );
        let short_hash = fields(&[
            text("com.example"),
            LogValue::Other,
            LogValue::Other,
            LogValue::Other,
            LogValue::Other,
            text("abc"),
        ]);
        assert!(matches!(
            security_event(210005, &short_hash),
            Some(SecurityEventKind::AppProcessStart {
                apk_sha256: None,
                ..
            })
        ));
        assert_eq!(
            security_event(210009, &fields(&[text("ORANGE"), text("enforcing")])),
            Some(SecurityEventKind::OsStartup {
                verified_boot_state: BootState::Orange,
                dm_verity: DmVerity::Enforcing,
            }),
            "boot states in any case"
        );
        assert_eq!(
            security_event(210009, &fields(&[text("purple"), text("enforcing")])),
            None
        );
        assert_eq!(
            security_event(
                210029,
                &fields(&[LogValue::Number(1), text("CN=Proxy"), LogValue::Number(0)])
            ),
            Some(SecurityEventKind::CertAuthorityInstalled {
                success: true,
                subject: "CN=Proxy".into(),
                sha256: None,
            })
        );
        assert_eq!(
            security_event(
                210039,
                &fields(&[text("00:11"), LogValue::Number(0), text("")])
            ),
            Some(SecurityEventKind::BluetoothConnection { success: false })
        );
        assert_eq!(
            security_event(210007, &fields(&[text("1")])),
            None,
            "a result of the wrong type is not read"
        );
        assert_eq!(
            security_event(210023, &LogPayload::None),
            Some(SecurityEventKind::WipeFailure)
        );
        assert_eq!(
            security_event(210037, &LogPayload::None),
            Some(SecurityEventKind::WifiConnection)
        );
        assert_eq!(
            security_event(210013, &fields(&[text("/mnt/media_rw/1234"), text("USB")])),
            Some(SecurityEventKind::MediaMount {
                mount_point: "/mnt/media_rw/1234".into()
            })
        );
        assert_eq!(
            security_event(210999, &LogPayload::None),
            None,
            "unread tag"
        );
    }

    #[test]
    fn sim_states_group_as_the_guard_reads_them() {
        assert_eq!(sim_state(0), None, "UNKNOWN says nothing");
        assert_eq!(sim_state(1), Some(SimState::Absent));
        assert_eq!(sim_state(3), Some(SimState::Locked), "PUK");
        assert_eq!(sim_state(10), Some(SimState::Ready), "LOADED");
        assert_eq!(sim_state(11), Some(SimState::NotReady), "PRESENT");
        assert_eq!(sim_state(8), Some(SimState::Error), "CARD_IO_ERROR");
        assert_eq!(sim_state(12), None);
        assert_eq!(service_state(2), Some(ServiceState::EmergencyOnly));
        assert_eq!(service_state(4), None);
    }

    #[test]
    fn voice_serves_before_data_and_wifi_calling_is_no_cellular_technology() {
        assert_eq!(
            serving_rat(16, 13),
            Some(Rat::Gsm),
            "2G voice under LTE data"
        );
        assert_eq!(serving_rat(0, 13), Some(Rat::Lte));
        assert_eq!(serving_rat(18, 0), None, "IWLAN");
        assert_eq!(
            rat(14),
            Some(Rat::Unknown),
            "eHRPD has no generation of its own"
        );
        assert_eq!(rat(19), Some(Rat::Lte), "LTE_CA");
        assert_eq!(rat(17), Some(Rat::Umts), "TD_SCDMA");
    }

    #[test]
    fn full_disk_encryption_protects_only_with_a_lock_screen() {
        assert_eq!(
            encryption(3, true),
            Some(EncryptionStatus::EncryptedWithPassword)
        );
        assert_eq!(
            encryption(3, false),
            Some(EncryptionStatus::EncryptedWithoutPassword)
        );
        assert_eq!(
            encryption(5, false),
            Some(EncryptionStatus::EncryptedWithPassword)
        );
        assert_eq!(encryption(0, true), Some(EncryptionStatus::Unencrypted));
        assert_eq!(encryption(2, true), None, "activating");
        assert_eq!(
            password_complexity(0x30000),
            Some(PasswordComplexity::Medium)
        );
        assert_eq!(password_complexity(7), None);
    }
}
