// The compliance loop on the JVM: the snapshot built from inventory and settings records
// gives the real core the same verdicts as the reference sample
// (core/tests/data/compliance/pixel-violations.json), facts not observed stay absent, the
// core's actions reach the enforcer, and passes run when something changed or a day passed.

package org.portcullis.android.jvmtests

import java.time.Instant
import org.portcullis.ComplianceReport
import org.portcullis.PortcullisException
import org.portcullis.RemediationAction
import org.portcullis.android.core.Action
import org.portcullis.android.core.ActionOutcome
import org.portcullis.android.core.EnforcementReport
import org.portcullis.android.core.RequestedAction
import org.portcullis.android.core.Route
import org.portcullis.android.core.ComplianceAgent
import org.portcullis.android.core.ComplianceLoop
import org.portcullis.android.core.CompliancePass
import org.portcullis.android.core.ComplianceSnapshots
import org.portcullis.android.core.ComplianceStateEncoding
import org.portcullis.android.core.KeyedAppStateLimits
import org.portcullis.android.core.carryOutAll
import org.portcullis.android.core.EncryptionStatuses
import org.portcullis.android.core.EvidenceSnapshots
import org.portcullis.android.core.InstalledPackage
import org.portcullis.android.core.Measure
import org.portcullis.android.core.PasswordComplexities
import org.portcullis.android.core.SettingsSnapshot
import org.portcullis.android.core.complianceAgentOf

private const val VENDING = "com.android.vending"

private fun pkg(id: String, version: Long, installer: String?, cert: String? = null, system: Boolean = false) =
    InstalledPackage(
        packageName = id,
        versionCode = version,
        versionName = null,
        signingCertsSha256 = listOfNotNull(cert),
        installer = installer,
        system = system,
        enabled = true,
    )

/** The phone of pixel-violations.json, as the Android readers would report it. */
private val PIXEL_PACKAGES = listOf(
    pkg("org.portcullis", 12, VENDING, "5c1e9a4147078a6e7c1b2d3a449f00112233445566778899aabbccddeeff0123"),
    pkg("org.thoughtcrime.securesms", 153001, VENDING, "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26"),
    pkg("com.anydesk.anydeskandroid", 7030000, VENDING, "6f4c2a1b0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99"),
    pkg("com.example.sideloaded", 3, null, "aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00"),
    pkg(VENDING, 84451000, null, system = true),
    pkg("com.android.settings", 34, null, system = true),
)

private val PIXEL_SETTINGS = SettingsSnapshot(
    sdkInt = 34,
    securityPatch = "2025-10-01",
    developerSettings = true,
    adbEnabled = true,
    airplaneMode = false,
    autoTime = true,
    deviceSecure = true,
    storageEncrypted = true,
    encryptionStatus = EncryptionStatuses.ACTIVE_PER_USER,
    adbWifiEnabled = false,
    maximumTimeToLockMs = 300_000,
    maximumFailedPasswordsForWipe = 15,
    unknownSourcesAllowed = false,
    verifyAppsEnabled = true,
    cellular2gEnabled = true,
    usbDataAccess = "DISALLOW_USB_FILE_TRANSFER",
    userCaCertsSha256 = listOf("d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"),
    accessibilityServices = emptyList(),
)

private fun pixelJson(now: Instant = Instant.parse("2026-03-01T08:00:00Z")) =
    ComplianceSnapshots.json(now, deviceOwner = true, settings = PIXEL_SETTINGS, packages = PIXEL_PACKAGES,
        agentPackage = "org.portcullis", uninstallBlocked = true)

/** A double that counts passes and can fail. */
private class ScriptedAgent : ComplianceAgent {
    var evaluations = 0
    var failNext = false
    var actions: List<RemediationAction> = emptyList()

    override suspend fun evaluateCompliance(snapshotJson: String, now: Instant): ComplianceReport {
        if (failNext) {
            failNext = false
            throw PortcullisException.Storage("database is locked")
        }
        evaluations++
        return ComplianceReport(true, 0u, "[]", emptyList())
    }

    override suspend fun takeActions(now: Instant): List<RemediationAction> = actions.also { actions = emptyList() }
}

