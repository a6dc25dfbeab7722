// What the Robolectric tests share: the device key, fixtures, a settable clock, the input
// queue drained, a recording keyed-app-states reporter, and the DevicePolicyManager calls
// Robolectric does not shadow (CA certificates, wipe flags).

package org.portcullis.android.robolectric

import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import java.io.File
import java.time.Instant
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import org.portcullis.Alert
import org.portcullis.DeviceKey
import org.portcullis.android.core.AgentFeeder
import org.portcullis.android.core.InputQueue
import org.portcullis.android.core.KeyedAppStatesReporterPort
import org.portcullis.ConsoleMessage
import org.robolectric.annotation.Implementation
import org.robolectric.annotation.Implements
import org.robolectric.shadows.ShadowDevicePolicyManager

/** The API level every test runs at: the module's compileSdk (android/build.gradle.kts). */
const val SDK = 35

val T0: Instant = Instant.parse("2026-03-01T09:00:00Z")

fun at(seconds: Long): Instant = T0.plusSeconds(seconds)

/** A DeviceKey in plain Kotlin, standing in for the Android Keystore key. */
class MacKey(private val secret: ByteArray = "portcullis-robolectric-test-key-1".toByteArray()) : DeviceKey {
    override fun hmacSha256(message: ByteArray): ByteArray =
        Mac.getInstance("HmacSHA256").run {
            init(SecretKeySpec(secret, "HmacSHA256"))
            doFinal(message)
        }
}

/** A system service Robolectric provides. */
inline fun <reified T : Any> Context.service(): T = getSystemService(T::class.java) ?: error("no ${T::class.java.simpleName}")

/** A signed fixture made by scripts/lib/fixtures.sh. */
fun fixture(name: String): File =
    File(System.getProperty("portcullis.fixtures") ?: error("-Dportcullis.fixtures is not set"), name)
        .also { check(it.isFile) { "missing fixture $it" } }

/** A file of the repository (samples, scenario traces). */
fun repoFile(path: String): File =
    File(System.getProperty("portcullis.root") ?: error("-Dportcullis.root is not set"), path)

class TestClock(var now: Instant = T0) {
    fun set(seconds: Long) {
        now = at(seconds)
    }
}

/** Records what the feeder reports (alerts raised, steps committed, failures). */
class RecordingListener : AgentFeeder.Listener {
    val alerts = mutableListOf<Alert>()
    val failures = mutableListOf<Pair<String, Exception>>()

    @Volatile
    var steps = 0

    override suspend fun stepped(alerts: List<Alert>) {
        steps++
        this.alerts += alerts
    }

    override fun failed(what: String, error: Exception) {
        failures += what to error
    }

    fun kinds(): List<String> = alerts.map { it.kindName }
}

/** Waits until everything submitted to the queue before this call has run. */
suspend fun InputQueue.drain() {
    val done = CompletableDeferred<Unit>()
    check(submit { done.complete(Unit) }) { "queue closed" }
    withTimeout(30_000) { done.await() }
}

/** A keyed-app-states reporter that records each send and answers [status]. */
class RecordingReporter(var status: Int = 0 /* KeyedAppStatesCallback.STATUS_SUCCESS */) : KeyedAppStatesReporterPort {
    val sent = mutableListOf<Pair<List<ConsoleMessage>, Boolean>>()

    @Synchronized
    override fun send(states: List<ConsoleMessage>, immediate: Boolean, answer: (Int, Throwable?) -> Unit) {
        sent += states to immediate
        answer(status, null)
    }

    @Synchronized
    fun keys(): List<String> = sent.flatMap { (states, _) -> states.map { it.key } }
}

/**
 * DevicePolicyManager calls Robolectric 4.17 leaves to the (absent) system service: the user's
 * CA certificates and the flags a wipe was asked with. Everything else is Robolectric's
 * [ShadowDevicePolicyManager].
 */
@Implements(DevicePolicyManager::class)
class PortcullisShadowDevicePolicyManager : ShadowDevicePolicyManager() {
    @Implementation
    override fun wipeData(flags: Int) {
        // What a device owner meets on API 34+: the system user cannot be removed, so
        // wipeData refuses and only wipeDevice factory-resets.
        if (android.os.Build.VERSION.SDK_INT >= 34) throw IllegalStateException("User 0 is a system user and cannot be removed")
        super.wipeData(flags)
        synchronized(wipes) { wipes += "wipeData" to flags }
    }

