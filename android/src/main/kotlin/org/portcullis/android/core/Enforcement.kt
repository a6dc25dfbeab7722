// The enforcer's contract: the core's remediation actions in, the core's ActionOutcome out.
//
// The core's compliance engine decides what to do (core/src/compliance/actions.rs) and hands
// each action over typed: `RemediationAction(route, rule, action)`, with `Remediation` and
// `Measure` generated from the library, so a new action kind is a compile error here rather
// than an unread string. The core gives the outcome of MDM and NOT_POSSIBLE actions; this file
// carries out the AGENT ones. The Android glue (`DevicePolicyEnforcer`) makes the
// DevicePolicyManager call and never chooses an action.

package org.portcullis.android.core

import org.portcullis.ActionOutcome
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.remediationOutcomeWithoutAgent

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
    val notDone: List<Pair<RemediationAction, ActionOutcome>> get() = outcomes.filter { it.second != ActionOutcome.CarriedOut }
    val forMdm: List<RemediationAction> get() = outcomes.filter { it.second == ActionOutcome.HandedToMdm }.map { it.first }
    val allDone: Boolean get() = notDone.isEmpty()
}

/** Every action's outcome in order (the core's for MDM and NOT_POSSIBLE); one failure does not stop the others. */
fun Enforcer.carryOutAll(actions: List<RemediationAction>): EnforcementReport =
    EnforcementReport(
        actions.map { requested ->
            requested to (remediationOutcomeWithoutAgent(requested) ?: try {
                carryOut(requested.action)
            } catch (e: RuntimeException) {
                ActionOutcome.Failed("${e.javaClass.simpleName}: ${e.message}")
            })
        },
    )
