// Platform telephony readings -> core observation records. The core reads the platform's
// numbers (SIM state, service state, network types) and decides what a reading means.

package org.portcullis.android.core

import org.portcullis.ServiceObservation
import org.portcullis.SimObservation
import org.portcullis.androidServiceState
import org.portcullis.androidServingRat
import org.portcullis.androidSimState

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

/** Android telephony readings as the core's records. */
object TelephonyMapping {
    /** `getMccString()` + `getMncString()` -> "MCCMNC", or `null` unless both are there. */
    fun mccMnc(mcc: String?, mnc: String?): String? =
        if (mcc.isNullOrBlank() || mnc.isNullOrBlank()) null else mcc.trim() + mnc.trim()

    /**
     * The observation for one slot, or `null` when there is nothing to report (no slot
     * index, or a transitional SIM state). Identifiers pass through as read: the core takes
     * blank ones as not revealed, cuts a long carrier name, and validates the rest
     * (`InvalidInput` names the field, never the value).
     */
    fun simObservation(reading: SubscriptionReading): SimObservation? {
        if (reading.slotIndex < 0) return null
        val state = androidSimState(reading.simState) ?: return null
        return SimObservation(
            slot = reading.slotIndex,
            state = state,
            iccid = reading.iccId,
            imsi = reading.imsi,
            msisdn = reading.phoneNumber,
            mccMnc = mccMnc(reading.mcc, reading.mnc),
            carrierName = reading.carrierName,
            embedded = reading.embedded,
        )
    }

    /** The observation for one service-state reading, or `null` without a slot or a known state. */
    fun serviceObservation(reading: ServiceReading): ServiceObservation? {
        if (reading.slotIndex < 0) return null
        val state = androidServiceState(reading.state) ?: return null
        return ServiceObservation(
            slot = reading.slotIndex,
            state = state,
            roaming = reading.roaming,
            rat = androidServingRat(reading.voiceNetworkType, reading.dataNetworkType),
        )
    }
}
