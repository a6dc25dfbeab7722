// Alerts -> keyed app states within the channel's limits.

package org.portcullis.android.jvmtests

import org.portcullis.Alert
import org.portcullis.AlertKind
import org.portcullis.EvidenceItem
import org.portcullis.Severity
import org.portcullis.android.core.AlertEncoding
import org.portcullis.android.core.KeyedAppStateLimits

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

fun assertWithinLimits(spec: org.portcullis.android.core.KeyedStateSpec) {
    expect(spec.key.length <= KeyedAppStateLimits.MAX_KEY_LENGTH) { "key ${spec.key.length} chars" }
    expect(spec.message.length <= KeyedAppStateLimits.MAX_MESSAGE_LENGTH) { "message ${spec.message.length} chars" }
    expect(spec.data.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) { "data ${spec.data.length} chars" }
    expect(spec.severity == KeyedAppStateLimits.SEVERITY_INFO || spec.severity == KeyedAppStateLimits.SEVERITY_ERROR) {
        "severity ${spec.severity}"
    }
    jsonObject(spec.data) // parses
}

fun encodingTests() {
    test("a real sim_replaced alert from the core encodes into one keyed app state") { s ->
        withFixture(s) { f ->
            f.feeder.sim(ready(ICCID_A))
            f.feeder.sim(ready(ICCID_B))
            val a = f.listener.alerts.single()
            val spec = AlertEncoding.encode(a)
            assertWithinLimits(spec)
            eq("portcullis.alert.${a.id}.sim_replaced", spec.key, "key")
            eq(KeyedAppStateLimits.SEVERITY_ERROR, spec.severity, "severity")
            expect(spec.message.startsWith("[CRITICAL] sim_replaced (slot 0): ")) { spec.message }
            val data = jsonObject(spec.data)
            eq(1L, data["v"], "format version")
            eq(a.id.toLong(), data["id"], "id")
            eq("sim_replaced", data["kind"], "kind")
            eq("critical", data["severity"], "severity")
            eq(0L, data["slot"], "slot")
            eq("sim_identity", data["detector"], "detector")
            eq(a.at.toString(), data["at"], "at")
            @Suppress("UNCHECKED_CAST")
            val evidence = data["evidence"] as Map<String, Any?>
            eq("iccid", evidence["fields_changed"], "evidence")
            eq(null, data["truncated"], "not truncated")
            for (secret in listOf(ICCID_A.take(10), ICCID_B.take(10))) {
                expect(!spec.toString().contains(secret)) { "leaks an ICCID: $spec" }
            }
        }
    }

    test("severities: info and low are INFO, medium and above ERROR") {
        eq(KeyedAppStateLimits.SEVERITY_INFO, AlertEncoding.severity(Severity.INFO), "info")
        eq(KeyedAppStateLimits.SEVERITY_INFO, AlertEncoding.severity(Severity.LOW), "low")
        eq(KeyedAppStateLimits.SEVERITY_ERROR, AlertEncoding.severity(Severity.MEDIUM), "medium")
        eq(KeyedAppStateLimits.SEVERITY_ERROR, AlertEncoding.severity(Severity.HIGH), "high")
        eq(KeyedAppStateLimits.SEVERITY_ERROR, AlertEncoding.severity(Severity.CRITICAL), "critical")
        eq(1, KeyedAppStateLimits.SEVERITY_INFO, "SEVERITY_INFO value")
        eq(2, KeyedAppStateLimits.SEVERITY_ERROR, "SEVERITY_ERROR value")
    }

    test("a long summary is cut to 1,000 characters with an ellipsis, never splitting a surrogate pair") {
        val spec = AlertEncoding.encode(alert(summary = "x".repeat(5000)))
        assertWithinLimits(spec)
        eq(1000, spec.message.length, "message length")
        expect(spec.message.endsWith("\u2026")) { "no ellipsis" }
        for (pad in 0..3) {
            val text = "a".repeat(pad) + "\uD83D\uDCE1".repeat(800)
            val cut = AlertEncoding.truncate(text, 999)
            expect(cut.length <= 999) { "cut to ${cut.length}" }
            val body = cut.removeSuffix("\u2026")
            expect(!Character.isHighSurrogate(body.last())) { "split a pair (pad $pad)" }
        }
        eq("short", AlertEncoding.truncate("short", 10), "untouched")
        eq("line one line two", AlertEncoding.message(alert(summary = "line one\nline two")).substringAfter(": "), "one line")
    }

    test("oversized evidence is dropped from the end, marked truncated, and the data still parses") {
        val evidence = (1..40).map { EvidenceItem("item_$it", "v".repeat(40)) }
        val spec = AlertEncoding.encode(alert(evidence = evidence))
        assertWithinLimits(spec)
        val data = jsonObject(spec.data)
        eq(true, data["truncated"], "truncated flag")
        @Suppress("UNCHECKED_CAST")
        val kept = (data["evidence"] as Map<String, Any?>).keys.toList()
        expect(kept.isNotEmpty() && kept.size < 40) { "kept ${kept.size}" }
        eq((1..kept.size).map { "item_$it" }, kept, "the first items are kept, in order")
        val huge = AlertEncoding.encode(alert(kindName = "k".repeat(3000), evidence = emptyList()))
        assertWithinLimits(huge)
        eq(100, huge.key.length, "key cut to 100")
        eq(true, jsonObject(huge.data)["truncated"], "minimal form")
    }

    test("JSON escaping survives quotes, backslashes, control characters and line separators") {
        val nasty = "quote\" back\\slash \n\t\u0001 sep\u2028 end"
        val spec = AlertEncoding.encode(alert(evidence = listOf(EvidenceItem("k\"ey", nasty)), slot = null))
        assertWithinLimits(spec)
        expect(!spec.data.contains('\u2028') && !spec.data.contains('\n')) { "raw separators in ${spec.data}" }
        val data = jsonObject(spec.data)
        @Suppress("UNCHECKED_CAST")
        eq(nasty, (data["evidence"] as Map<String, Any?>)["k\"ey"], "round trip")
        eq(null, data["slot"], "device-wide alert")
        expect(!spec.message.contains("(slot")) { spec.message }
    }

    test("a large id and a long kind keep the key within 100 characters") {
        val spec = AlertEncoding.encode(alert(id = ULong.MAX_VALUE, kindName = "very_long_kind_name_".repeat(10)))
        assertWithinLimits(spec)
        expect(spec.key.startsWith("portcullis.alert.18446744073709551615.")) { spec.key }
        expect(spec.data.contains("\"id\":18446744073709551615,")) { "id written as an unsigned integer: ${spec.data}" }
    }
}
