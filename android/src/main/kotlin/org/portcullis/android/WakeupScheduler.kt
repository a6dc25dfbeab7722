// Wake-ups without WorkManager (docs/decisions/0008-exact-alarms-for-wakeups.md):
// - the core's nextWakeup() becomes one exact alarm that fires in Doze
//   (AlarmManager.setExactAndAllowWhileIdle, ELAPSED_REALTIME_WAKEUP), replaced at every arming.
//   Every deadline is the core's: the policy's re-read cadence (a SIM changed while the process
//   was dead is still seen), delivery retries, compliance, timers, inspection windows;
// - after boot, alarms are gone: BootReceiver asks for one job now, whose wake-up re-arms it.

package org.portcullis.android

import android.app.AlarmManager
import android.app.PendingIntent
import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.BroadcastReceiver
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.os.Build
import android.os.SystemClock
import android.util.Log
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.portcullis.android.core.LogMapping

object WakeupScheduler {
    const val ACTION_WAKE = "org.portcullis.android.action.WAKE"

    /** The periodic job earlier versions scheduled; cancelled, since the core owns the cadence. */
    const val REFRESH_JOB_ID = 0x50430001
    const val SOON_JOB_ID = 0x50430002

    /** What [apply] asked AlarmManager for. */
    enum class Armed {
        /** `setExactAndAllowWhileIdle`: fires at the time, in Doze too. */
        EXACT,

        /** `setAndAllowWhileIdle`: the exact-alarm permission is not held; the system may defer it. */
        INEXACT,

        /** No wake-up is due: the alarm was cancelled. */
        CANCELLED,
    }

    /**
     * Arms the alarm at the core's [nextWakeup] as seen at [now] (replacing the previous one;
     * a past time fires at once, `null` cancels) on the elapsed-realtime clock, so a wall
     * clock moved by the user or an attacker neither advances nor delays it.
     */
    fun arm(context: Context, nextWakeup: Instant?, now: Instant): Armed {
        // Read first, as close as can be to the caller's reading of [now]: the pair converts
        // the wall-clock deadline to elapsed realtime.
        val elapsed = SystemClock.elapsedRealtime()
        val alarms = context.requireService<AlarmManager>()
        val operation = wakeIntent(context)
        return when (nextWakeup) {
            null -> {
                alarms.cancel(operation)
                Armed.CANCELLED
            }
            else -> {
                val delay = Duration.between(now, nextWakeup).toMillis().coerceAtLeast(0)
                val at = elapsed + delay
                if (canScheduleExact(alarms)) {
                    alarms.setExactAndAllowWhileIdle(AlarmManager.ELAPSED_REALTIME_WAKEUP, at, operation)
                    Armed.EXACT
                } else {
                    Log.w(LogMapping.TAG, "exact alarms not permitted: the wake-up may come late")
                    alarms.setAndAllowWhileIdle(AlarmManager.ELAPSED_REALTIME_WAKEUP, at, operation)
                    Armed.INEXACT
                }
            }
        }
    }

    /** SCHEDULE_EXACT_ALARM (API 31-32) or USE_EXACT_ALARM (33+) is held; always true below 31. */
    fun canScheduleExact(alarms: AlarmManager): Boolean =
        Build.VERSION.SDK_INT < Build.VERSION_CODES.S || alarms.canScheduleExactAlarms()

    /** Cancels the periodic job of earlier versions: the re-read cadence is the core's deadline. */
    fun cancelLegacyRefresh(context: Context) {
        val jobs = context.requireService<JobScheduler>()
        if (jobs.getPendingJob(REFRESH_JOB_ID) != null) jobs.cancel(REFRESH_JOB_ID)
    }

    /** The boot instant on the wall clock of [now]: what the core infers reboots from. */
    fun bootInstant(now: Instant): Instant = now.minusMillis(SystemClock.elapsedRealtime())

    /** One wake-up as soon as the system allows (after boot: the receiver itself must stay short). */
    fun runSoon(context: Context) {
        val job = JobInfo.Builder(SOON_JOB_ID, ComponentName(context, PortcullisJobService::class.java))
            .setOverrideDeadline(0)
            .build()
        context.requireService<JobScheduler>().schedule(job)
    }

    private fun wakeIntent(context: Context): PendingIntent = PendingIntent.getBroadcast(
        context,
        0,
        Intent(context, WakeupAlarmReceiver::class.java).setAction(ACTION_WAKE),
        PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
    )
}

/**
 * The alarm fired: a wake-up (the core's duties, delivery, reschedule). It runs in [Portcullis]'s
 * own scope; the receiver waits for it at most [BUDGET_MILLIS] (a broadcast must finish well
 * inside its 10 s limit), and what is left goes on while the process lives.
 */
class WakeupAlarmReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != WakeupScheduler.ACTION_WAKE) return
        val pending = goAsync()
        CoroutineScope(SupervisorJob() + Dispatchers.Default).launch {
            try {
                withTimeoutOrNull(BUDGET_MILLIS) { Portcullis.get(context).wake() }
            } finally {
                pending.finish()
            }
        }
    }

    companion object {
        const val BUDGET_MILLIS = 8_000L
    }
}

/** The after-boot wake-up (declared with BIND_JOB_SERVICE). */
class PortcullisJobService : JobService() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    override fun onStartJob(params: JobParameters): Boolean {
        scope.launch {
            try {
                Portcullis.get(applicationContext).wake()
            } finally {
                jobFinished(params, false) // failures are logged and rescheduled by wake() itself
            }
        }
        return true
    }

    /** The work goes on in Portcullis's scope; the wake-up re-armed the alarm itself. */
    override fun onStopJob(params: JobParameters): Boolean = false
}
