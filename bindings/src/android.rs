//! Android's integer constants, read by the core (`portcullis_core::android`): the
//! Android layer passes the platform's numbers as it reads them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_core::compliance::actions;
use portcullis_core::telemetry::{BootState, DmVerity, SecurityEventKind};
use portcullis_core::{android, platform};

use crate::{
    ChannelOutcome, Connectivity, DmVerityMode, EncryptionStatus, Measure, PasswordComplexity, Rat,
    Remediation, Restriction, SecurityLogEvent, ServiceObservation, ServiceState, SimObservation,
    SimState, UsbDataAccess, VerifiedBootState,
};

/// `TelephonyManager.getSimState(slot)`; none for a state that says nothing (a transition).
#[uniffi::export]
pub fn android_sim_state(value: i32) -> Option<SimState> {
    android::sim_state(value).map(Into::into)
}

/// `ServiceState.getState()`; none for a value the library does not know.
#[uniffi::export]
pub fn android_service_state(value: i32) -> Option<ServiceState> {
    android::service_state(value).map(Into::into)
}

/// The technology serving a slot, from `getVoiceNetworkType()` and `getDataNetworkType()`
/// read at the same moment; none when no cellular technology is involved.
#[uniffi::export]
pub fn android_serving_rat(voice_network_type: i32, data_network_type: i32) -> Option<Rat> {
    android::serving_rat(voice_network_type, data_network_type).map(Into::into)
}

/// `DevicePolicyManager.getStorageEncryptionStatus()` with `KeyguardManager.isDeviceSecure()`.
#[uniffi::export]
pub fn android_encryption(status: i32, device_secure: bool) -> Option<EncryptionStatus> {
    android::encryption(status, device_secure).map(Into::into)
}

/// `DevicePolicyManager.getPasswordComplexity()`.
#[uniffi::export]
pub fn android_password_complexity(value: i32) -> Option<PasswordComplexity> {
    android::password_complexity(value).map(Into::into)
}

/// One value of `SecurityEvent.getData()`'s array, typed as the platform returned it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SecurityLogValue {
    /// A `String`.
    Text {
        /// The string.
        value: String,
    },
    /// An `Integer` or a `Long`.
    Number {
        /// The number.
        value: i64,
    },
    /// Anything else (`null`, a nested array).
    Other,
}

/// `SecurityEvent.getData()`: a `String`, an `Object[]`, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SecurityLogPayload {
    /// `null`, or a type the library does not read.
    None,
    /// A single string.
    Text {
        /// The string.
        value: String,
    },
    /// An `Object[]`, in order.
    Fields {
        /// The values.
        values: Vec<SecurityLogValue>,
    },
}

/// A security-log entry (`getTag()`, `getTimeNanos()`, `getData()`) as the library's
/// event; none for a tag the library does not read or a payload not shaped as the tag says.
#[uniffi::export]
pub fn android_security_log_event(
    tag: i32,
    time_nanos: i64,
    data: SecurityLogPayload,
) -> Option<SecurityLogEvent> {
    let payload = match data {
        SecurityLogPayload::None => android::LogPayload::None,
        SecurityLogPayload::Text { value } => android::LogPayload::Text(value),
        SecurityLogPayload::Fields { values } => android::LogPayload::Fields(
            values
                .into_iter()
                .map(|v| match v {
                    SecurityLogValue::Text { value } => android::LogValue::Text(value),
                    SecurityLogValue::Number { value } => android::LogValue::Number(value),
                    SecurityLogValue::Other => android::LogValue::Other,
                })
                .collect(),
        ),
    };
    let kind = android::security_event(tag, &payload)?;
    let nanos = time_nanos.rem_euclid(1_000_000_000) as u32;
    let secs = time_nanos.div_euclid(1_000_000_000);
    let at = if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs.unsigned_abs(), nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(u64::from(nanos))
    };
    Some(security_log_event(at, kind))
}

