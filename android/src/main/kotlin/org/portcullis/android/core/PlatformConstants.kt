// Android constant VALUES used by the platform-independent code in this package.
//
// Nothing in org.portcullis.android.core imports android.*: these files are compiled and
// tested on a desktop JVM against the real library (scripts/android-jvm-tests.sh), where
// android.jar is not available. Each value is the one the Android SDK defines; the comment
// names the constant it mirrors. They are part of the public SDK and never change.

package org.portcullis.android.core

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

/** `android.telephony.SubscriptionManager` values. */
object Subscriptions {
    /** `SubscriptionManager.INVALID_SIM_SLOT_INDEX` (also what an inactive subscription reports). */
    const val INVALID_SIM_SLOT_INDEX = -1
    /** `SubscriptionManager.INVALID_SUBSCRIPTION_ID`. */
    const val INVALID_SUBSCRIPTION_ID = -1
}

/** `androidx.enterprise.feedback.KeyedAppState` limits and severities (enterprise-feedback 1.1). */
object KeyedAppStateLimits {
    /** `KeyedAppState.MAX_KEY_LENGTH` (Java `String.length()`, i.e. UTF-16 units). */
    const val MAX_KEY_LENGTH = 100
    /** `KeyedAppState.MAX_MESSAGE_LENGTH`. */
    const val MAX_MESSAGE_LENGTH = 1000
    /** `KeyedAppState.MAX_DATA_LENGTH`. */
    const val MAX_DATA_LENGTH = 1000
    /** `KeyedAppState.SEVERITY_INFO`. */
    const val SEVERITY_INFO = 1
    /** `KeyedAppState.SEVERITY_ERROR`. */
    const val SEVERITY_ERROR = 2
}

/** `androidx.enterprise.feedback.KeyedAppStatesCallback.STATUS_*`. */
object KeyedAppStatesStatus {
    /** `STATUS_SUCCESS`: sent to every eligible receiver (also reported when there are none). */
    const val SUCCESS = 0
    /** `STATUS_UNKNOWN_ERROR`. */
    const val UNKNOWN_ERROR = 1
    /** `STATUS_TRANSACTION_TOO_LARGE_ERROR`: the binder transaction exceeded its limit. */
    const val TRANSACTION_TOO_LARGE = 2
    /** `STATUS_EXCEEDED_BUFFER_ERROR`: too many sends without a connection to the DPC. */
    const val EXCEEDED_BUFFER = 3
}

/** `android.util.Log` priorities. */
object LogPriorities {
    /** `Log.VERBOSE`. */
    const val VERBOSE = 2
    /** `Log.DEBUG`. */
    const val DEBUG = 3
    /** `Log.INFO`. */
    const val INFO = 4
    /** `Log.WARN`. */
    const val WARN = 5
    /** `Log.ERROR`. */
    const val ERROR = 6
}

/** `android.os.UserManager.DISALLOW_*` restriction keys the policies use. */
object UserRestrictionKeys {
    /** `UserManager.DISALLOW_CELLULAR_2G` (API 34). */
    const val CELLULAR_2G = "no_cellular_2g"
    /** `UserManager.DISALLOW_CONFIG_MOBILE_NETWORKS`. */
    const val CONFIG_MOBILE_NETWORKS = "no_config_mobile_networks"
    /** `UserManager.DISALLOW_SMS`. */
    const val SMS = "no_sms"
    /** `UserManager.DISALLOW_DEBUGGING_FEATURES`. */
    const val DEBUGGING_FEATURES = "no_debugging_features"
    /** `UserManager.DISALLOW_INSTALL_UNKNOWN_SOURCES`. */
    const val INSTALL_UNKNOWN_SOURCES = "no_install_unknown_sources"
    /** `UserManager.DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY` (API 29). */
    const val INSTALL_UNKNOWN_SOURCES_GLOBALLY = "no_install_unknown_sources_globally"
    /** `UserManager.DISALLOW_USB_FILE_TRANSFER`. */
    const val USB_FILE_TRANSFER = "no_usb_file_transfer"
    /** `UserManager.DISALLOW_CONFIG_DATE_TIME`. */
    const val CONFIG_DATE_TIME = "no_config_date_time"
    /** `UserManager.ENSURE_VERIFY_APPS`. */
    const val ENSURE_VERIFY_APPS = "ensure_verify_apps"
    /** `UserManager.DISALLOW_SIM_GLOBALLY` (API 35): no eSIM downloads. */
    const val SIM_GLOBALLY = "no_sim_globally"
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

/** `android.os.Build.VERSION_CODES` this module branches on. */
object ApiLevels {
    /** `Q`: minSdk. */
    const val Q = 29
    /** `R`. */
    const val R = 30
    /** `S`: `TelephonyCallback`. */
    const val S = 31
    /** `TIRAMISU`: `SubscriptionManager.getPhoneNumber`, `PackageInfoFlags`. */
    const val TIRAMISU = 33
    /** `UPSIDE_DOWN_CAKE`: `DISALLOW_CELLULAR_2G`. */
    const val UPSIDE_DOWN_CAKE = 34
    /** `VANILLA_ICE_CREAM`: `DISALLOW_SIM_GLOBALLY`. */
    const val VANILLA_ICE_CREAM = 35
}

/** `android.app.admin.DevicePolicyManager.PASSWORD_COMPLEXITY_*` (`getPasswordComplexity`, API 29). */
object PasswordComplexities {
    const val NONE = 0
    const val LOW = 0x10000
    const val MEDIUM = 0x30000
    const val HIGH = 0x50000
}
