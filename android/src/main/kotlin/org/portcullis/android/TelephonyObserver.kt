// Telephony callbacks -> readings -> the core (through AgentFeeder and the input queue).
//
// Callbacks are only triggers: on each one the observer re-reads the state through public
// getters (getSimState(slot), the active SubscriptionInfo list, getSubscriberId, the phone
// number), so a missed, reordered or spoofed broadcast cannot plant a false state.

package org.portcullis.android

import android.annotation.SuppressLint
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.Build
import android.telephony.PhoneStateListener
import android.telephony.ServiceState
import android.telephony.SubscriptionInfo
import android.telephony.SubscriptionManager
import android.telephony.TelephonyCallback
import android.telephony.TelephonyManager
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import org.portcullis.android.core.AgentFeeder
import org.portcullis.android.core.InputQueue
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.SubscriptionReading

/**
 * Watches SIM slots and service state:
 * - `SubscriptionManager.OnSubscriptionsChangedListener` (subscription added, removed, changed);
 * - SIM state broadcasts: `TelephonyManager.ACTION_SIM_CARD_STATE_CHANGED` and
 *   `ACTION_SIM_APPLICATION_STATE_CHANGED` are @SystemApi and reach only privileged builds of
 *   the agent; the legacy `android.intent.action.SIM_STATE_CHANGED` still reaches apps holding
 *   READ_PHONE_STATE on most devices. Either only triggers a re-read;
 * - service state per active subscription: `TelephonyCallback.ServiceStateListener` on API 31+,
 *   `PhoneStateListener.LISTEN_SERVICE_STATE` on API 29-30.
 *
 * Needs READ_PHONE_STATE (and, for ICCID/IMSI on Android 10+, device-owner status; for the
 * phone number on 33+, READ_PHONE_NUMBERS). What the platform withholds arrives as absent.
 */
