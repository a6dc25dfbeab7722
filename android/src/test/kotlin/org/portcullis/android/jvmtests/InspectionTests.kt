// Inspections on the JVM against the real core: signed indicator collections from managed
// configuration (loaded once, redelivery is no news, a forged one refused once), and a window
// opened by the core's schedule inspected with the evidence built from the package inventory.

package org.portcullis.android.jvmtests

import java.time.Instant
import org.portcullis.SnapshotAccessibilityService
import org.portcullis.Alert
import org.portcullis.EvidenceSnapshot
import org.portcullis.InspectionReport
import org.portcullis.InspectionWindow
import org.portcullis.android.core.DeviceConditions
import org.portcullis.android.core.EvidenceSnapshots
import org.portcullis.android.core.InspectionAgent
import org.portcullis.android.core.InspectionLoop
import org.portcullis.android.core.InspectionPass
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.android.core.ManagedConfigKeys
import org.portcullis.android.core.managedConfigValues
import org.portcullis.IndicatorSync
import org.portcullis.consoleInspection
import org.portcullis.AndroidPackage
import org.portcullis.AndroidSettings
import org.portcullis.android.core.inspectionAgentOf

private const val SPY_CERT = "baae14e80d586c0dcecb898b798ab2e8d3f64f8ed260379f0ea1ff650e5332c9"

private val PHONE = listOf(
    AndroidPackage("org.thoughtcrime.securesms", 153001, "7.1", listOf("29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26"), "com.android.vending", system = false, enabled = true),
    AndroidPackage("com.spyvendor.updater", 3, null, listOf(SPY_CERT), null, system = false, enabled = true),
    AndroidPackage("com.android.settings", 34, "14", emptyList(), null, system = true, enabled = true),
)

private val SETTINGS = AndroidSettings(
    sdkInt = 34, securityPatch = "2026-02-05", developerSettings = false, adbEnabled = false, airplaneMode = false,
    autoTime = true, deviceSecure = true,
    accessibilityServices = listOf(SnapshotAccessibilityService("com.spyvendor.updater", false)),
    userCaCertsSha256 = emptyList(),
)

/** Counts calls through to a real agent. */
private class CountingInspections(private val inner: InspectionAgent) : InspectionAgent by inner {
    var conditionReports = 0

    override suspend fun reportConditions(charging: Boolean, onWifi: Boolean, utcOffsetMinutes: Int, now: Instant): List<Alert> {
        conditionReports++
        return inner.reportConditions(charging, onWifi, utcOffsetMinutes, now)
    }
}

fun inspectionTests() {
    test("inspection: the evidence built from the inventory is what the core scans, and matches the spyware") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val counting = CountingInspections(inspectionAgentOf { agent })
            val loop = InspectionLoop(counting) { now -> EvidenceSnapshots.snapshot(now, PHONE, SETTINGS) }

            // The collections arrive with the managed configuration, through the core's sync.
            val signed = fixtureFile("spyware-v1.indicators").readText().trim()
            suspend fun indicators(text: String, now: Instant) = syncIndicators(agent, text, now)
            eq(listOf<IndicatorSync>(IndicatorSync.InUse("fixture", 1uL)), indicators(signed, T0), "loaded")
            eq(listOf<IndicatorSync>(IndicatorSync.InUse("fixture", 1uL)), indicators(signed, at(1)), "redelivered")
            val i = signed.indexOf("\"payload\":\"") + 11 + 60
            val forged = signed.substring(0, i) + (signed[i].code xor 1).toChar() + signed.substring(i + 1)
            val refused = indicators(forged, at(2)).single() as? IndicatorSync.Refused ?: fail("forged accepted")
            eq(false, refused.refusal.remembered, "first refusal")
            val again = indicators(forged, at(3)).single() as? IndicatorSync.Refused ?: fail("forged accepted")
            eq(refused.refusal.copy(remembered = true), again.refusal, "same answer, not offered again")
            eq(listOf("policy_refused"), agent.pendingAlerts(50u).map { it.kindName }, "one alert for the forgery")

            // Wake as the alarm would (hourly re-reads included) until the schedule opens a window.
            val conditions = DeviceConditions(charging = true, onWifi = true, utcOffsetMinutes = 60)
            var pass: InspectionPass = loop.onWake(conditions, at(10))
            var now = at(10)
            var wakes = 1
            repeat(2000) {
                if (pass !is InspectionPass.NoWindow) return@repeat
                now = agent.nextWakeup() ?: fail("no wake-up planned")
                agent.handleTimeout(now)
                pass = loop.onWake(conditions, now)
                wakes++
            }
            // The core keeps only changed conditions, so the loop reports them at every wake-up.
            eq(wakes, counting.conditionReports, "conditions reported at every wake-up")
            val submitted = pass as? InspectionPass.Submitted ?: fail("no window inspected: $pass")
            expect(submitted.report.findings >= 3u) { "findings ${submitted.report.findings}: ${submitted.report.reportJson}" }
            expect(submitted.report.reportJson.contains("com.spyvendor.updater")) { submitted.report.reportJson }
            expect(submitted.report.evidenceBundle.contains(SPY_CERT)) { "the bundle carries the evidence" }
            eq(listOf("indicator_match"), submitted.report.alerts.map { it.kindName }, "alerts")
            val state = consoleInspection(submitted.window, submitted.report, now)
            eq(ConsoleSeverity.ERROR, state.severity, "a match is an error state")
            val data = jsonObject(state.data)
            eq(submitted.report.reportSha256, data["report_sha256"], "digest")
            eq(submitted.report.findings.toLong(), data["findings"], "findings")
            assertWithinLimits(state)
            expect(!state.data.contains(SPY_CERT) && !state.message.contains("spyvendor")) { "the state carries evidence: $state" }
            // The window is complete: the next wake-up inspects nothing.
            eq(InspectionPass.NoWindow, loop.onWake(conditions, now.plusSeconds(60)), "inspected once")
        }
    }

    test("inspection: a failure leaves the window for the next wake-up") {
        var failNext = true
        val window = InspectionWindow(7uL, "routine", T0, at(3600))
        val agent = object : InspectionAgent {
            var submissions = 0
            override suspend fun reportConditions(charging: Boolean, onWifi: Boolean, utcOffsetMinutes: Int, now: Instant): List<Alert> = emptyList()
            override suspend fun openInspectionWindow(): InspectionWindow? = window.takeIf { submissions == 0 }
            override suspend fun submitInspection(windowId: ULong?, evidence: EvidenceSnapshot, now: Instant): InspectionReport {
                eq(7uL, windowId, "window id")
                submissions++
                return InspectionReport("{}", "", "", "", "{}", 0u, emptyList())
            }
        }
        val loop = InspectionLoop(agent) { if (failNext) { failNext = false; throw IllegalStateException("inventory unavailable") } else EvidenceSnapshot() }
        val failed = loop.onWake(null, T0)
        expect(failed is InspectionPass.Failed && failed.error is IllegalStateException) { "$failed" }
        expect(loop.onWake(null, at(60)) is InspectionPass.Submitted) { "retried" }
        eq(InspectionPass.NoWindow, loop.onWake(null, at(120)), "done")
    }
}

/** The managed configuration's `indicator_collections` through the core's sync. */
private suspend fun syncIndicators(agent: org.portcullis.Agent, collections: String, now: Instant): List<IndicatorSync> =
    agent.syncManagedConfig(managedConfigValues(mapOf(ManagedConfigKeys.INDICATOR_COLLECTIONS to collections)), now).indicators
