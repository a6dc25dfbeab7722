// The delivery loop over the real core's outbox, with a fake keyed-app-states channel.

package org.portcullis.android.jvmtests

import java.time.Instant
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import org.portcullis.Alert
import org.portcullis.DeliveryResult
import org.portcullis.DeliveryVerdict
import org.portcullis.Severity
import org.portcullis.android.core.AlertChannel
import org.portcullis.android.core.AlertDelivery
import org.portcullis.ImmediateSendGate
import org.portcullis.android.core.DeliveryPolicy
import org.portcullis.android.core.KeyedStateSpec
import org.portcullis.android.core.Outbox
import org.portcullis.android.core.SendResult
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.SubscriptionReading
import org.portcullis.android.core.outboxOf

/** Records sends; answers from [script] first, then [SendResult.Sent]. */
class FakeChannel : AlertChannel {
    val sends = mutableListOf<Pair<List<KeyedStateSpec>, Boolean>>()
    val script = ArrayDeque<SendResult>()
    var maxStates = Int.MAX_VALUE
    var throwNext = false
    var calls = 0

    override suspend fun send(states: List<KeyedStateSpec>, immediate: Boolean): SendResult {
        calls++
        if (throwNext) {
            throwNext = false
            throw IllegalStateException("reporter bug")
        }
        if (states.size > maxStates) return SendResult.TooLarge
        val result = script.removeFirstOrNull() ?: SendResult.Sent
        if (result == SendResult.Sent) sends += states to immediate
        return result
    }

    fun sentKeys(): List<String> = sends.flatMap { (states, _) -> states.map { it.key } }
}

/** An outbox whose next [failReports] reports throw. */
class FlakyOutbox(private val inner: Outbox, var failReports: Int) : Outbox {
    override suspend fun pending(limit: UInt): List<Alert> = inner.pending(limit)
    override suspend fun report(sent: List<ULong>, result: DeliveryResult, now: Instant): DeliveryVerdict {
        if (failReports > 0) {
            failReports--
            throw IllegalStateException("disk full")
        }
        return inner.report(sent, result, now)
    }
}

/** An in-memory outbox of [count] alerts of [severity]; records the results reported. */
class ListOutbox(count: Int, severity: Severity) : Outbox {
    val unacked = (1..count).map { alert(id = it.toULong(), severity = severity, kindName = "downgrade_2g") }.toMutableList()
    val results = mutableListOf<DeliveryResult>()

    override suspend fun pending(limit: UInt): List<Alert> = unacked.take(limit.toInt())

    override suspend fun report(sent: List<ULong>, result: DeliveryResult, now: Instant): DeliveryVerdict {
        results += result
        val before = unacked.size
        unacked.removeAll { it.id in sent }
        val retry = if (result == DeliveryResult.MoreQueued) now else null
        return DeliveryVerdict((before - unacked.size).toUInt(), 0u, retry, retry)
    }
}

