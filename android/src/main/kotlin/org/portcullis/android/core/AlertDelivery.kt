// The delivery loop over the agent's outbox: take pending alerts, hand them to the EMM
// channel, and report the attempt to the core, which acknowledges what the channel took and
// decides when to retry (its backoff, its nextWakeup). At least once: an alert is
// acknowledged only after the channel reported success, so a crash in between sends it
// again, and the console drops duplicates by id.

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.DeliveryResult
import org.portcullis.DeliveryVerdict
import org.portcullis.ImmediateSendGate

/** The agent's outbox, as the delivery loop uses it. */
interface Outbox {
    /** Up to [limit] unacknowledged alerts, oldest first (each call counts a delivery attempt). */
    suspend fun pending(limit: UInt): List<Alert>

    /** Reports an attempt: [sent] are acknowledged; the core decides the retry. */
    suspend fun report(sent: List<ULong>, result: DeliveryResult, now: Instant): DeliveryVerdict
}

/** The outbox of [agent] (or of the agent it returns, opened lazily). */
fun outboxOf(agent: suspend () -> AgentInterface): Outbox = object : Outbox {
    override suspend fun pending(limit: UInt): List<Alert> = agent().pendingAlerts(limit)
    override suspend fun report(sent: List<ULong>, result: DeliveryResult, now: Instant): DeliveryVerdict =
        agent().reportDelivery(sent, result, now)
}

/** What the EMM channel answered. */
sealed class SendResult {
    /** Handed to every receiver: acknowledge. */
    object Sent : SendResult()

    /**
     * No app on the device can receive keyed app states (no device/profile owner or Play
     * Store with the feedback service). The library would report this as success; it is not.
     */
    object NoReceiver : SendResult()

    /** The batch was too large for one binder transaction: retry with fewer states. */
    object TooLarge : SendResult()

    /** Anything else (buffer exceeded, unknown error, no answer in time). */
    data class Failed(val reason: String) : SendResult()
}

/** Where keyed app states go (the glue wraps `KeyedAppStatesReporter`). */
interface AlertChannel {
    /** Sends [states]; [immediate] asks the EMM to upload at once (`setStatesImmediate`). */
    suspend fun send(states: List<KeyedStateSpec>, immediate: Boolean): SendResult
}

/** Tunables of the delivery loop's channel use; the defaults suit keyed app states. */
data class DeliveryPolicy(
    /** Alerts per send (the DPC receives them in one binder transaction). */
    val batchSize: Int = 20,
    /** Batches per run before yielding (the core then asks for the next run at once). */
    val maxBatchesPerRun: Int = 10,
) {
    init {
        require(batchSize >= 1) { "batchSize must be at least 1" }
        require(maxBatchesPerRun >= 1) { "maxBatchesPerRun must be at least 1" }
    }
}

/** The outcome of one delivery run. */
data class DeliveryReport(
    /** Alerts acknowledged in this run. */
    val delivered: Int,
    /** Urgent alerts held back until an immediate send is allowed again. */
    val held: Int,
    /** When the core retries delivery; `null` when nothing is owed. */
    val retryAt: Instant?,
    /** The core's next wake-up after this report (arm the scheduler for it). */
    val nextWakeup: Instant?,
    /** Consecutive failed runs, as the core counts them. */
    val failures: Int = 0,
    /** Why the run stopped early, if it failed (no identifiers: library and channel texts). */
    val error: String? = null,
)

/**
 * Delivers the outbox through [channel]. The core's [gate] splits each batch: urgent
 * alerts go with an immediate-upload request when it grants one, and otherwise stay in
 * the outbox until it opens (the report asks for a run then); the rest go now.
 *
 * One run at a time: concurrent calls wait for each other.
 */
