// Carries out the core's remediation actions and the actions of signed console instructions
// with DevicePolicyManager, and says what it could not do. Thin on purpose: the actions arrive typed from the
// library, routed by the core (which routes nothing to the agent that the OS release lacks);
// nothing here decides.

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import org.portcullis.accessBlockTargets
import org.portcullis.EnforcementCaller
import org.portcullis.androidEnforcementCaller
import org.portcullis.androidRestrictionKey
import org.portcullis.ComplianceNotice
import org.portcullis.Measure
import org.portcullis.PasswordQuality
import org.portcullis.Remediation
import org.portcullis.android.core.ApiLevels
import org.portcullis.ActionOutcome
import org.portcullis.android.core.Enforcer
import org.portcullis.android.core.InstructionDevice
import org.portcullis.android.core.Inventory

/**
 * Two deployments (android/README.md):
 * - **owner**: the app is the device owner and [admin] its `DeviceAdminReceiver` component;
 *   every call goes through [admin];
 * - **companion**: the EMM's DPC is the device owner and delegated scopes to this app; the
 *   delegated calls (suspend/hide, uninstall block, CA certificates) take a null admin, and
 *   anything the app holds no scope for is reported Unsupported (the core routes such
 *   actions to the MDM in the first place).
 * [notify] shows a user notice (DevicePolicyManager has none); without it, notices are reported not done.
 * [displayNotice] shows an instruction's notice (title, body); without it, such notices are reported not possible.
 */
