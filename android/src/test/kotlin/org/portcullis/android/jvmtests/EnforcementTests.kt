// The core's remediation actions, parsed and carried out: parser unit tests for every Action
// and Measure variant and for malformed JSON, and a real agent (signed baseline fixtures from
// -Dportcullis.fixtures) judging core/tests/data/compliance/pixel-violations.json, whose
// actions a fake enforcer receives.

package org.portcullis.android.jvmtests

import java.io.File
import org.portcullis.android.core.Action
import org.portcullis.android.core.ActionOutcome
import org.portcullis.android.core.Enforcement
import org.portcullis.android.core.Enforcer
import org.portcullis.android.core.Measure
import org.portcullis.android.core.MiniJson
import org.portcullis.android.core.Notice
import org.portcullis.android.core.RequestedAction
import org.portcullis.android.core.Route
import org.portcullis.android.core.UserRestrictionKeys
import org.portcullis.android.core.carryOutAll

internal fun fixtureFile(name: String): File {
    val dir = System.getProperty("portcullis.fixtures") ?: fail("-Dportcullis.fixtures not set (run scripts/android-jvm-tests.sh)")
    return File(dir, name).also { f -> expect(f.isFile) { "missing fixture $f" } }
}

internal fun complianceSample(name: String): String {
    val android = System.getProperty("portcullis.androidDir") ?: fail("-Dportcullis.androidDir not set")
    val f = File(File(android).absoluteFile.parentFile, "core/tests/data/compliance/$name")
    expect(f.isFile) { "missing sample $f" }
    return f.readText(Charsets.UTF_8)
}

/** Records every call and answers Done. */
internal class RecordingEnforcer : Enforcer {
    val calls = mutableListOf<Action>()
    override fun carryOut(action: Action): ActionOutcome {
        calls += action
        return ActionOutcome.Done
    }
}

private fun apply(measure: String) = """{"action":"APPLY","measure":$measure}"""

