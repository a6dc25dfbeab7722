// Hands platform readings to the agent, one step each. No decisions: readings are mapped
// (TelephonyMapping; the core drops repeats of identifier-free ones), and whatever the
// core answers goes to the listener. Console decisions (SIM-change windows,
// carrier checks) arrive only as signed instructions (Instructions.kt), never through here.

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.Connectivity
import org.portcullis.ServiceObservation
import org.portcullis.Wakeup

/**
 * Feeds observations to the agent returned by [agent] (opened lazily by the glue) at the
 * time [clock] gives.
 */
class AgentFeeder(
    private val agent: suspend () -> AgentInterface,
    private val clock: () -> Instant,
    private val listener: Listener,
) {
    /** What the glue does after each step. */
    interface Listener {
        /** The core committed a step; [alerts] are the alerts it queued (often none). */
        suspend fun stepped(alerts: List<Alert>)

        /**
         * A step failed. [what] names the input kind; the library's messages name fields,
         * never identifier values, so [error] may be logged as it is.
         */
        fun failed(what: String, error: Exception)
    }

    /** A SIM slot reading; returns whether the core took it (or there was nothing to send). */
    suspend fun sim(reading: SubscriptionReading): Boolean {
        val observation = TelephonyMapping.simObservation(reading) ?: return true
        return step("sim") { a, now -> a.handleSim(observation, now) }
    }

    /** A service-state reading (the core drops an unchanged repeat for the same slot). */
    suspend fun service(reading: ServiceReading): Boolean {
        val observation = TelephonyMapping.serviceObservation(reading) ?: return true
        return step("service") { a, now -> a.handleService(observation, now) }
    }

    /** The device's connectivity (the core drops an unchanged repeat). */
    suspend fun connectivity(connectivity: Connectivity): Boolean =
        step("connectivity") { a, now -> a.handleConnectivity(connectivity, now) }

    /**
     * The scheduler woke the agent (or the process started): the core lets time pass, infers
     * a reboot from [bootTime] and answers with the duties to carry out; `null` when the step
     * failed.
     */
    suspend fun wake(bootTime: Instant): Wakeup? {
        val woken = try {
            agent().wake(clock(), bootTime)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            listener.failed("wake-up", e)
            return null
        }
        listener.stepped(woken.alerts)
        return woken
    }

    /** The scheduler woke the agent. */
    suspend fun timeout(): Boolean = step("timeout") { a, now -> a.handleTimeout(now) }

    private suspend fun step(
        what: String,
        call: suspend (AgentInterface, Instant) -> List<Alert>,
    ): Boolean {
        val alerts = try {
            call(agent(), clock())
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            // PortcullisException (InvalidInput, Storage, Corrupt, DeviceKey, Internal) or
            // the bindings' InternalException (a Rust panic): the core's state is unchanged.
            listener.failed(what, e)
            return false
        }
        listener.stepped(alerts)
        return true
    }
}
