// TelephonyObserver and ConnectivityObserver on Robolectric's TelephonyManager,
// SubscriptionManager and ConnectivityManager: the readings they take from the framework reach
// the real core, which raises the alerts the scenario traces raise (tests/scenarios).

package org.portcullis.android.robolectric

import android.content.Context
import android.content.Intent
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.Looper
import android.telephony.ServiceState
import android.telephony.SubscriptionInfo
import android.telephony.SubscriptionManager
import android.telephony.TelephonyManager
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.Agent
import org.portcullis.android.ConnectivityObserver
import org.portcullis.android.TelephonyObserver
import org.portcullis.android.core.AgentFeeder
import org.portcullis.android.core.InputQueue
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowNetwork
import org.robolectric.shadows.ShadowNetworkCapabilities
import org.robolectric.shadows.ShadowSubscriptionManager.SubscriptionInfoBuilder

private const val ICCID_0 = "8944110012345678901"
private const val ICCID_1 = "8933150000000000017"
private const val ICCID_1_NEW = "8933150000000000025"

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK])
class TelephonyObserverTest {
    private lateinit var context: Context
    private lateinit var dir: File
    private lateinit var scope: CoroutineScope
    private lateinit var agent: Agent
    private val clock = TestClock()
    private val listener = RecordingListener()
    private lateinit var queue: InputQueue
    private lateinit var feeder: AgentFeeder
    private lateinit var telephony: TelephonyManager
    private lateinit var subscriptions: SubscriptionManager

