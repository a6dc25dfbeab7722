// Alerts -> keyed app states: the core's console messages, handed on unchanged.

package org.portcullis.android.jvmtests

import org.portcullis.Alert
import org.portcullis.AlertKind
import org.portcullis.EvidenceItem
import org.portcullis.Severity
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.consoleAlert

fun alert(
    id: ULong = 42uL,
    severity: Severity = Severity.CRITICAL,
    kindName: String = "sim_replaced",
    summary: String = "SIM in slot 0 was replaced",
    evidence: List<EvidenceItem> = listOf(EvidenceItem("fields_changed", "iccid")),
    slot: Int? = 0,
) = Alert(
    id = id, at = at(3), kind = AlertKind.SIM_REPLACED, kindName = kindName, severity = severity, slot = slot,
    detector = "sim_identity", detectorVersion = 1u, summary = summary, evidence = evidence, deliveryAttempts = 1u,
)

/** An alert as the keyed app state the delivery run sends (the core's console message). */
private object AlertEncoding {
    fun encode(alert: Alert) = consoleAlert(alert)
}

fun assertWithinLimits(spec: org.portcullis.ConsoleMessage) {
    expect(spec.key.length <= KeyedAppStateLimits.MAX_KEY_LENGTH) { "key ${spec.key.length} chars" }
    expect(spec.message.length <= KeyedAppStateLimits.MAX_MESSAGE_LENGTH) { "message ${spec.message.length} chars" }
    expect(spec.data.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) { "data ${spec.data.length} chars" }
    expect(spec.severity == ConsoleSeverity.INFO || spec.severity == ConsoleSeverity.ERROR) {
        "severity ${spec.severity}"
    }
    jsonObject(spec.data) // parses
}

fun encodingTests() {
    test("a real sim_replaced alert from the core becomes the core's console message") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val a = f.listener.alerts.single()
            val spec = AlertEncoding.encode(a)
            assertWithinLimits(spec)
            eq("portcullis.alert.${a.id}.sim_replaced", spec.key, "key")
            eq(ConsoleSeverity.ERROR, spec.severity, "severity")
            expect(spec.message.startsWith("[CRITICAL] sim_replaced (slot 0): ")) { spec.message }
            val data = jsonObject(spec.data)
            eq("portcullis/console/v1", data["format"], "format")
            eq("alert", data["type"], "type")
            eq(a.id.toLong(), data["id"], "id")
            eq("critical", data["severity"], "severity")
            eq(a.detectorVersion.toLong(), data["detector_version"], "detector_version, as the core spells it")
            expect(spec.data.contains("{\"key\":\"fields_changed\",\"value\":\"iccid\"}")) { spec.data }
            for (secret in listOf(ICCID_A.take(10), ICCID_B.take(10))) {
                expect(!spec.toString().contains(secret)) { "leaks an ICCID: $spec" }
            }
        }
    }

    test("severities: info and low are INFO, medium and above ERROR, as the core maps them") {
        val expected = mapOf(
            Severity.INFO to ConsoleSeverity.INFO,
            Severity.LOW to ConsoleSeverity.INFO,
            Severity.MEDIUM to ConsoleSeverity.ERROR,
            Severity.HIGH to ConsoleSeverity.ERROR,
            Severity.CRITICAL to ConsoleSeverity.ERROR,
        )
        for ((severity, level) in expected) eq(level, AlertEncoding.encode(alert(severity = severity)).severity, "$severity")
    }

    test("content too long for a keyed app state is cut and summarised by the core, in UTF-16 units") {
        val long = AlertEncoding.encode(alert(summary = "\uD83D\uDCE1".repeat(800)))
        assertWithinLimits(long)
        expect(long.message.endsWith("\u2026")) { "no ellipsis" }
        expect(!Character.isHighSurrogate(long.message.removeSuffix("\u2026").last())) { "split a pair" }
        val evidence = (1..40).map { EvidenceItem("item_$it", "\u00e9".repeat(60)) }
        val spec = AlertEncoding.encode(alert(evidence = evidence))
        assertWithinLimits(spec)
        val left = jsonObject(spec.data)["left_out"] as Long
        expect(left in 1L..39L) { "left out $left" }
        expect(spec.data.contains("\"item_1\"") && !spec.data.contains("\"item_40\"")) { "kept from the start: ${spec.data}" }
        val huge = AlertEncoding.encode(alert(id = ULong.MAX_VALUE))
        assertWithinLimits(huge)
        expect(huge.key.startsWith("portcullis.alert.18446744073709551615.")) { huge.key }
    }
}
