// The two deployments under a shadowed DevicePolicyManager, on API 33 and 34: the agent as
// device owner, and as a companion of the EMM's DPC holding each delegated scope (calls with
// a null admin). Also the wipe call per API level, the USB capability check, an access block
// that spares the critical packages, the deployment the core reads at start, connectivity
// before the first network callback, a phone without telephony, and key-store errors.

package org.portcullis.android.robolectric

import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.pm.ActivityInfo
import android.content.pm.ApplicationInfo
import android.content.pm.PackageInfo
import android.content.pm.ResolveInfo
import android.os.Build
import android.telephony.SubscriptionInfo
import android.telephony.SubscriptionManager
import java.io.File
import java.io.IOException
import java.nio.file.Files
import java.security.ProviderException
import java.util.concurrent.Executor
import javax.crypto.spec.SecretKeySpec
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.Agent
import org.portcullis.ActionRoute
import org.portcullis.DeploymentMode
import org.portcullis.Measure
import org.portcullis.Remediation
import org.portcullis.RemediationAction
import org.portcullis.Restriction
import org.portcullis.PortcullisException
import org.portcullis.android.ConnectivityObserver
import org.portcullis.android.DeploymentReader
import org.portcullis.android.DevicePolicyEnforcer
import org.portcullis.android.KeystoreDeviceKey
import org.portcullis.android.TelephonyObserver
import org.portcullis.ActionOutcome
import org.portcullis.android.core.AgentFeeder
import org.portcullis.android.core.InputQueue
import org.portcullis.android.core.Inventory
import org.portcullis.android.core.carryOutAll
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.Implementation
import org.robolectric.annotation.Implements
import org.robolectric.shadows.ShadowNetwork
import org.robolectric.shadows.ShadowNetworkCapabilities