fn security_log_event(at: SystemTime, kind: SecurityEventKind) -> SecurityLogEvent {
    use SecurityEventKind as K;
    match kind {
        K::AdbShellCommand { command } => SecurityLogEvent::AdbShellCommand { at, command },
        K::AdbShellInteractive => SecurityLogEvent::AdbShellInteractive { at },
        K::AdbFilePulled { path } => SecurityLogEvent::AdbFilePulled { at, path },
        K::AppProcessStart {
            process,
            package,
            apk_sha256,
        } => SecurityLogEvent::AppProcessStart {
            at,
            process,
            package,
            apk_sha256,
        },
        K::CertAuthorityInstalled {
            success,
            subject,
            sha256,
        } => SecurityLogEvent::CertAuthorityInstalled {
            at,
            success,
            subject,
            sha256,
        },
        K::KeyguardAuthAttempt { success } => SecurityLogEvent::KeyguardAuthAttempt { at, success },
        K::OsStartup {
            verified_boot_state,
            dm_verity,
        } => SecurityLogEvent::OsStartup {
            at,
            verified_boot_state: match verified_boot_state {
                BootState::Green => VerifiedBootState::Green,
                BootState::Yellow => VerifiedBootState::Yellow,
                BootState::Orange => VerifiedBootState::Orange,
                BootState::Red => VerifiedBootState::Red,
            },
            dm_verity: match dm_verity {
                DmVerity::Enforcing => DmVerityMode::Enforcing,
                DmVerity::Eio => DmVerityMode::Eio,
                DmVerity::Disabled => DmVerityMode::Disabled,
            },
        },
        K::MediaMount { mount_point } => SecurityLogEvent::MediaMount { at, mount_point },
        K::WifiConnection => SecurityLogEvent::WifiConnection { at },
        K::BluetoothConnection { success } => SecurityLogEvent::BluetoothConnection { at, success },
        K::WipeFailure => SecurityLogEvent::WipeFailure { at },
    }
}

/// A `KeyedAppStatesCallback` answer (`STATUS_*`, and the exception's type name when one
/// came with it) as the delivery run takes it.
#[uniffi::export]
pub fn android_keyed_app_states_outcome(status: i32, error_name: Option<String>) -> ChannelOutcome {
    match android::keyed_app_states_outcome(status, error_name.as_deref()) {
        portcullis_core::agent::ChannelOutcome::Sent => ChannelOutcome::Sent,
        portcullis_core::agent::ChannelOutcome::NoReceiver => ChannelOutcome::NoReceiver,
        portcullis_core::agent::ChannelOutcome::TooLarge => ChannelOutcome::TooLarge,
        portcullis_core::agent::ChannelOutcome::Failed { reason } => {
            ChannelOutcome::Failed { reason }
        }
    }
}

/// iOS's `serviceCurrentRadioAccessTechnology` value for one service
/// (`CTRadioAccessTechnology*`) as the technology the guard reads.
#[uniffi::export]
pub fn ios_rat(technology: String) -> Rat {
    portcullis_core::ios::rat(&technology).into()
}

/// The device's connectivity from per-network callbacks (`ConnectivityManager.NetworkCallback`
/// keyed by `Network.getNetworkHandle()`) and airplane mode; each method answers the
/// connectivity to feed the agent when it changed, and none otherwise or before the first
/// network callback (`portcullis_core::platform::ConnectivityTracker`).
#[derive(Debug, Default, uniffi::Object)]
pub struct ConnectivityTracker {
    inner: Mutex<platform::ConnectivityTracker>,
}

impl ConnectivityTracker {
    fn tracker(&self) -> std::sync::MutexGuard<'_, platform::ConnectivityTracker> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[uniffi::export]
impl ConnectivityTracker {
    /// A tracker that has heard from no network yet.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// `onCapabilitiesChanged`: `hasTransport(TRANSPORT_WIFI)` and `(TRANSPORT_CELLULAR)`.
    pub fn network_changed(&self, handle: i64, wifi: bool, cellular: bool) -> Option<Connectivity> {
        self.tracker()
            .network_changed(handle, wifi, cellular)
            .map(Into::into)
    }