class TelephonyObserver(
    private val context: Context,
    private val feeder: AgentFeeder,
    private val queue: InputQueue,
) {
    // Both null on a device without telephony (a Wi-Fi-only tablet): nothing to watch there.
    private val telephony: TelephonyManager? = context.getSystemService(TelephonyManager::class.java)
    private val subscriptions: SubscriptionManager? = context.getSystemService(SubscriptionManager::class.java)
    private val executor: Executor = Executors.newSingleThreadExecutor()
    private var subscriptionsListener: SubscriptionManager.OnSubscriptionsChangedListener? = null
    private val serviceListeners = HashMap<Int, Registration>() // by subscription id

    /** Set when the platform said it has no telephony (UnsupportedOperationException): nothing is read then. */
    @Volatile
    private var noTelephony = false

    private val simReceiver = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) = refresh()
    }

    /** Starts watching and sends a first reading of every slot. Call on the main thread. */
    fun start() {
        if (subscriptionsListener != null) return
        val subscriptions = subscriptions ?: return
        // Constructed here: on API 29 the listener captures the constructing thread's Looper.
        val listener = object : SubscriptionManager.OnSubscriptionsChangedListener() {
            override fun onSubscriptionsChanged() = refresh()
        }
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                subscriptions.addOnSubscriptionsChangedListener(executor, listener)
            } else {
                @Suppress("DEPRECATION")
                subscriptions.addOnSubscriptionsChangedListener(listener)
            }
        } catch (e: UnsupportedOperationException) {
            // A device without FEATURE_TELEPHONY_SUBSCRIPTION (Wi-Fi only): no telephony to watch.
            noTelephony = true
            return
        }
        subscriptionsListener = listener
        val filter = IntentFilter().apply { SIM_BROADCASTS.forEach(::addAction) }
        // Exported: these come from the phone process (not the system UID). Safe, since a
        // broadcast only triggers a re-read through the getters.
        Receivers.register(context, simReceiver, filter, exported = true)
        refresh()
    }

    /** Call on the main thread. */
    fun stop() {
        subscriptionsListener?.let { subscriptions?.removeOnSubscriptionsChangedListener(it) }
        subscriptionsListener = null
        runCatching { context.unregisterReceiver(simReceiver) }
        synchronized(serviceListeners) {
            serviceListeners.values.forEach { it.unregister() }
            serviceListeners.clear()
        }
    }

    /** Queues a re-read of every slot (and re-registers service listeners). */
    fun refresh() {
        queue.submit { readAndFeed() }
    }

    /** Reads every slot now and feeds the readings (run inside the input queue). */
    suspend fun readAndFeed() {
        val telephony = telephony?.takeUnless { noTelephony } ?: return
        val readings = try {
            val active = activeSubscriptions()
            updateServiceListeners(telephony, active)
            readSlots(telephony, active)
        } catch (e: UnsupportedOperationException) {
            noTelephony = true // no telephony: nothing to read, now or later
            return
        }
        for (reading in readings) feeder.sim(reading)
    }

    /** One service-state reading per active subscription, read now (for wake-ups without callbacks). */
    suspend fun readServiceAndFeed() {
        val telephony = telephony?.takeUnless { noTelephony } ?: return
        val active = try {
            activeSubscriptions()
        } catch (e: UnsupportedOperationException) {
            noTelephony = true
            return
        }
        for (info in active) {
            val tm = telephony.createForSubscriptionId(info.subscriptionId)
            val state = serviceStateOf(tm) ?: continue
            feeder.service(serviceReading(info.simSlotIndex, tm, state))
        }
    }

    @SuppressLint("MissingPermission") // READ_PHONE_STATE is declared; a SecurityException means absent
    private fun activeSubscriptions(): List<SubscriptionInfo> =
        try {
            subscriptions?.activeSubscriptionInfoList.orEmpty()
        } catch (e: SecurityException) {
            emptyList()
        }

    private fun slotCount(telephony: TelephonyManager): Int =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            telephony.activeModemCount
        } else {
            @Suppress("DEPRECATION")
            telephony.phoneCount
        }

    private fun readSlots(telephony: TelephonyManager, active: List<SubscriptionInfo>): List<SubscriptionReading> =
        (0 until slotCount(telephony)).map { slot ->
            val info = active.firstOrNull { it.simSlotIndex == slot }
            SubscriptionReading(
                slotIndex = slot,
                simState = telephony.getSimState(slot),
                iccId = info?.let { guarded { it.iccId } },
                imsi = info?.let { guarded { telephony.createForSubscriptionId(it.subscriptionId).subscriberId } },
                phoneNumber = info?.let { phoneNumber(it) },
                mcc = info?.mccString,
                mnc = info?.mncString,
                carrierName = info?.carrierName?.toString(),
                embedded = info?.isEmbedded,
            )
        }

    @SuppressLint("MissingPermission")
    private fun phoneNumber(info: SubscriptionInfo): String? = guarded {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            subscriptions?.getPhoneNumber(info.subscriptionId)
        } else {
            @Suppress("DEPRECATION")
            info.number
        }
    }

    /** Runs a getter that needs a permission the app may not hold, or a feature the device may lack; `null` then. */
    private inline fun <T> guarded(read: () -> T?): T? =
        try {
            read()
        } catch (e: SecurityException) {
            null
        } catch (e: UnsupportedOperationException) {
            null
        }

    // ------------------------------------------------------------ service state

    private fun updateServiceListeners(telephony: TelephonyManager, active: List<SubscriptionInfo>) {
        val wanted = active.associateBy { it.subscriptionId }
        synchronized(serviceListeners) {
            val stale = serviceListeners.filter { (subId, reg) -> wanted[subId]?.simSlotIndex != reg.slot }
            stale.forEach { (subId, reg) ->
                reg.unregister()
                serviceListeners.remove(subId)
            }
            for ((subId, info) in wanted) {
                if (subId !in serviceListeners && info.simSlotIndex >= 0) {
                    serviceListeners[subId] = listenServiceState(telephony, subId, info.simSlotIndex)
                }
            }
        }
    }

    private class Registration(val slot: Int, val unregister: () -> Unit)

    @Suppress("DEPRECATION") // PhoneStateListener: the API 29-30 path
    private fun listenServiceState(telephony: TelephonyManager, subId: Int, slot: Int): Registration {
        val tm = telephony.createForSubscriptionId(subId)
        val onState = { state: ServiceState ->
            val reading = serviceReading(slot, tm, state)
            queue.submit { feeder.service(reading) }
            Unit
        }
        return if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            val callback = object : TelephonyCallback(), TelephonyCallback.ServiceStateListener {
                override fun onServiceStateChanged(serviceState: ServiceState) {
                    onState(serviceState)
                }
            }
            tm.registerTelephonyCallback(executor, callback)
            Registration(slot) { tm.unregisterTelephonyCallback(callback) }
        } else {
            val listener = object : PhoneStateListener(executor) {
                @Deprecated("PhoneStateListener is replaced by TelephonyCallback on API 31")
                override fun onServiceStateChanged(serviceState: ServiceState?) {
                    if (serviceState != null) onState(serviceState)
                }
            }
            tm.listen(listener, PhoneStateListener.LISTEN_SERVICE_STATE)
            Registration(slot) { tm.listen(listener, PhoneStateListener.LISTEN_NONE) }
        }
    }

    @SuppressLint("MissingPermission")
    private fun serviceStateOf(tm: TelephonyManager): ServiceState? = guarded { tm.serviceState }

    @SuppressLint("MissingPermission")
    private fun serviceReading(slot: Int, tm: TelephonyManager, state: ServiceState) = ServiceReading(
        slotIndex = slot,
        state = state.state,
        roaming = state.roaming,
        voiceNetworkType = guarded { tm.voiceNetworkType } ?: TelephonyManager.NETWORK_TYPE_UNKNOWN,
        dataNetworkType = guarded { tm.dataNetworkType } ?: TelephonyManager.NETWORK_TYPE_UNKNOWN,
    )

    companion object {
        /** Broadcasts that trigger a re-read (see the class comment for who receives which). */
        val SIM_BROADCASTS = listOf(
            "android.telephony.action.SIM_CARD_STATE_CHANGED", // TelephonyManager, @SystemApi
            "android.telephony.action.SIM_APPLICATION_STATE_CHANGED", // TelephonyManager, @SystemApi
            "android.intent.action.SIM_STATE_CHANGED", // TelephonyIntents (hidden), legacy
        )
    }
}
