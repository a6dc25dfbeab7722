// Android network and security logs -> the core's telemetry records, with event shapes
// written from the Android reference (NetworkEvent, DnsEvent, ConnectEvent, SecurityEvent).

package org.portcullis.android.jvmtests

import java.time.Instant
import org.portcullis.DmVerityMode
import org.portcullis.SecurityLogEvent
import org.portcullis.TelemetryLogEvent
import org.portcullis.VerifiedBootState
import org.portcullis.DnsLogEvent
import org.portcullis.android.core.SecurityLogReading
import org.portcullis.android.core.TelemetryMapping

private const val BUNDLE = """{"type": "bundle", "objects": [
  {"type": "malware", "id": "malware--1", "name": "Spy", "is_family": true},
  {"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[domain-name:value='evil.example']"},
  {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": "malware--1"}
]}"""

private fun nanos(seconds: Long): Long = at(seconds).epochSecond * 1_000_000_000L

fun telemetryTests() {
    test("SecurityEvent tags and getData() shapes map onto typed records") {
        fun map(tag: Int, data: Any?) =
            (TelemetryMapping.security(SecurityLogReading(tag, nanos(7) + 500, data)) as? TelemetryLogEvent.Security)?.event
        eq(SecurityLogEvent.AdbShellCommand(Instant.ofEpochSecond(at(7).epochSecond, 500), "pm list packages"),
            map(SecurityLogTags.ADB_SHELL_CMD, "pm list packages"), "adb shell command")
        eq(SecurityLogEvent.AdbShellInteractive(Instant.ofEpochSecond(at(7).epochSecond, 500)),
            map(SecurityLogTags.ADB_SHELL_INTERACTIVE, null), "interactive shell")
        val hash = "ab".repeat(32)
        val process = map(
            SecurityLogTags.APP_PROCESS_START,
            arrayOf<Any?>("com.example.game", 1_700_000_000_000L, 10123, 4242, "default:targetSdkVersion=34", hash),
        ) as SecurityLogEvent.AppProcessStart
        eq("com.example.game", process.process, "process name")
        eq(hash, process.apkSha256, "APK hash")
        val boot = map(SecurityLogTags.OS_STARTUP, arrayOf<Any?>("orange", "enforcing")) as SecurityLogEvent.OsStartup
        eq(VerifiedBootState.ORANGE, boot.verifiedBootState, "boot state")
        eq(DmVerityMode.ENFORCING, boot.dmVerity, "dm-verity")
        val ca = map(SecurityLogTags.CERT_AUTHORITY_INSTALLED, arrayOf<Any?>(1, "CN=Proxy", 0))
            as SecurityLogEvent.CertAuthorityInstalled
        eq(true, ca.success, "CA install result")
        eq("CN=Proxy", ca.subject, "CA subject")
        val unlock = map(SecurityLogTags.KEYGUARD_DISMISS_AUTH_ATTEMPT, arrayOf<Any?>(0, 1))
            as SecurityLogEvent.KeyguardAuthAttempt
        eq(false, unlock.success, "failed unlock")
        eq(null, map(210011, null), "TAG_LOGGING_STARTED is not read")
        eq(null, map(SecurityLogTags.OS_STARTUP, arrayOf<Any?>("purple", "enforcing")), "unknown boot state")
        eq(null, map(SecurityLogTags.ADB_SHELL_CMD, 42), "wrong payload shape")
        expect(!SecurityLogReading(SecurityLogTags.ADB_SHELL_CMD, 0, "secret").toString().contains("secret")) {
            "a reading prints its adb command"
        }
    }

    test("a callback's batch is ingested: a match and a detection at the events' times") {
        val agent = openAgent(it)
        agent.loadIndicators("unit", BUNDLE)
        val events = TelemetryMapping.batch(
            listOf(TelemetryLogEvent.Dns(DnsLogEvent(at(10), "com.example.game", "c2.evil.example", emptyList()))),
            listOf(SecurityLogReading(SecurityLogTags.ADB_SHELL_INTERACTIVE, nanos(20), null)),
        )
        val result = agent.ingestTelemetry(events, at(30))
        eq(listOf("indicator_match" to at(10), "adb_shell_used" to at(20)),
            result.alerts.map { a -> a.kindName to a.at }, "alerts")
        eq(1u, result.matches, "matches")
    }
}
