// Small platform helpers the glue shares: system services that may be absent, and dynamic
// broadcast receivers with the export flag API 33+ requires (what androidx's
// ContextCompat.registerReceiver does, without the androidx dependency).

package org.portcullis.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.IntentFilter
import android.os.Build

/**
 * The system service [T]. `Context.getSystemService` answers null when the device lacks the
 * feature behind it (no telephony on a Wi-Fi-only tablet, no device admin on some builds): a
 * caller that cannot do without it gets this clear error instead of a NullPointerException later.
 */
internal inline fun <reified T : Any> Context.requireService(): T =
    getSystemService(T::class.java) ?: throw UnsupportedOperationException("no ${T::class.java.simpleName} on this device")

internal object Receivers {
    /**
     * Registers [receiver] for [filter]. [exported]: whether other apps' broadcasts may reach it
     * (the phone process's SIM broadcasts and the like); system broadcasts reach it either way.
     * Below API 33 there is no flag: every dynamic receiver is exported there.
     */
    fun register(context: Context, receiver: BroadcastReceiver, filter: IntentFilter, exported: Boolean) {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            context.registerReceiver(receiver, filter, if (exported) Context.RECEIVER_EXPORTED else Context.RECEIVER_NOT_EXPORTED)
        } else {
            context.registerReceiver(receiver, filter)
        }
    }
}
