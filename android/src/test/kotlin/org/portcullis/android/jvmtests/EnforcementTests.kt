// The core's remediation actions, typed, routed and carried out: every user restriction has
// a platform key, routing, and a real agent (signed baseline
// fixtures from -Dportcullis.fixtures) judging the phone of
// core/tests/data/compliance/pixel-violations.json, whose actions a fake enforcer receives.

package org.portcullis.android.jvmtests

import java.io.File
import org.portcullis.ActionRoute
import org.portcullis.ComplianceNotice
import org.portcullis.Measure
import org.portcullis.NotPossibleReason
import org.portcullis.PasswordQuality
import org.portcullis.ReasonCode
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.Restriction
import org.portcullis.RuleRef
import org.portcullis.ActionOutcome
import org.portcullis.android.core.Enforcer
import org.portcullis.androidRestrictionKey
import org.portcullis.android.core.carryOutAll

internal fun fixtureFile(name: String): File {
    val dir = System.getProperty("portcullis.fixtures") ?: fail("-Dportcullis.fixtures not set (run scripts/android-jvm-tests.sh)")
    return File(dir, name).also { f -> expect(f.isFile) { "missing fixture $f" } }
}

/** Records every call and answers Done. */
internal class RecordingEnforcer : Enforcer {
    val calls = mutableListOf<Remediation>()
    override fun carryOut(action: Remediation): ActionOutcome {
        calls += action
        return ActionOutcome.CarriedOut
    }
}

private fun agentAction(action: Remediation, rule: RuleRef? = null) = RemediationAction(ActionRoute.AGENT, rule, action)

fun enforcementTests() {
    test("typed actions: every user restriction has its UserManager key (the core's table)") {
        eq(Restriction.entries.size, Restriction.entries.map(::androidRestrictionKey).toSet().size, "distinct keys")
        eq("no_cellular_2g", androidRestrictionKey(Restriction.DISALLOW_CELLULAR2G), "2G key")
        eq("no_config_mobile_networks", androidRestrictionKey(Restriction.DISALLOW_CONFIG_MOBILE_NETWORKS), "APN key")
    }

    test("routing: MDM reported, NOT_POSSIBLE never attempted, one failure stops nothing") {
        val enforcer = object : Enforcer {
            val calls = mutableListOf<Remediation>()
            override fun carryOut(action: Remediation): ActionOutcome {
                calls += action
                if (action is Remediation.RemoveCaCert) throw IllegalStateException("boom")
                return ActionOutcome.CarriedOut
            }
        }
        val report = enforcer.carryOutAll(
            listOf(
                RemediationAction(ActionRoute.NOT_POSSIBLE, null, Remediation.Apply(Measure.UserRestriction(Restriction.DISALLOW_CELLULAR2G)), NotPossibleReason.API_LEVEL),
                agentAction(Remediation.Apply(Measure.UsbDataSignalingDisabled)),
                agentAction(Remediation.RemoveCaCert("aa")),
                RemediationAction(ActionRoute.MDM, null, Remediation.WipeDevice(true)),
                agentAction(Remediation.LockDevice),
            ),
        )
        eq(listOf(Remediation.Apply(Measure.UsbDataSignalingDisabled), Remediation.RemoveCaCert("aa"), Remediation.LockDevice), enforcer.calls, "carried out")
        val outcomes = report.outcomes.map { it.second }
        expect(outcomes[0] is ActionOutcome.NotPossible && (outcomes[0] as ActionOutcome.NotPossible).reason.contains("API_LEVEL")) { "${outcomes[0]}" }
        eq(ActionOutcome.CarriedOut, outcomes[1], "USB")
        expect(outcomes[2] is ActionOutcome.Failed) { "exception: ${outcomes[2]}" }
        eq(ActionOutcome.HandedToMdm, outcomes[3], "MDM route")
        eq(ActionOutcome.CarriedOut, outcomes[4], "lock")
        eq(3, report.notDone.size, "not done")
        eq(listOf<Remediation>(Remediation.WipeDevice(true)), report.forMdm.map { it.action }, "for MDM")
    }

    test("a real agent's typed actions for the pixel-violations phone reach the enforcer") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val report = agent.evaluateCompliance(pixelSnapshot(), T0)
            expect(!report.compliant) { "the sample should not comply" }
            val taken = agent.takeActions(T0)
            expect(taken.isNotEmpty()) { "no actions" }
            taken.forEach { println("      ${it.route} ${it.rule} ${it.action}") }
            val enforcer = RecordingEnforcer()
            val outcome = enforcer.carryOutAll(taken)
            val agentRouted = taken.filter { it.route == ActionRoute.AGENT }.map { it.action }
            eq(agentRouted, enforcer.calls, "the enforcer receives every AGENT action, in order")
            eq(taken.filter { it.route == ActionRoute.MDM }, outcome.forMdm, "MDM actions reported")
            expect(outcome.notDone.all { it.second == ActionOutcome.HandedToMdm }) { "${outcome.notDone}" }
            val notice = ComplianceNotice(RuleRef.App("com.anydesk.anydeskandroid"), listOf(ReasonCode.APP_INSTALLED))
            expect(enforcer.calls.any { it is Remediation.NotifyUser && notice in it.notices }) { "notice" }
            EXPECTED_PIXEL_CALLS.forEach { call -> expect(call in enforcer.calls) { "missing $call in ${enforcer.calls}" } }
            // Each action is handed out once.
            eq(0, agent.takeActions(T0).size, "second take")
        }
    }
}

private val EXPECTED_PIXEL_CALLS: List<Remediation> = listOf(
    Remediation.RemoveCaCert("d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e"),
    Remediation.Apply(Measure.UserRestriction(Restriction.DISALLOW_DEBUGGING_FEATURES)),
    Remediation.Apply(Measure.UserRestriction(Restriction.DISALLOW_CELLULAR2G)),
    Remediation.Apply(Measure.UserRestriction(Restriction.DISALLOW_USB_FILE_TRANSFER)),
    Remediation.Apply(Measure.MaximumTimeToLock(300000uL)),
    Remediation.Apply(Measure.RequiredPasswordComplexity(PasswordQuality.COMPLEXITY_MEDIUM)),
    Remediation.Apply(Measure.UninstallBlocked("org.portcullis")),
    Remediation.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")),
)
