//! Android's integer constants as the core's values, and the choices made in reading
//! them: which SIM states say nothing, which network types have no generation the guard
//! knows, which registration serves the slot, and when full-disk encryption counts as
//! protected. The Android layer hands the platform's numbers over as it reads them.

use crate::compliance::{EncryptionStatus, PasswordComplexity};
use crate::sim::{Rat, ServiceState, SimState};

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

#[cfg(test)]
mod tests {
    use super::*;

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
