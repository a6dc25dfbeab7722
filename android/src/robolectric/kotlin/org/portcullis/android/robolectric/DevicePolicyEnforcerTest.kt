// DevicePolicyEnforcer on Robolectric's DevicePolicyManager, as device owner and not: the
// DevicePolicyManager calls each action makes, and the outcome that goes back to the core.

package org.portcullis.android.robolectric

import org.portcullis.ChannelOutcome
import android.app.KeyguardManager
import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.pm.ApplicationInfo
import android.content.pm.PackageInfo
import android.os.UserManager
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.Agent
import org.portcullis.HandedAction
import org.portcullis.android.DevicePolicyEnforcer
import org.portcullis.ActionRoute
import org.portcullis.Measure
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.Restriction
import org.portcullis.android.core.ActionHandling
import org.portcullis.ActionOutcome
import org.portcullis.android.core.InspectionPass
import org.portcullis.android.core.InstructionLoop
import org.portcullis.android.core.Inventory
import org.portcullis.android.core.carryOutAll
import org.portcullis.android.core.instructionAgentOf
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

private const val ANYDESK = "com.anydesk.anydeskandroid"
private const val SIDELOADED = "com.example.sideloaded"

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK], shadows = [PortcullisShadowDevicePolicyManager::class])
class DevicePolicyEnforcerTest {
    private lateinit var context: Context
    private lateinit var dpm: DevicePolicyManager
    private lateinit var admin: ComponentName
    private lateinit var dir: File

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dpm = context.service()
        admin = ComponentName(context, "org.portcullis.test.AdminReceiver")
        dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        PortcullisShadowDevicePolicyManager.clear()
        for (pkg in listOf(ANYDESK, SIDELOADED)) {
            shadowOf(context.packageManager).installPackage(
                PackageInfo().apply {
                    packageName = pkg
                    applicationInfo = ApplicationInfo().apply { packageName = pkg }
                },
            )
        }
    }

    @After
    fun tearDown() {
        dir.deleteRecursively()
    }

    private fun deviceOwner() {
        shadowOf(dpm).setDeviceOwner(admin)
        shadowOf(dpm).setActiveAdmin(admin)
    }

    private fun enforcer() = DevicePolicyEnforcer(context, admin)

    private fun agent(): Agent = runBlocking {
        Agent.open(File(dir, "agent.db").path, MacKey(), T0).also {
            it.installTrustRoot(fixture("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
        }
    }

    private fun instruction(name: String) = fixture("instructions/$name").readText(Charsets.UTF_8).trim()

    private fun loop(agent: Agent) =
        InstructionLoop(instructionAgentOf { agent }, enforcer(), { ChannelOutcome.Sent }) { InspectionPass.NoWindow }

    private fun agentRoute(action: Remediation) = RemediationAction(ActionRoute.AGENT, null, action)

    @Test
    fun aSignedLockInstructionLocksTheScreenAndTheCoreHearsItWasCarriedOut() {
        deviceOwner()
        val agent = agent()
        try {
            val pass = runBlocking { loop(agent).apply(instruction("lock-5.instruction").trim().toByteArray(), at(10)) }
            assertEquals(null, pass.error)
            assertEquals(listOf(ActionHandling.Reported(ActionOutcome.CarriedOut)), pass.actions.map { it.second })
            assertTrue("keyguard locked", context.service<KeyguardManager>().isKeyguardLocked)
            assertEquals("nothing left awaiting an outcome", emptyList<HandedAction>(), runBlocking { agent.actionsAwaitingOutcome() })
            assertTrue("the outcome is journaled as an alert: ${pass.alerts.map { it.kindName }}", pass.alerts.any { it.kindName == "instruction_outcome" })
        } finally {
            agent.close()
        }
    }

    @Test
    fun withoutDeviceOwnershipTheCoreHearsNotPossibleAndNothingIsLocked() {
        val agent = agent()
        try {
            val pass = runBlocking { loop(agent).apply(instruction("lock-5.instruction").trim().toByteArray(), at(10)) }
            val handling = pass.actions.single().second
            assertEquals(ActionHandling.Reported(ActionOutcome.NotPossible("this app is not the device owner")), handling)
            assertFalse("keyguard untouched", context.service<KeyguardManager>().isKeyguardLocked)
            assertEquals(emptyList<HandedAction>(), runBlocking { agent.actionsAwaitingOutcome() })
            // The same for the compliance engine's actions.
            val report = enforcer().carryOutAll(listOf(agentRoute(Remediation.Apply(Measure.PackageSuspended(ANYDESK)))))
            assertEquals(ActionOutcome.NotPossible("this app is not the device owner and holds no delegation-package-access"), report.outcomes.single().second)
        } finally {
            agent.close()
        }
    }

    @Test
    fun aSignedWipeKeepsFactoryResetProtectionAndIsReported() {
        deviceOwner()
        val agent = agent()
        try {
            val pass = runBlocking { loop(agent).apply(instruction("wipe-6.instruction").trim().toByteArray(), at(10)) }
            assertEquals(listOf(ActionHandling.Reported(ActionOutcome.CarriedOut)), pass.actions.map { it.second })
            val (call, flags) = PortcullisShadowDevicePolicyManager.wipes.single()
            assertTrue("wiped through $call", call == "wipeData" || call == "wipeDevice")
            assertEquals("FRP kept: no WIPE_RESET_PROTECTION_DATA", 0, flags and DevicePolicyManager.WIPE_RESET_PROTECTION_DATA)
            // A wipe the core asks for without FRP clears the protection data.
            assertEquals(ActionOutcome.CarriedOut, enforcer().carryOut(Remediation.WipeDevice(preserveFrp = false)))
            val (_, cleared) = PortcullisShadowDevicePolicyManager.wipes.last()
            assertEquals(DevicePolicyManager.WIPE_RESET_PROTECTION_DATA, cleared and DevicePolicyManager.WIPE_RESET_PROTECTION_DATA)
        } finally {
            agent.close()
        }
    }

    @Test
    fun userRestrictionsIncluding2gAndMobileNetworksAreAddedAndCleared() {
        deviceOwner()
        val users = context.service<UserManager>()
        val apply = listOf(Restriction.DISALLOW_CELLULAR2G, Restriction.DISALLOW_CONFIG_MOBILE_NETWORKS, Restriction.DISALLOW_DEBUGGING_FEATURES)
            .map { agentRoute(Remediation.Apply(Measure.UserRestriction(it))) }
        val report = enforcer().carryOutAll(apply)
        assertTrue("all done: ${report.outcomes}", report.allDone)
        assertTrue(users.hasUserRestriction(UserManager.DISALLOW_CELLULAR_2G))
        assertTrue(users.hasUserRestriction(UserManager.DISALLOW_CONFIG_MOBILE_NETWORKS))
        assertTrue(users.hasUserRestriction(UserManager.DISALLOW_DEBUGGING_FEATURES))

        val lift = enforcer().carryOutAll(listOf(agentRoute(Remediation.Lift(Measure.UserRestriction(Restriction.DISALLOW_CELLULAR2G)))))
        assertTrue(lift.allDone)
        assertFalse(users.hasUserRestriction(UserManager.DISALLOW_CELLULAR_2G))
        assertTrue(users.hasUserRestriction(UserManager.DISALLOW_CONFIG_MOBILE_NETWORKS))
    }

    @Test
    fun packagesAreSuspendedHiddenAndRestored() {
        deviceOwner()
        val e = enforcer()
        assertEquals(ActionOutcome.CarriedOut, e.carryOut(Remediation.Apply(Measure.PackageSuspended(ANYDESK))))
        assertTrue(dpm.isPackageSuspended(admin, ANYDESK))
        assertEquals(ActionOutcome.CarriedOut, e.carryOut(Remediation.Apply(Measure.PackageHidden(SIDELOADED))))
        assertTrue(dpm.isApplicationHidden(admin, SIDELOADED))

        assertEquals(ActionOutcome.CarriedOut, e.carryOut(Remediation.Lift(Measure.PackageSuspended(ANYDESK))))
        assertFalse(dpm.isPackageSuspended(admin, ANYDESK))
        assertEquals(ActionOutcome.CarriedOut, e.carryOut(Remediation.Lift(Measure.PackageHidden(SIDELOADED))))
        assertFalse(dpm.isApplicationHidden(admin, SIDELOADED))
        // Hiding a package that is not there is reported, not assumed done.
        val missing = e.carryOut(Remediation.Apply(Measure.PackageHidden("com.example.absent")))
        assertTrue("$missing", missing !is ActionOutcome.CarriedOut)
    }

    @Test
    fun aCaCertificateIsFoundBySha256AndRemoved() {
        deviceOwner()
        val cert = "a user-installed interception CA".toByteArray()
        val other = "another CA the policy keeps".toByteArray()
        assertTrue(dpm.installCaCert(admin, cert))
        assertTrue(dpm.installCaCert(admin, other))
        val sha = Inventory.certificateSha256(cert)

        assertEquals(ActionOutcome.CarriedOut, enforcer().carryOut(Remediation.RemoveCaCert(sha)))
        assertEquals(listOf(Inventory.certificateSha256(other)), dpm.getInstalledCaCerts(admin).map { Inventory.certificateSha256(it) })
        val again = enforcer().carryOut(Remediation.RemoveCaCert(sha))
        assertTrue("already gone: $again", again is ActionOutcome.Failed)
    }

    @Test
    fun lockAndWipeAsRemediationActions() {
        deviceOwner()
        assertEquals(ActionOutcome.CarriedOut, enforcer().carryOut(Remediation.LockDevice))
        assertTrue(context.service<KeyguardManager>().isKeyguardLocked)
        assertEquals(ActionOutcome.CarriedOut, enforcer().carryOut(Remediation.WipeDevice(preserveFrp = true)))
        assertEquals(0, PortcullisShadowDevicePolicyManager.wipes.single().second and DevicePolicyManager.WIPE_RESET_PROTECTION_DATA)
    }
}