    /// `onLost`.
    pub fn network_lost(&self, handle: i64) -> Option<Connectivity> {
        self.tracker().network_lost(handle).map(Into::into)
    }

    /// `Settings.Global.AIRPLANE_MODE_ON`, at start and on `ACTION_AIRPLANE_MODE_CHANGED`.
    pub fn airplane_mode_changed(&self, on: bool) -> Option<Connectivity> {
        self.tracker().airplane_mode_changed(on).map(Into::into)
    }

    /// The state to report now, changed or not; none before the first network callback.
    pub fn reading(&self) -> Option<Connectivity> {
        self.tracker().reading().map(Into::into)
    }

    /// The state now (before any network callback: no network known).
    pub fn current(&self) -> Connectivity {
        self.tracker().current().into()
    }
}

impl From<portcullis_core::sim::Connectivity> for Connectivity {
    fn from(c: portcullis_core::sim::Connectivity) -> Self {
        Connectivity {
            wifi: c.wifi,
            cellular_data: c.cellular_data,
            airplane_mode: c.airplane_mode,
        }
    }
}

/// One slot as read (`TelephonyManager.getSimState(slot)`, and with an active subscription
/// its `SubscriptionInfo` fields, the IMSI and the phone number) as the observation to
/// feed; none when there is nothing to report (no slot index, or a transitional state).
/// Identifiers pass as read: the core takes blank ones as not revealed and validates the rest.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn android_sim_observation(
    slot_index: i32,
    sim_state: i32,
    iccid: Option<String>,
    imsi: Option<String>,
    phone_number: Option<String>,
    mcc: Option<String>,
    mnc: Option<String>,
    carrier_name: Option<String>,
    embedded: Option<bool>,
) -> Option<SimObservation> {
    if !android::names_slot(slot_index) {
        return None;
    }
    Some(SimObservation {
        slot: slot_index,
        state: android::sim_state(sim_state)?.into(),
        iccid,
        imsi,
        msisdn: phone_number,
        mcc_mnc: android::mcc_mnc(mcc.as_deref(), mnc.as_deref()),
        carrier_name,
        embedded,
    })
}

/// One service-state reading (`ServiceState.getState()`, `getRoaming()`, and the slot's
/// voice and data network types read at the same moment) as the observation to feed;
/// none without a slot index or a state the library knows.
#[uniffi::export]
pub fn android_service_observation(
    slot_index: i32,
    state: i32,
    roaming: Option<bool>,
    voice_network_type: i32,
    data_network_type: i32,
) -> Option<ServiceObservation> {
    if !android::names_slot(slot_index) {
        return None;
    }
    Some(ServiceObservation {
        slot: slot_index,
        state: android::service_state(state)?.into(),
        roaming,
        rat: android::serving_rat(voice_network_type, data_network_type).map(Into::into),
    })
}

/// What the user restrictions in force say about the settings the compliance rules read;
/// `null` where a restriction does not pin the setting (judged unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct AndroidRestrictionFacts {
    /// No `DISALLOW_INSTALL_UNKNOWN_SOURCES(_GLOBALLY)` in force.
    pub unknown_sources_allowed: bool,
    /// `true` while `ENSURE_VERIFY_APPS` is in force.
    pub verify_apps_enabled: Option<bool>,
    /// `false` while `DISALLOW_CELLULAR_2G` is in force (API 34+).
    pub cellular_2g_enabled: Option<bool>,
    /// `DISALLOW_CONFIG_MOBILE_NETWORKS` in force.
    pub mobile_networks_config_disabled: bool,
    /// `DISALLOW_SIM_GLOBALLY` in force (API 35+).
    pub add_esim_disallowed: bool,
    /// The USB data the device lets through.
    pub usb_data_access: UsbDataAccess,
}

