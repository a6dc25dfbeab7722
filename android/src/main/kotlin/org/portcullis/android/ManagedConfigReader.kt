// The managed configuration the EMM pushes (RestrictionsManager), with the keys declared
// in res/xml/app_restrictions.xml (referenced by the manifest's android.content.APP_RESTRICTIONS).

package org.portcullis.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.content.RestrictionsManager
import org.portcullis.ManagedConfigValues
import org.portcullis.android.core.managedConfigValues

class ManagedConfigReader(private val context: Context) {
    private val restrictions = context.requireService<RestrictionsManager>()
    private var receiver: BroadcastReceiver? = null

    /** The configuration now (a binder call: keep it off the main thread when possible). */
    fun read(): ManagedConfigValues {
        val bundle = restrictions.applicationRestrictions
        @Suppress("DEPRECATION") // Bundle.get(String): values here are strings
        val values = bundle.keySet().associateWith { bundle.get(it) }
        return managedConfigValues(values)
    }

    /** Calls [onChange] with the new configuration whenever the EMM changes it (while registered). */
    fun watch(onChange: (ManagedConfigValues) -> Unit) {
        if (receiver != null) return
        val r = object : BroadcastReceiver() {
            override fun onReceive(context: Context, intent: Intent) = onChange(read())
        }
        // Sent by the system only to dynamically registered receivers.
        Receivers.register(context, r, IntentFilter(Intent.ACTION_APPLICATION_RESTRICTIONS_CHANGED), exported = true)
        receiver = r
    }

    fun stopWatching() {
        receiver?.let { runCatching { context.unregisterReceiver(it) } }
        receiver = null
    }
}
