// The compliance loop on the JVM: the typed snapshot built from inventory and settings records
// gives the real core the verdicts of the reference sample's phone
// (core/tests/data/compliance/pixel-violations.json), facts not observed stay null, the core
// refuses what it cannot take naming the field, the core's typed actions reach the enforcer,
// and passes run when something changed or a day passed.

package org.portcullis.android.jvmtests

import org.portcullis.UsbDataAccess
import org.portcullis.androidEncryption
import org.portcullis.androidPasswordComplexity
import java.time.Instant
import org.portcullis.ActionRoute
import org.portcullis.ComplianceReport
import org.portcullis.ComplianceSnapshot
import org.portcullis.EncryptionStatus
import org.portcullis.Measure
import org.portcullis.PasswordComplexity
import org.portcullis.Platform
import org.portcullis.PortcullisException
import org.portcullis.ReasonCode
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.RuleRef
import org.portcullis.SettingRule
import org.portcullis.SnapshotAgent
import org.portcullis.SnapshotInstallSource
import org.portcullis.SnapshotOs
import org.portcullis.SnapshotSettings
import org.portcullis.VerdictStatus
import org.portcullis.ActionOutcome
import org.portcullis.android.core.EnforcementReport
import org.portcullis.android.core.ComplianceAgent
import org.portcullis.android.core.ComplianceLoop
import org.portcullis.android.core.CompliancePass
import org.portcullis.android.core.ComplianceSnapshots
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.consoleSupersedes
import org.portcullis.android.core.carryOutAll
import org.portcullis.android.core.EvidenceSnapshots
import org.portcullis.AndroidPackage
import org.portcullis.AndroidSettings
import org.portcullis.android.core.complianceAgentOf

private const val VENDING = "com.android.vending"

