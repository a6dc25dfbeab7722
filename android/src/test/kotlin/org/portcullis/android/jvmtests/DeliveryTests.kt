// The delivery loop over the real core's outbox, with a fake keyed-app-states channel. The
// core's batching, gate and run limits have their own Rust tests (core/tests/native_decisions.rs).

package org.portcullis.android.jvmtests

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import org.portcullis.Alert
import org.portcullis.ChannelOutcome
import org.portcullis.android.core.AlertChannel
import org.portcullis.android.core.AlertDelivery
import org.portcullis.ConsoleMessage
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.SubscriptionReading

/** Records sends; answers from [script] first, then [ChannelOutcome.Sent]. */
class FakeChannel : AlertChannel {
    val sends = mutableListOf<Pair<List<ConsoleMessage>, Boolean>>()
    val script = ArrayDeque<ChannelOutcome>()
    var maxStates = Int.MAX_VALUE
    var throwNext = false
    var calls = 0

    override suspend fun send(states: List<ConsoleMessage>, immediate: Boolean): ChannelOutcome {
        calls++
        if (throwNext) {
            throwNext = false
            throw IllegalStateException("reporter bug")
        }
        if (states.size > maxStates) return ChannelOutcome.TooLarge
        val result = script.removeFirstOrNull() ?: ChannelOutcome.Sent
        if (result == ChannelOutcome.Sent) sends += states to immediate
        return result
    }

    fun sentKeys(): List<String> = sends.flatMap { (states, _) -> states.map { it.key } }
}

fun deliveryTests() {
    test("a critical alert goes out at once with an immediate request and is acknowledged") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery({ f.agent }, channel)
            val report = delivery.deliver(at(10))
            eq(1, report.delivered, "delivered")
            eq(null, report.retryAt, "retryAt")
            eq(null, report.error, "error")
            eq(1, channel.sends.size, "sends")
            eq(true, channel.sends[0].second, "immediate")
            eq(listOf("portcullis.alert.${f.listener.alerts[0].id}.sim_replaced"), channel.sentKeys(), "keys")
            eq(emptyList<Alert>(), f.agent.pendingAlerts(10u), "outbox after delivery")
            eq(0, delivery.deliver(at(11)).delivered, "nothing left")
        }
    }

    test("a second urgent alert within the minute is held until an immediate send is allowed") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            f.agent.wake(at(0), null) // the radio re-read: the next one is an hour on
            val channel = FakeChannel()
            val delivery = AlertDelivery({ f.agent }, channel)
            delivery.deliver(at(10))
            f.clock.set(20)
            f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
            eq(listOf("sim_replaced", "sim_removed"), f.kinds(), "alerts")
            val held = delivery.deliver(at(30))
            eq(0, held.delivered, "delivered while the gate is closed")
            eq(at(70), held.nextWakeup, "the core retries when the gate opens")
            eq(at(70), f.agent.nextWakeup(), "and asks to be woken then")
            eq(1, channel.sends.size, "no lazy send of the urgent alert")
            val later = delivery.deliver(at(70))
            eq(1, later.delivered, "delivered at the gate")
            eq(true, channel.sends.last().second, "immediate")
        }
    }

    test("non-urgent alerts go with a plain send while urgent ones wait for the gate") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery({ f.agent }, channel)
            delivery.deliver(at(10))
            f.feeder.service(ServiceReading(0, ServiceStates.IN_SERVICE, voiceNetworkType = NetworkTypes.GSM))
            f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
            eq(listOf("sim_replaced", "downgrade_2g", "sim_removed"), f.kinds(), "alerts")
            val report = delivery.deliver(at(20))
            eq(1, report.delivered, "the medium alert")
            eq(false, channel.sends.last().second, "plain send")
            expect(channel.sends.last().first.single().key.endsWith(".downgrade_2g")) { "${channel.sends.last()}" }
            eq(listOf("sim_removed"), f.agent.pendingAlerts(10u).map { it.kindName }, "still pending")
        }
    }

    test("with no receiver nothing is acknowledged; the core's retries back off 30 s, 60 s, 120 s and stay immediate") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            f.agent.wake(at(0), null) // the radio re-read: the next one is an hour on
            val channel = FakeChannel()
            repeat(3) { channel.script += ChannelOutcome.NoReceiver }
            val delivery = AlertDelivery({ f.agent }, channel)
            val r1 = delivery.deliver(at(10))
            eq(at(40), r1.retryAt, "first retry")
            eq(at(40), r1.nextWakeup, "the retry is the core's next wake-up")
            expect(r1.error?.contains("nothing on the device receives") == true) { "error: ${r1.error}" }
            eq(at(100), delivery.deliver(at(40)).retryAt, "second retry")
            val r3 = delivery.deliver(at(100))
            eq(at(220), r3.retryAt, "third retry")
            expect(f.agent.wake(at(220), null).duties.deliverAlerts) { "the wake-up at the retry asks for delivery" }
            val ok = delivery.deliver(at(220))
            eq(1, ok.delivered, "delivered once a receiver exists")
            eq(true, channel.sends.single().second, "still an immediate send (the grant was given back)")
            eq(null, ok.retryAt, "nothing to retry")
            eq(4L, jsonObject(channel.sends.single().first.single().data)["attempts"], "delivery attempts counted by the core")
            eq(emptyList<Alert>(), f.agent.pendingAlerts(10u), "outbox after delivery")
        }
    }

    test("a batch too large for one binder transaction is halved until it fits") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            repeat(8) { i ->
                f.clock.set(10L * i + 1)
                f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
                f.clock.set(10L * i + 5)
                f.feeder.sim(ready(ICCID_A))
            }
            eq(8, f.listener.alerts.size, "sim_removed alerts")
            val channel = FakeChannel().apply { maxStates = 3 }
            val report = AlertDelivery({ f.agent }, channel).deliver(at(200))
            eq(8, report.delivered, "delivered")
            expect(channel.sends.all { it.first.size <= 3 }) { "sizes ${channel.sends.map { it.first.size }}" }
            eq(f.listener.alerts.map { "portcullis.alert.${it.id}.sim_removed" }, channel.sentKeys(), "each once, in order")
            eq(emptyList<Alert>(), f.agent.pendingAlerts(20u), "outbox")
        }
    }

    test("a channel that throws is a failed run, and the alert stays pending") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel().apply { throwNext = true }
            val report = AlertDelivery({ f.agent }, channel).deliver(at(10))
            expect(report.error?.contains("IllegalStateException") == true) { "error: ${report.error}" }
            eq(1, f.agent.pendingAlerts(10u).size, "pending")
        }
    }

    test("concurrent deliveries send each alert once") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery({ f.agent }, channel)
            val reports = coroutineScope { (1..4).map { async { delivery.deliver(at(10)) } }.awaitAll() }
            eq(1, reports.sumOf { it.delivered }, "delivered in total")
            eq(1, channel.sends.size, "sends")
        }
    }
}
