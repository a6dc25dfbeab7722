// Platform values -> core records, and the "no android.* in core/" rule.

package org.portcullis.android.jvmtests

import org.portcullis.androidServiceState
import org.portcullis.androidServingRat
import org.portcullis.androidSimState
import java.io.File
import org.portcullis.Rat
import org.portcullis.ServiceState
import org.portcullis.SimState
import org.portcullis.ConnectivityTracker
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.SubscriptionReading
import org.portcullis.android.core.TelephonyMapping

fun mappingTests() {
    test("SIM_STATE_* values map onto the core's SimState") {
        val expected = mapOf(
            0 to null, // UNKNOWN: a transition, nothing to report
            1 to SimState.ABSENT,
            2 to SimState.LOCKED, // PIN_REQUIRED
            3 to SimState.LOCKED, // PUK_REQUIRED
            4 to SimState.LOCKED, // NETWORK_LOCKED
            5 to SimState.READY,
            6 to SimState.NOT_READY,
            7 to SimState.ERROR, // PERM_DISABLED
            8 to SimState.ERROR, // CARD_IO_ERROR
            9 to SimState.ERROR, // CARD_RESTRICTED
            10 to SimState.READY, // LOADED (privileged broadcasts)
            11 to SimState.NOT_READY, // PRESENT (privileged broadcasts)
            12 to null,
            -1 to null,
        )
        for ((value, state) in expected) eq(state, androidSimState(value), "SIM_STATE $value")
        eq(5, SimStates.READY, "SIM_STATE_READY value")
    }

    test("ServiceState.STATE_* values map onto the core's ServiceState") {
        eq(ServiceState.IN_SERVICE, androidServiceState(ServiceStates.IN_SERVICE), "0")
        eq(ServiceState.OUT_OF_SERVICE, androidServiceState(1), "1")
        eq(ServiceState.EMERGENCY_ONLY, androidServiceState(2), "2")
        eq(ServiceState.POWER_OFF, androidServiceState(3), "3")
        eq(null, androidServiceState(4), "unknown value")
    }

    test("NETWORK_TYPE_* values map onto the core's Rat, 2G included") {
        val expected = mapOf(
            NetworkTypes.UNKNOWN to null,
            NetworkTypes.GPRS to Rat.GPRS,
            NetworkTypes.EDGE to Rat.EDGE,
            NetworkTypes.UMTS to Rat.UMTS,
            NetworkTypes.CDMA to Rat.CDMA,
            NetworkTypes.EVDO_0 to Rat.UNKNOWN,
            NetworkTypes.EVDO_A to Rat.UNKNOWN,
            NetworkTypes.ONE_X_RTT to Rat.ONE_X_RTT,
            NetworkTypes.HSDPA to Rat.HSPA,
            NetworkTypes.HSUPA to Rat.HSPA,
            NetworkTypes.HSPA to Rat.HSPA,
            NetworkTypes.IDEN to Rat.UNKNOWN,
            NetworkTypes.EVDO_B to Rat.UNKNOWN,
            NetworkTypes.LTE to Rat.LTE,
            NetworkTypes.EHRPD to Rat.UNKNOWN,
            NetworkTypes.HSPAP to Rat.HSPA,
            NetworkTypes.GSM to Rat.GSM,
            NetworkTypes.TD_SCDMA to Rat.UMTS,
            NetworkTypes.IWLAN to null,
            NetworkTypes.LTE_CA to Rat.LTE,
            NetworkTypes.NR to Rat.NR,
            99 to null,
        )
        eq(22, expected.size, "every NETWORK_TYPE_* value 0..20 is covered, plus one unknown")
        for ((value, rat) in expected) eq(rat, androidServingRat(value, NetworkTypes.UNKNOWN), "NETWORK_TYPE $value")
        eq(16, NetworkTypes.GSM, "NETWORK_TYPE_GSM value")
        eq(20, NetworkTypes.NR, "NETWORK_TYPE_NR value")
    }

    test("the serving technology is the voice registration's, else the data registration's") {
        eq(Rat.GSM, androidServingRat(NetworkTypes.GSM, NetworkTypes.LTE), "CS fallback on 2G")
        eq(Rat.LTE, androidServingRat(NetworkTypes.UNKNOWN, NetworkTypes.LTE), "data only")
        eq(Rat.NR, androidServingRat(NetworkTypes.IWLAN, NetworkTypes.NR), "Wi-Fi calling + NR data")
        eq(null, androidServingRat(NetworkTypes.UNKNOWN, NetworkTypes.IWLAN), "nothing cellular")
    }

    test("SubscriptionInfo fields: MCC+MNC joined by the core only when both are there") {
        fun mccMnc(mcc: String?, mnc: String?) =
            TelephonyMapping.simObservation(SubscriptionReading(0, SimStates.READY, mcc = mcc, mnc = mnc))?.mccMnc
        eq("23415", mccMnc("234", "15"), "2-digit MNC")
        eq("310260", mccMnc("310", "260"), "3-digit MNC")
        eq(null, mccMnc("234", null), "MNC missing")
        eq(null, mccMnc("", "15"), "MCC empty")
    }

    test("a slot reading becomes a SimObservation; no slot or a transitional state gives none") {
        val reading = SubscriptionReading(
            slotIndex = 1, simState = SimStates.READY, iccId = ICCID_A, imsi = "",
            phoneNumber = "+44 7700 900123", mcc = "234", mnc = "15", carrierName = "Carrier", embedded = true,
        )
        val obs = TelephonyMapping.simObservation(reading) ?: fail("no observation")
        eq(1, obs.slot, "slot")
        eq(SimState.READY, obs.state, "state")
        eq(ICCID_A, obs.iccid, "iccid")
        eq("", obs.imsi, "a withheld IMSI is passed as read (the core takes it as absent)")
        eq("+44 7700 900123", obs.msisdn, "number passed as the platform gave it (the core normalises)")
        eq("23415", obs.mccMnc, "mccMnc")
        eq(true, obs.embedded, "embedded")
        eq(null, TelephonyMapping.simObservation(SubscriptionReading(-1, SimStates.READY, ICCID_A)), "inactive slot")
        eq(null, TelephonyMapping.simObservation(SubscriptionReading(0, SimStates.UNKNOWN, ICCID_A)), "unknown state")
        val absent = TelephonyMapping.simObservation(SubscriptionReading(0, SimStates.ABSENT)) ?: fail("absent")
        eq(SimState.ABSENT, absent.state, "absent slot state")
    }

    test("a SubscriptionReading prints no identifier") {
        val text = SubscriptionReading(0, SimStates.READY, ICCID_A, "234150123456789", "+447700900123", "234", "15").toString()
        for (secret in listOf(ICCID_A.take(8), "23415012", "7700900")) {
            expect(!text.contains(secret)) { "leaks '$secret': $text" }
        }
        expect(text.contains("iccId=<redacted>") && text.contains("slot=0")) { text }
        expect(SubscriptionReading(0, 1).toString().contains("iccId=absent")) { "absent identifiers say so" }
    }

    test("a service reading becomes a ServiceObservation with the serving technology") {
        val obs = TelephonyMapping.serviceObservation(
            ServiceReading(0, ServiceStates.IN_SERVICE, roaming = false, voiceNetworkType = NetworkTypes.LTE),
        ) ?: fail("no observation")
        eq(ServiceState.IN_SERVICE, obs.state, "state")
        eq(Rat.LTE, obs.rat, "rat")
        eq(false, obs.roaming, "roaming")
        eq(null, TelephonyMapping.serviceObservation(ServiceReading(-1, ServiceStates.IN_SERVICE)), "no slot")
        eq(null, TelephonyMapping.serviceObservation(ServiceReading(0, 7)), "unknown state")
    }

    test("connectivity tracker reports only changes across networks and airplane mode") {
        val t = ConnectivityTracker()
        val wifiUp = t.networkChanged(100, wifi = true, cellular = false) ?: fail("wifi up not reported")
        expect(wifiUp.wifi && !wifiUp.cellularData && !wifiUp.airplaneMode) { "$wifiUp" }
        eq(null, t.networkChanged(100, wifi = true, cellular = false), "capability repeat (signal strength)")
        val both = t.networkChanged(200, wifi = false, cellular = true) ?: fail("cellular up not reported")
        expect(both.wifi && both.cellularData) { "$both" }
        val cellOnly = t.networkLost(100) ?: fail("wifi lost not reported")
        expect(!cellOnly.wifi && cellOnly.cellularData) { "$cellOnly" }
        eq(null, t.networkLost(100), "losing an unknown network")
        val airplane = t.airplaneModeChanged(true) ?: fail("airplane not reported")
        expect(airplane.airplaneMode) { "$airplane" }
        eq(null, t.airplaneModeChanged(true), "airplane repeat")
        eq(airplane, t.current(), "current")
    }

    test("platform-independent sources import nothing from android.* or androidx.*") {
        val dir = File(System.getProperty("portcullis.coreSources") ?: fail("-Dportcullis.coreSources not set"))
        val files = dir.listFiles { f -> f.name.endsWith(".kt") }?.toList().orEmpty()
        expect(files.size >= 10) { "found only ${files.size} files in $dir" }
        val offending = files.flatMap { f ->
            f.readLines().filter { Regex("""^\s*import\s+(android|androidx|com\.android)\.""").containsMatchIn(it) }
                .map { "${f.name}: $it" }
        }
        eq(emptyList<String>(), offending, "android imports in core/")
    }
}
