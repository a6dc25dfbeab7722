// Android constant VALUES used by the platform-independent code in this package.
//
// Nothing in org.portcullis.android.core imports android.*: these files are compiled and
// tested on a desktop JVM against the real library (scripts/android-jvm-tests.sh), where
// android.jar is not available. Each value is the one the Android SDK defines; the comment
// names the constant it mirrors. They are part of the public SDK and never change.

package org.portcullis.android.core

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
