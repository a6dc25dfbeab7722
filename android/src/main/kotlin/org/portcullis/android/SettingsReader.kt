// The device settings the configuration rules look at (read-only). A fact this app cannot
// observe (no permission, API too low, not the device owner) is left null: the core judges
// rules on it UNKNOWN, never compliant.

package org.portcullis.android

import android.accessibilityservice.AccessibilityServiceInfo
import android.app.KeyguardManager
import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.pm.ApplicationInfo
import android.os.Build
import android.os.UserManager
import android.provider.Settings
import android.view.accessibility.AccessibilityManager
import org.portcullis.android.core.ApiLevels
import org.portcullis.android.core.Inventory
import org.portcullis.android.core.SettingsSnapshot
import org.portcullis.android.core.UserRestrictionKeys

/** [admin]: the app's device-admin component, needed to read the installed CA certificates. */
class SettingsReader(private val context: Context, private val admin: ComponentName? = null) {
    fun read(): SettingsSnapshot {
        val resolver = context.contentResolver
        fun global(name: String) = Settings.Global.getInt(resolver, name, 0) != 0
        val dpm = context.requireService<DevicePolicyManager>()
        val keyguard = context.requireService<KeyguardManager>()
        val users = context.requireService<UserManager>()
        fun restricted(key: String) = users.hasUserRestriction(key)
        val sdk = Build.VERSION.SDK_INT
        val owner = dpm.isDeviceOwnerApp(context.packageName)
        val encryptionStatus = dpm.storageEncryptionStatus
        return SettingsSnapshot(
            sdkInt = sdk,
            securityPatch = Build.VERSION.SECURITY_PATCH.takeIf { it.isNotEmpty() },
            developerSettings = global(Settings.Global.DEVELOPMENT_SETTINGS_ENABLED),
            adbEnabled = global(Settings.Global.ADB_ENABLED),
            airplaneMode = global(Settings.Global.AIRPLANE_MODE_ON),
            autoTime = global(Settings.Global.AUTO_TIME),
            deviceSecure = keyguard.isDeviceSecure,
            storageEncrypted = Inventory.encrypted(encryptionStatus),
            encryptionStatus = encryptionStatus,
            // Needs REQUEST_PASSWORD_COMPLEXITY (declared in the manifest; a device owner is
            // exempt only from API 31).
            passwordComplexity = try {
                dpm.passwordComplexity
            } catch (e: SecurityException) {
                null
            },
            adbWifiEnabled = if (sdk >= ApiLevels.R) global(ADB_WIFI_ENABLED) else null,
            maximumTimeToLockMs = dpm.getMaximumTimeToLock(null),
            maximumFailedPasswordsForWipe = dpm.getMaximumFailedPasswordsForWipe(null),
            unknownSourcesAllowed = !(
                restricted(UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES) ||
                    restricted(UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES_GLOBALLY)
                ),
            verifyAppsEnabled = if (restricted(UserRestrictionKeys.ENSURE_VERIFY_APPS)) true else null,
            cellular2gEnabled = if (sdk >= ApiLevels.UPSIDE_DOWN_CAKE && restricted(UserRestrictionKeys.CELLULAR_2G)) false else null,
            mobileNetworksConfigDisabled = restricted(UserRestrictionKeys.CONFIG_MOBILE_NETWORKS),
            addEsimDisallowed = sdk >= ApiLevels.VANILLA_ICE_CREAM && restricted(UserRestrictionKeys.SIM_GLOBALLY),
            usbDataAccess = when {
                sdk >= ApiLevels.S && !dpm.isUsbDataSignalingEnabled -> "DISALLOW_USB_DATA_TRANSFER"
                restricted(UserRestrictionKeys.USB_FILE_TRANSFER) -> "DISALLOW_USB_FILE_TRANSFER"
                else -> "ALLOW_USB_DATA_TRANSFER"
            },
            userCaCertsSha256 = admin?.takeIf { owner }?.let { component ->
                try {
                    dpm.getInstalledCaCerts(component).map { Inventory.certificateSha256(it) }
                } catch (e: SecurityException) {
                    null
                }
            },
            accessibilityServices = context.requireService<AccessibilityManager>()
                .getEnabledAccessibilityServiceList(AccessibilityServiceInfo.FEEDBACK_ALL_MASK)
                .mapNotNull { info ->
                    val app = info.resolveInfo?.serviceInfo?.applicationInfo ?: return@mapNotNull null
                    app.packageName to ((app.flags and ApplicationInfo.FLAG_SYSTEM) != 0)
                },
        )
    }

    private companion object {
        /** `Settings.Global.ADB_WIFI_ENABLED` (API 30; not in the public SDK constants). */
        const val ADB_WIFI_ENABLED = "adb_wifi_enabled"
    }
}
