// Carries out requested actions with DevicePolicyManager and says what it could not do.
// Thin on purpose: the action model is a placeholder until the core's compliance engine
// exports one (see org.portcullis.android.core.Enforcement); nothing here decides.

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.os.Build
import org.portcullis.android.core.ActionNames
import org.portcullis.android.core.ActionOutcome
import org.portcullis.android.core.ActionRequest
import org.portcullis.android.core.Enforcement
import org.portcullis.android.core.Enforcer

/**
 * [admin] is the app's `DeviceAdminReceiver` component; the app must be the device owner
 * (profile owners can do some of this on their profile only, and are reported Unsupported).
 */
class DevicePolicyEnforcer(context: Context, private val admin: ComponentName) : Enforcer {
    private val dpm = context.getSystemService(DevicePolicyManager::class.java)
    private val packageName = context.packageName

    override fun carryOut(request: ActionRequest): ActionOutcome {
        Enforcement.precheck(request, Build.VERSION.SDK_INT)?.let { return it }
        if (!dpm.isDeviceOwnerApp(packageName)) return ActionOutcome.Unsupported("this app is not the device owner")
        val target = request.target.orEmpty()
        return try {
            when (request.name) {
                ActionNames.SUSPEND_PACKAGE, ActionNames.UNSUSPEND_PACKAGE -> {
                    val suspend = request.name == ActionNames.SUSPEND_PACKAGE
                    val refused = dpm.setPackagesSuspended(admin, arrayOf(target), suspend)
                    if (refused.isEmpty()) ActionOutcome.Done else ActionOutcome.Failed("the platform refused (system or protected package?)")
                }
                ActionNames.HIDE_PACKAGE, ActionNames.UNHIDE_PACKAGE -> {
                    val hide = request.name == ActionNames.HIDE_PACKAGE
                    if (dpm.setApplicationHidden(admin, target, hide)) ActionOutcome.Done else ActionOutcome.Failed("not changed (not installed?)")
                }
                ActionNames.BLOCK_UNINSTALL -> {
                    dpm.setUninstallBlocked(admin, target, true)
                    ActionOutcome.Done
                }
                ActionNames.ADD_USER_RESTRICTION -> {
                    dpm.addUserRestriction(admin, target)
                    ActionOutcome.Done
                }
                ActionNames.CLEAR_USER_RESTRICTION -> {
                    dpm.clearUserRestriction(admin, target)
                    ActionOutcome.Done
                }
                ActionNames.LOCK_DEVICE -> {
                    dpm.lockNow()
                    ActionOutcome.Done
                }
                else -> ActionOutcome.Unsupported("unknown action '${request.name}'")
            }
        } catch (e: SecurityException) {
            ActionOutcome.Failed("refused by the platform: ${e.javaClass.simpleName}")
        } catch (e: IllegalArgumentException) {
            ActionOutcome.Failed("rejected: ${e.message}")
        } catch (e: UnsupportedOperationException) {
            ActionOutcome.Unsupported("not supported on this device: ${e.message}")
        }
    }
}
