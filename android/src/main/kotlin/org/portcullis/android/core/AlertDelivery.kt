// The delivery loop over the agent's outbox: take pending alerts, hand them to the EMM
// channel, acknowledge what the channel took, back off on failure. At least once: an alert
// is acknowledged only after the channel reported success, so a crash in between sends it
// again, and the console drops duplicates by id.

package org.portcullis.android.core

import java.time.Duration
import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.Severity

/** The agent's outbox, as the delivery loop uses it. */
interface Outbox {
    /** Up to [limit] unacknowledged alerts, oldest first (each call counts a delivery attempt). */
    suspend fun pending(limit: UInt): List<Alert>

    /** Acknowledges [ids]; returns how many were newly acknowledged. */
    suspend fun ack(ids: List<ULong>, now: Instant): UInt
}

/** The outbox of [agent] (or of the agent it returns, opened lazily). */
fun outboxOf(agent: suspend () -> AgentInterface): Outbox = object : Outbox {
    override suspend fun pending(limit: UInt): List<Alert> = agent().pendingAlerts(limit)
    override suspend fun ack(ids: List<ULong>, now: Instant): UInt = agent().ackAlerts(ids, now)
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

/** Tunables of the delivery loop; the defaults suit the keyed-app-states channel. */
data class DeliveryPolicy(
    /** Alerts per send (the DPC receives them in one binder transaction). */
    val batchSize: Int = 20,
    /** Batches per run before yielding (the rest go in the next run, scheduled at once). */
    val maxBatchesPerRun: Int = 10,
    /** Alerts at or above this severity are sent with an immediate-upload request. */
    val immediateAtOrAbove: Severity = Severity.HIGH,
    /** First retry delay after a failure; doubles per consecutive failure. */
    val initialRetry: Duration = Duration.ofSeconds(30),
    /** Longest retry delay. */
    val maxRetry: Duration = Duration.ofMinutes(30),
) {
    init {
        require(batchSize >= 1) { "batchSize must be at least 1" }
        require(maxBatchesPerRun >= 1) { "maxBatchesPerRun must be at least 1" }
    }

    /** The delay before retry number [failures] (1 = after the first failure). */
    fun retryDelay(failures: Int): Duration {
        var delay = initialRetry
        repeat((failures - 1).coerceIn(0, 30)) {
            delay = delay.multipliedBy(2)
            if (delay >= maxRetry) return maxRetry
        }
        return minOf(delay, maxRetry)
    }
}

/** The outcome of one delivery run. */
data class DeliveryReport(
    /** Alerts acknowledged in this run. */
    val delivered: Int,
    /** Urgent alerts held back until an immediate send is allowed again. */
    val held: Int,
    /** When to run again; `null` when the outbox is empty. */
    val retryAt: Instant?,
    /** Why the run stopped early, if it failed (no identifiers: library and channel texts). */
    val error: String? = null,
)

/**
 * Delivers the outbox through [channel]. Urgent alerts (at or above
 * [DeliveryPolicy.immediateAtOrAbove]) go with an immediate-upload request, which
 * [limiter] allows once a minute; while it is closed they stay in the outbox (not sent
 * lazily, which could leave them with the DPC for hours) and the report asks for a run when
 * it opens. Other alerts go with a plain send, or ride along an immediate one.
 *
 * One run at a time: concurrent calls wait for each other.
 */
class AlertDelivery(
    private val outbox: Outbox,
    private val channel: AlertChannel,
    private val limiter: ImmediateSendLimiter = ImmediateSendLimiter(),
    private val policy: DeliveryPolicy = DeliveryPolicy(),
    private val encode: (Alert) -> KeyedStateSpec = AlertEncoding::encode,
) {
    private val running = Mutex()
    private var failures = 0
    private var batchSize = policy.batchSize

    /** Consecutive failed runs so far (reset by a successful send). */
    val consecutiveFailures: Int get() = failures

    suspend fun deliver(now: Instant): DeliveryReport = running.withLock { run(now) }

    private suspend fun run(now: Instant): DeliveryReport {
        var delivered = 0
        repeat(policy.maxBatchesPerRun) {
            val limit = batchSize
            val alerts = try {
                outbox.pending(limit.toUInt())
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                return failure(now, delivered, "reading the outbox failed: ${e.message}")
            }
            if (alerts.isEmpty()) return DeliveryReport(delivered, held = 0, retryAt = null)

            val urgent = alerts.filter { it.severity >= policy.immediateAtOrAbove }
            val previousGrant = limiter.lastSent
            val immediate = urgent.isNotEmpty() && limiter.tryAcquire(now)
            val toSend = if (immediate || urgent.isEmpty()) alerts else alerts - urgent.toSet()
            val held = alerts.size - toSend.size
            if (toSend.isNotEmpty()) {
                val sent = mutableListOf<Alert>()
                val result = sendShrinking(toSend, immediate, sent)
                if (sent.isNotEmpty()) {
                    try {
                        outbox.ack(sent.map { it.id }, now)
                    } catch (e: CancellationException) {
                        throw e
                    } catch (e: Exception) {
                        // Sent but not acknowledged: they will be sent again; the console dedupes.
                        return failure(now, delivered, "acknowledging failed: ${e.message}")
                    }
                    delivered += sent.size
                }
                if (result != SendResult.Sent) {
                    if (immediate && sent.isEmpty()) limiter.refund(now, previousGrant)
                    return failure(now, delivered, describe(result))
                }
                failures = 0
            }
            if (held > 0) {
                return DeliveryReport(delivered, held, retryAt = limiter.nextAllowedAt(now))
            }
            // A short batch means the outbox is drained; a full one means there may be more.
            if (alerts.size < limit) return DeliveryReport(delivered, held = 0, retryAt = null)
        }
        return DeliveryReport(delivered, held = 0, retryAt = now) // more to send: run again soon
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

    private fun failure(now: Instant, delivered: Int, reason: String): DeliveryReport {
        failures++
        return DeliveryReport(delivered, held = 0, retryAt = now.plus(policy.retryDelay(failures)), error = reason)
    }

    private fun describe(result: SendResult): String = when (result) {
        SendResult.Sent -> "sent"
        SendResult.NoReceiver -> "no app on the device receives keyed app states (is an EMM agent or the Play Store installed?)"
        SendResult.TooLarge -> "too large"
        is SendResult.Failed -> result.reason
    }
}
