// Platform telephony values -> core observation records. Mapping only: whether a reading
// means a swap, a port-out or a downgrade is decided by the core.

package org.portcullis.android.core

import org.portcullis.Rat
import org.portcullis.ServiceObservation
import org.portcullis.ServiceState
import org.portcullis.SimObservation
import org.portcullis.SimState

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
    val voiceNetworkType: Int = NetworkTypes.UNKNOWN,
    val dataNetworkType: Int = NetworkTypes.UNKNOWN,
)

/** Maps Android telephony values onto the core's records. */
object TelephonyMapping {
    /**
     * `SIM_STATE_*` -> core [SimState]; `null` for `SIM_STATE_UNKNOWN` and unknown values, which
     * carry no information (a transition), so no observation is sent for them.
     */
    fun simState(value: Int): SimState? = when (value) {
        SimStates.ABSENT -> SimState.ABSENT
        SimStates.PIN_REQUIRED, SimStates.PUK_REQUIRED, SimStates.NETWORK_LOCKED -> SimState.LOCKED
        SimStates.READY, SimStates.LOADED -> SimState.READY
        SimStates.NOT_READY, SimStates.PRESENT -> SimState.NOT_READY
        SimStates.PERM_DISABLED, SimStates.CARD_IO_ERROR, SimStates.CARD_RESTRICTED -> SimState.ERROR
        else -> null
    }

    /** `ServiceState.STATE_*` -> core [ServiceState]; `null` for values this version does not know. */
    fun serviceState(value: Int): ServiceState? = when (value) {
        ServiceStates.IN_SERVICE -> ServiceState.IN_SERVICE
        ServiceStates.OUT_OF_SERVICE -> ServiceState.OUT_OF_SERVICE
        ServiceStates.EMERGENCY_ONLY -> ServiceState.EMERGENCY_ONLY
        ServiceStates.POWER_OFF -> ServiceState.POWER_OFF
        else -> null
    }

    /**
     * `NETWORK_TYPE_*` -> core [Rat]; `null` when no cellular technology is reported
     * (`UNKNOWN`) or none is involved (`IWLAN`, i.e. Wi-Fi calling). Technologies the core
     * has no variant for (EV-DO, eHRPD: 3G CDMA2000 data; iDEN) map to [Rat.UNKNOWN]
     * rather than to a neighbour that would misstate their generation.
     */
    fun rat(networkType: Int): Rat? = when (networkType) {
        NetworkTypes.GSM -> Rat.GSM
        NetworkTypes.GPRS -> Rat.GPRS
        NetworkTypes.EDGE -> Rat.EDGE
        NetworkTypes.CDMA -> Rat.CDMA
        NetworkTypes.ONE_X_RTT -> Rat.ONE_X_RTT
        NetworkTypes.UMTS, NetworkTypes.TD_SCDMA -> Rat.UMTS
        NetworkTypes.HSDPA, NetworkTypes.HSUPA, NetworkTypes.HSPA, NetworkTypes.HSPAP -> Rat.HSPA
        NetworkTypes.LTE, NetworkTypes.LTE_CA -> Rat.LTE
        NetworkTypes.NR -> Rat.NR
        NetworkTypes.EVDO_0, NetworkTypes.EVDO_A, NetworkTypes.EVDO_B, NetworkTypes.EHRPD,
        NetworkTypes.IDEN -> Rat.UNKNOWN
        else -> null // UNKNOWN, IWLAN, values newer than this table
    }

    /**
     * The technology serving the slot: the voice (circuit-switched) registration when it
     * reports one, else the data registration. Voice comes first because calls and SMS,
     * what a rogue 2G base station intercepts, ride on it.
     */
    fun servingRat(voiceNetworkType: Int, dataNetworkType: Int): Rat? =
        rat(voiceNetworkType) ?: rat(dataNetworkType)

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
        val state = simState(reading.simState) ?: return null
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
        val state = serviceState(reading.state) ?: return null
        return ServiceObservation(
            slot = reading.slotIndex,
            state = state,
            roaming = reading.roaming,
            rat = servingRat(reading.voiceNetworkType, reading.dataNetworkType),
        )
    }
}
