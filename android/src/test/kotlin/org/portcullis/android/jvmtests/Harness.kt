// JVM tests of the platform-independent Android code (org.portcullis.android.core) against
// the real Rust library through the generated bindings and JNA, as on a phone. Run by
// scripts/android-jvm-tests.sh, which compiles android/src/main/kotlin/.../core, the
// generated bindings and these files with kotlinc and runs main() with
// -Djna.library.path at the built libportcullis_ffi.so (and -Dportcullis.fixtures at the
// signed policy fixtures it makes with the console tool). Plain main() and a tiny harness,
// like tests/bindings/kotlin/BindingsTest.kt: no test framework, no android.jar.

package org.portcullis.android.jvmtests

import java.io.File
import java.nio.file.Files
import java.time.Instant
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import org.portcullis.Agent
import org.portcullis.DeviceKey
import org.portcullis.setLogger

// ---------------------------------------------------------------- harness

class TestFailure(message: String) : AssertionError(message)

fun fail(message: String): Nothing = throw TestFailure(message)

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) fail(message())
}

fun <T> eq(expected: T, actual: T, what: String = "value") {
    if (expected != actual) fail("$what: expected <$expected> but was <$actual>")
}

/** Runs [block] (inlined, so it may call suspend functions) and returns the exception it threw. */
inline fun <reified E : Throwable> assertThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        fail("$what: expected ${E::class.simpleName} but got $e")
    }
    fail("$what: expected ${E::class.simpleName} but nothing was thrown")
}

/** One test's scratch space: a fresh directory for its database. */
class Scratch(val dir: File) {
    val db: String = File(dir, "agent.db").path
}

private val tests = mutableListOf<Pair<String, suspend (Scratch) -> Unit>>()

fun test(name: String, body: suspend (Scratch) -> Unit) {
    tests += name to body
}

// ---------------------------------------------------------------- fixtures

val T0: Instant = Instant.parse("2026-03-01T09:00:00Z")

fun at(seconds: Long): Instant = T0.plusSeconds(seconds)

const val ICCID_A = "8944110012345678901"
const val ICCID_B = "8944110098765432109"

/** A DeviceKey in plain Kotlin (javax.crypto), standing in for the Android Keystore key. */
class MacKey(private val secret: ByteArray = "portcullis-android-jvm-test-key-01".toByteArray()) : DeviceKey {
    override fun hmacSha256(message: ByteArray): ByteArray {
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(SecretKeySpec(secret, "HmacSHA256"))
        return mac.doFinal(message)
    }
}

suspend fun openAgent(s: Scratch, now: Instant = T0): Agent = Agent.open(s.db, MacKey(), now)

/** A settable clock for the code under test. */
class TestClock(var now: Instant = T0) {
    fun set(seconds: Long) {
        now = at(seconds)
    }
}

// ---------------------------------------------------------------- JSON

/** Parses JSON with the tests' strict reader (TestJson.kt); a malformed document fails the test. */
fun parseJson(text: String): Any? = try {
    MiniJson.parse(text)
} catch (e: MiniJson.Error) {
    fail("${e.message} in $text")
}

@Suppress("UNCHECKED_CAST")
fun jsonObject(text: String): Map<String, Any?> =
    parseJson(text) as? Map<String, Any?> ?: fail("not a JSON object: $text")

// ---------------------------------------------------------------- runner

fun main() {
    mappingTests()
    feederTests()
    encodingTests()
    deliveryTests()
    schedulingTests()
    inputQueueTests()
    platformRecordTests()
    policySyncTests()
    enforcementTests()
    complianceTests()
    inspectionTests()
    instructionTests()
    deploymentTests()
    telemetryTests()
    var passed = 0
    var failed = 0
    val started = System.nanoTime()
    for ((name, body) in tests) {
        val dir = Files.createTempDirectory("portcullis-android-jvm-").toFile()
        try {
            runBlocking { body(Scratch(dir)) }
            passed++
            println("PASS  $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL  $name: $e")
            e.printStackTrace(System.out)
        } finally {
            setLogger(null)
            dir.deleteRecursively()
        }
    }
    println("ran ${tests.size} tests in ${(System.nanoTime() - started) / 1_000_000} ms")
    println("android-jvm: $passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