private const val APP = "com.anydesk.anydeskandroid"
private const val LAUNCHER = "com.sec.android.app.launcher"
private const val PLAY = "com.android.vending"
private const val GMS = "com.google.android.gms"
private const val DPC = "com.emm.dpc"

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [33, 34], shadows = [PortcullisShadowDevicePolicyManager::class])
class DeploymentTest {
    private lateinit var context: Context
    private lateinit var dpm: DevicePolicyManager
    private lateinit var admin: ComponentName
    private val dpc = ComponentName(DPC, "$DPC.AdminReceiver")

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dpm = context.service()
        admin = ComponentName(context, "org.portcullis.test.AdminReceiver")
        PortcullisShadowDevicePolicyManager.clear()
        for (pkg in listOf(APP, LAUNCHER, PLAY, GMS, DPC, "android")) {
            shadowOf(context.packageManager).installPackage(
                PackageInfo().apply {
                    packageName = pkg
                    applicationInfo = ApplicationInfo().apply { packageName = pkg }
                },
            )
        }
        // The launcher is this phone's home screen.
        shadowOf(context.packageManager).addResolveInfoForIntent(
            Intent(Intent.ACTION_MAIN).addCategory(Intent.CATEGORY_HOME),
            ResolveInfo().apply { activityInfo = ActivityInfo().apply { packageName = LAUNCHER; name = "$LAUNCHER.Home" } },
        )
    }

    private fun owner() {
        shadowOf(dpm).setDeviceOwner(admin)
        shadowOf(dpm).setActiveAdmin(admin)
    }

    /** The EMM's DPC owns the device and delegates [scopes] to this app. */
    private fun companion(vararg scopes: String) {
        shadowOf(dpm).setDeviceOwner(dpc)
        shadowOf(dpm).setActiveAdmin(dpc)
        dpm.setDelegatedScopes(dpc, context.packageName, scopes.toList())
    }

    /** In companion mode the app has no admin component of its own. */
    private fun enforcer(withAdmin: Boolean = true) = DevicePolicyEnforcer(context, if (withAdmin) admin else null)

    private fun agentDoes(e: DevicePolicyEnforcer, action: Remediation): ActionOutcome =
        e.carryOutAll(listOf(RemediationAction(ActionRoute.AGENT, null, action))).outcomes.single().second

    private val suspendApp = Remediation.Apply(Measure.PackageSuspended(APP))
    private val hideApp = Remediation.Apply(Measure.PackageHidden(APP))
    private val blockUninstall get() = Remediation.Apply(Measure.UninstallBlocked(context.packageName))

    private fun installCa(): String {
        val cert = "an interception CA".toByteArray()
        PortcullisShadowDevicePolicyManager.caCerts += cert
        return Inventory.certificateSha256(cert)
    }

    @Test
    fun theOwnerWipesWithTheCallItsApiLevelHas() {
        owner()
        assertEquals(ActionOutcome.CarriedOut, agentDoes(enforcer(), Remediation.WipeDevice(preserveFrp = false)))
        val (call, flags) = PortcullisShadowDevicePolicyManager.wipes.single()
        assertEquals(if (Build.VERSION.SDK_INT >= 34) "wipeDevice" else "wipeData", call)
        assertEquals(DevicePolicyManager.WIPE_RESET_PROTECTION_DATA, flags and DevicePolicyManager.WIPE_RESET_PROTECTION_DATA)
    }

    @Test
    fun usbSignallingADeviceCannotTurnOffIsUnsupportedNotFailed() {
        owner()
        PortcullisShadowDevicePolicyManager.usbSignalingCanBeDisabled = false
        val outcome = agentDoes(enforcer(), Remediation.Apply(Measure.UsbDataSignalingDisabled))
        assertTrue("$outcome", outcome is ActionOutcome.NotPossible)
        PortcullisShadowDevicePolicyManager.usbSignalingCanBeDisabled = true
        assertEquals(ActionOutcome.CarriedOut, agentDoes(enforcer(), Remediation.Apply(Measure.UsbDataSignalingDisabled)))
        assertFalse(dpm.isUsbDataSignalingEnabled)
    }

    @Test
    fun theAccessBlockSuspendsOrdinaryAppsAndNeverTheCriticalOnes() {
        owner()
        assertEquals(ActionOutcome.CarriedOut, agentDoes(enforcer(), Remediation.Apply(Measure.AccessBlocked)))
        assertTrue(dpm.isPackageSuspended(admin, APP))
        for (critical in listOf(LAUNCHER, PLAY, GMS, "android", context.packageName)) {
            assertFalse("$critical suspended", dpm.isPackageSuspended(admin, critical))
        }
        assertEquals(ActionOutcome.CarriedOut, agentDoes(enforcer(), Remediation.Lift(Measure.AccessBlocked)))
        assertFalse(dpm.isPackageSuspended(admin, APP))
    }

    @Test
    fun aCompanionWithPackageAccessSuspendsAndHidesWithANullAdminAndNothingElse() {
        companion(DevicePolicyManager.DELEGATION_PACKAGE_ACCESS)
        val e = enforcer(withAdmin = false)
        assertEquals(ActionOutcome.CarriedOut, agentDoes(e, suspendApp))
        assertTrue(dpm.isPackageSuspended(null, APP))
        assertEquals(ActionOutcome.CarriedOut, agentDoes(e, hideApp))
        assertTrue(dpm.isApplicationHidden(null, APP))
        // The access block through the scope also spares the DPC that delegated it.
        assertEquals(ActionOutcome.CarriedOut, agentDoes(e, Remediation.Apply(Measure.AccessBlocked)))
        assertFalse(dpm.isPackageSuspended(null, DPC))
        for (other in listOf(blockUninstall, Remediation.RemoveCaCert(installCa()), Remediation.LockDevice, Remediation.WipeDevice(true))) {
            assertTrue("$other: ${agentDoes(e, other)}", agentDoes(e, other) is ActionOutcome.NotPossible)
        }
        assertTrue(PortcullisShadowDevicePolicyManager.wipes.isEmpty())
    }

    @Test
    fun aCompanionWithBlockUninstallProtectsItselfAndNothingElse() {
        companion(DevicePolicyManager.DELEGATION_BLOCK_UNINSTALL)
        val e = enforcer(withAdmin = false)
        assertEquals(ActionOutcome.CarriedOut, agentDoes(e, blockUninstall))
        assertTrue(dpm.isUninstallBlocked(null, context.packageName))
        assertTrue(agentDoes(e, suspendApp) is ActionOutcome.NotPossible)
        assertFalse(dpm.isPackageSuspended(dpc, APP))
    }

    @Test
    fun aCompanionWithCertInstallRemovesAUserCaAndNothingElse() {
        companion(DevicePolicyManager.DELEGATION_CERT_INSTALL)
        val e = enforcer(withAdmin = false)
        assertEquals(ActionOutcome.CarriedOut, agentDoes(e, Remediation.RemoveCaCert(installCa())))
        assertTrue(PortcullisShadowDevicePolicyManager.caCerts.isEmpty())
        assertTrue(agentDoes(e, hideApp) is ActionOutcome.NotPossible)
    }

    @Test
    fun aCompanionWithoutScopesOrWithUnrelatedOnesDoesNothingItself() {
        for (scopes in listOf(emptyArray(), arrayOf(DevicePolicyManager.DELEGATION_NETWORK_LOGGING, DevicePolicyManager.DELEGATION_SECURITY_LOGGING))) {
            companion(*scopes)
            val e = enforcer(withAdmin = false)
            for (action in listOf(suspendApp, hideApp, blockUninstall, Remediation.LockDevice, Remediation.Apply(Measure.UserRestriction(Restriction.DISALLOW_DEBUGGING_FEATURES)))) {
                assertTrue("${scopes.toList()} $action", agentDoes(e, action) is ActionOutcome.NotPossible)
            }
        }
        assertFalse(dpm.isPackageSuspended(dpc, APP))
    }

    @Test
    fun theCoreReadsTheDeploymentAndTheRolesAtStart() {
        companion(DevicePolicyManager.DELEGATION_PACKAGE_ACCESS, DevicePolicyManager.DELEGATION_BLOCK_UNINSTALL)
        val reader = DeploymentReader(context)
        val d = reader.read()
        assertEquals(DeploymentMode.COMPANION, d.mode)
        assertEquals(listOf("PACKAGE_ACCESS", "BLOCK_UNINSTALL"), d.delegatedScopes)
        val roles = reader.packageRoles()
        assertEquals(LAUNCHER, roles.home)
        assertEquals(DPC, roles.deviceOwner)

        shadowOf(dpm).setDeviceOwner(admin)
        shadowOf(dpm).setActiveAdmin(admin)
        assertEquals(DeploymentMode.OWNER, DeploymentReader(context).read().mode)
    }

    @Test
    fun keyStoreFailuresReachTheCoreAsAShortReason() {
        for (failure in listOf<Throwable>(
            ProviderException("Keystore operation failed\n\tat android.security.KeyStore2.getResponse(KeyStore2.java:1)"),
            IOException("keystore unreachable\nCaused by: something"),
        )) {
            val key = KeystoreDeviceKey("portcullis-test") { throw failure }
            try {
                key.hmacSha256("m".toByteArray())
                fail("no exception")
            } catch (e: PortcullisException.DeviceKey) {
                assertTrue(e.reason, e.reason.startsWith("Android Keystore: ${failure.javaClass.simpleName}: "))
                assertFalse(e.reason, e.reason.contains('\n') || e.reason.contains("\tat "))
            }
        }
        // A working key still signs.
        val key = KeystoreDeviceKey("portcullis-test") { SecretKeySpec(ByteArray(32) { 1 }, "HmacSHA256") }
        assertEquals(32, key.hmacSha256("m".toByteArray()).size)
    }
}

