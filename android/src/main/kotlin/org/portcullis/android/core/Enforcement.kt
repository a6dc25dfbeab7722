// The enforcer's contract: the core's remediation actions in, "done" or "not done, because" out.
//
// The core's compliance engine decides what to do (core/src/compliance/actions.rs) and hands
// each action over typed: `RemediationAction(route, rule, action)`, with `Remediation` and
// `Measure` generated from the library, so a new action kind is a compile error here rather
// than an unread string. This file routes them (AGENT: carried out here; MDM: reported, never
// executed); the core already routed anything the OS release lacks as NOT_POSSIBLE. The
// Android glue (`DevicePolicyEnforcer`) makes the DevicePolicyManager call and never chooses an action.

package org.portcullis.android.core

import org.portcullis.ActionRoute
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.Restriction

/** What became of an action. */
sealed class ActionOutcome {
    /** Carried out. */
    object Done : ActionOutcome() {
        override fun toString() = "Done"
    }

    /** Routed to the MDM: not executed here, to be reported to the console. */
    object ForMdm : ActionOutcome() {
        override fun toString() = "ForMdm"
    }

    /** This device cannot do it (API level, not device owner): do not retry. */
    data class Unsupported(val reason: String) : ActionOutcome()

    /** The platform refused or failed; a later retry may succeed. */
    data class Failed(val reason: String) : ActionOutcome()
}

/**
 * Carries out AGENT-routed actions; the Android implementation is `DevicePolicyEnforcer`.
 * The core routes an action to the agent only where the OS release has the call.
 */
interface Enforcer {
    fun carryOut(action: Remediation): ActionOutcome
}

/** The outcome of every action of a pass, in order. */
data class EnforcementReport(val outcomes: List<Pair<RemediationAction, ActionOutcome>>) {
    /** Carried out by neither the agent nor yet the MDM, with the reason: to report to the console. */
    val notDone: List<Pair<RemediationAction, ActionOutcome>> get() = outcomes.filter { it.second != ActionOutcome.Done }
    val forMdm: List<RemediationAction> get() = outcomes.filter { it.second == ActionOutcome.ForMdm }.map { it.first }
    val allDone: Boolean get() = notDone.isEmpty()
}

/** Routes and carries out every action in order; one failure does not stop the others. */
fun Enforcer.carryOutAll(actions: List<RemediationAction>): EnforcementReport =
    EnforcementReport(
        actions.map { requested ->
            val outcome = when (requested.route) {
                ActionRoute.MDM -> ActionOutcome.ForMdm
                // The core decided no one can here (the OS release, the platform): report it, never try.
                ActionRoute.NOT_POSSIBLE -> ActionOutcome.Unsupported("not possible on this device: ${requested.notPossible}")
                ActionRoute.AGENT -> try {
                    carryOut(requested.action)
                } catch (e: RuntimeException) {
                    ActionOutcome.Failed("${e.javaClass.simpleName}: ${e.message}")
                }
            }
            requested to outcome
        },
    )

/** The outcome as the core takes it (an MDM-routed action is handed to the MDM). */
fun ActionOutcome.toCore(): org.portcullis.ActionOutcome = when (this) {
    ActionOutcome.Done -> org.portcullis.ActionOutcome.CarriedOut
    ActionOutcome.ForMdm -> org.portcullis.ActionOutcome.HandedToMdm
    is ActionOutcome.Unsupported -> org.portcullis.ActionOutcome.NotPossible(reason)
    is ActionOutcome.Failed -> org.portcullis.ActionOutcome.Failed(reason)
}

object Enforcement {
    /** The `UserManager` key of each of the core's user restrictions. */
    fun restrictionKey(r: Restriction): String = when (r) {
        Restriction.DISALLOW_DEBUGGING_FEATURES -> UserRestrictionKeys.DEBUGGING_FEATURES
        Restriction.DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY -> UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES_GLOBALLY
        Restriction.ENSURE_VERIFY_APPS -> UserRestrictionKeys.ENSURE_VERIFY_APPS
        Restriction.DISALLOW_CELLULAR2G -> UserRestrictionKeys.CELLULAR_2G
        Restriction.DISALLOW_USB_FILE_TRANSFER -> UserRestrictionKeys.USB_FILE_TRANSFER
        Restriction.DISALLOW_CONFIG_MOBILE_NETWORKS -> UserRestrictionKeys.CONFIG_MOBILE_NETWORKS
    }

    /** The apps the access block suspends: every installed package but the ones kept usable. */
    fun accessBlockTargets(installed: Collection<String>, keep: Set<String>): List<String> =
        installed.filter { it !in keep }.distinct().sorted()
}
