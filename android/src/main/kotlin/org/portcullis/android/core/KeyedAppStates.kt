// Console messages -> keyed app states (androidx.enterprise feedback). The core builds every
// message within the channel's limits (key <= 100, message <= 1,000, data <= 1,000 UTF-16
// units, as KeyedAppState.Builder.build() checks); this file only carries the strings.

package org.portcullis.android.core

import org.portcullis.Alert
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.consoleAlert

/** A keyed app state ready for `KeyedAppState.builder()`: every field already within the limits. */
data class KeyedStateSpec(
    val key: String,
    /** [KeyedAppStateLimits.SEVERITY_INFO] or [KeyedAppStateLimits.SEVERITY_ERROR]. */
    val severity: Int,
    val message: String,
    /** Compact JSON for the console (`portcullis/console/v1`, docs/console-message.schema.json). */
    val data: String,
) {
    /** The core's form, for `consoleSupersedes`. */
    val console: ConsoleMessage
        get() = ConsoleMessage(
            key,
            if (severity == KeyedAppStateLimits.SEVERITY_ERROR) ConsoleSeverity.ERROR else ConsoleSeverity.INFO,
            message,
            data,
        )

    companion object {
        /** The core's console message, as the reporter takes it. */
        fun of(m: ConsoleMessage): KeyedStateSpec = KeyedStateSpec(
            key = m.key,
            severity = when (m.severity) {
                ConsoleSeverity.INFO -> KeyedAppStateLimits.SEVERITY_INFO
                ConsoleSeverity.ERROR -> KeyedAppStateLimits.SEVERITY_ERROR
            },
            message = m.message,
            data = m.data,
        )
    }
}

/**
 * Alerts as keyed app states: the core builds the `portcullis/console/v1` message (key,
 * severity, one line, data within the limits); this only hands its strings on.
 */
object AlertEncoding {
    private const val ELLIPSIS = "\u2026"

    fun encode(alert: Alert): KeyedStateSpec = KeyedStateSpec.of(consoleAlert(alert))

    /**
     * [value] cut to at most [max] UTF-16 units, ending in [ellipsis] when cut, never
     * splitting a surrogate pair (for the reasons handed back to the core).
     */
    fun truncate(value: String, max: Int, ellipsis: String = ELLIPSIS): String {
        if (value.length <= max) return value
        var end = (max - ellipsis.length).coerceAtLeast(0)
        if (end > 0 && Character.isHighSurrogate(value[end - 1])) end--
        return value.substring(0, end) + ellipsis
    }
}

/**
 * `androidx.enterprise.feedback.KeyedAppStatesReporter` as the glue uses it. The only
 * implementation that talks to the library is `AndroidxKeyedAppStatesReporter`, the one file
 * of the module that needs a Google-Maven-only artifact (android/README.md lists it); tests
 * pass their own.
 */
interface KeyedAppStatesReporterPort {
    /**
     * Sends [states] with `setStatesImmediate` when [immediate], else `setStates`; [answer] gets
     * the callback's `STATUS_*` value ([KeyedAppStatesStatus]) and error, on any thread, maybe never.
     */
    fun send(states: List<KeyedStateSpec>, immediate: Boolean, answer: (status: Int, error: Throwable?) -> Unit)
}