/** Agent-backed observer tests: connectivity before the first callback. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK])
class ConnectivityStartTest {
    @Test
    fun noReadingReachesTheCoreBeforeTheFirstNetworkCallback() {
        val context: Context = RuntimeEnvironment.getApplication()
        val dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val agent = runBlocking { Agent.open(File(dir, "agent.db").path, MacKey(), T0) }
        try {
            val listener = RecordingListener()
            val queue = InputQueue(scope)
            val feeder = AgentFeeder({ agent }, { T0 }, listener)
            val observer = ConnectivityObserver(context, feeder, queue)
            observer.start()
            observer.refresh()
            runBlocking { queue.drain() }
            assertEquals("no reading before ConnectivityManager called back", 0, listener.steps)
            val cm = context.service<android.net.ConnectivityManager>()
            val wifi = ShadowNetworkCapabilities.newInstance()
            shadowOf(wifi).addTransportType(android.net.NetworkCapabilities.TRANSPORT_WIFI)
            for (callback in shadowOf(cm).networkCallbacks) callback.onCapabilitiesChanged(ShadowNetwork.newInstance(100), wifi)
            runBlocking { queue.drain() }
            assertEquals("the first callback's reading", 1, listener.steps)
            observer.stop()
        } finally {
            scope.cancel()
            agent.close()
            dir.deleteRecursively()
        }
    }
}

/** A Wi-Fi-only device on a recent SDK: SubscriptionManager throws UnsupportedOperationException. */
@Implements(SubscriptionManager::class)
class NoTelephonySubscriptionManager {
    @Implementation
    protected fun addOnSubscriptionsChangedListener(executor: Executor, listener: SubscriptionManager.OnSubscriptionsChangedListener) {
        throw UnsupportedOperationException("Required feature android.hardware.telephony.subscription is not enabled")
    }

    @Implementation
    protected fun getActiveSubscriptionInfoList(): List<SubscriptionInfo> =
        throw UnsupportedOperationException("Required feature android.hardware.telephony.subscription is not enabled")
}

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK], shadows = [NoTelephonySubscriptionManager::class])
class NoTelephonyTest {
    @Test
    fun aPhoneWithoutTelephonyStartsWithNoReadingsAndNoCrash() {
        val context: Context = RuntimeEnvironment.getApplication()
        val dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val agent = runBlocking { Agent.open(File(dir, "agent.db").path, MacKey(), T0) }
        try {
            val listener = RecordingListener()
            val queue = InputQueue(scope)
            val observer = TelephonyObserver(context, AgentFeeder({ agent }, { T0 }, listener), queue)
            observer.start() // on the main thread, as the app calls it
            observer.refresh()
            runBlocking {
                observer.readAndFeed()
                observer.readServiceAndFeed()
                queue.drain()
            }
            assertEquals(0, listener.steps)
            assertEquals(emptyList<Pair<String, Exception>>(), listener.failures)
            observer.stop()
        } finally {
            scope.cancel()
            agent.close()
            dir.deleteRecursively()
        }
    }
}