fun enforcementTests() {
    test("action JSON: every Action and Measure variant of the core parses") {
        val cases = listOf(
            apply("""{"kind":"USER_RESTRICTION","restriction":"DISALLOW_CELLULAR_2G"}""") to Action.Apply(Measure.UserRestriction("DISALLOW_CELLULAR_2G")),
            """{"action":"LIFT","measure":{"kind":"USB_DATA_SIGNALING_DISABLED"}}""" to Action.Lift(Measure.UsbDataSignalingDisabled),
            apply("""{"kind":"MAXIMUM_TIME_TO_LOCK","millis":300000}""") to Action.Apply(Measure.MaximumTimeToLock(300000)),
            apply("""{"kind":"MAXIMUM_FAILED_PASSWORDS_FOR_WIPE","attempts":10}""") to Action.Apply(Measure.MaximumFailedPasswordsForWipe(10)),
            apply("""{"kind":"REQUIRED_PASSWORD_COMPLEXITY","complexity":"COMPLEXITY_HIGH"}""") to Action.Apply(Measure.RequiredPasswordComplexity("COMPLEXITY_HIGH")),
            apply("""{"kind":"ALWAYS_ON_VPN","package":"org.vpn","lockdown":true}""") to Action.Apply(Measure.AlwaysOnVpn("org.vpn", true)),
            apply("""{"kind":"PERMITTED_ACCESSIBILITY_SERVICES","packages":[]}""") to Action.Apply(Measure.PermittedAccessibilityServices(emptyList())),
            apply("""{"kind":"UNINSTALL_BLOCKED","package":"org.portcullis"}""") to Action.Apply(Measure.UninstallBlocked("org.portcullis")),
            apply("""{"kind":"PACKAGE_SUSPENDED","package":"com.anydesk.anydeskandroid"}""") to Action.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")),
            """{"action":"LIFT","measure":{"kind":"PACKAGE_HIDDEN","package":"com.x"}}""" to Action.Lift(Measure.PackageHidden("com.x")),
            apply("""{"kind":"ACCESS_BLOCKED"}""") to Action.Apply(Measure.AccessBlocked),
            """{"action":"NOTIFY_USER","notices":[{"rule":"r1","reasons":["APP_INSTALLED","X"]}]}""" to
                Action.NotifyUser(listOf(Notice("r1", listOf("APP_INSTALLED", "X")))),
            """{"action":"REMOVE_CA_CERT","sha256":"D4:1D:8C:d9"}""" to Action.RemoveCaCert("d41d8cd9"),
            """ {"action":"LOCK_DEVICE"} """ to Action.LockDevice,
            """{"action":"WIPE_DEVICE","preserve_frp":false}""" to Action.WipeDevice(false),
        )
        for ((json, expected) in cases) eq(expected, Enforcement.parseAction(json), json)
    }

    test("action JSON: malformed or unknown input becomes Unsupported with the raw text, never an exception") {
        val bad = listOf(
            "", "{", "[]", "null", """{"action":"APPLY"}""", """{"action":"FLY"}""",
            apply("""{"kind":"TELEPORT"}"""), apply("""{"kind":"MAXIMUM_TIME_TO_LOCK","millis":"5"}"""),
            """{"action":"LOCK_DEVICE"} x""", """{"action":"LOCK_DEVICE","action":"LOCK_DEVICE"}""",
            """{"action":"WIPE_DEVICE"}""", """{"action":"NOTIFY_USER","notices":[{"rule":"r","reasons":[1]}]}""",
            """{"action":"REMOVE_CA_CERT","sha256":"\u00"}""", "[".repeat(200),
        )
        for (json in bad) {
            val a = Enforcement.parseAction(json)
            expect(a is Action.Unsupported && a.raw == json) { "$json -> $a" }
        }
        eq(mapOf("a" to listOf(1L, 2.5, true, null, "é\n")), MiniJson.parse("""{"a":[1,2.5,true,null,"\u00e9\n"]}"""), "reader")
    }

    test("routing and prechecks: MDM reported, unreadable and too-new measures not carried out, one failure stops nothing") {
        val enforcer = object : Enforcer {
            val calls = mutableListOf<Action>()
            override fun carryOut(action: Action): ActionOutcome {
                calls += action
                if (action is Action.RemoveCaCert) throw IllegalStateException("boom")
                return ActionOutcome.Done
            }
        }
        val report = enforcer.carryOutAll(
            listOf(
                Enforcement.request("AGENT", "r", apply("""{"kind":"USER_RESTRICTION","restriction":"DISALLOW_CELLULAR_2G"}""")),
                Enforcement.request("AGENT", "r", apply("""{"kind":"USB_DATA_SIGNALING_DISABLED"}""")),
                Enforcement.request("AGENT", "r", apply("""{"kind":"USER_RESTRICTION","restriction":"DISALLOW_FUN"}""")),
                Enforcement.request("AGENT", "r", """{"action":"REMOVE_CA_CERT","sha256":"aa"}"""),
                Enforcement.request("MDM", null, """{"action":"WIPE_DEVICE","preserve_frp":true}"""),
                Enforcement.request("AGENT", null, """{"action":"SELF_DESTRUCT"}"""),
                Enforcement.request("PIGEON", null, """{"action":"LOCK_DEVICE"}"""),
                Enforcement.request("AGENT", null, """{"action":"LOCK_DEVICE"}"""),
            ),
            sdkInt = 33,
        )
        eq(listOf(Action.Apply(Measure.UsbDataSignalingDisabled), Action.RemoveCaCert("aa"), Action.LockDevice), enforcer.calls, "carried out")
        val outcomes = report.outcomes.map { it.second }
        expect(outcomes[0] is ActionOutcome.Unsupported && (outcomes[0] as ActionOutcome.Unsupported).reason.contains("API 34")) { "${outcomes[0]}" }
        eq(ActionOutcome.Done, outcomes[1], "USB on 33")
        expect(outcomes[2] is ActionOutcome.Unsupported) { "unknown restriction: ${outcomes[2]}" }
        expect(outcomes[3] is ActionOutcome.Failed) { "exception: ${outcomes[3]}" }
        eq(ActionOutcome.ForMdm, outcomes[4], "MDM route")
        expect(outcomes[5] is ActionOutcome.Unsupported && (outcomes[5] as ActionOutcome.Unsupported).reason.contains("SELF_DESTRUCT")) { "${outcomes[5]}" }
        expect(outcomes[6] is ActionOutcome.Unsupported) { "unknown route: ${outcomes[6]}" }
        eq(ActionOutcome.Done, outcomes[7], "lock")
        eq(6, report.notDone.size, "not done")
        eq(listOf(Action.WipeDevice(true)), report.forMdm.map { it.action }, "for MDM")
        eq(UserRestrictionKeys.CELLULAR_2G, Enforcement.RESTRICTION_KEYS["DISALLOW_CELLULAR_2G"], "key value")
        eq(UserRestrictionKeys.CONFIG_MOBILE_NETWORKS, Enforcement.RESTRICTION_KEYS["DISALLOW_CONFIG_MOBILE_NETWORKS"], "key value")
        eq(null, Enforcement.precheck(Action.Apply(Measure.UserRestriction("DISALLOW_CONFIG_MOBILE_NETWORKS")), 29), "known on minSdk")
        eq(listOf("com.a", "com.b"), Enforcement.accessBlockTargets(listOf("com.b", "org.portcullis", "com.a", "com.a"), setOf("org.portcullis")), "access block")
    }

    test("a real agent's actions for pixel-violations.json all parse and reach the enforcer") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val report = agent.evaluateCompliance(complianceSample("pixel-violations.json"), T0)
            expect(!report.compliant) { "the sample should not comply" }
            val taken = agent.takeActions(T0)
            expect(taken.isNotEmpty()) { "no actions" }
            val requested = taken.map { Enforcement.request(it.route, it.rule, it.actionJson) }
            for ((raw, r) in taken.zip(requested)) {
                println("      ${raw.route} ${raw.rule} ${raw.actionJson}")
                expect(r.action !is Action.Unsupported) { "unreadable: ${raw.actionJson}" }
                expect(r.route != null) { "route ${raw.route}" }
            }
            val enforcer = RecordingEnforcer()
            val outcome = enforcer.carryOutAll(requested, sdkInt = 34)
            val agentRouted = requested.filter { it.route == Route.AGENT }.map { it.action }
            eq(agentRouted, enforcer.calls, "the enforcer receives every AGENT action, in order")
            eq(requested.filter { it.route == Route.MDM }, outcome.forMdm, "MDM actions reported")
            expect(outcome.notDone.all { it.second == ActionOutcome.ForMdm }) { "${outcome.notDone}" }
            expect(enforcer.calls.any { it is Action.NotifyUser && Notice("app:com.anydesk.anydeskandroid", listOf("APP_INSTALLED")) in it.notices }) { "notice" }
            EXPECTED_PIXEL_CALLS.forEach { call -> expect(call in enforcer.calls) { "missing $call in ${enforcer.calls}" } }
            // The same actions on an older phone: DISALLOW_CELLULAR_2G is reported, not attempted.
            val old = RecordingEnforcer().carryOutAll(requested, sdkInt = 33)
            val too = old.notDone.filter { it.second is ActionOutcome.Unsupported }.map { it.first.action }
            expect(Action.Apply(Measure.UserRestriction("DISALLOW_CELLULAR_2G")) in too) { "$too" }
            // Each action is handed out once.
            eq(0, agent.takeActions(T0).size, "second take")
        }
    }
}

private val EXPECTED_PIXEL_CALLS: List<Action> = listOf(
    Action.RemoveCaCert("d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e"),
    Action.Apply(Measure.UserRestriction("DISALLOW_DEBUGGING_FEATURES")),
    Action.Apply(Measure.UserRestriction("DISALLOW_CELLULAR_2G")),
    Action.Apply(Measure.UserRestriction("DISALLOW_USB_FILE_TRANSFER")),
    Action.Apply(Measure.MaximumTimeToLock(300000)),
    Action.Apply(Measure.RequiredPasswordComplexity("COMPLEXITY_MEDIUM")),
    Action.Apply(Measure.UninstallBlocked("org.portcullis")),
    Action.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")),
)
