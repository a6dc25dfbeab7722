// When the platform scheduler (the exact alarm of WakeupScheduler) should wake the agent: at the core's
// `nextWakeup()`, or earlier when the delivery loop asked to retry.

package org.portcullis.android.core

import java.time.Duration
import java.time.Instant

/** What to ask the scheduler for. */
sealed class WakeupPlan {
    /** Nothing is due: cancel the wake-up alarm. */
    object Cancel : WakeupPlan() {
        override fun toString() = "Cancel"
    }

    /** Wake [delay] from now, i.e. at [at]. */
    data class After(val delay: Duration, val at: Instant) : WakeupPlan()
}

object WakeupPlanner {
    /** The earlier of the given times, ignoring `null`s; `null` when all are. */
    fun earliest(vararg times: Instant?): Instant? = times.filterNotNull().minOrNull()

    /** The delay from [now] until [at]: zero when [at] has passed, `null` without a time. */
    fun delayUntil(at: Instant?, now: Instant): Duration? = when {
        at == null -> null
        !at.isAfter(now) -> Duration.ZERO
        else -> Duration.between(now, at)
    }

    /**
     * The plan for the core's [nextWakeup] and the delivery loop's [retryAt] (either may be
     * `null`), seen at [now]. A past time means "now": the core handles a late wake-up and
     * the scheduler cannot go back in time.
     */
    fun plan(nextWakeup: Instant?, retryAt: Instant?, now: Instant): WakeupPlan {
        val at = earliest(nextWakeup, retryAt) ?: return WakeupPlan.Cancel
        val delay = delayUntil(at, now) ?: return WakeupPlan.Cancel
        return WakeupPlan.After(delay, maxOf(at, now))
    }
}

/**
 * Remembers the plan last handed to the scheduler, so that the glue re-arms the alarm only
 * when the wake-up time actually moved (not after every observation).
 */
class WakeupTracker {
    private var last: Instant? = null
    private var hasPlan = false

    /** True when [plan] differs from the last one applied (and records it as applied). */
    @Synchronized
    fun changed(plan: WakeupPlan): Boolean {
        val at = (plan as? WakeupPlan.After)?.at
        if (hasPlan && at == last) return false
        hasPlan = true
        last = at
        return true
    }

    /** Forgets the last plan (the scheduler's state is unknown, e.g. at process start). */
    @Synchronized
    fun reset() {
        hasPlan = false
        last = null
    }
}