class DevicePolicyEnforcer(
    private val context: Context,
    private val admin: ComponentName?,
    private val notify: ((List<ComplianceNotice>) -> Unit)? = null,
    private val displayNotice: ((String, String) -> Unit)? = null,
) : Enforcer, InstructionDevice {
    private val dpmOrNull: DevicePolicyManager? = context.getSystemService(DevicePolicyManager::class.java)

    /** Absent on a build without the device-admin feature: every action is then Unsupported. */
    private val dpm: DevicePolicyManager
        get() = dpmOrNull ?: throw UnsupportedOperationException("no DevicePolicyManager (device admin) on this device")
    private val packageName = context.packageName

    override fun carryOut(action: Remediation): ActionOutcome {
        if (action is Remediation.NotifyUser) {
            val n = notify ?: return ActionOutcome.NotPossible("no notifier to show the notice")
            n(action.notices)
            return ActionOutcome.CarriedOut
        }
        val owner = dpmOrNull?.isDeviceOwnerApp(packageName) == true && admin != null
        // The core names the caller: the owner through its component, a delegate with a null admin.
        val who = when (val caller = androidEnforcementCaller(action, owner, delegatedScopes())) {
            EnforcementCaller.Owner -> admin
            EnforcementCaller.Delegate -> null
            is EnforcementCaller.NotPermitted -> return ActionOutcome.NotPossible(caller.reason)
        }
        return try {
            when (action) {
                is Remediation.Apply -> measure(who, action.measure, apply = true)
                is Remediation.Lift -> measure(who, action.measure, apply = false)
                is Remediation.RemoveCaCert -> removeCaCert(who, action.sha256)
                Remediation.LockDevice -> done { dpm.lockNow() }
                is Remediation.WipeDevice -> done {
                    val flags = if (action.preserveFrp) 0 else DevicePolicyManager.WIPE_RESET_PROTECTION_DATA
                    // From API 34 a device owner's wipeData throws (the system user cannot be
                    // removed): wipeDevice is the factory reset there.
                    if (Build.VERSION.SDK_INT >= ApiLevels.UPSIDE_DOWN_CAKE) dpm.wipeDevice(flags) else dpm.wipeData(flags)
                }
                is Remediation.NotifyUser -> ActionOutcome.NotPossible("unexpected $action")
            }
        } catch (e: PackageManager.NameNotFoundException) {
            ActionOutcome.Failed("not installed: ${e.message}")
        } catch (e: SecurityException) {
            ActionOutcome.Failed("refused by the platform: ${e.javaClass.simpleName}")
        } catch (e: IllegalArgumentException) {
            ActionOutcome.Failed("rejected: ${e.message}")
        } catch (e: UnsupportedOperationException) {
            ActionOutcome.NotPossible("not supported on this device: ${e.message}")
        }
    }

    override fun lockNow(): ActionOutcome = carryOut(Remediation.LockDevice)

    override fun wipeDevice(preserveFrp: Boolean): ActionOutcome = carryOut(Remediation.WipeDevice(preserveFrp))

    /**
     * A profile owner removes its work profile (factory-reset protection concerns the whole
     * phone, not the profile); on a fully managed phone the work data is the whole phone, so
     * only `wipe_device` can remove it.
     */
    override fun wipeWorkData(preserveFrp: Boolean): ActionOutcome = when {
        dpmOrNull?.isDeviceOwnerApp(packageName) == true ->
            ActionOutcome.NotPossible("fully managed phone: no separate work data (wipe_device wipes it all)")
        dpmOrNull?.isProfileOwnerApp(packageName) == true && admin != null -> try {
            done { dpm.wipeData(0) }
        } catch (e: SecurityException) {
            ActionOutcome.Failed("refused by the platform: ${e.javaClass.simpleName}")
        }
        else -> ActionOutcome.NotPossible("this app is neither device nor profile owner")
    }

    override fun showNotice(title: String, body: String): ActionOutcome {
        val show = displayNotice ?: return ActionOutcome.NotPossible("no notifier to show the notice")
        show(title, body)
        return ActionOutcome.CarriedOut
    }

    /**
     * The Keystore device key cannot change without re-enrollment (the core refuses another
     * key), and the core has already rotated the journal keys: nothing else to rotate here.
     */
    override fun rotateKeys(): ActionOutcome = ActionOutcome.CarriedOut

    private inline fun done(call: () -> Unit): ActionOutcome {
        call()
        return ActionOutcome.CarriedOut
    }

    private fun belowS() = ActionOutcome.NotPossible("needs API 31; this device runs API ${Build.VERSION.SDK_INT}")

    private fun delegatedScopes(): List<String> = try {
        dpmOrNull?.getDelegatedScopes(null, packageName).orEmpty()
    } catch (e: SecurityException) {
        emptyList()
    }

    private fun suspend(who: ComponentName?, packages: List<String>, on: Boolean): ActionOutcome {
        if (packages.isEmpty()) return ActionOutcome.CarriedOut
        val refused = dpm.setPackagesSuspended(who, packages.toTypedArray(), on)
        return if (refused.isEmpty()) ActionOutcome.CarriedOut else ActionOutcome.Failed("refused for ${refused.joinToString()}")
    }

    // `admin!!` below: only the owner reaches the calls that no scope delegates (the core's caller).
    private fun measure(who: ComponentName?, m: Measure, apply: Boolean): ActionOutcome = when (m) {
        is Measure.UserRestriction -> done {
            val key = androidRestrictionKey(m.restriction)
            if (apply) dpm.addUserRestriction(admin!!, key) else dpm.clearUserRestriction(admin!!, key)
        }
        Measure.UsbDataSignalingDisabled -> when {
            Build.VERSION.SDK_INT < Build.VERSION_CODES.S -> belowS()
            // Not every device's USB HAL can turn data signalling off: that is final, not a failure.
            !dpm.canUsbDataSignalingBeDisabled() -> ActionOutcome.NotPossible("this device cannot turn USB data signalling off")
            else -> done { dpm.setUsbDataSignalingEnabled(!apply) }
        }
        is Measure.MaximumTimeToLock -> done { dpm.setMaximumTimeToLock(admin!!, if (apply) m.millis.toLong() else 0L) }
        is Measure.MaximumFailedPasswordsForWipe ->
            done { dpm.setMaximumFailedPasswordsForWipe(admin!!, if (apply) m.attempts.toInt() else 0) }
        is Measure.RequiredPasswordComplexity -> if (Build.VERSION.SDK_INT < Build.VERSION_CODES.S) belowS() else done {
            dpm.requiredPasswordComplexity = if (!apply) DevicePolicyManager.PASSWORD_COMPLEXITY_NONE else when (m.complexity) {
                PasswordQuality.COMPLEXITY_LOW -> DevicePolicyManager.PASSWORD_COMPLEXITY_LOW
                PasswordQuality.COMPLEXITY_MEDIUM -> DevicePolicyManager.PASSWORD_COMPLEXITY_MEDIUM
                PasswordQuality.COMPLEXITY_HIGH -> DevicePolicyManager.PASSWORD_COMPLEXITY_HIGH
            }
        }
        is Measure.AlwaysOnVpn -> done {
            dpm.setAlwaysOnVpnPackage(admin!!, if (apply) m.`package` else null, apply && m.lockdown)
        }
        is Measure.PermittedAccessibilityServices ->
            if (dpm.setPermittedAccessibilityServices(admin!!, if (apply) m.packages else null)) ActionOutcome.CarriedOut
            else ActionOutcome.Failed("not accepted (a listed service not installed?)")
        is Measure.UninstallBlocked -> done { dpm.setUninstallBlocked(who, m.`package`, apply) }
        is Measure.PackageSuspended -> suspend(who, listOf(m.`package`), apply)
        is Measure.PackageHidden ->
            if (dpm.setApplicationHidden(who, m.`package`, apply)) ActionOutcome.CarriedOut
            else ActionOutcome.Failed("not changed (not installed?)")
        Measure.AccessBlocked -> suspend(who, accessBlockTargets(), apply)
    }

    /**
     * Every installed app but the critical ones: the core's list (the system, Play Store and
     * GMS, the DPC, settings, telephony, the agent) and the packages this phone resolves for
     * the launcher, installer, permission controller, device owner and phone app.
     */
    private fun accessBlockTargets(): List<String> {
        val installed = context.packageManager.getInstalledApplications(PackageManager.GET_META_DATA).map { it.packageName }
        return accessBlockTargets(installed, DeploymentReader(context).packageRoles(), packageName)
    }

    private fun removeCaCert(who: ComponentName?, sha256: String): ActionOutcome {
        val cert = dpm.getInstalledCaCerts(who).firstOrNull { der -> Inventory.certificateSha256(der) == sha256 } ?: return ActionOutcome.Failed("no installed CA certificate with SHA-256 $sha256")
        dpm.uninstallCaCert(who, cert)
        return ActionOutcome.CarriedOut
    }
}
