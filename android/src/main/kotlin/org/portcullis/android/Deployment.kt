// How the agent is deployed, as the platform reports it: device owner or not, the scopes the
// EMM's DPC delegated (DevicePolicyManager.getDelegatedScopes), and the packages that fill the
// roles no enforcement may suspend. The core reads these facts (androidDeployment, the
// snapshot's deviceOwner / delegatedScopes / packageRoles) and decides every route.

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.telecom.TelecomManager
import org.portcullis.AndroidDeployment
import org.portcullis.PackageRoles
import org.portcullis.androidDeployment

class DeploymentReader(private val context: Context) {
    private val dpm: DevicePolicyManager? = context.getSystemService(DevicePolicyManager::class.java)

    /** `isDeviceOwnerApp` for this app: owner mode. */
    fun isDeviceOwner(): Boolean = dpm?.isDeviceOwnerApp(context.packageName) == true

    /** The `DELEGATION_*` scopes the DPC gave this app (empty when none, or no device-admin feature). */
    fun delegationConstants(): List<String> = try {
        dpm?.getDelegatedScopes(null, context.packageName).orEmpty()
    } catch (e: SecurityException) {
        emptyList()
    }

    /** Owner or companion, and the scopes the core uses, by their AMAPI names. */
    fun read(): AndroidDeployment = androidDeployment(isDeviceOwner(), delegationConstants())

    /** The packages filling the critical roles on this phone; a role that does not resolve is left out. */
    fun packageRoles(): PackageRoles {
        val pm = context.packageManager
        fun resolved(intent: Intent): String? = try {
            // With no default chosen, the chooser of package "android" answers: not a role holder.
            pm.resolveActivity(intent, PackageManager.MATCH_DEFAULT_ONLY)?.activityInfo?.packageName?.takeIf { it != "android" }
        } catch (e: RuntimeException) {
            null
        }
        val home = resolved(Intent(Intent.ACTION_MAIN).addCategory(Intent.CATEGORY_HOME))
        @Suppress("DEPRECATION") // ACTION_INSTALL_PACKAGE: still what the installer handles
        val installer = resolved(
            Intent(Intent.ACTION_INSTALL_PACKAGE).setDataAndType(Uri.parse("content://portcullis/app.apk"), "application/vnd.android.package-archive"),
        )
        val permissionController = resolved(Intent(PackageManager.ACTION_REQUEST_PERMISSIONS))
        val owner = try {
            dpm?.activeAdmins?.map { it.packageName }?.firstOrNull { dpm.isDeviceOwnerApp(it) }
        } catch (e: SecurityException) {
            null
        }
        val dialer = try {
            context.getSystemService(TelecomManager::class.java)?.defaultDialerPackage
        } catch (e: RuntimeException) {
            null
        }
        return PackageRoles(home = home, installer = installer, permissionController = permissionController, deviceOwner = owner, dialer = dialer)
    }
}
