// Android network and security logs -> the core's typed telemetry records (network events are
// built as the core's DnsLogEvent and ConnectLogEvent by the receiver). The core reads
// each security-log tag's payload; whether an event matches an indicator or is an attack is
// decided by the core too.

package org.portcullis.android.core

import org.portcullis.SecurityLogPayload
import org.portcullis.SecurityLogValue
import org.portcullis.TelemetryLogEvent
import org.portcullis.androidSecurityLogEvent

/**
 * One `android.app.admin.SecurityLog.SecurityEvent`: `getTag`, `getTimeNanos` and
 * `getData` exactly as the platform returns it (a `String`, an `Object[]`, or null).
 */
class SecurityLogReading(val tag: Int, val timeNanos: Long, val data: Any?) {
    // getData can hold an adb command line: never print it.
    override fun toString(): String = "SecurityLogReading(tag=$tag, timeNanos=$timeNanos)"
}

object TelemetryMapping {
    /**
     * A security-log entry as the core's record, or null for a tag the core does not read
     * or a payload not shaped as the tag says (the core reads each tag's fields).
     */
    fun security(reading: SecurityLogReading): TelemetryLogEvent? =
        androidSecurityLogEvent(reading.tag, reading.timeNanos, payload(reading.data))?.let { TelemetryLogEvent.Security(it) }

    /** `getData()` typed for the core: a `String`, an `Object[]`, or nothing it reads. */
    private fun payload(data: Any?): SecurityLogPayload = when (data) {
        is String -> SecurityLogPayload.Text(data)
        is Array<*> -> SecurityLogPayload.Fields(
            data.map {
                when (it) {
                    is String -> SecurityLogValue.Text(it)
                    is Number -> SecurityLogValue.Number(it.toLong())
                    else -> SecurityLogValue.Other
                }
            },
        )
        else -> SecurityLogPayload.None
    }

    /** A whole callback's worth, in the platform's order; tags the core does not read are dropped. */
    fun batch(network: List<TelemetryLogEvent>, security: List<SecurityLogReading>): List<TelemetryLogEvent> =
        network + security.mapNotNull(::security)
}
