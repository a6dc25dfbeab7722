// Immediate keyed-app-state uploads are allowed at most once a minute.

package org.portcullis.android.core

import java.time.Duration
import java.time.Instant

/**
 * Grants at most one immediate send per [minInterval] (`setStatesImmediate`; plain
 * `setStates` is not limited). [lastSent] may be restored from storage so the limit holds
 * across process restarts; read it back after each grant to persist it.
 *
 * If the wall clock was moved back before the last grant, the gate opens: holding an
 * urgent alert until the clock catches up (possibly days) would be worse than one extra
 * immediate upload.
 */
class ImmediateSendLimiter(
    private val minInterval: Duration = Duration.ofMinutes(1),
    lastSent: Instant? = null,
) {
    /** When the last immediate send was granted, if any. */
    @get:Synchronized
    var lastSent: Instant? = lastSent
        private set

    /** The earliest time an immediate send is allowed (≤ [now] when allowed now). */
    @Synchronized
    fun nextAllowedAt(now: Instant): Instant {
        val last = lastSent ?: return now
        return if (now.isBefore(last)) now else maxOf(now, last.plus(minInterval))
    }

    /** Whether an immediate send is allowed at [now]; a grant is recorded. */
    @Synchronized
    fun tryAcquire(now: Instant): Boolean {
        val last = lastSent
        if (last != null && !now.isBefore(last) && now.isBefore(last.plus(minInterval))) return false
        lastSent = now
        return true
    }

    /** Gives back a grant whose send did not happen at all (e.g. refused before reaching the DPC). */
    @Synchronized
    fun refund(grantedAt: Instant, previous: Instant?) {
        if (lastSent == grantedAt) lastSent = previous
    }
}
