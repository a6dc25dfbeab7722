// ACTION_BOOT_COMPLETED: alarms are gone after a reboot, so ask JobScheduler for one wake-up
// as soon as it allows, and return. Nothing else happens inside the broadcast's deadline: the
// job's wake-up reports the boot instant (now minus elapsedRealtime), the core infers the
// reboot from it (a SIM missing right after boot gets a grace period) and the job re-arms the
// alarm at the core's nextWakeup(). A forged broadcast cannot fake a reboot: the core judges
// the boot instant, not the broadcast (the receiver is exported="false" all the same).

package org.portcullis.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent

class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Intent.ACTION_BOOT_COMPLETED) return
        WakeupScheduler.runSoon(context)
    }
}
