// Android readings through the feeder into the real core: the detectors fire on what the
// mapping produces.

package org.portcullis.android.jvmtests

import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.PortcullisException
import org.portcullis.android.core.AgentFeeder
import org.portcullis.ConnectivityTracker
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.SubscriptionReading

/** Records what the feeder reports. */
class RecordingListener : AgentFeeder.Listener {
    val alerts = mutableListOf<Alert>()
    var steps = 0
    val failures = mutableListOf<Pair<String, Exception>>()

    override suspend fun stepped(alerts: List<Alert>) {
        steps++
        this.alerts += alerts
    }

    override fun failed(what: String, error: Exception) {
        failures += what to error
    }
}

class Fixture(val agent: AgentInterface, val clock: TestClock = TestClock()) {
    val listener = RecordingListener()
    val feeder = AgentFeeder({ agent }, { clock.now }, listener)

    fun kinds(): List<String> = listener.alerts.map { it.kindName }
}

suspend fun <T> withFixture(s: Scratch, body: suspend (Fixture) -> T): T {
    val agent = openAgent(s)
    try {
        return body(Fixture(agent))
    } finally {
        agent.close()
    }
}

fun ready(iccid: String?, slot: Int = 0, imsi: String? = null, mcc: String? = "234", mnc: String? = "15") =
    SubscriptionReading(slot, SimStates.READY, iccId = iccid, imsi = imsi, mcc = mcc, mnc = mnc, carrierName = "Carrier")