fun deliveryTests() {
    test("a critical alert goes out at once with an immediate request and is acknowledged") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery(outboxOf { f.agent }, channel)
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
            val gate = ImmediateSendGate(null)
            val delivery = AlertDelivery(outboxOf { f.agent }, channel, gate)
            delivery.deliver(at(10))
            f.clock.set(20)
            f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
            eq(listOf("sim_replaced", "sim_removed"), f.kinds(), "alerts")
            val held = delivery.deliver(at(30))
            eq(0, held.delivered, "delivered while the gate is closed")
            eq(1, held.held, "held")
            eq(at(70), held.retryAt, "the core retries when the gate opens")
            eq(at(70), f.agent.nextWakeup(), "and asks to be woken then")
            eq(1, channel.sends.size, "no lazy send of the urgent alert")
            val later = delivery.deliver(at(70))
            eq(1, later.delivered, "delivered at the gate")
            eq(true, channel.sends.last().second, "immediate")
            eq(at(70), gate.lastSent(), "grant recorded for persistence")
        }
    }

    test("non-urgent alerts go with a plain send while urgent ones wait for the gate") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery(outboxOf { f.agent }, channel)
            delivery.deliver(at(10))
            f.feeder.service(ServiceReading(0, ServiceStates.IN_SERVICE, voiceNetworkType = NetworkTypes.GSM))
            f.feeder.sim(SubscriptionReading(0, SimStates.ABSENT))
            eq(listOf("sim_replaced", "downgrade_2g", "sim_removed"), f.kinds(), "alerts")
            val report = delivery.deliver(at(20))
            eq(1, report.delivered, "the medium alert")
            eq(1, report.held, "the high alert")
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
            repeat(3) { channel.script += SendResult.NoReceiver }
            val delivery = AlertDelivery(outboxOf { f.agent }, channel)
            val r1 = delivery.deliver(at(10))
            eq(at(40), r1.retryAt, "first retry")
            eq(at(40), r1.nextWakeup, "the retry is the core's next wake-up")
            expect(r1.error?.contains("no app on the device") == true) { "error: ${r1.error}" }
            eq(at(100), delivery.deliver(at(40)).retryAt, "second retry")
            val r3 = delivery.deliver(at(100))
            eq(at(220), r3.retryAt, "third retry")
            eq(3, r3.failures, "failures, counted by the core")
            expect(f.agent.wake(at(220), null).duties.deliverAlerts) { "the wake-up at the retry asks for delivery" }
            val ok = delivery.deliver(at(220))
            eq(1, ok.delivered, "delivered once a receiver exists")
            eq(true, channel.sends.single().second, "still an immediate send (the grant was given back)")
            eq(0, ok.failures, "failures reset")
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
            val report = AlertDelivery(outboxOf { f.agent }, channel).deliver(at(200))
            eq(8, report.delivered, "delivered")
            expect(channel.sends.all { it.first.size <= 3 }) { "sizes ${channel.sends.map { it.first.size }}" }
            eq(f.listener.alerts.map { "portcullis.alert.${it.id}.sim_removed" }, channel.sentKeys(), "each once, in order")
            eq(emptyList<Alert>(), f.agent.pendingAlerts(20u), "outbox")
        }
    }

    test("a report that fails means the alert is sent again (at least once)") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val outbox = FlakyOutbox(outboxOf { f.agent }, failReports = 1)
            val delivery = AlertDelivery(outbox, channel)
            val r1 = delivery.deliver(at(10))
            expect(r1.error?.contains("reporting the delivery failed") == true) { "error: ${r1.error}" }
            eq(1, f.agent.pendingAlerts(10u).size, "still pending after the failed report")
            val r2 = delivery.deliver(at(80))
            eq(1, r2.delivered, "delivered again")
            eq(2, channel.sends.size, "sent twice")
            eq(channel.sends[0].first.single().key, channel.sends[1].first.single().key, "same key (the console dedupes by id)")
            eq(emptyList<Alert>(), f.agent.pendingAlerts(10u), "acknowledged")
        }
    }

    test("a channel that throws is a failed run, and the alert stays pending") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel().apply { throwNext = true }
            val report = AlertDelivery(outboxOf { f.agent }, channel).deliver(at(10))
            expect(report.error?.contains("IllegalStateException") == true) { "error: ${report.error}" }
            eq(1, f.agent.pendingAlerts(10u).size, "pending")
        }
    }

    test("a backlog goes in batches and the run yields after maxBatchesPerRun") {
        val outbox = ListOutbox(33, Severity.LOW)
        val channel = FakeChannel()
        val delivery = AlertDelivery(outbox, channel, policy = DeliveryPolicy(batchSize = 5, maxBatchesPerRun = 3))
        val first = delivery.deliver(at(0))
        eq(15, first.delivered, "first run")
        eq(DeliveryResult.MoreQueued, outbox.results.last(), "more queued: the core runs it again at once")
        eq(at(0), first.retryAt, "run again at once")
        eq(15, delivery.deliver(at(1)).delivered, "second run")
        val last = delivery.deliver(at(2))
        eq(3, last.delivered, "the rest")
        eq(null, last.retryAt, "drained")
        expect(channel.sends.none { it.second }) { "low alerts never ask for an immediate upload" }
        eq(0, outbox.unacked.size, "outbox")
    }

    test("concurrent deliveries send each alert once") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val channel = FakeChannel()
            val delivery = AlertDelivery(outboxOf { f.agent }, channel)
            val reports = coroutineScope { (1..4).map { async { delivery.deliver(at(10)) } }.awaitAll() }
            eq(1, reports.sumOf { it.delivered }, "delivered in total")
            eq(1, channel.sends.size, "sends")
        }
    }

    test("immediate sends: the core's gate is restorable across restarts and a clock moved back opens it") {
        val restored = ImmediateSendGate(at(100))
        expect(!restored.tryAcquire(at(120))) { "restored grant still counts" }
        expect(restored.tryAcquire(at(10))) { "clock moved back before the grant" }
        eq(at(10), restored.lastSent(), "the grant to persist")
    }
}
