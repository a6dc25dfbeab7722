// What the package inventory and the settings reader produce: plain records that
// ComplianceSnapshots turns into the core's device snapshot, filled in by the Android glue.

package org.portcullis.android.core

import org.portcullis.EncryptionStatus
import org.portcullis.androidEncryption
import java.security.MessageDigest

/** One installed package as `PackageManager` reports it. */
data class InstalledPackage(
    val packageName: String,
    /** `PackageInfo.getLongVersionCode()`. */
    val versionCode: Long,
    val versionName: String?,
    /** SHA-256 of each current signing certificate (`SigningInfo.getApkContentsSigners()`), see [Inventory.certificateSha256]. */
    val signingCertsSha256: List<String>,
    /** The installer package (`InstallSourceInfo.getInstallingPackageName()`, API 30); `null`: none recorded (adb, system image). */
    val installer: String?,
    /** `ApplicationInfo.FLAG_SYSTEM`. */
    val system: Boolean,
    /** `ApplicationInfo.enabled`. */
    val enabled: Boolean,
    /** Whether the installer could be read at all; `false` leaves it unobserved (a rule on it is then unknown). */
    val installerObserved: Boolean = true,
)

/** The device settings the configuration rules look at. */
data class SettingsSnapshot(
    /** `Build.VERSION.SDK_INT`. */
    val sdkInt: Int,
    /** `Build.VERSION.SECURITY_PATCH`, `YYYY-MM-DD`. */
    val securityPatch: String?,
    /** `Settings.Global.DEVELOPMENT_SETTINGS_ENABLED`. */
    val developerSettings: Boolean,
    /** `Settings.Global.ADB_ENABLED`. */
    val adbEnabled: Boolean,
    /** `Settings.Global.AIRPLANE_MODE_ON`. */
    val airplaneMode: Boolean,
    /** `Settings.Global.AUTO_TIME`: the clock follows the network. */
    val autoTime: Boolean,
    /** `KeyguardManager.isDeviceSecure()`: a PIN, pattern or password is set. */
    val deviceSecure: Boolean,
    /** From `DevicePolicyManager.getStorageEncryptionStatus()`, see [Inventory.encrypted]. */
    val storageEncrypted: Boolean,
    // Facts below are `null` when not observed (no permission, API too low, not the device
    // owner): the core then judges the rules that need them `UNKNOWN`, never compliant.
    /** The raw `ENCRYPTION_STATUS_*` value, for the three-way encryption fact. */
    val encryptionStatus: Int? = null,
    /** `DevicePolicyManager.getPasswordComplexity()` (`PASSWORD_COMPLEXITY_*`, API 29). */
    val passwordComplexity: Int? = null,
    /** `Settings.Global` `adb_wifi_enabled` (API 30). */
    val adbWifiEnabled: Boolean? = null,
    /** `DevicePolicyManager.getMaximumTimeToLock(null)`, ms; `0`: no limit. */
    val maximumTimeToLockMs: Long? = null,
    /** `DevicePolicyManager.getMaximumFailedPasswordsForWipe(null)`; `0`: no limit. */
    val maximumFailedPasswordsForWipe: Int? = null,
    /** Whether the user may install from unknown sources (no `DISALLOW_INSTALL_UNKNOWN_SOURCES*` restriction). */
    val unknownSourcesAllowed: Boolean? = null,
    /** `true` when `ENSURE_VERIFY_APPS` is in force; otherwise not observable without privileges. */
    val verifyAppsEnabled: Boolean? = null,
    /** `false` when `DISALLOW_CELLULAR_2G` is in force (API 34); otherwise not observable without privileges. */
    val cellular2gEnabled: Boolean? = null,
    /** Whether `DISALLOW_CONFIG_MOBILE_NETWORKS` is in force (APNs and network selection locked). */
    val mobileNetworksConfigDisabled: Boolean? = null,
    /** Whether `DISALLOW_SIM_GLOBALLY` is in force (API 35: the user cannot add an eSIM); `false` below API 35, which has no such control. */
    val addEsimDisallowed: Boolean? = null,
    /** `ALLOW_USB_DATA_TRANSFER`, `DISALLOW_USB_FILE_TRANSFER` or `DISALLOW_USB_DATA_TRANSFER`. */
    val usbDataAccess: String? = null,
    /** SHA-256 of each user-installed CA certificate (`DevicePolicyManager.getInstalledCaCerts`). */
    val userCaCertsSha256: List<String>? = null,
    /** Enabled accessibility services: package name and whether it is a system app. */
    val accessibilityServices: List<Pair<String, Boolean>>? = null,
)

object Inventory {
    /**
     * SHA-256 of a DER certificate (`Signature.toByteArray()`) as 64 lower-case hex digits,
     * the form `apksigner verify --print-certs` prints and the policies' `Sha256Fingerprint`
     * accepts.
     */
    fun certificateSha256(der: ByteArray): String = sha256Hex(der)

    /** SHA-256 as 64 lower-case hex digits: certificates, and the memos of refused inputs. */
    fun sha256Hex(bytes: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") {
            val b = it.toInt() and 0xff
            "${HEX[b ushr 4]}${HEX[b and 0x0f]}"
        }

    private const val HEX = "0123456789abcdef"

    /** Whether an `ENCRYPTION_STATUS_*` value means the storage is encrypted (as the core reads it). */
    fun encrypted(status: Int): Boolean =
        androidEncryption(status, true).let { it != null && it != EncryptionStatus.UNENCRYPTED }
}
