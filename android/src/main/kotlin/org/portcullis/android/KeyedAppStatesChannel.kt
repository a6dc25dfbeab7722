// Alert delivery to the EMM through keyed app states. The androidx.enterprise library itself is
// reached only through KeyedAppStatesReporterPort (AndroidxKeyedAppStatesReporter, Gradle only).

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.resume
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withTimeoutOrNull
import org.portcullis.ChannelOutcome
import org.portcullis.androidKeyedAppStatesOutcome
import org.portcullis.android.core.AlertChannel
import org.portcullis.android.core.KeyedAppStatesReporterPort
import org.portcullis.ConsoleMessage

/**
 * [AlertChannel] over the keyed-app-states reporter: `setStates` for plain sends,
 * `setStatesImmediate` for immediate ones, each answered through a callback.
 *
 * The reporter counts "no eligible receiver" as success; this channel checks for a receiver
 * first and answers [ChannelOutcome.NoReceiver], so nothing is acknowledged that nobody got.
 */
class KeyedAppStatesChannel(
    private val context: Context,
    private val reporter: KeyedAppStatesReporterPort,
    private val answerTimeoutMillis: Long = 30_000,
) : AlertChannel {
    override suspend fun send(states: List<ConsoleMessage>, immediate: Boolean): ChannelOutcome {
        if (!hasReceiver()) return ChannelOutcome.NoReceiver
        return withTimeoutOrNull(answerTimeoutMillis) {
            suspendCancellableCoroutine { cont ->
                val answered = AtomicBoolean(false)
                reporter.send(states, immediate) { status, error ->
                    if (answered.compareAndSet(false, true)) cont.resume(androidKeyedAppStatesOutcome(status, error?.javaClass?.simpleName))
                }
            }
        } ?: ChannelOutcome.Failed("no answer from KeyedAppStatesReporter within ${answerTimeoutMillis / 1000} s")
    }

    /**
     * Whether some app can take keyed app states: a device owner, a profile owner or the Play
     * Store that implements the feedback service (what the library itself sends to).
     */
    fun hasReceiver(): Boolean {
        val dpm = context.getSystemService(DevicePolicyManager::class.java)
        @Suppress("DEPRECATION") // the ResolveInfoFlags overload is API 33+
        val services = context.packageManager.queryIntentServices(Intent(ACTION_APP_STATES), PackageManager.MATCH_ALL)
        return services.any { info ->
            val pkg = info.serviceInfo?.packageName ?: return@any false
            pkg == PLAY_STORE || dpm?.isDeviceOwnerApp(pkg) == true || dpm?.isProfileOwnerApp(pkg) == true
        }
    }

    companion object {
        /** The service action the library binds to (`KeyedAppStatesReporter.ACTION_APP_STATES`, package-private). */
        const val ACTION_APP_STATES = "androidx.enterprise.feedback.action.APP_STATES"
        private const val PLAY_STORE = "com.android.vending"
    }
}

/** Where the process's reporter comes from. */
object KeyedAppStatesReporters {
    /** The Gradle-only adapter over androidx.enterprise (AndroidxKeyedAppStatesReporter.kt), found by name. */
    const val ANDROIDX_ADAPTER = "org.portcullis.android.AndroidxKeyedAppStatesReporter"

    /**
     * The androidx.enterprise reporter of an AAR build. A build without it (the kotlinc checks
     * of scripts/android-robolectric-tests.sh) gets a reporter that answers every send with
     * `STATUS_UNKNOWN_ERROR`, so alerts stay in the outbox rather than being acknowledged.
     */
    fun default(context: Context): KeyedAppStatesReporterPort = try {
        Class.forName(ANDROIDX_ADAPTER).getConstructor(Context::class.java).newInstance(context) as KeyedAppStatesReporterPort
    } catch (e: ReflectiveOperationException) {
        Missing(e.javaClass.simpleName)
    }

    /** `KeyedAppStatesCallback.STATUS_UNKNOWN_ERROR`. */
    private const val STATUS_UNKNOWN_ERROR = 1

    private class Missing(private val why: String) : KeyedAppStatesReporterPort {
        override fun send(states: List<ConsoleMessage>, immediate: Boolean, answer: (Int, Throwable?) -> Unit) =
            answer(STATUS_UNKNOWN_ERROR, IllegalStateException("$ANDROIDX_ADAPTER is not in this build ($why)"))
    }
}
