// Installed packages with their signing certificates (SHA-256) and installers, for the
// compliance snapshot. Needs QUERY_ALL_PACKAGES to see every package on API 30+; includes
// packages the device owner hid or suspended (MATCH_UNINSTALLED_PACKAGES), or a hidden app
// would look removed.

package org.portcullis.android

import android.content.Context
import android.content.pm.ApplicationInfo
import android.content.pm.PackageInfo
import android.content.pm.PackageManager
import android.os.Build
import org.portcullis.AndroidPackage
import org.portcullis.android.core.Inventory

class PackageInventory(private val context: Context) {
    /** Every installed package (blocking binder calls: call off the main thread). */
    fun scan(): List<AndroidPackage> {
        val pm = context.packageManager
        val flags = PackageManager.GET_SIGNING_CERTIFICATES or PackageManager.MATCH_UNINSTALLED_PACKAGES
        val packages: List<PackageInfo> = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            pm.getInstalledPackages(PackageManager.PackageInfoFlags.of(flags.toLong()))
        } else {
            @Suppress("DEPRECATION")
            pm.getInstalledPackages(flags)
        }
        // MATCH_UNINSTALLED_PACKAGES also returns packages removed for this user with their
        // data kept; hidden ones keep FLAG_INSTALLED.
        val installed = packages.filter { info ->
            info.applicationInfo?.let { (it.flags and ApplicationInfo.FLAG_INSTALLED) != 0 } ?: true
        }
        return installed.map { info ->
            val app: ApplicationInfo? = info.applicationInfo
            val installer = installer(pm, info.packageName)
            AndroidPackage(
                packageName = info.packageName,
                versionCode = info.longVersionCode,
                versionName = info.versionName,
                signingCertsSha256 = signers(info).map { Inventory.certificateSha256(it) },
                installer = installer.getOrNull(),
                system = app != null && (app.flags and ApplicationInfo.FLAG_SYSTEM) != 0,
                enabled = app?.enabled ?: false,
                installerObserved = installer.isSuccess,
            )
        }
    }

    /** The current signers (not the rotation history): what AMAPI-style pins compare with. */
    private fun signers(info: PackageInfo): List<ByteArray> {
        val signing = info.signingInfo ?: return emptyList()
        return signing.apkContentsSigners.orEmpty().map { it.toByteArray() }
    }

    /** The installer (`null` inside: none recorded), or a failure: not observed. */
    private fun installer(pm: PackageManager, packageName: String): Result<String?> =
        try {
            Result.success(
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                    pm.getInstallSourceInfo(packageName).installingPackageName
                } else {
                    @Suppress("DEPRECATION")
                    pm.getInstallerPackageName(packageName)
                },
            )
        } catch (e: PackageManager.NameNotFoundException) {
            Result.failure(e)
        } catch (e: IllegalArgumentException) {
            Result.failure(e)
        }
}