    @Implementation(minSdk = 31)
    protected fun canUsbDataSignalingBeDisabled(): Boolean = usbSignalingCanBeDisabled

    @Implementation(minSdk = 31)
    protected fun setUsbDataSignalingEnabled(enabled: Boolean) {
        check(usbSignalingCanBeDisabled) { "USB data signalling cannot be changed on this device" }
        setIsUsbDataSignalingEnabled(enabled)
    }

    /** As the platform: a null admin is a delegate holding `delegation-block-uninstall`. */
    @Implementation
    override fun setUninstallBlocked(admin: ComponentName?, packageName: String, uninstallBlocked: Boolean) {
        if (admin == null) {
            val self = org.robolectric.RuntimeEnvironment.getApplication().packageName
            if (DevicePolicyManager.DELEGATION_BLOCK_UNINSTALL !in getDelegatedScopes(null, self)) {
                throw SecurityException("$self holds no delegation-block-uninstall")
            }
            synchronized(delegateUninstallBlocked) {
                if (uninstallBlocked) delegateUninstallBlocked += packageName else delegateUninstallBlocked -= packageName
            }
            return
        }
        super.setUninstallBlocked(admin, packageName, uninstallBlocked)
    }

    @Implementation
    override fun isUninstallBlocked(admin: ComponentName?, packageName: String): Boolean =
        if (admin == null) synchronized(delegateUninstallBlocked) { packageName in delegateUninstallBlocked } else super.isUninstallBlocked(admin, packageName)

    @Implementation(minSdk = 34)
    protected fun wipeDevice(flags: Int) {
        synchronized(wipes) { wipes += "wipeDevice" to flags }
    }

    @Implementation
    protected fun installCaCert(admin: ComponentName?, certBuffer: ByteArray): Boolean {
        synchronized(caCerts) { if (caCerts.none { it.contentEquals(certBuffer) }) caCerts += certBuffer }
        return true
    }

    @Implementation
    protected fun getInstalledCaCerts(admin: ComponentName?): List<ByteArray> = synchronized(caCerts) { caCerts.toList() }

    @Implementation
    protected fun uninstallCaCert(admin: ComponentName?, certBuffer: ByteArray) {
        synchronized(caCerts) { caCerts.removeAll { it.contentEquals(certBuffer) } }
    }

    companion object {
        /** Each wipe asked for: the call and its flags. */
        val wipes = mutableListOf<Pair<String, Int>>()
        val caCerts = mutableListOf<ByteArray>()
        val delegateUninstallBlocked = mutableSetOf<String>()

        /** Whether this device's USB HAL can turn data signalling off (`canUsbDataSignalingBeDisabled`). */
        @Volatile
        var usbSignalingCanBeDisabled = true

        fun clear() {
            synchronized(wipes) { wipes.clear() }
            synchronized(caCerts) { caCerts.clear() }
            synchronized(delegateUninstallBlocked) { delegateUninstallBlocked.clear() }
            usbSignalingCanBeDisabled = true
        }
    }
}

/**
 * The glue's clock driven by Robolectric's shadowed clock: [start] plus the elapsed realtime
 * Robolectric has advanced since construction (`ShadowLooper.idleFor`, `SystemClock` shadows).
 */
class ShadowedClock(private val start: Instant = T0) {
    private val origin = android.os.SystemClock.elapsedRealtime()

    fun now(): Instant = start.plusMillis(android.os.SystemClock.elapsedRealtime() - origin)
}

/**
 * Polls [condition] (work runs on other threads) for up to [seconds]. The bound is generous
 * because it only decides how long a failing test takes: on a loaded 2-core machine a chain
 * of a receiver, a job and several agent calls, each on its own thread, has taken over 20 s.
 */
fun eventually(what: String, seconds: Long = 120, condition: () -> Boolean) {
    val end = System.nanoTime() + seconds * 1_000_000_000
    while (!condition()) {
        if (System.nanoTime() > end) throw AssertionError("timed out waiting for $what")
        Thread.sleep(20)
    }
}