    /** The TelephonyManager of each subscription (createForSubscriptionId). */
    private val perSubscription = HashMap<Int, TelephonyManager>()

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        queue = InputQueue(scope)
        agent = runBlocking { Agent.open(File(dir, "agent.db").path, MacKey(), T0) }
        feeder = AgentFeeder({ agent }, { clock.now }, listener)
        telephony = context.service<TelephonyManager>()
        subscriptions = context.service<SubscriptionManager>()
        shadowOf(telephony).setActiveModemCount(2)
    }

    @After
    fun tearDown() {
        scope.cancel()
        agent.close()
        dir.deleteRecursively()
    }

    private fun subscription(id: Int, slot: Int, iccid: String, mcc: String, mnc: String, imsi: String): SubscriptionInfo {
        val tm = perSubscription.getOrPut(id) { Shadow.newInstanceOf(TelephonyManager::class.java) }
        shadowOf(tm).setSubscriberId(imsi)
        shadowOf(tm).setVoiceNetworkType(TelephonyManager.NETWORK_TYPE_LTE)
        shadowOf(telephony).setTelephonyManagerForSubscriptionId(id, tm)
        return SubscriptionInfoBuilder.newBuilder().setId(id).setSimSlotIndex(slot).setIccId(iccid)
            .setMcc(mcc).setMnc(mnc).setCarrierName("Carrier $slot").buildSubscriptionInfo()
    }

    /** Slot 0 (UK SIM) and slot 1 (French eSIM), both ready. */
    private fun dualSim(): List<SubscriptionInfo> {
        shadowOf(telephony).setSimState(0, TelephonyManager.SIM_STATE_READY)
        shadowOf(telephony).setSimState(1, TelephonyManager.SIM_STATE_READY)
        return listOf(
            subscription(1, 0, ICCID_0, "234", "15", "234150123456789"),
            subscription(2, 1, ICCID_1, "208", "15", "208150000000001"),
        )
    }

    /** The legacy SIM_STATE_CHANGED broadcast the observer listens for: a trigger to re-read. */
    private fun simBroadcast() {
        context.sendBroadcast(Intent("android.intent.action.SIM_STATE_CHANGED"))
        shadowOf(Looper.getMainLooper()).idle()
    }

    private fun serviceState(state: Int) = ServiceState().apply { this.state = state }

    private fun settle() = runBlocking { queue.drain() }

    @Test
    fun replacedSimInSlotOneOfADualSimPhoneRaisesSimRemovedAndSimReplacedForSlotOne() {
        shadowOf(subscriptions).setActiveSubscriptionInfoList(dualSim())
        val observer = TelephonyObserver(context, feeder, queue)
        observer.start()
        settle()
        assertEquals("no alert for the first readings", emptyList<String>(), listener.kinds())
        assertTrue("both slots read (a subscription callback may re-read them): ${listener.steps}", listener.steps >= 2)

        clock.set(3600) // the SIM in slot 1 is pulled
        shadowOf(telephony).setSimState(1, TelephonyManager.SIM_STATE_ABSENT)
        shadowOf(subscriptions).setActiveSubscriptionInfoList(dualSim().take(1))
        shadowOf(telephony).setSimState(1, TelephonyManager.SIM_STATE_ABSENT)
        simBroadcast()
        settle()
        clock.set(3750) // another SIM goes in
        shadowOf(telephony).setSimState(1, TelephonyManager.SIM_STATE_READY)
        shadowOf(subscriptions).setActiveSubscriptionInfoList(
            listOf(dualSim()[0], subscription(3, 1, ICCID_1_NEW, "208", "10", "208100000000009")),
        )
        simBroadcast()
        settle()

        assertEquals(listOf("sim_removed", "sim_replaced"), listener.kinds())
        assertEquals("both about slot 1", listOf(1, 1), listener.alerts.map { it.slot })
        assertEquals(at(3750), listener.alerts[1].at)
        assertTrue("nothing refused: ${listener.failures}", listener.failures.isEmpty())
        observer.stop()
    }

    @Test
    fun emergencyOnlyWithWifiUpForTenMinutesRaisesPortOutSuspected() {
        shadowOf(subscriptions).setActiveSubscriptionInfoList(dualSim().take(1))
        shadowOf(telephony).setActiveModemCount(1)
        val connectivity = ConnectivityObserver(context, feeder, queue)
        connectivity.start()
        // Wi-Fi comes up, as ConnectivityManager reports it to the registered callback.
        val cm = context.service<ConnectivityManager>()
        val wifi = ShadowNetworkCapabilities.newInstance()
        shadowOf(wifi).addTransportType(NetworkCapabilities.TRANSPORT_WIFI)
        for (callback in shadowOf(cm).networkCallbacks) callback.onCapabilitiesChanged(ShadowNetwork.newInstance(100), wifi)
        val observer = TelephonyObserver(context, feeder, queue)
        observer.start()
        settle()
        val slot0 = perSubscription.getValue(1)
        shadowOf(slot0).setServiceState(serviceState(ServiceState.STATE_IN_SERVICE))
        settle()

        clock.set(3600) // woken for the radio re-read (the next one is an hour on) ...
        runBlocking { feeder.wake(at(0)) }
        // ... and the carrier refuses the SIM: emergency calls only
        shadowOf(slot0).setServiceState(serviceState(ServiceState.STATE_EMERGENCY_ONLY))
        settle()
        assertEquals("nothing yet", emptyList<String>(), listener.kinds())
        assertEquals("the core asks to be woken ten minutes later", at(3600 + 600), agent.nextWakeup())

        clock.set(3600 + 600) // the wake-up
        runBlocking { feeder.timeout() }
        assertEquals(listOf("port_out_suspected"), listener.kinds())
        assertEquals(0, listener.alerts.single().slot)
        observer.stop()
        connectivity.stop()
    }

    @Test
    fun aTwoGRegistrationRaisesDowngrade2g() {
        shadowOf(subscriptions).setActiveSubscriptionInfoList(dualSim().take(1))
        shadowOf(telephony).setActiveModemCount(1)
        val observer = TelephonyObserver(context, feeder, queue)
        observer.start()
        settle()
        val slot0 = perSubscription.getValue(1)
        shadowOf(slot0).setServiceState(serviceState(ServiceState.STATE_IN_SERVICE))
        settle()

        clock.set(6 * 3600) // a rogue base station: the phone registers on GSM
        shadowOf(slot0).setVoiceNetworkType(TelephonyManager.NETWORK_TYPE_GSM)
        shadowOf(slot0).setServiceState(serviceState(ServiceState.STATE_IN_SERVICE))
        settle()
        assertEquals(listOf("downgrade_2g"), listener.kinds())
        assertEquals(0, listener.alerts.single().slot)
        observer.stop()
    }
}
