// Android network and security logs -> the core's typed telemetry records. Mapping only:
// whether an event matches an indicator or is an attack is decided by the core.

package org.portcullis.android.core

import java.time.Instant
import org.portcullis.ConnectLogEvent
import org.portcullis.DmVerityMode
import org.portcullis.DnsLogEvent
import org.portcullis.SecurityLogEvent
import org.portcullis.TelemetryLogEvent
import org.portcullis.VerifiedBootState

/**
 * One `android.app.admin.NetworkEvent` as the receiver read it in `onNetworkLogsAvailable`
 * (`DevicePolicyManager.retrieveNetworkLogs`): a `DnsEvent` (`getHostname`,
 * `getInetAddresses` as `InetAddress.getHostAddress` text) or a `ConnectEvent`
 * (`getInetAddress`, `getPort`), both with `getPackageName` and `getTimestamp` (ms).
 */
sealed class NetworkLogReading {
    abstract val timestampMillis: Long
    abstract val packageName: String

    data class Dns(
        override val timestampMillis: Long,
        override val packageName: String,
        val hostname: String,
        val inetAddresses: List<String>,
    ) : NetworkLogReading()

    data class Connect(
        override val timestampMillis: Long,
        override val packageName: String,
        val inetAddress: String,
        val port: Int,
    ) : NetworkLogReading()
}

/**
 * One `android.app.admin.SecurityLog.SecurityEvent`: `getTag`, `getTimeNanos` and
 * `getData` exactly as the platform returns it (a `String`, an `Object[]`, or null).
 */
class SecurityLogReading(val tag: Int, val timeNanos: Long, val data: Any?) {
    // getData can hold an adb command line: never print it.
    override fun toString(): String = "SecurityLogReading(tag=$tag, timeNanos=$timeNanos)"
}

/** `SecurityLog.TAG_*` values (AOSP SecurityLogTags.logtags), mirrored for code without android.jar. */
object SecurityLogTags {
    const val ADB_SHELL_INTERACTIVE = 210001
    const val ADB_SHELL_CMD = 210002
    const val SYNC_RECV_FILE = 210003
    const val APP_PROCESS_START = 210005
    const val KEYGUARD_DISMISS_AUTH_ATTEMPT = 210007
    const val OS_STARTUP = 210009
    const val MEDIA_MOUNT = 210013
    const val WIPE_FAILURE = 210023
    const val CERT_AUTHORITY_INSTALLED = 210029
    const val WIFI_CONNECTION = 210037
    const val BLUETOOTH_CONNECTION = 210039
}

object TelemetryMapping {
    /** A network-log entry as the core's record. */
    fun network(reading: NetworkLogReading): TelemetryLogEvent {
        val at = Instant.ofEpochMilli(reading.timestampMillis)
        return when (reading) {
            is NetworkLogReading.Dns -> TelemetryLogEvent.Dns(
                DnsLogEvent(at, reading.packageName, reading.hostname, reading.inetAddresses),
            )
            is NetworkLogReading.Connect -> TelemetryLogEvent.Connect(
                ConnectLogEvent(at, reading.packageName, reading.inetAddress, reading.port.toUShort()),
            )
        }
    }

    /**
     * A security-log entry as the core's record, or null for a tag the core does not read
     * or a payload of an unexpected shape (a later Android release may add fields; missing
     * ones are never guessed).
     */
    fun security(reading: SecurityLogReading): TelemetryLogEvent? {
        val at = Instant.ofEpochSecond(
            Math.floorDiv(reading.timeNanos, 1_000_000_000L),
            Math.floorMod(reading.timeNanos, 1_000_000_000L),
        )
        val fields = reading.data as? Array<*>
        fun string(i: Int): String? = fields?.getOrNull(i) as? String
        fun int(i: Int): Int? = (fields?.getOrNull(i) as? Number)?.toInt()
        val event: SecurityLogEvent = when (reading.tag) {
            SecurityLogTags.ADB_SHELL_INTERACTIVE -> SecurityLogEvent.AdbShellInteractive(at)
            SecurityLogTags.ADB_SHELL_CMD ->
                SecurityLogEvent.AdbShellCommand(at, reading.data as? String ?: return null)
            SecurityLogTags.SYNC_RECV_FILE ->
                SecurityLogEvent.AdbFilePulled(at, reading.data as? String ?: return null)
            // [processName, startTime, uid, pid, seinfo, apkHash]
            SecurityLogTags.APP_PROCESS_START -> SecurityLogEvent.AppProcessStart(
                at,
                string(0) ?: return null,
                null,
                string(5)?.takeIf { it.length == 64 },
            )
            // [result, strength]
            SecurityLogTags.KEYGUARD_DISMISS_AUTH_ATTEMPT ->
                SecurityLogEvent.KeyguardAuthAttempt(at, (int(0) ?: return null) == 1)
            // [verifiedBootState, dmVerityMode]
            SecurityLogTags.OS_STARTUP -> SecurityLogEvent.OsStartup(
                at,
                bootState(string(0)) ?: return null,
                dmVerity(string(1)) ?: return null,
            )
            // [mountPoint, volumeLabel]
            SecurityLogTags.MEDIA_MOUNT -> SecurityLogEvent.MediaMount(at, string(0) ?: return null)
            // [result, subject, userId]
            SecurityLogTags.CERT_AUTHORITY_INSTALLED -> SecurityLogEvent.CertAuthorityInstalled(
                at,
                (int(0) ?: return null) == 1,
                string(1) ?: "",
                null,
            )
            SecurityLogTags.WIFI_CONNECTION -> SecurityLogEvent.WifiConnection(at)
            // [address, success, reason]
            SecurityLogTags.BLUETOOTH_CONNECTION ->
                SecurityLogEvent.BluetoothConnection(at, (int(1) ?: return null) == 1)
            SecurityLogTags.WIPE_FAILURE -> SecurityLogEvent.WipeFailure(at)
            else -> return null
        }
        return TelemetryLogEvent.Security(event)
    }

    /** A whole callback's worth, in the platform's order; tags the core does not read are dropped. */
    fun batch(network: List<NetworkLogReading>, security: List<SecurityLogReading>): List<TelemetryLogEvent> =
        network.map(::network) + security.mapNotNull(::security)

    private fun bootState(text: String?): VerifiedBootState? = when (text?.lowercase()) {
        "green" -> VerifiedBootState.GREEN
        "yellow" -> VerifiedBootState.YELLOW
        "orange" -> VerifiedBootState.ORANGE
        "red" -> VerifiedBootState.RED
        else -> null
    }

    private fun dmVerity(text: String?): DmVerityMode? = when (text?.lowercase()) {
        "enforcing" -> DmVerityMode.ENFORCING
        "eio" -> DmVerityMode.EIO
        "disabled" -> DmVerityMode.DISABLED
        else -> null
    }
}
