// ACTION_BOOT_COMPLETED -> handleReboot (a SIM missing right after boot gets a grace period).
// Declared in the library manifest with exported="false": only the system can send it, so no
// app can fake a reboot to buy an attacker that grace period.

package org.portcullis.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch

class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Intent.ACTION_BOOT_COMPLETED) return
        val pending = goAsync()
        CoroutineScope(SupervisorJob() + Dispatchers.Default).launch {
            try {
                Portcullis.get(context).onBoot()
            } finally {
                pending.finish()
            }
        }
    }
}
