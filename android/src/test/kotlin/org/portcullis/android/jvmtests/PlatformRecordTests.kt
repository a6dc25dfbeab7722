// Enforcement contract, managed configuration, logging and inventory records.

package org.portcullis.android.jvmtests

import java.util.concurrent.CopyOnWriteArrayList
import org.portcullis.LogLevel
import org.portcullis.android.core.ForwardingLogger
import org.portcullis.android.core.Inventory
import org.portcullis.android.core.LogMapping
import org.portcullis.androidLogPriority
import org.portcullis.android.core.ManagedConfigKeys
import org.portcullis.android.core.managedConfigValues
import org.portcullis.setLogger

fun platformRecordTests() {
    test("managed configuration: values handed on as read, wrong types named without values") {
        val envelope = """{"payloadType":"application/vnd.portcullis.policy+json","payload":"e30=","signatures":[]}"""
        val ok = managedConfigValues(
            mapOf(
                ManagedConfigKeys.POLICY_BUNDLE to "\n$envelope\n",
                ManagedConfigKeys.INSTRUCTIONS to "a\nb",
                ManagedConfigKeys.TRUST_ROOT to 42,
                "unrelated" to 3,
            ),
        )
        eq("\n$envelope\n", ok.policyBundle, "as delivered: the core trims")
        eq(listOf("a\nb"), ok.instructions, "as delivered: the core splits")
        eq(null, ok.trustRoot, "wrong type")
        eq(listOf(ManagedConfigKeys.TRUST_ROOT), ok.notText, "named, never the value")
        eq(
            listOf(
                "policy_bundle", "trust_root", "console_endpoint", "device_id", "device_groups", "indicator_collections",
                "instructions",
            ),
            ManagedConfigKeys.ALL,
            "keys (res/xml/app_restrictions.xml)",
        )
    }

    test("the core's log records reach the platform sink through setLogger, at logcat priorities") { s ->
        val lines = CopyOnWriteArrayList<Triple<Int, String, String>>()
        setLogger(ForwardingLogger(LogPriorities.INFO) { p, tag, line -> lines += Triple(p, tag, line) })
        try {
            withFixture(s) { f ->
                f.feeder.sim(ready(ICCID_A))
                f.feeder.sim(ready(ICCID_B))
            }
        } finally {
            setLogger(null)
        }
        val all = lines.toList()
        expect(all.any { it.first == LogPriorities.INFO && it.third.endsWith(": portcullis: device enrolled") }) { "$all" }
        expect(all.any { it.first == LogPriorities.WARN && it.third.contains("sim_replaced") }) { "$all" }
        expect(all.all { it.second == "portcullis" && it.third.startsWith("portcullis") }) { "$all" }
        expect(all.none { it.third.contains(ICCID_A.take(10)) || it.third.contains(ICCID_B.take(10)) }) { "leaks an ICCID" }
    }

    test("log priorities, filtering, and a sink that throws cannot break the library") { s ->
        eq(LogPriorities.ERROR, androidLogPriority(LogLevel.ERROR), "error")
        eq(LogPriorities.WARN, androidLogPriority(LogLevel.WARN), "warn")
        eq(LogPriorities.INFO, androidLogPriority(LogLevel.INFO), "info")
        eq(LogPriorities.DEBUG, androidLogPriority(LogLevel.DEBUG), "debug")
        eq(LogPriorities.VERBOSE, androidLogPriority(LogLevel.TRACE), "trace")
        val kept = mutableListOf<Int>()
        val warnOnly = ForwardingLogger(LogPriorities.WARN) { p, _, _ -> kept += p }
        warnOnly.log(LogLevel.INFO, "t", "m")
        warnOnly.log(LogLevel.ERROR, "t", "m")
        eq(listOf(LogPriorities.ERROR), kept, "filtered")
        setLogger(ForwardingLogger { _, _, _ -> throw IllegalStateException("logcat gone") })
        try {
            withFixture(s) { f ->
                eq(true, f.feeder.sim(ready(ICCID_A)), "the library works with a throwing sink")
            }
        } finally {
            setLogger(null)
        }
    }

    test("signing certificates as SHA-256 hex; encryption statuses") {
        eq(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            Inventory.certificateSha256("abc".toByteArray()),
            "SHA-256 of 'abc'",
        )
        eq(64, Inventory.certificateSha256(ByteArray(1000) { it.toByte() }).length, "64 hex digits")
    }
}