fun complianceTests() {
    test("compliance: the snapshot built from the readers' records judges like the reference sample") { s ->
        val verdicts = mutableListOf<String>()
        for ((i, json) in listOf(complianceSample("pixel-violations.json"), pixelJson()).withIndex()) {
            val scratch = Scratch(java.io.File(s.dir, "agent-$i").apply { mkdirs() })
            openAgent(scratch).use { agent ->
                agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
                agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
                val report = agent.evaluateCompliance(json, T0)
                expect(!report.compliant) { "the pixel should not comply" }
                verdicts += report.verdictsJson
            }
        }
        eq(verdicts[0], verdicts[1], "verdicts of the sample and of the built snapshot")
    }

    test("compliance: facts not observed are left out, and 'none' stays explicit") {
        val bare = SettingsSnapshot(
            sdkInt = 29, securityPatch = "not a date", developerSettings = false, adbEnabled = false,
            airplaneMode = false, autoTime = true, deviceSecure = false, storageEncrypted = false,
        )
        val unknownInstaller = pkg("com.example.a", 1, null).copy(installerObserved = false)
        val noInstaller = pkg("com.example.b", 2, null)
        val json = jsonObject(
            ComplianceSnapshots.json(T0, deviceOwner = false, settings = bare, packages = listOf(unknownInstaller, noInstaller, noInstaller),
                agentPackage = "org.portcullis", uninstallBlocked = null),
        )
        eq("portcullis/snapshot/v1", json["schema"], "schema")
        eq(false, json["deviceOwner"], "device owner")
        @Suppress("UNCHECKED_CAST")
        val os = json["os"] as Map<String, Any?>
        eq(setOf("apiLevel"), os.keys, "a malformed patch date is left out")
        @Suppress("UNCHECKED_CAST")
        val settings = json["settings"] as Map<String, Any?>
        eq(setOf("developerOptionsEnabled", "usbDebuggingEnabled"), settings.keys, "only observed settings")
        @Suppress("UNCHECKED_CAST")
        val apps = json["apps"] as List<Map<String, Any?>>
        eq(2, apps.size, "a package listed twice appears once")
        expect("installSource" !in apps[0]) { "unobserved installer: ${apps[0]}" }
        eq(emptyMap<String, Any?>(), apps[1]["installSource"], "no installer recorded")
        @Suppress("UNCHECKED_CAST")
        eq(mapOf("packageName" to "org.portcullis"), json["agent"] as Map<String, Any?>, "agent")
        val locked = jsonObject(ComplianceSnapshots.json(T0, true, bare.copy(mobileNetworksConfigDisabled = true), null, "org.portcullis", true))
        @Suppress("UNCHECKED_CAST")
        eq(true, (locked["settings"] as Map<String, Any?>)["mobileNetworksConfigDisabled"], "locked networks")
        // Without an inventory there is no apps list at all (unknown), not an empty one (none).
        val noInventory = jsonObject(ComplianceSnapshots.json(T0, true, bare, null, "org.portcullis", true))
        expect("apps" !in noInventory) { "apps present without an inventory" }
    }

    test("compliance: values an app controls that the core would refuse are left out, not fatal") { s ->
        val hostile = listOf(
            pkg("com.example.negative", -5, VENDING, "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26"),
            pkg("com.example.manysigners", 1, VENDING).copy(signingCertsSha256 = (0 until 17).map { "%064x".format(it) }),
            pkg("com.example.weirdname", 2, VENDING).copy(versionName = "1.0\uD800"),
        )
        val settings = PIXEL_SETTINGS.copy(securityPatch = "2024-02-30")
        val json = ComplianceSnapshots.json(T0, true, settings, PIXEL_PACKAGES + hostile, "org.portcullis", true)
        @Suppress("UNCHECKED_CAST")
        val apps = (jsonObject(json)["apps"] as List<Map<String, Any?>>).associateBy { it["id"] }
        expect("versionCode" !in apps.getValue("com.example.negative")) { "negative version code" }
        expect("signingCertsSha256" !in apps.getValue("com.example.manysigners")) { "17 signers" }
        @Suppress("UNCHECKED_CAST")
        expect("securityPatchLevel" !in (jsonObject(json)["os"] as Map<String, Any?>)) { "impossible date" }
        // The real core takes both documents.
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            agent.evaluateCompliance(json, T0)
            // An inspection outside any window is accepted: the evidence parses.
            agent.submitInspection(null, EvidenceSnapshots.json(T0, PIXEL_PACKAGES + hostile, settings), T0)
        }
        expect(!EvidenceSnapshots.wellFormed("1.0\uD800") && EvidenceSnapshots.wellFormed("1.0 \uD83D\uDE00")) { "surrogates" }
    }

    test("compliance: with no policy in force a pass is skipped until something changes") { s ->
        openAgent(s).use { agent ->
            val loop = ComplianceLoop(complianceAgentOf { agent }, RecordingEnforcer(), sdkInt = 34) { now -> pixelJson(now) }
            val skipped = loop.run(T0)
            expect(skipped is CompliancePass.Skipped) { "$skipped" }
            expect(!loop.due()) { "no scan at every wake-up while nothing can be judged" }
            expect(!agent.wake(at(60), null).duties.evaluateCompliance) { "nor does the core ask for one" }
            loop.markChanged()
            expect(loop.due()) { "a change (a policy) brings the pass back" }
        }
    }

    test("compliance state: long action lists are cut to the keyed state's limit and counted") {
        val many = (0 until 60).map {
            RequestedAction(Route.MDM, "app:com.example.package$it", Action.Apply(Measure.PackageSuspended("com.example.package$it")))
        }
        val report = EnforcementReport(many.map { it to ActionOutcome.ForMdm })
        val state = ComplianceStateEncoding.encode(
            CompliancePass.Evaluated(ComplianceReport(false, 60u, "[]", emptyList()), report),
        )
        assertWithinLimits(state)
        val data = jsonObject(state.data)
        @Suppress("UNCHECKED_CAST")
        val kept = (data["for_mdm"] as List<Any?>).size
        expect(kept in 1 until 60) { "kept $kept" }
        eq((60 - kept).toLong(), data["left_out"], "left out")
        expect(state.message.contains("60 action(s) for the MDM")) { state.message }
    }

    test("compliance: encryption and password-complexity values map to the snapshot's names") {
        eq("UNENCRYPTED", ComplianceSnapshots.encryption(EncryptionStatuses.INACTIVE, true), "inactive")
        eq("UNENCRYPTED", ComplianceSnapshots.encryption(EncryptionStatuses.UNSUPPORTED, false), "unsupported")
        eq(null, ComplianceSnapshots.encryption(EncryptionStatuses.ACTIVATING, true), "activating")
        eq("ENCRYPTED_WITHOUT_PASSWORD", ComplianceSnapshots.encryption(EncryptionStatuses.ACTIVE_DEFAULT_KEY, true), "default key")
        eq("ENCRYPTED_WITH_PASSWORD", ComplianceSnapshots.encryption(EncryptionStatuses.ACTIVE_PER_USER, false), "per user")
        eq("ENCRYPTED_WITH_PASSWORD", ComplianceSnapshots.encryption(EncryptionStatuses.ACTIVE, true), "FDE with a lock")
        eq("ENCRYPTED_WITHOUT_PASSWORD", ComplianceSnapshots.encryption(EncryptionStatuses.ACTIVE, false), "FDE without")
        eq(listOf("NONE", "LOW", "MEDIUM", "HIGH", null),
            listOf(PasswordComplexities.NONE, PasswordComplexities.LOW, PasswordComplexities.MEDIUM, PasswordComplexities.HIGH, 7)
                .map { ComplianceSnapshots.passwordComplexity(it) }, "complexity")
    }

    test("compliance: a pass takes the core's actions to the enforcer once; the agent's app is never suspended") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val enforcer = RecordingEnforcer()
            val loop = ComplianceLoop(complianceAgentOf { agent }, enforcer, sdkInt = 34) { now -> pixelJson(now) }
            val pass = loop.run(T0) as? CompliancePass.Evaluated ?: fail("pass failed")
            expect(!pass.report.compliant) { "compliant?" }
            expect(Action.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")) in enforcer.calls) { "${enforcer.calls}" }
            expect(enforcer.calls.none { it == Action.Apply(Measure.PackageSuspended("org.portcullis")) }) { "suspended itself" }
            expect(pass.enforcement.outcomes.isNotEmpty()) { "no outcomes" }
            val state = ComplianceStateEncoding.encode(pass)
            assertWithinLimits(state)
            eq(ComplianceStateEncoding.KEY, state.key, "key")
            eq(KeyedAppStateLimits.SEVERITY_ERROR, state.severity, "not compliant is an error state")
            val data = jsonObject(state.data)
            eq(false, data["compliant"], "compliant")
            eq(pass.report.openRules.toLong(), data["open_rules"], "open rules")
            // On an older phone the 2G restriction is not carried out, and the state says so.
            val old = RecordingEnforcer().carryOutAll(pass.enforcement.outcomes.map { it.first }, sdkInt = 33)
            val oldState = jsonObject(ComplianceStateEncoding.encode(pass.copy(enforcement = old)).data)
            @Suppress("UNCHECKED_CAST")
            val notDone = oldState["not_done"] as List<Map<String, Any?>>
            expect(notDone.any { it["action"] == "APPLY USER_RESTRICTION DISALLOW_CELLULAR_2G" }) { "$notDone" }
            val calls = enforcer.calls.size
            // Nothing changed: the next pass asks for nothing new.
            loop.markChanged()
            val again = loop.run(at(60)) as? CompliancePass.Evaluated ?: fail("second pass failed")
            eq(calls, enforcer.calls.size, "no action twice")
            expect(again.enforcement.outcomes.isEmpty()) { "${again.enforcement.outcomes}" }
        }
    }

    test("compliance: passes run when something changed or the core's duties ask; a failed pass is retried") {
        val agent = ScriptedAgent()
        val loop = ComplianceLoop(agent, RecordingEnforcer(), sdkInt = 34) { "{}" }
        expect(loop.due()) { "first pass" }
        expect(loop.runIfDue(T0) is CompliancePass.Evaluated) { "evaluated" }
        eq(null, loop.runIfDue(at(60)), "nothing changed and the core did not ask")
        expect(loop.runIfDue(at(90), coreAsked = true) != null) { "the core's daily cadence runs a pass" }
        loop.markChanged()
        expect(loop.runIfDue(at(120)) != null) { "a change runs a pass" }
        expect(!loop.due()) { "not due again by itself" }
        agent.failNext = true
        val failed = loop.run(at(200_000))
        expect(failed is CompliancePass.Failed && failed.error is PortcullisException.Storage) { "$failed" }
        expect(loop.due()) { "retried after a failure" }
        expect(loop.runIfDue(at(200_001)) is CompliancePass.Evaluated) { "retried" }
        eq(4, agent.evaluations, "evaluations")
    }
}


