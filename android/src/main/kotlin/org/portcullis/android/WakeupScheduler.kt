// WorkManager scheduling: a one-time work at the core's nextWakeup() (or a delivery retry),
// and a periodic work every 15 minutes that re-reads the telephony state, so that a SIM
// change while the process was dead is still seen.

package org.portcullis.android

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import androidx.work.workDataOf
import java.time.Duration
import org.portcullis.android.core.WakeupPlan

object WakeupScheduler {
    const val WAKE_WORK = "org.portcullis.wakeup"
    const val REFRESH_WORK = "org.portcullis.refresh"
    internal const val KEY_WAKE = "wake"

    /**
     * Applies [plan] to the one-time work. REPLACE may cancel a running wake-up worker: that is
     * harmless, because the worker only awaits work running in [Portcullis]'s own scope.
     */
    fun apply(context: Context, plan: WakeupPlan) {
        val wm = WorkManager.getInstance(context)
        when (plan) {
            WakeupPlan.Cancel -> wm.cancelUniqueWork(WAKE_WORK)
            is WakeupPlan.After -> {
                val request = OneTimeWorkRequestBuilder<PortcullisWorker>()
                    .setInitialDelay(plan.delay)
                    .setInputData(workDataOf(KEY_WAKE to true))
                    .build()
                wm.enqueueUniqueWork(WAKE_WORK, ExistingWorkPolicy.REPLACE, request)
            }
        }
    }

    /** The periodic refresh (15 minutes is WorkManager's minimum); kept if already scheduled. */
    fun ensurePeriodicRefresh(context: Context) {
        val request = PeriodicWorkRequestBuilder<PortcullisWorker>(Duration.ofMinutes(15))
            .setInputData(workDataOf(KEY_WAKE to false))
            .build()
        WorkManager.getInstance(context)
            .enqueueUniquePeriodicWork(REFRESH_WORK, ExistingPeriodicWorkPolicy.KEEP, request)
    }
}

/** Runs a wake-up: re-read telephony, `handleTimeout`, deliver, reschedule. */
class PortcullisWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        Portcullis.get(applicationContext).wake(fromWakeWork = inputData.getBoolean(WakeupScheduler.KEY_WAKE, false))
        return Result.success() // failures are logged and rescheduled by wake() itself
    }
}
