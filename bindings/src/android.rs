//! Android's integer constants, read by the core (`portcullis_core::android`): the
//! Android layer passes the platform's numbers as it reads them.

use portcullis_core::android;

use crate::{EncryptionStatus, PasswordComplexity, Rat, ServiceState, SimState};

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
