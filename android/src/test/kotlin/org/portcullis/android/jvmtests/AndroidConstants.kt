// Android constant values the tests feed as the platform would (the core reads them:
// portcullis_core::android). Each is the Android SDK's value; the comment names it.

package org.portcullis.android.jvmtests

/** `android.telephony.TelephonyManager.SIM_STATE_*` (what `getSimState(slotIndex)` returns). */
object SimStates {
    /** `SIM_STATE_UNKNOWN`: in transition; says nothing. */
    const val UNKNOWN = 0
    /** `SIM_STATE_ABSENT`. */
    const val ABSENT = 1
    /** `SIM_STATE_PIN_REQUIRED`. */
    const val PIN_REQUIRED = 2
    /** `SIM_STATE_PUK_REQUIRED`. */
    const val PUK_REQUIRED = 3
    /** `SIM_STATE_NETWORK_LOCKED`. */
    const val NETWORK_LOCKED = 4
    /** `SIM_STATE_READY`. */
    const val READY = 5
    /** `SIM_STATE_NOT_READY`. */
    const val NOT_READY = 6
    /** `SIM_STATE_PERM_DISABLED` (PUK attempts exhausted). */
    const val PERM_DISABLED = 7
    /** `SIM_STATE_CARD_IO_ERROR`. */
    const val CARD_IO_ERROR = 8
    /** `SIM_STATE_CARD_RESTRICTED`. */
    const val CARD_RESTRICTED = 9
    /** `SIM_STATE_LOADED` (@SystemApi; only in `EXTRA_SIM_STATE` of privileged broadcasts). */
    const val LOADED = 10
    /** `SIM_STATE_PRESENT` (@SystemApi; only in `EXTRA_SIM_STATE` of privileged broadcasts). */
    const val PRESENT = 11
}

/** `android.telephony.ServiceState.STATE_*` (what `ServiceState.getState()` returns). */
object ServiceStates {
    /** `STATE_IN_SERVICE`. */
    const val IN_SERVICE = 0
    /** `STATE_OUT_OF_SERVICE`. */
    const val OUT_OF_SERVICE = 1
    /** `STATE_EMERGENCY_ONLY`. */
    const val EMERGENCY_ONLY = 2
    /** `STATE_POWER_OFF`. */
    const val POWER_OFF = 3
}

/** `android.telephony.TelephonyManager.NETWORK_TYPE_*` (`getVoiceNetworkType`, `getDataNetworkType`). */
object NetworkTypes {
    /** `NETWORK_TYPE_UNKNOWN`. */
    const val UNKNOWN = 0
    /** `NETWORK_TYPE_GPRS`. */
    const val GPRS = 1
    /** `NETWORK_TYPE_EDGE`. */
    const val EDGE = 2
    /** `NETWORK_TYPE_UMTS`. */
    const val UMTS = 3
    /** `NETWORK_TYPE_CDMA` (IS-95). */
    const val CDMA = 4
    /** `NETWORK_TYPE_EVDO_0`. */
    const val EVDO_0 = 5
    /** `NETWORK_TYPE_EVDO_A`. */
    const val EVDO_A = 6
    /** `NETWORK_TYPE_1xRTT`. */
    const val ONE_X_RTT = 7
    /** `NETWORK_TYPE_HSDPA`. */
    const val HSDPA = 8
    /** `NETWORK_TYPE_HSUPA`. */
    const val HSUPA = 9
    /** `NETWORK_TYPE_HSPA`. */
    const val HSPA = 10
    /** `NETWORK_TYPE_IDEN`. */
    const val IDEN = 11
    /** `NETWORK_TYPE_EVDO_B`. */
    const val EVDO_B = 12
    /** `NETWORK_TYPE_LTE`. */
    const val LTE = 13
    /** `NETWORK_TYPE_EHRPD`. */
    const val EHRPD = 14
    /** `NETWORK_TYPE_HSPAP`. */
    const val HSPAP = 15
    /** `NETWORK_TYPE_GSM`. */
    const val GSM = 16
    /** `NETWORK_TYPE_TD_SCDMA`. */
    const val TD_SCDMA = 17
    /** `NETWORK_TYPE_IWLAN` (calls and data over Wi-Fi: no cellular radio involved). */
    const val IWLAN = 18
    /** `NETWORK_TYPE_LTE_CA` (hidden constant, still reported by some devices). */
    const val LTE_CA = 19
    /** `NETWORK_TYPE_NR`. */
    const val NR = 20
}

/** `android.app.admin.DevicePolicyManager.ENCRYPTION_STATUS_*` (`getStorageEncryptionStatus`). */
object EncryptionStatuses {
    /** `ENCRYPTION_STATUS_UNSUPPORTED`. */
    const val UNSUPPORTED = 0
    /** `ENCRYPTION_STATUS_INACTIVE`. */
    const val INACTIVE = 1
    /** `ENCRYPTION_STATUS_ACTIVATING`. */
    const val ACTIVATING = 2
    /** `ENCRYPTION_STATUS_ACTIVE`. */
    const val ACTIVE = 3
    /** `ENCRYPTION_STATUS_ACTIVE_DEFAULT_KEY`. */
    const val ACTIVE_DEFAULT_KEY = 4
    /** `ENCRYPTION_STATUS_ACTIVE_PER_USER` (file-based encryption, the norm since Android 10). */
    const val ACTIVE_PER_USER = 5
}

/** `android.app.admin.DevicePolicyManager.PASSWORD_COMPLEXITY_*` (`getPasswordComplexity`, API 29). */
object PasswordComplexities {
    const val NONE = 0
    const val LOW = 0x10000
    const val MEDIUM = 0x30000
    const val HIGH = 0x50000
}

/** `android.app.admin.SecurityLog.TAG_*` values (AOSP SecurityLogTags.logtags). */
object SecurityLogTags {
    const val ADB_SHELL_INTERACTIVE = 210001
    const val ADB_SHELL_CMD = 210002
    const val APP_PROCESS_START = 210005
    const val KEYGUARD_DISMISS_AUTH_ATTEMPT = 210007
    const val OS_STARTUP = 210009
    const val CERT_AUTHORITY_INSTALLED = 210029
}

/** `androidx.enterprise.feedback.KeyedAppState` limits (enterprise-feedback 1.1), in UTF-16 units. */
object KeyedAppStateLimits {
    const val MAX_KEY_LENGTH = 100
    const val MAX_MESSAGE_LENGTH = 1000
    const val MAX_DATA_LENGTH = 1000
}

/** `android.util.Log` priorities. */
object LogPriorities {
    const val VERBOSE = 2
    const val DEBUG = 3
    const val INFO = 4
    const val WARN = 5
    const val ERROR = 6
}
