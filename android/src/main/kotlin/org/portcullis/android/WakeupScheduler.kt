// Wake-ups without WorkManager (docs/decisions/0008-exact-alarms-for-wakeups.md):
// - the core's nextWakeup() (or a delivery retry) becomes one exact alarm that fires in Doze
//   (AlarmManager.setExactAndAllowWhileIdle, ELAPSED_REALTIME_WAKEUP), replaced when the time moves;
// - a periodic JobScheduler job every 15 minutes re-reads the telephony state, so a SIM changed
//   while the process was dead is still seen; it survives reboots (setPersisted);
// - after boot, alarms are gone: Portcullis.onBoot() re-arms the alarm and asks for one job now.

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
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.portcullis.android.core.LogMapping
import org.portcullis.android.core.WakeupPlan

object WakeupScheduler {
    const val ACTION_WAKE = "org.portcullis.android.action.WAKE"
    const val REFRESH_JOB_ID = 0x50430001
    const val SOON_JOB_ID = 0x50430002
    val REFRESH_PERIOD: Duration = Duration.ofMinutes(15) // JobScheduler's minimum period

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
     * Arms the alarm for [plan] (replacing the previous one) on the elapsed-realtime clock, so a
     * wall clock moved by the user or an attacker neither advances nor delays it.
     */
    fun apply(context: Context, plan: WakeupPlan): Armed {
        val alarms = context.requireService<AlarmManager>()
        val operation = wakeIntent(context)
        return when (plan) {
            WakeupPlan.Cancel -> {
                alarms.cancel(operation)
                Armed.CANCELLED
            }
            is WakeupPlan.After -> {
                val at = SystemClock.elapsedRealtime() + plan.delay.toMillis()
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

    /** The periodic refresh, kept if already scheduled (it survives reboots). */
    fun ensurePeriodicRefresh(context: Context) {
        val jobs = context.requireService<JobScheduler>()
        if (jobs.getPendingJob(REFRESH_JOB_ID) != null) return
        val job = JobInfo.Builder(REFRESH_JOB_ID, ComponentName(context, PortcullisJobService::class.java))
            .setPeriodic(REFRESH_PERIOD.toMillis())
            .setPersisted(true) // needs RECEIVE_BOOT_COMPLETED
            .build()
        jobs.schedule(job)
    }

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
 * The alarm fired: a wake-up (`handleTimeout`, delivery, reschedule). It runs in [Portcullis]'s
 * own scope; the receiver waits for it at most [BUDGET_MILLIS] (a broadcast must finish well
 * inside its 10 s limit), and what is left goes on while the process lives.
 */
class WakeupAlarmReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != WakeupScheduler.ACTION_WAKE) return
        val pending = goAsync()
        CoroutineScope(SupervisorJob() + Dispatchers.Default).launch {
            try {
                withTimeoutOrNull(BUDGET_MILLIS) { Portcullis.get(context).wake(fromWakeWork = true) }
            } finally {
                pending.finish()
            }
        }
    }

    companion object {
        const val BUDGET_MILLIS = 8_000L
    }
}

/** The periodic refresh and the after-boot wake-up (declared with BIND_JOB_SERVICE). */
class PortcullisJobService : JobService() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    override fun onStartJob(params: JobParameters): Boolean {
        scope.launch {
            try {
                Portcullis.get(applicationContext).wake(fromWakeWork = false)
            } finally {
                jobFinished(params, false) // failures are logged and rescheduled by wake() itself
            }
        }
        return true
    }

    /** The work goes on in Portcullis's scope; the periodic job comes back by itself. */
    override fun onStopJob(params: JobParameters): Boolean = false
}
