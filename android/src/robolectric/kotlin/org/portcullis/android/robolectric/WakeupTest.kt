// Wake-ups on Robolectric's AlarmManager and JobScheduler, driven by Robolectric's clock: the
// exact alarm is armed at the core's nextWakeup(), fires in time for the port-out alert (the
// deadline slip is measured and printed), no periodic job is left (the re-read cadence is the
// core's), wake-ups racing inputs leave the alarm at the core's latest answer, and after boot
// the receiver only asks for a job, whose wake-up re-arms the alarm.

package org.portcullis.android.robolectric

import android.app.AlarmManager
import android.app.admin.DevicePolicyManager
import android.app.job.JobScheduler
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.Looper
import android.os.SystemClock
import android.telephony.ServiceState
import android.telephony.SubscriptionManager
import android.telephony.TelephonyManager
import java.io.File
import java.nio.file.Files
import java.time.Duration
import java.time.Instant
import kotlin.concurrent.thread
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.android.BootReceiver
import org.portcullis.android.KeyedAppStatesChannel
import org.portcullis.android.Portcullis
import org.portcullis.android.WakeupAlarmReceiver
import org.portcullis.android.WakeupScheduler
import org.portcullis.BootVerdict
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowAlarmManager
import org.robolectric.shadows.ShadowNetwork
import org.robolectric.shadows.ShadowNetworkCapabilities
import org.robolectric.shadows.ShadowSubscriptionManager.SubscriptionInfoBuilder

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK], shadows = [PortcullisShadowDevicePolicyManager::class])
class WakeupTest {
    private lateinit var context: Context
    private lateinit var dir: File
    private lateinit var alarms: AlarmManager
    private lateinit var slot0: TelephonyManager
    private val reporter = RecordingReporter()

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        alarms = context.service()
        ShadowAlarmManager.setCanScheduleExactAlarms(true) // USE_EXACT_ALARM held (API 33+)
        // The Play Store takes keyed app states, so delivery succeeds and asks for no retry.
        val feedback = ComponentName("com.android.vending", "com.google.android.finsky.FeedbackService")
        shadowOf(context.packageManager).addServiceIfNotPresent(feedback)
        shadowOf(context.packageManager).addIntentFilterForService(feedback, IntentFilter(KeyedAppStatesChannel.ACTION_APP_STATES))
        // One SIM, in service, on Wi-Fi.
        val telephony = context.service<TelephonyManager>()
        shadowOf(telephony).setActiveModemCount(1)
        shadowOf(telephony).setSimState(0, TelephonyManager.SIM_STATE_READY)
        slot0 = Shadow.newInstanceOf(TelephonyManager::class.java)
        shadowOf(slot0).setVoiceNetworkType(TelephonyManager.NETWORK_TYPE_LTE)
        shadowOf(slot0).setServiceState(ServiceState().apply { state = ServiceState.STATE_IN_SERVICE })
        shadowOf(telephony).setTelephonyManagerForSubscriptionId(1, slot0)
        shadowOf(context.service<SubscriptionManager>()).setActiveSubscriptionInfoList(
            listOf(SubscriptionInfoBuilder.newBuilder().setId(1).setSimSlotIndex(0).setIccId("8944110012345678901").setMcc("234").setMnc("15").buildSubscriptionInfo()),
        )
    }

    @After
    fun tearDown() {
        Portcullis.closeForTests()
        ShadowAlarmManager.setAutoSchedule(false)
        dir.deleteRecursively()
    }

    private fun portcullis(clock: ShadowedClock): Portcullis =
        Portcullis.get(context, Portcullis.Config(File(dir, "agent.db"), { MacKey() }, keyedAppStates = { reporter }, clock = clock::now))

    private fun wifiUp() {
        val wifi = ShadowNetworkCapabilities.newInstance()
        shadowOf(wifi).addTransportType(NetworkCapabilities.TRANSPORT_WIFI)
        for (callback in shadowOf(context.service<ConnectivityManager>()).networkCallbacks) {
            callback.onCapabilitiesChanged(ShadowNetwork.newInstance(100), wifi)
        }
    }

    private fun emergencyOnly() =
        shadowOf(slot0).setServiceState(ServiceState().apply { state = ServiceState.STATE_EMERGENCY_ONLY })

    private fun inService() =
        shadowOf(slot0).setServiceState(ServiceState().apply { state = ServiceState.STATE_IN_SERVICE })

    private fun idleMain(duration: Duration = Duration.ZERO) = shadowOf(Looper.getMainLooper()).idleFor(duration)

    /** The one wake-up alarm, as AlarmManager holds it. */
    private fun alarm(): ShadowAlarmManager.ScheduledAlarm? = shadowOf(alarms).peekNextScheduledAlarm()

    /** Where the armed alarm points, as a wall-clock time of [clock]. */
    private fun alarmAt(clock: ShadowedClock): Instant? =
        alarm()?.let { clock.now().plusMillis(it.triggerAtTime - SystemClock.elapsedRealtime()) }

    /** A port-out in progress: Wi-Fi up, the SIM refused by the network; returns the core's deadline. */
    private fun portOutPending(p: Portcullis, clock: ShadowedClock): Instant {
        p.start()
        wifiUp()
        runBlocking { p.settle() }
        idleMain(Duration.ofMinutes(30))
        emergencyOnly()
        runBlocking { p.settle() }
        val deadline = runBlocking { p.agent().nextWakeup() }
        assertNotNull("the core wants a wake-up", deadline)
        assertEquals("ten minutes after emergency-only", clock.now().plus(Duration.ofMinutes(10)), deadline)
        return deadline!!
    }

    @Test
    fun theExactAlarmIsArmedAtTheCoresNextWakeup() {
        val clock = ShadowedClock()
        val p = portcullis(clock)
        val deadline = portOutPending(p, clock)
        eventually("the alarm at the deadline") { alarmAt(clock) == deadline }
        val alarm = alarm()!!
        assertEquals(AlarmManager.ELAPSED_REALTIME_WAKEUP, alarm.type)
        assertTrue("allowed while idle (Doze)", alarm.allowWhileIdle)
        assertEquals("exact", ShadowAlarmManager.WINDOW_EXACT, alarm.windowLengthMs)
        // No periodic job: the re-read of SIM and service state is one of the core's deadlines.
        assertEquals(null, context.service<JobScheduler>().getPendingJob(WakeupScheduler.REFRESH_JOB_ID))
    }

    @Test
    fun withoutTheExactAlarmPermissionTheWakeupIsStillArmedInexactly() {
        ShadowAlarmManager.setCanScheduleExactAlarms(false)
        assertEquals(WakeupScheduler.Armed.INEXACT, WakeupScheduler.arm(context, T0.plus(Duration.ofMinutes(10)), T0))
        assertTrue(alarm()!!.allowWhileIdle)
        assertEquals(WakeupScheduler.Armed.CANCELLED, WakeupScheduler.arm(context, null, T0))
        assertEquals(null, alarm())
    }

    @Test
    fun thePortOutAlertLeavesAtTheDeadlineTheSlipMeasuredOnRobolectricsClock() {
        val clock = ShadowedClock()
        ShadowAlarmManager.setAutoSchedule(true) // Robolectric fires due alarms as its clock moves
        WakeReceivers.register(context)
        val p = portcullis(clock)
        val deadline = portOutPending(p, clock)
        eventually("the alarm at the deadline") { alarmAt(clock) == deadline }
        // Robolectric's clock moves a second at a time; the alarm fires the receiver when it is due.
        var steps = 0
        while (alarmAt(clock)?.let { !it.isAfter(deadline) } == true || steps == 0) {
            idleMain(Duration.ofSeconds(1))
            steps++
            if (steps > 3600) throw AssertionError("the alarm never fired")
        }
        eventually("the port-out alert delivered") { "port_out_suspected" in reporter.keys().joinToString() }
        val state = reporter.sent.flatMap { it.first }.first { "port_out_suspected" in it.key }
        val raisedAt = Instant.parse(Regex("\"at\":\"([^\"]+)\"").find(state.data)?.groupValues?.get(1) ?: throw AssertionError(state.data))
        val slip = Duration.between(deadline, raisedAt)
        println("wake-up slip on Robolectric's clock: ${slip.toMillis()} ms after the core's deadline (resolution 1 s)")
        assertTrue("slip $slip", !slip.isNegative && slip <= Duration.ofSeconds(1))
        assertTrue("sent with the immediate-upload request", reporter.sent.first { (states, _) -> states.any { "port_out" in it.key } }.second)
    }

    @Test
    fun wakeUpsRacingInputsLeaveTheAlarmAtTheCoresLatestAnswer() {
        val clock = ShadowedClock()
        val p = portcullis(clock)
        portOutPending(p, clock)
        repeat(8) { round ->
            // Wake-ups re-arm outside the input queue, each on its own thread, while the
            // service state keeps moving the core's deadline (port-out suspected, cleared).
            val wakes = (1..4).map { thread { runBlocking { p.wake() } } }
            val toggles = thread {
                repeat(9 + round % 2) { i ->
                    if (i % 2 == 0) inService() else emergencyOnly()
                    Thread.sleep(3)
                }
            }
            (wakes + toggles).forEach { it.join() }
            runBlocking { p.settle() }
            val wanted = runBlocking { p.agent().nextWakeup() }
            assertEquals("round $round: the alarm is where the core's last answer puts it", wanted, alarmAt(clock))
        }
    }

    @Test
    fun afterBootTheReceiverOnlyAsksForAJobWhoseWakeupReportsTheBootAndReArmsTheAlarm() {
        val clock = ShadowedClock()
        val deadline = portOutPending(portcullis(clock), clock)
        eventually("the alarm at the deadline") { alarmAt(clock) == deadline }
        // The phone restarts: a new process, and AlarmManager has forgotten every alarm.
        Portcullis.closeForTests()
        shadowOf(alarms).scheduledAlarms.forEach { alarm -> alarm.operation?.let { alarms.cancel(it) } }
        context.service<JobScheduler>().cancel(WakeupScheduler.SOON_JOB_ID)
        assertEquals(null, alarm())
        idleMain(Duration.ofMinutes(2))
        val p = portcullis(clock)
        context.registerReceiver(BootReceiver(), IntentFilter(Intent.ACTION_BOOT_COMPLETED), Context.RECEIVER_NOT_EXPORTED)
        context.sendBroadcast(Intent(Intent.ACTION_BOOT_COMPLETED))
        idleMain()
        // The receiver returned at once: a job asked for, nothing else done in the broadcast.
        assertNotNull(context.service<JobScheduler>().getPendingJob(WakeupScheduler.SOON_JOB_ID))
        assertEquals("the receiver arms no alarm itself", null, alarm())
        // The job runs: its wake-up hands the boot instant to the core and re-arms the alarm.
        runBlocking { p.wake() }
        val wanted = runBlocking { p.agent().nextWakeup() }
        assertNotNull("the core still wants a wake-up after the reboot", wanted)
        eventually("armed at the core's nextWakeup()") { alarmAt(clock) == wanted }
        val boot = WakeupScheduler.bootInstant(clock.now())
        assertEquals(
            "the wake-up reported this boot instant to the core",
            BootVerdict.SAME_BOOT,
            runBlocking { p.agent().reportBoot(boot, clock.now()) }.verdict,
        )
    }
}

/** The alarm receiver, registered as the library manifest declares it (Robolectric runs without that manifest). */
private object WakeReceivers {
    fun register(context: Context) {
        context.registerReceiver(WakeupAlarmReceiver(), IntentFilter(WakeupScheduler.ACTION_WAKE), Context.RECEIVER_NOT_EXPORTED)
    }
}