fun feederTests() {
    test("Android SIM readings raise sim_removed and sim_replaced in the core") { s ->
        withFixture(s) { f ->
            f.clock.set(1)
            f.feeder.sim(ready(ICCID_A))
            f.clock.set(60)
            f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
            f.clock.set(120)
            f.feeder.sim(SubscriptionReading(0, SimStates.NOT_READY))
            f.clock.set(130)
            f.feeder.sim(ready(ICCID_B))
            eq(listOf("sim_removed", "sim_replaced"), f.kinds(), "alerts")
            eq(4, f.listener.steps, "committed steps")
            eq(emptyList<Pair<String, Exception>>(), f.listener.failures, "failures")
            eq(at(130), f.listener.alerts[1].at, "the alert carries the clock's time")
        }
    }

    test("SIM_STATE_UNKNOWN and an ICCID hidden by the platform change nothing") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(SubscriptionReading(0, SimStates.UNKNOWN))
            f.feeder.sim(ready(""))
            f.feeder.sim(ready(null, mcc = null, mnc = null))
            eq(emptyList<String>(), f.kinds(), "alerts")
            eq(3, f.listener.steps, "UNKNOWN is not sent at all")
        }
    }

    test("MCC/MNC from SubscriptionInfo reaches carrier_changed; PIN-locked is not removal") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A, imsi = "234150123456789"))
            f.feeder.sim(SubscriptionReading(0, SimStates.PIN_REQUIRED))
            eq(emptyList<String>(), f.kinds(), "locked SIM")
            f.feeder.sim(ready(ICCID_A, imsi = "234150123456789", mcc = "234", mnc = "30"))
            eq(listOf("carrier_changed"), f.kinds(), "alerts")
        }
    }

    test("NETWORK_TYPE_GSM in service raises downgrade_2g once; the core drops the repeats") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            val gsm = ServiceReading(0, ServiceStates.IN_SERVICE, roaming = false, voiceNetworkType = NetworkTypes.GSM)
            f.feeder.service(gsm)
            f.feeder.service(gsm)
            f.feeder.service(gsm.copy())
            eq(listOf("downgrade_2g"), f.kinds(), "alerts")
            eq(4, f.listener.steps, "every reading is handed over")
            val evidence = f.listener.alerts[0].evidence.associate { it.key to it.value }
            eq("gsm", evidence["rat"], "rat evidence")
            f.feeder.service(gsm.copy(voiceNetworkType = NetworkTypes.LTE))
            eq(5, f.listener.steps, "a changed reading is sent")
        }
    }

    test("emergency-only with Wi-Fi up: the core asks for a wake-up 10 min on, port-out at the deadline") { s ->
        withFixture(s) { f ->
            val tracker = ConnectivityTracker()
            f.clock.set(1)
            f.feeder.wake(at(-60)) ?: fail("wake-up failed") // the radio re-read: next one an hour on
            f.feeder.connectivity(tracker.networkChanged(7, wifi = true, cellular = false) ?: fail("no change"))
            f.feeder.sim(ready(ICCID_A))
            f.feeder.service(ServiceReading(0, ServiceStates.IN_SERVICE, voiceNetworkType = NetworkTypes.LTE))
            eq(at(3601), f.agent.nextWakeup(), "in service: only the next re-read")

            f.clock.set(60)
            f.feeder.service(ServiceReading(0, ServiceStates.EMERGENCY_ONLY))
            eq(at(660), f.agent.nextWakeup(), "wake-up time")

            f.clock.set(300) // woken early: nothing yet, the deadline stays
            f.feeder.timeout()
            eq(emptyList<String>(), f.kinds(), "alerts before the deadline")
            eq(at(660), f.agent.nextWakeup(), "deadline unchanged")

            f.clock.set(700) // the alarm ran late: the core fires anyway
            f.feeder.timeout()
            eq(listOf("port_out_suspected"), f.kinds(), "alerts at the deadline")
            eq(at(3601), f.agent.nextWakeup(), "after it fired: the next re-read")
        }
    }

    test("airplane mode from the tracker stops a port-out suspicion") { s ->
        withFixture(s) { f ->
            val tracker = ConnectivityTracker()
            val reread = f.feeder.wake(at(-60))?.nextWakeup ?: fail("wake-up failed")
            f.feeder.connectivity(tracker.networkChanged(7, wifi = true, cellular = false)!!)
            f.feeder.sim(ready(ICCID_A))
            f.feeder.service(ServiceReading(0, ServiceStates.OUT_OF_SERVICE))
            expect(f.agent.nextWakeup()!! < reread) { "out of service with Wi-Fi should start the timer" }
            f.feeder.connectivity(tracker.airplaneModeChanged(true)!!)
            eq(reread, f.agent.nextWakeup(), "nextWakeup in airplane mode: only the re-read")
        }
    }

    test("a malformed ICCID is reported as InvalidInput without its digits, and the agent goes on") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            val ok = f.feeder.sim(ready("89441100777755553X1"))
            eq(false, ok, "refused")
            val (what, error) = f.listener.failures.single()
            eq("sim", what, "failed input kind")
            expect(error is PortcullisException.InvalidInput) { "got $error" }
            val text = error.toString() + error.message
            expect(text.contains("iccid") && !text.contains("89441100") && !text.contains("7777")) { text }
            eq(true, f.feeder.sim(ready(ICCID_A)), "baseline SIM still accepted")
            eq(emptyList<String>(), f.kinds(), "alerts")
        }
    }

    test("a service reading the core refused is sent again next time") { s ->
        withFixture(s) { f ->
            val bad = ServiceReading(9, ServiceStates.IN_SERVICE) // the core accepts slots 0..7
            eq(false, f.feeder.service(bad), "slot 9 refused by the core")
            eq(false, f.feeder.service(bad), "sent again, not suppressed as a repeat")
            eq(2, f.listener.failures.size, "failures")
        }
    }

    test("an agent that cannot open is a reported failure, not a crash") { s ->
        openAgent(s).close()
        val listener = RecordingListener()
        val feeder = AgentFeeder({ org.portcullis.Agent.open(s.db, MacKey("another-key-entirely-0002".toByteArray()), T0) }, { T0 }, listener)
        eq(null, feeder.wake(T0), "a wake-up with the wrong key")
        expect(listener.failures.single().second is PortcullisException.DeviceKey) { "${listener.failures}" }
    }
}