class AlertDelivery(
    private val outbox: Outbox,
    private val channel: AlertChannel,
    private val gate: ImmediateSendGate = ImmediateSendGate(null),
    private val policy: DeliveryPolicy = DeliveryPolicy(),
    private val encode: (Alert) -> KeyedStateSpec = AlertEncoding::encode,
) {
    private val running = Mutex()
    private var batchSize = policy.batchSize

    /** One run, reported to the core, which acknowledges and answers when to retry. */
    suspend fun deliver(now: Instant): DeliveryReport = running.withLock {
        var delivered = 0
        var verdict: DeliveryVerdict? = null
        // Reports [sent] with [result]; the reason when the report itself failed.
        suspend fun report(sent: List<Alert>, result: DeliveryResult): String? = try {
            outbox.report(sent.map { it.id }, result, now).also {
                delivered += it.acknowledged.toInt()
                verdict = it
            }
            null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            // Sent but not acknowledged: they will be sent again; the console dedupes.
            "reporting the delivery failed: ${e.message}"
        }

        var held = 0
        var error: String? = null
        var outcome: DeliveryResult = DeliveryResult.MoreQueued
        var last: List<Alert> = emptyList()
        var batches = 0
        while (batches++ < policy.maxBatchesPerRun) {
            val limit = batchSize
            val alerts = try {
                outbox.pending(limit.toUInt())
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                error = "reading the outbox failed: ${e.message}"
                outcome = DeliveryResult.Failed
                break
            }
            if (alerts.isEmpty()) {
                outcome = DeliveryResult.Delivered
                break
            }
            val plan = gate.plan(alerts, now)
            held = plan.held.toInt()
            val sent = mutableListOf<Alert>()
            val result = if (plan.send.isEmpty()) SendResult.Sent else sendShrinking(plan.send, plan.immediate, sent)
            last = sent
            if (result != SendResult.Sent) {
                if (plan.immediate && sent.isEmpty()) gate.refund(now, plan.previousGrant)
                error = describe(result)
                outcome = DeliveryResult.Failed
                break
            }
            val retryAt = plan.retryAt
            if (retryAt != null) {
                // The channel's own rate limit, as the core's gate keeps it: retried when it opens.
                outcome = DeliveryResult.Throttled(retryAt)
                break
            }
            // A short batch means the outbox is drained; a full one means there may be more.
            if (alerts.size < limit) {
                outcome = DeliveryResult.Delivered
                break
            }
            // Acknowledged before the next batch is read (or it would come back again).
            report(sent, DeliveryResult.MoreQueued)?.let { return@withLock DeliveryReport(delivered, 0, null, null, error = it) }
            last = emptyList()
        }
        report(last, outcome)?.let { error = it }
        val v = verdict
        DeliveryReport(delivered, held, v?.retryAt, v?.nextWakeup, v?.failures?.toInt() ?: 0, error)
    }

    /**
     * Sends [alerts] in chunks, halving the batch size while the channel reports a chunk too
     * large; the alerts of each chunk that went through are added to [sent].
     */
    private suspend fun sendShrinking(
        alerts: List<Alert>,
        immediate: Boolean,
        sent: MutableList<Alert>,
    ): SendResult {
        var remaining = alerts
        while (remaining.isNotEmpty()) {
            val chunk = remaining.take(batchSize)
            val result = try {
                channel.send(chunk.map(encode), immediate)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                SendResult.Failed("the channel threw ${e.javaClass.simpleName}: ${e.message}")
            }
            when (result) {
                SendResult.Sent -> {
                    sent += chunk
                    remaining = remaining.drop(chunk.size)
                }
                SendResult.TooLarge -> {
                    if (batchSize == 1) return SendResult.Failed("a single state is too large for the channel")
                    batchSize = (batchSize / 2).coerceAtLeast(1)
                }
                else -> return result
            }
        }
        return SendResult.Sent
    }

    private fun describe(result: SendResult): String = when (result) {
        SendResult.Sent -> "sent"
        SendResult.NoReceiver -> "no app on the device receives keyed app states (is an EMM agent or the Play Store installed?)"
        SendResult.TooLarge -> "too large"
        is SendResult.Failed -> result.reason
    }
}
