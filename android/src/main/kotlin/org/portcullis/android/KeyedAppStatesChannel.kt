// Alert delivery to the EMM through keyed app states (androidx.enterprise:enterprise-feedback).

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import androidx.enterprise.feedback.KeyedAppState
import androidx.enterprise.feedback.KeyedAppStatesCallback
import androidx.enterprise.feedback.KeyedAppStatesReporter
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.resume
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withTimeoutOrNull
import org.portcullis.android.core.AlertChannel
import org.portcullis.android.core.KeyedAppStatesStatus
import org.portcullis.android.core.KeyedStateSpec
import org.portcullis.android.core.SendResult

/**
 * [AlertChannel] over `KeyedAppStatesReporter`: `setStates` for plain sends,
 * `setStatesImmediate` for immediate ones, each with a callback. One reporter per process
 * (it keeps bindings to the DPCs).
 *
 * The reporter counts "no eligible receiver" as success; this channel checks for a receiver
 * first and answers [SendResult.NoReceiver], so nothing is acknowledged that nobody got.
 */
class KeyedAppStatesChannel(
    private val context: Context,
    private val reporter: KeyedAppStatesReporter = KeyedAppStatesReporter.create(context),
    private val answerTimeoutMillis: Long = 30_000,
) : AlertChannel {
    override suspend fun send(states: List<KeyedStateSpec>, immediate: Boolean): SendResult {
        if (!hasReceiver()) return SendResult.NoReceiver
        val built = states.map {
            KeyedAppState.builder()
                .setKey(it.key)
                .setSeverity(it.severity)
                .setMessage(it.message)
                .setData(it.data)
                .build()
        }
        return withTimeoutOrNull(answerTimeoutMillis) {
            suspendCancellableCoroutine { cont ->
                val answered = AtomicBoolean(false)
                val callback = KeyedAppStatesCallback { status, error ->
                    if (answered.compareAndSet(false, true)) cont.resume(result(status, error))
                }
                if (immediate) reporter.setStatesImmediate(built, callback) else reporter.setStates(built, callback)
            }
        } ?: SendResult.Failed("no answer from KeyedAppStatesReporter within ${answerTimeoutMillis / 1000} s")
    }

    private fun result(status: Int, error: Throwable?): SendResult = when (status) {
        KeyedAppStatesStatus.SUCCESS -> SendResult.Sent
        KeyedAppStatesStatus.TRANSACTION_TOO_LARGE -> SendResult.TooLarge
        KeyedAppStatesStatus.EXCEEDED_BUFFER -> SendResult.Failed("reporter buffer exceeded (no connection to the DPC)")
        else -> SendResult.Failed("reporter status $status${error?.let { ": ${it.javaClass.simpleName}" } ?: ""}")
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
            pkg == PLAY_STORE || dpm.isDeviceOwnerApp(pkg) || dpm.isProfileOwnerApp(pkg)
        }
    }

    companion object {
        /** The service action the library binds to (`KeyedAppStatesReporter.ACTION_APP_STATES`, package-private). */
        const val ACTION_APP_STATES = "androidx.enterprise.feedback.action.APP_STATES"
        private const val PLAY_STORE = "com.android.vending"
    }
}