private fun pkg(id: String, version: Long, installer: String?, cert: String? = null, system: Boolean = false) =
    AndroidPackage(
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

private val PIXEL_SETTINGS = AndroidSettings(
    sdkInt = 34,
    securityPatch = "2025-10-01",
    developerSettings = true,
    adbEnabled = true,
    airplaneMode = false,
    autoTime = true,
    deviceSecure = true,
   
    encryptionStatus = EncryptionStatuses.ACTIVE_PER_USER,
    adbWifiEnabled = false,
    maximumTimeToLockMs = 300_000,
    maximumFailedPasswordsForWipe = 15,
    unknownSourcesAllowed = false,
    verifyAppsEnabled = true,
    cellular2gEnabled = true,
    usbDataAccess = UsbDataAccess.DISALLOW_USB_FILE_TRANSFER,
    userCaCertsSha256 = listOf("d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"),
    accessibilityServices = emptyList(),
)

internal fun pixelSnapshot(now: Instant = Instant.parse("2026-03-01T08:00:00Z")) =
    ComplianceSnapshots.snapshot(now, deviceOwner = true, settings = PIXEL_SETTINGS, packages = PIXEL_PACKAGES,
        agentPackage = "org.portcullis", uninstallBlocked = true)

/** A double that counts passes and can fail. */
private class ScriptedAgent : ComplianceAgent {
    var evaluations = 0
    var failNext = false
    var actions: List<RemediationAction> = emptyList()

    override suspend fun evaluateCompliance(snapshot: ComplianceSnapshot, now: Instant): ComplianceReport {
        if (failNext) {
            failNext = false
            throw PortcullisException.Storage("database is locked")
        }
        evaluations++
        return ComplianceReport(true, 0u, emptyList(), emptyList())
    }

    override suspend fun takeActions(now: Instant): List<RemediationAction> = actions.also { actions = emptyList() }
}

fun complianceTests() {
    test("compliance: the snapshot built from the readers' records judges like the reference sample") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val report = agent.evaluateCompliance(pixelSnapshot(), T0)
            expect(!report.compliant) { "the pixel should not comply" }
            fun verdict(rule: RuleRef) = report.verdicts.single { it.rule == rule }
            val anydesk = verdict(RuleRef.App("com.anydesk.anydeskandroid"))
            eq(VerdictStatus.NON_COMPLIANT, anydesk.status, "blocked app")
            eq(listOf(ReasonCode.APP_INSTALLED), anydesk.reasons, "blocked app reasons")
            eq(listOf(ReasonCode.USER_CA_CERT_INSTALLED), verdict(RuleRef.Setting(SettingRule.USER_INSTALLED_CA_CERTS)).reasons, "CA")
            eq(VerdictStatus.COMPLIANT, verdict(RuleRef.App("org.thoughtcrime.securesms")).status, "Signal")
            eq(report.verdicts.count { it.status == VerdictStatus.NON_COMPLIANT || it.status == VerdictStatus.UNKNOWN }.toUInt(),
                report.openRules, "open rules")
        }
    }

    test("compliance: facts not observed stay null, and 'none' stays explicit") {
        val bare = AndroidSettings(
            sdkInt = 29, securityPatch = null, developerSettings = false, adbEnabled = false,
            airplaneMode = false, autoTime = true, deviceSecure = false,
        )
        val unknownInstaller = pkg("com.example.a", 1, null).copy(installerObserved = false)
        val noInstaller = pkg("com.example.b", -2, null)
        val snapshot = ComplianceSnapshots.snapshot(T0, deviceOwner = false, settings = bare,
            packages = listOf(unknownInstaller, noInstaller, noInstaller), agentPackage = "org.portcullis", uninstallBlocked = null)
        eq(Platform.ANDROID, snapshot.platform, "platform")
        eq(false, snapshot.deviceOwner, "device owner")
        eq(SnapshotOs(apiLevel = 29u), snapshot.os, "only the API level is observed")
        eq(SnapshotSettings(developerOptionsEnabled = false, usbDebuggingEnabled = false), snapshot.settings, "only observed settings")
        val apps = snapshot.apps ?: fail("no apps")
        eq(3, apps.size, "the list as read (the core drops the repeat)")
        eq(null, apps[0].installSource, "unobserved installer")
        eq(SnapshotInstallSource(null), apps[1].installSource, "no installer recorded")
        eq(-2L, apps[1].versionCode, "as read (the core reads a negative one as not observed)")
        eq(SnapshotAgent("org.portcullis", null), snapshot.agent, "agent")
        val locked = ComplianceSnapshots.snapshot(T0, true, bare.copy(mobileNetworksConfigDisabled = true), null, "org.portcullis", true)
        eq(true, locked.settings.mobileNetworksConfigDisabled, "locked networks")
        val esim = ComplianceSnapshots.snapshot(T0, true, bare.copy(addEsimDisallowed = true), null, "org.portcullis", true)
        eq(true, esim.settings.addEsimDisallowed, "eSIM additions blocked")
        // Without an inventory there is no apps list at all (unknown), not an empty one (none).
        eq(null, locked.apps, "apps without an inventory")
    }

    test("compliance: the core refuses what it cannot take, naming the field; nothing is judged") { s ->
        val manySigners = pkg("com.example.manysigners", 1, VENDING).copy(signingCertsSha256 = (0 until 17).map { "%064x".format(it) })
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val signers = ComplianceSnapshots.snapshot(T0, true, PIXEL_SETTINGS, PIXEL_PACKAGES + manySigners, "org.portcullis", true)
            val e = assertThrows<PortcullisException.InvalidInput>("17 signers") { agent.evaluateCompliance(signers, T0) }
            eq("apps[6].signingCertsSha256", e.field, "field")
            val date = ComplianceSnapshots.snapshot(T0, true, PIXEL_SETTINGS.copy(securityPatch = "2024-02-30"), PIXEL_PACKAGES, "org.portcullis", true)
            eq("os.securityPatchLevel", assertThrows<PortcullisException.InvalidInput>("date") { agent.evaluateCompliance(date, T0) }.field, "field")
            eq(emptyList<RemediationAction>(), agent.takeActions(T0), "nothing requested")
            // A version name with a lone surrogate is left out of the evidence (it cannot be UTF-8).
            val weird = pkg("com.example.weirdname", 2, VENDING).copy(versionName = "1.0\uD800")
            val evidence = EvidenceSnapshots.snapshot(T0, PIXEL_PACKAGES + weird, PIXEL_SETTINGS)
            eq(null, evidence.packages.single { it.id == "com.example.weirdname" }.versionName, "lone surrogate")
            agent.submitInspection(null, evidence, T0)
        }
        expect(!EvidenceSnapshots.wellFormed("1.0\uD800") && EvidenceSnapshots.wellFormed("1.0 \uD83D\uDE00")) { "surrogates" }
    }

    test("compliance: with no policy in force a pass is skipped until something changes") { s ->
        openAgent(s).use { agent ->
            val loop = ComplianceLoop(complianceAgentOf { agent }, RecordingEnforcer()) { now -> pixelSnapshot(now) }
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
            RemediationAction(ActionRoute.MDM, RuleRef.App("com.example.package$it"), Remediation.Apply(Measure.PackageSuspended("com.example.package$it")))
        }
        val report = EnforcementReport(many.map { it to ActionOutcome.HandedToMdm })
        val state = CompliancePass.Evaluated(ComplianceReport(false, 60u, emptyList(), emptyList()), report).console(T0)
        assertWithinLimits(state)
        val data = jsonObject(state.data)
        @Suppress("UNCHECKED_CAST")
        val kept = (data["for_mdm"] as List<Any?>).size
        expect(kept in 1 until 60) { "kept $kept" }
        eq((60 - kept).toLong(), data["left_out"], "left out")
        expect(state.message.contains("60 action(s) for the MDM")) { state.message }
    }

    test("compliance: encryption and password-complexity values map to the snapshot's values") {
        eq(EncryptionStatus.UNENCRYPTED, androidEncryption(EncryptionStatuses.INACTIVE, true), "inactive")
        eq(EncryptionStatus.UNENCRYPTED, androidEncryption(EncryptionStatuses.UNSUPPORTED, false), "unsupported")
        eq(null, androidEncryption(EncryptionStatuses.ACTIVATING, true), "activating")
        eq(EncryptionStatus.ENCRYPTED_WITHOUT_PASSWORD, androidEncryption(EncryptionStatuses.ACTIVE_DEFAULT_KEY, true), "default key")
        eq(EncryptionStatus.ENCRYPTED_WITH_PASSWORD, androidEncryption(EncryptionStatuses.ACTIVE_PER_USER, false), "per user")
        eq(EncryptionStatus.ENCRYPTED_WITH_PASSWORD, androidEncryption(EncryptionStatuses.ACTIVE, true), "FDE with a lock")
        eq(EncryptionStatus.ENCRYPTED_WITHOUT_PASSWORD, androidEncryption(EncryptionStatuses.ACTIVE, false), "FDE without")
        eq(listOf(PasswordComplexity.NONE, PasswordComplexity.LOW, PasswordComplexity.MEDIUM, PasswordComplexity.HIGH, null),
            listOf(PasswordComplexities.NONE, PasswordComplexities.LOW, PasswordComplexities.MEDIUM, PasswordComplexities.HIGH, 7)
                .map { androidPasswordComplexity(it) }, "complexity")
    }

    test("compliance: a pass takes the core's actions to the enforcer once; the agent's app is never suspended") { s ->
        openAgent(s).use { agent ->
            agent.installTrustRoot(fixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
            agent.applyPolicy(fixtureFile("baseline-v1.bundle").readBytes(), T0)
            val enforcer = RecordingEnforcer()
            val loop = ComplianceLoop(complianceAgentOf { agent }, enforcer) { now -> pixelSnapshot(now) }
            val pass = loop.run(T0) as? CompliancePass.Evaluated ?: fail("pass failed")
            expect(!pass.report.compliant) { "compliant?" }
            expect(Remediation.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")) in enforcer.calls) { "${enforcer.calls}" }
            expect(enforcer.calls.none { it == Remediation.Apply(Measure.PackageSuspended("org.portcullis")) }) { "suspended itself" }
            expect(pass.enforcement.outcomes.isNotEmpty()) { "no outcomes" }
            val state = pass.console(T0)
            assertWithinLimits(state)
            eq("portcullis.compliance", state.key, "key")
            // The same pass a day later is no news to the core: not published again.
            expect(!consoleSupersedes(state, pass.console(T0.plusSeconds(86_400)))) { "same pass, new time" }
            eq(ConsoleSeverity.ERROR, state.severity, "not compliant is an error state")
            val data = jsonObject(state.data)
            eq(false, data["compliant"], "compliant")
            eq(pass.report.openRules.toLong(), data["open_rules"], "open rules")
            // Actions the phone could not carry out are listed with the reason.
            val old = EnforcementReport(pass.enforcement.outcomes.map { it.first to ActionOutcome.NotPossible("API 33") })
            val oldState = jsonObject(pass.copy(enforcement = old).console(T0).data)
            @Suppress("UNCHECKED_CAST")
            val notDone = oldState["not_done"] as List<Map<String, Any?>>
            expect(notDone.any { it["action"] == "APPLY USER_RESTRICTION DISALLOW_CELLULAR_2G" && it["why"] == "not possible: API 33" }) { "$notDone" }
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
        val loop = ComplianceLoop(agent, RecordingEnforcer()) { pixelSnapshot(it) }
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