/// The setting facts from `UserManager.getUserRestrictions()` (the keys set to true), the
/// API level and `isUsbDataSignalingEnabled()` (API 31+; null below).
#[uniffi::export]
pub fn android_restriction_facts(
    active_restrictions: Vec<String>,
    api_level: u32,
    usb_data_signaling_enabled: Option<bool>,
) -> AndroidRestrictionFacts {
    let f = android::restriction_facts(&active_restrictions, api_level, usb_data_signaling_enabled);
    AndroidRestrictionFacts {
        unknown_sources_allowed: f.unknown_sources_allowed,
        verify_apps_enabled: f.verify_apps_enabled,
        cellular_2g_enabled: f.cellular_2g_enabled,
        mobile_networks_config_disabled: f.mobile_networks_config_disabled,
        add_esim_disallowed: f.add_esim_disallowed,
        usb_data_access: f.usb_data_access.into(),
    }
}

/// The `UserManager` key the core's `restriction` is set under (`addUserRestriction`).
#[uniffi::export]
pub fn android_restriction_key(restriction: Restriction) -> String {
    android::restriction_key(restriction.into()).to_owned()
}

/// The `android.util.Log` priority of a record's level (for `Log.println`).
#[uniffi::export]
pub(crate) fn android_log_priority(level: crate::LogLevel) -> i32 {
    android::log_priority(match level {
        crate::LogLevel::Error => log::Level::Error,
        crate::LogLevel::Warn => log::Level::Warn,
        crate::LogLevel::Info => log::Level::Info,
        crate::LogLevel::Debug => log::Level::Debug,
        crate::LogLevel::Trace => log::Level::Trace,
    })
}

/// How the agent makes the `DevicePolicyManager` calls for an action.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EnforcementCaller {
    /// As the device owner, through its admin component.
    Owner,
    /// As a delegate, with a null admin.
    Delegate,
    /// Neither: report the action not possible with `reason`.
    NotPermitted {
        /// Why, naming the scope when one would do.
        reason: String,
    },
}

/// Who makes the calls for `action` now: the device owner (with an admin component), a
/// delegate holding the scope the action needs (`getDelegatedScopes`), or nobody.
#[uniffi::export]
pub fn android_enforcement_caller(
    action: Remediation,
    device_owner: bool,
    delegated_scopes: Vec<String>,
) -> EnforcementCaller {
    let scope = match &action {
        Remediation::Apply { measure } | Remediation::Lift { measure } => {
            core_measure(measure).delegated_scope()
        }
        Remediation::RemoveCaCert { .. } => Some(actions::REMOVE_CA_CERT_SCOPE),
        Remediation::NotifyUser { .. }
        | Remediation::LockDevice
        | Remediation::WipeDevice { .. } => None,
    };
    match android::caller(scope, device_owner, &delegated_scopes) {
        android::Caller::Owner => EnforcementCaller::Owner,
        android::Caller::Delegate => EnforcementCaller::Delegate,
        android::Caller::NotPermitted { reason } => EnforcementCaller::NotPermitted { reason },
    }
}

/// The core's form of a measure handed out through the bindings.
fn core_measure(m: &Measure) -> actions::Measure {
    use actions::Measure as M;
    match m.clone() {
        Measure::UserRestriction { restriction } => M::UserRestriction {
            restriction: restriction.into(),
        },
        Measure::UsbDataSignalingDisabled => M::UsbDataSignalingDisabled,
        Measure::MaximumTimeToLock { millis } => M::MaximumTimeToLock { millis },
        Measure::MaximumFailedPasswordsForWipe { attempts } => {
            M::MaximumFailedPasswordsForWipe { attempts }
        }
        Measure::RequiredPasswordComplexity { complexity } => M::RequiredPasswordComplexity {
            complexity: complexity.into(),
        },
        Measure::AlwaysOnVpn { package, lockdown } => M::AlwaysOnVpn { package, lockdown },
        Measure::PermittedAccessibilityServices { packages } => {
            M::PermittedAccessibilityServices { packages }
        }
        Measure::UninstallBlocked { package } => M::UninstallBlocked { package },
        Measure::PackageSuspended { package } => M::PackageSuspended { package },
        Measure::PackageHidden { package } => M::PackageHidden { package },
        Measure::AccessBlocked => M::AccessBlocked,
    }
}
