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
import org.portcullis.androidRestrictionFacts
import org.portcullis.android.core.Inventory
import org.portcullis.AndroidSettings
import org.portcullis.SnapshotAccessibilityService

/** [admin]: the app's device-admin component, needed to read the installed CA certificates. */
class SettingsReader(private val context: Context, private val admin: ComponentName? = null) {
    fun read(): AndroidSettings {
        val resolver = context.contentResolver
        fun global(name: String) = Settings.Global.getInt(resolver, name, 0) != 0
        val dpm = context.requireService<DevicePolicyManager>()
        val keyguard = context.requireService<KeyguardManager>()
        val users = context.requireService<UserManager>()
        val sdk = Build.VERSION.SDK_INT
        val restrictions = users.userRestrictions.let { b -> b.keySet().filter { b.getBoolean(it) } }
        val facts = androidRestrictionFacts(restrictions, sdk.toUInt(), if (sdk >= ApiLevels.S) dpm.isUsbDataSignalingEnabled else null)
        val owner = dpm.isDeviceOwnerApp(context.packageName)
        val encryptionStatus = dpm.storageEncryptionStatus
        return AndroidSettings(
            sdkInt = sdk,
            securityPatch = Build.VERSION.SECURITY_PATCH.takeIf { it.isNotEmpty() },
            developerSettings = global(Settings.Global.DEVELOPMENT_SETTINGS_ENABLED),
            adbEnabled = global(Settings.Global.ADB_ENABLED),
            airplaneMode = global(Settings.Global.AIRPLANE_MODE_ON),
            autoTime = global(Settings.Global.AUTO_TIME),
            deviceSecure = keyguard.isDeviceSecure,
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
            // The restriction keys in force, read by the core.
            unknownSourcesAllowed = facts.unknownSourcesAllowed,
            verifyAppsEnabled = facts.verifyAppsEnabled,
            cellular2gEnabled = facts.cellular2gEnabled,
            mobileNetworksConfigDisabled = facts.mobileNetworksConfigDisabled,
            addEsimDisallowed = facts.addEsimDisallowed,
            usbDataAccess = facts.usbDataAccess,
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
                    SnapshotAccessibilityService(app.packageName, (app.flags and ApplicationInfo.FLAG_SYSTEM) != 0)
                },
        )
    }

    private companion object {
        /** `Settings.Global.ADB_WIFI_ENABLED` (API 30; not in the public SDK constants). */
        const val ADB_WIFI_ENABLED = "adb_wifi_enabled"
    }
}
