// The policy-sync scenario of core/tests/managed_config_sync.rs, from Kotlin: the managed
// configuration as RestrictionsManager hands it over goes to the real core's
// syncManagedConfig with real signed fixtures (trust roots v1 and v2, a rotation signed by
// the new key only, baseline bundles v1, v2 and v3 under root v2) that
// scripts/android-jvm-tests.sh makes with the portcullis console tool.

package org.portcullis.android.jvmtests

import java.io.File
import java.time.Instant
import org.portcullis.Agent
import org.portcullis.BundleSync
import org.portcullis.IndicatorSync
import org.portcullis.InstructionResult
import org.portcullis.InstructionsSync
import org.portcullis.ManagedConfigSync
import org.portcullis.RootSync
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.android.core.ManagedConfigKeys
import org.portcullis.android.core.managedConfigValues

private fun fixtureDir(): File =
    File(System.getProperty("portcullis.fixtures") ?: fail("-Dportcullis.fixtures not set (run scripts/android-jvm-tests.sh)"))

/** A fixture file as the console's form holds it: text, with the newline a paste adds. */
private fun fixture(name: String): String {
    val f = File(fixtureDir(), name)
    expect(f.isFile) { "missing fixture $f" }
    return f.readText(Charsets.UTF_8) + "\n"
}

/** The managed configuration as RestrictionsManager would hand it over. */
private fun config(root: String, bundle: String) = managedConfigValues(
    mapOf(
        ManagedConfigKeys.TRUST_ROOT to fixture(root),
        ManagedConfigKeys.DEVICE_ID to "dev-0001",
        ManagedConfigKeys.DEVICE_GROUPS to "field, all-staff",
        ManagedConfigKeys.POLICY_BUNDLE to fixture(bundle),
        ManagedConfigKeys.INDICATOR_COLLECTIONS to fixture("spyware-v1.indicators"),
        ManagedConfigKeys.INSTRUCTIONS to fixture("instructions/auth-1.instruction"),
        ManagedConfigKeys.CONSOLE_ENDPOINT to "https://console.example.org/portcullis",
    ),
)

/** `policy_refused` alerts raised since the last call (acknowledged, as delivery would). */
private suspend fun refusedAlerts(agent: Agent, now: Instant): Int {
    val alerts = agent.pendingAlerts(50u)
    agent.ackAlerts(alerts.map { it.id }, now)
    return alerts.count { it.kindName == "policy_refused" }
}

/** The keyed app state the glue publishes, checked against the channel's limits. */
private fun published(sync: ManagedConfigSync): ConsoleMessage {
    val spec = sync.console
    assertWithinLimits(spec)
    eq("portcullis.policy", spec.key, "key")
    expect(spec.data.contains("\"format\":\"portcullis/console/v1\"")) { spec.data }
    return spec
}

private fun state(spec: ConsoleMessage): String? = jsonObject(spec.data)["state"] as String?

