// The delivery loop over the agent's outbox: the core hands out each send (which alerts,
// whether it asks for an immediate upload, how small a send the channel takes), this hands
// it to the EMM channel and answers with what the channel said. The core acknowledges,
// decides when the run ends and when to retry (its backoff, its nextWakeup). At least once:
// an alert is acknowledged only after the channel reported success.

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.portcullis.ConsoleMessage
import org.portcullis.AgentInterface
import org.portcullis.ChannelOutcome
import org.portcullis.DeliveryStep

/** Where keyed app states go (the glue wraps `KeyedAppStatesReporter`). */
interface AlertChannel {
    /** Sends [states]; [immediate] asks the EMM to upload at once (`setStatesImmediate`). */
    suspend fun send(states: List<ConsoleMessage>, immediate: Boolean): ChannelOutcome
}

/** The outcome of one delivery run. */
data class DeliveryReport(
    /** Alerts acknowledged in this run. */
    val delivered: Int,
    /** The core's next wake-up after the run (arm the scheduler for it). */
    val nextWakeup: Instant?,
    /** When the core retries delivery; `null` when nothing is owed. */
    val retryAt: Instant? = null,
    /** Why the run stopped early, if it failed (no identifiers: library and channel texts). */
    val error: String? = null,
)

/** Delivers the outbox through [channel], one run at a time (concurrent calls wait for each other). */
class AlertDelivery(private val agent: suspend () -> AgentInterface, private val channel: AlertChannel) {
    private val running = Mutex()

    /** One run: every send the core hands out goes to the channel, and its answer back to the core. */
    suspend fun deliver(now: Instant): DeliveryReport = running.withLock {
        var delivered = 0
        var step: DeliveryStep? = null
        try {
            while (step?.done != true) {
                val batch = agent().nextDelivery(now) ?: break
                val outcome = try {
                    channel.send(batch.messages, batch.immediate)
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    ChannelOutcome.Failed("the channel threw ${e.javaClass.simpleName}: ${e.message}")
                }
                step = agent().deliveryResponse(outcome, now).also { delivered += it.acknowledged.toInt() }
            }
            DeliveryReport(delivered, agent().nextWakeup(), step?.retryAt, step?.error)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            // What was sent but not acknowledged goes again; the console dedupes by id.
            DeliveryReport(delivered, null, error = "the agent failed: ${e.javaClass.simpleName}: ${e.message}")
        }
    }
}
