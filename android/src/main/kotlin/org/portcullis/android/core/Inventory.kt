// What the package inventory and the settings reader produce: plain records for the
// compliance engine (not built yet), filled in by the Android glue.

package org.portcullis.android.core

import java.security.MessageDigest

/** One installed package as `PackageManager` reports it. */
data class InstalledPackage(
    val packageName: String,
    /** `PackageInfo.getLongVersionCode()`. */
    val versionCode: Long,
    val versionName: String?,
    /** SHA-256 of each current signing certificate (`SigningInfo.getApkContentsSigners()`), see [Inventory.certificateSha256]. */
    val signingCertsSha256: List<String>,
    /** The installer package (`InstallSourceInfo.getInstallingPackageName()`, API 30), if known. */
    val installer: String?,
    /** `ApplicationInfo.FLAG_SYSTEM`. */
    val system: Boolean,
    /** `ApplicationInfo.enabled`. */
    val enabled: Boolean,
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
)

object Inventory {
    /**
     * SHA-256 of a DER certificate (`Signature.toByteArray()`) as 64 lower-case hex digits,
     * the form `apksigner verify --print-certs` prints and the policies' `Sha256Fingerprint`
     * accepts.
     */
    fun certificateSha256(der: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(der).joinToString("") {
            val b = it.toInt() and 0xff
            "${HEX[b ushr 4]}${HEX[b and 0x0f]}"
        }

    private const val HEX = "0123456789abcdef"

    /** Whether an `ENCRYPTION_STATUS_*` value means the storage is encrypted. */
    fun encrypted(status: Int): Boolean = status == EncryptionStatuses.ACTIVE ||
        status == EncryptionStatuses.ACTIVE_DEFAULT_KEY || status == EncryptionStatuses.ACTIVE_PER_USER
}
