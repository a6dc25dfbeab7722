// Connectivity bookkeeping and repeat suppression for platform callbacks.
//
// ConnectivityManager calls back for every capability change of every network (signal
// strength included), and service-state callbacks repeat unchanged states. Each commit in
// the core costs an fsync, so readings that repeat the previous one for the same key are
// dropped here. Only identifier-free values are remembered (connectivity, service state):
// SIM readings, which carry identifiers, are never held.

package org.portcullis.android.core

import org.portcullis.Connectivity

/** Passes a value for a key only when it differs from the last value passed for that key. */
class ChangeFilter<K, V> {
    private val last = HashMap<K, V>()

    /** True when [value] is new for [key] (and remembers it). */
    @Synchronized
    fun offer(key: K, value: V): Boolean {
        if (last.containsKey(key) && last[key] == value) return false
        last[key] = value
        return true
    }

    /** Forgets [key], so its next value passes (e.g. when passing it on failed). */
    @Synchronized
    fun forget(key: K) {
        last.remove(key)
    }

    /** Forgets everything, so the next value for every key passes (e.g. after reopening the agent). */
    @Synchronized
    fun reset() = last.clear()
}

/**
 * The device's connectivity from `ConnectivityManager.NetworkCallback` events: which networks
 * are up and over which transport, plus airplane mode (`Settings.Global.AIRPLANE_MODE_ON`).
 * Networks are keyed by `Network.getNetworkHandle()`.
 */
class ConnectivityTracker {
    private class Transports(val wifi: Boolean, val cellular: Boolean)

    private val networks = HashMap<Long, Transports>()
    private var airplaneMode = false
    private var lastReported: Connectivity? = null

    // Until ConnectivityManager first calls back, "no network known" is ignorance, not "no
    // Wi-Fi and no mobile data": reporting it would look like a lost line to the core.
    private var heardFromNetworks = false

    /** `onCapabilitiesChanged`: [wifi] = `hasTransport(TRANSPORT_WIFI)`, [cellular] = `TRANSPORT_CELLULAR`. */
    @Synchronized
    fun networkChanged(handle: Long, wifi: Boolean, cellular: Boolean): Connectivity? {
        heardFromNetworks = true
        networks[handle] = Transports(wifi, cellular)
        return reportIfChanged()
    }

    /** `onLost`. */
    @Synchronized
    fun networkLost(handle: Long): Connectivity? {
        heardFromNetworks = true
        networks.remove(handle)
        return reportIfChanged()
    }

    /** Airplane mode read from settings (at start and on `ACTION_AIRPLANE_MODE_CHANGED`). */
    @Synchronized
    fun airplaneModeChanged(on: Boolean): Connectivity? {
        airplaneMode = on
        return reportIfChanged()
    }

    /** The current state to report, whether or not it changed; `null` before the first network callback. */
    @Synchronized
    fun reading(): Connectivity? = if (heardFromNetworks) current() else null

    /** The current state, whether or not it changed (before any network callback: no network known). */
    @Synchronized
    fun current(): Connectivity = Connectivity(
        wifi = networks.values.any { it.wifi },
        cellularData = networks.values.any { it.cellular },
        airplaneMode = airplaneMode,
    )

    private fun reportIfChanged(): Connectivity? {
        if (!heardFromNetworks) return null
        val now = current()
        if (now == lastReported) return null
        lastReported = now
        return now
    }
}
