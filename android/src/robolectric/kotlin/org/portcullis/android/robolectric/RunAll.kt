// Runs every Robolectric test class in one JVM (Robolectric's sandbox start-up is paid once)
// and ends with the line `android-robolectric: N passed, M failed` that scripts/test.sh reads.
// Started by scripts/android-robolectric-tests.sh.

package org.portcullis.android.robolectric

import kotlin.system.exitProcess
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

val TEST_CLASSES: Array<Class<*>> = arrayOf(
    TelephonyObserverTest::class.java,
    DevicePolicyEnforcerTest::class.java,
    PackageInventoryTest::class.java,
    ManagedConfigTest::class.java,
    WakeupTest::class.java,
    ConnectivityStartTest::class.java,
    NoTelephonyTest::class.java,
    // Last: it runs on API 33 and 34 too, and each further SDK sandbox loads the bindings again
    // in its own class loader, which re-registers the library's callback tables (DeviceKey,
    // Logger) there. A class opening an agent in the API 35 sandbox after it would call into
    // the wrong loader. Keep per-SDK classes at the end, and free of agents.
    DeploymentTest::class.java,
)

fun main() {
    var passed = 0
    var failed = 0
    val failedTests = HashSet<Description>()
    val started = System.nanoTime()
    val core = JUnitCore()
    core.addListener(object : RunListener() {
        override fun testFailure(failure: Failure) {
            println("FAIL  ${failure.description.displayName}: ${failure.message}")
            println(failure.trace)
            if (failure.description.methodName == null) failed++ // the class itself failed (sandbox, @BeforeClass)
            else failedTests += failure.description
        }

        override fun testFinished(description: Description) {
            if (description in failedTests) {
                failed++
            } else {
                passed++
                println("PASS  ${description.displayName}")
            }
        }
    })
    core.run(*TEST_CLASSES)
    println("ran ${passed + failed} tests in ${(System.nanoTime() - started) / 1_000_000} ms")
    println("android-robolectric: $passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
