// Wi-Fi, mobile data and airplane mode -> handleConnectivity. Wi-Fi being up while the
// cellular network refuses the SIM is what separates a port-out from a lost signal.

package org.portcullis.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkRequest
import android.provider.Settings
import org.portcullis.android.core.AgentFeeder
import org.portcullis.ConnectivityTracker
import org.portcullis.android.core.InputQueue

/** Needs ACCESS_NETWORK_STATE. */
class ConnectivityObserver(
    private val context: Context,
    private val feeder: AgentFeeder,
    private val queue: InputQueue,
) {
    private val connectivity = context.requireService<ConnectivityManager>()
    private val tracker = ConnectivityTracker()
    private var registered = false

    private val callback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, caps: NetworkCapabilities) {
            tracker.networkChanged(
                network.networkHandle,
                wifi = caps.hasTransport(NetworkCapabilities.TRANSPORT_WIFI),
                cellular = caps.hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR),
            )?.let(::feed)
        }

        override fun onLost(network: Network) {
            tracker.networkLost(network.networkHandle)?.let(::feed)
        }
    }

    private val airplaneReceiver = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) {
            tracker.airplaneModeChanged(airplaneMode())?.let(::feed)
        }
    }

    fun start() {
        if (registered) return
        registered = true
        tracker.airplaneModeChanged(airplaneMode())
        // A trigger only: the handler re-reads the setting.
        Receivers.register(context, airplaneReceiver, IntentFilter(Intent.ACTION_AIRPLANE_MODE_CHANGED), exported = true)
        val request = NetworkRequest.Builder()
            .addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
            .build()
        // The callback reports every matching network soon after registering; the first
        // reading goes to the core then, not before (see ConnectivityTracker.reading).
        connectivity.registerNetworkCallback(request, callback)
        tracker.reading()?.let(::feed)
    }

    fun stop() {
        if (!registered) return
        registered = false
        runCatching { connectivity.unregisterNetworkCallback(callback) }
        runCatching { context.unregisterReceiver(airplaneReceiver) }
    }

    /** Sends the current state again (the feeder drops it when nothing changed). */
    fun refresh() {
        tracker.airplaneModeChanged(airplaneMode())
        tracker.reading()?.let(::feed)
    }

    private fun feed(state: org.portcullis.Connectivity) {
        queue.submit { feeder.connectivity(state) }
    }

    private fun airplaneMode(): Boolean =
        Settings.Global.getInt(context.contentResolver, Settings.Global.AIRPLANE_MODE_ON, 0) != 0
}