fun policySyncTests() {
    test("policy sync: enrollment, redelivery, a rolled-back bundle, a refused root and a rotation") { s ->
        val agent = openAgent(s)
        // Enrollment: root, bundle, indicator collection and instruction in one call.
        var sync = agent.syncManagedConfig(config("root.signed", "baseline-v2.bundle"), at(1))
        eq(RootSync.Installed(1uL), sync.trustRoot, "root installed")
        eq(2uL, (sync.policy as BundleSync.Applied).policy.version, "bundle applied")
        expect(sync.indicators.single() is IndicatorSync.InUse) { "${sync.indicators}" }
        expect((sync.instructions as InstructionsSync.Applied).results.single() is InstructionResult.Applied) { "${sync.instructions}" }
        var spec = published(sync)
        eq("applied", state(spec), "state")
        eq("policy version 2 applied (trust root installed)", spec.message, "message")
        eq(ConsoleSeverity.INFO, spec.severity, "severity")
        eq(0, refusedAlerts(agent, at(1)), "alerts")

        // Redelivery: unchanged, no alert.
        sync = agent.syncManagedConfig(config("root.signed", "baseline-v2.bundle"), at(2))
        eq(RootSync.Unchanged(1uL), sync.trustRoot, "root redelivered")
        expect(sync.policy is BundleSync.Unchanged) { "${sync.policy}" }
        expect((sync.instructions as InstructionsSync.Applied).results.single() is InstructionResult.Unchanged) { "${sync.instructions}" }
        eq("in_force", state(published(sync)), "state")
        eq(0, refusedAlerts(agent, at(2)), "alerts")

        // A rolled-back bundle: refused and alerted once, then remembered; version 2 stays.
        for ((remembered, alerts) in listOf(false to 1, true to 0)) {
            sync = agent.syncManagedConfig(config("root.signed", "baseline-v1.bundle"), at(3))
            val refused = sync.policy as BundleSync.Refused
            eq("rollback" to remembered, refused.refusal.code to refused.refusal.remembered, "refusal")
            eq(2uL, sync.inForce?.version, "in force")
            spec = published(sync)
            eq("policy_bundle refused: rollback (policy version 2 stays in force)", spec.message, "message")
            eq(ConsoleSeverity.ERROR, spec.severity, "severity")
            eq(alerts, refusedAlerts(agent, at(3)), "alerts (remembered=$remembered)")
        }

        // A refused root: reported in place of the bundle's outcome, alerted once.
        for ((remembered, alerts) in listOf(false to 1, true to 0)) {
            sync = agent.syncManagedConfig(config("root-v2-weak.signed", "baseline-v2.bundle"), at(4))
            eq(remembered, (sync.trustRoot as RootSync.Refused).refusal.remembered, "remembered")
            spec = published(sync)
            expect(spec.message.startsWith("trust_root refused: ")) { spec.message }
            eq(alerts, refusedAlerts(agent, at(4)), "alerts (remembered=$remembered)")
        }

        // The rotation and the bundle signed under it, in one sync; then its redelivery.
        sync = agent.syncManagedConfig(config("root-v2.signed", "baseline-r2-v3.bundle"), at(5))
        eq(RootSync.Rotated(1uL, 2uL), sync.trustRoot, "rotated")
        eq(3uL, (sync.policy as BundleSync.Applied).policy.version, "bundle under root v2")
        eq("policy version 3 applied (trust root rotated to version 2); 1 indicator collection(s) refused", published(sync).message, "message")
        // The collection signed under the old root is refused now (the one loaded stays in use).
        eq(false, (sync.indicators.single() as IndicatorSync.Refused).refusal.remembered, "collection refused")
        eq(1, refusedAlerts(agent, at(5)), "alerts")
        sync = agent.syncManagedConfig(config("root-v2.signed", "baseline-r2-v3.bundle"), at(6))
        eq(RootSync.Unchanged(2uL), sync.trustRoot, "root redelivered")
        expect(sync.policy is BundleSync.Unchanged) { "${sync.policy}" }
        eq(true, (sync.indicators.single() as IndicatorSync.Refused).refusal.remembered, "remembered")
        eq(0, refusedAlerts(agent, at(6)), "alerts")
        agent.close()
    }

    test("policy sync: without a device id nothing is installed and the console is told which key to fix") { s ->
        val agent = openAgent(s)
        val sync = agent.syncManagedConfig(
            managedConfigValues(
                mapOf(
                    ManagedConfigKeys.TRUST_ROOT to fixture("root.signed"),
                    ManagedConfigKeys.POLICY_BUNDLE to fixture("baseline-v1.bundle"),
                    ManagedConfigKeys.CONSOLE_ENDPOINT to "http://secret-host.example/x",
                    ManagedConfigKeys.DEVICE_GROUPS to 7,
                ),
            ),
            at(1),
        )
        expect(sync.trustRoot is RootSync.NotInstalled) { "${sync.trustRoot}" }
        expect(!sync.enrolled) { "enrolled" }
        eq(listOf("device_groups", "console_endpoint"), sync.problems.map { it.key }, "problems")
        val spec = published(sync)
        eq("problem", state(spec), "state")
        expect(spec.message.startsWith("managed configuration not applied: device_id")) { spec.message }
        expect(!spec.toString().contains("secret-host")) { "a value echoed: $spec" }
        agent.close()
    }
}
