// Platform telephony readings -> core observation records. The core reads the platform's
// numbers (SIM state, service state, network types) and decides what a reading means.

package org.portcullis.android.core

import org.portcullis.ServiceObservation
import org.portcullis.SimObservation
import org.portcullis.androidServiceObservation
import org.portcullis.androidSimObservation

/**
 * One slot as the Android glue read it: `TelephonyManager.getSimState(slot)` plus, when the
 * slot has an active subscription, the `SubscriptionInfo` fields (ICCID, MCC, MNC, carrier
 * name, eSIM), the IMSI (`TelephonyManager.getSubscriberId`) and the phone number
 * (`SubscriptionManager.getPhoneNumber` on API 33+, `SubscriptionInfo.getNumber` before).
 *
 * Not a data class on purpose: `toString()` must never print an identifier (logs, crash
 * reports), so it shows only whether each identifier was present.
 */
class SubscriptionReading(
    val slotIndex: Int,
    val simState: Int,
    val iccId: String? = null,
    val imsi: String? = null,
    val phoneNumber: String? = null,
    val mcc: String? = null,
    val mnc: String? = null,
    val carrierName: String? = null,
    val embedded: Boolean? = null,
) {
    override fun toString(): String =
        "SubscriptionReading(slot=$slotIndex, simState=$simState, iccId=${redacted(iccId)}, " +
            "imsi=${redacted(imsi)}, phoneNumber=${redacted(phoneNumber)}, mcc=$mcc, mnc=$mnc, " +
            "embedded=$embedded)"

    private fun redacted(value: String?): String = if (value.isNullOrEmpty()) "absent" else "<redacted>"
}

/**
 * One service-state reading for a slot: `ServiceState.getState()` and `getRoaming()` from the
 * service-state callback, and the slot's `TelephonyManager.getVoiceNetworkType()` /
 * `getDataNetworkType()` read at the same moment (`NETWORK_TYPE_UNKNOWN` when not readable).
 */
data class ServiceReading(
    val slotIndex: Int,
    val state: Int,
    val roaming: Boolean? = null,
    val voiceNetworkType: Int = 0, // NETWORK_TYPE_UNKNOWN
    val dataNetworkType: Int = 0,
)

/** Android telephony readings as the core's records (the core reads slots, states, network types and MCC/MNC). */
object TelephonyMapping {
    /** The observation for one slot, or `null` when there is nothing to report (no slot index, a transitional state). */
    fun simObservation(r: SubscriptionReading): SimObservation? =
        androidSimObservation(r.slotIndex, r.simState, r.iccId, r.imsi, r.phoneNumber, r.mcc, r.mnc, r.carrierName, r.embedded)

    /** The observation for one service-state reading, or `null` without a slot or a known state. */
    fun serviceObservation(r: ServiceReading): ServiceObservation? =
        androidServiceObservation(r.slotIndex, r.state, r.roaming, r.voiceNetworkType, r.dataNetworkType)
}
