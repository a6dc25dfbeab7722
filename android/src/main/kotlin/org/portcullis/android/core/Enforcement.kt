// The enforcer's contract: named actions in, "done" or "not done, because" out.
//
// PLACEHOLDER, deliberately thin: the core's compliance engine, which will decide WHICH
// actions to request, does not exist yet. These names are the vocabulary the compliance
// issue is expected to produce (suspend/hide apps, block uninstall, user restrictions such
// as DISALLOW_CELLULAR_2G, lock); when the core exports its action type, this file becomes
// a mapping from it and the names below go away (the engine in progress names lasting
// "measures" to apply and lift: user restrictions by their DISALLOW_* constant, suspended,
// hidden and uninstall-blocked packages, ...). The enforcer never chooses an action.

package org.portcullis.android.core

/** The action names the enforcer understands. */
object ActionNames {
    /** Suspend the app [ActionRequest.target] (`DevicePolicyManager.setPackagesSuspended`). */
    const val SUSPEND_PACKAGE = "suspend_package"
    /** Lift a suspension. */
    const val UNSUSPEND_PACKAGE = "unsuspend_package"
    /** Hide the app [ActionRequest.target] (`setApplicationHidden`). */
    const val HIDE_PACKAGE = "hide_package"
    /** Unhide it. */
    const val UNHIDE_PACKAGE = "unhide_package"
    /** Block uninstalling [ActionRequest.target] (`setUninstallBlocked`), e.g. the agent or the VPN. */
    const val BLOCK_UNINSTALL = "block_uninstall"
    /** Add the user restriction [ActionRequest.target], a `UserManager.DISALLOW_*` key (`addUserRestriction`). */
    const val ADD_USER_RESTRICTION = "add_user_restriction"
    /** Clear it (`clearUserRestriction`). */
    const val CLEAR_USER_RESTRICTION = "clear_user_restriction"
    /** Lock the screen now (`lockNow`). */
    const val LOCK_DEVICE = "lock_device"

    /** Actions that name a package in [ActionRequest.target]. */
    val PACKAGE_ACTIONS = setOf(SUSPEND_PACKAGE, UNSUSPEND_PACKAGE, HIDE_PACKAGE, UNHIDE_PACKAGE, BLOCK_UNINSTALL)

    /** Actions that name a user restriction in [ActionRequest.target]. */
    val RESTRICTION_ACTIONS = setOf(ADD_USER_RESTRICTION, CLEAR_USER_RESTRICTION)

    /** Every action the enforcer knows. */
    val ALL = PACKAGE_ACTIONS + RESTRICTION_ACTIONS + LOCK_DEVICE
}

/** One requested action. */
data class ActionRequest(val name: String, val target: String? = null)

/** What became of a request. */
sealed class ActionOutcome {
    /** Carried out. */
    object Done : ActionOutcome() {
        override fun toString() = "Done"
    }

    /** This device cannot do it (API level, not device owner, unknown action): do not retry. */
    data class Unsupported(val reason: String) : ActionOutcome()

    /** The platform refused or failed; a later retry may succeed. */
    data class Failed(val reason: String) : ActionOutcome()
}

/** Carries out actions; the Android implementation is `DevicePolicyEnforcer`. */
interface Enforcer {
    fun carryOut(request: ActionRequest): ActionOutcome
}

/** What an enforcement pass could not do, to report to the console. */
data class EnforcementReport(val outcomes: List<Pair<ActionRequest, ActionOutcome>>) {
    val notDone: List<Pair<ActionRequest, ActionOutcome>> get() = outcomes.filter { it.second != ActionOutcome.Done }
    val allDone: Boolean get() = notDone.isEmpty()
}

/** Carries out every request in order; one failure does not stop the others. */
fun Enforcer.carryOutAll(requests: List<ActionRequest>): EnforcementReport =
    EnforcementReport(requests.map { it to carryOut(it) })

object Enforcement {
    /** Lowest API level of each user restriction key this module knows a minimum for. */
    val RESTRICTION_MIN_SDK: Map<String, Int> = mapOf(
        UserRestrictionKeys.CELLULAR_2G to ApiLevels.UPSIDE_DOWN_CAKE,
        UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES_GLOBALLY to ApiLevels.Q,
    )

    /**
     * Checks [request] before any platform call: `null` when the glue may go ahead, else
     * the outcome to report (unknown action, missing target, restriction too new for [sdkInt]).
     */
    fun precheck(request: ActionRequest, sdkInt: Int): ActionOutcome? {
        if (request.name !in ActionNames.ALL) return ActionOutcome.Unsupported("unknown action '${request.name}'")
        val needsTarget = request.name in ActionNames.PACKAGE_ACTIONS || request.name in ActionNames.RESTRICTION_ACTIONS
        val target = request.target
        if (needsTarget && target.isNullOrBlank()) return ActionOutcome.Unsupported("${request.name} needs a target")
        if (!needsTarget && target != null) return ActionOutcome.Unsupported("${request.name} takes no target")
        if (request.name in ActionNames.RESTRICTION_ACTIONS) {
            val min = RESTRICTION_MIN_SDK[target] ?: 0
            if (sdkInt < min) return ActionOutcome.Unsupported("$target needs API $min; this device runs API $sdkInt")
        }
        return null
    }
}
