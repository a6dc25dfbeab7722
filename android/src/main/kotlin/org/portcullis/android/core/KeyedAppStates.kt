// Console messages -> keyed app states (androidx.enterprise feedback). The core builds every
// message within the channel's limits (key <= 100, message <= 1,000, data <= 1,000 UTF-16
// units, as KeyedAppState.Builder.build() checks); this file only carries the strings.

package org.portcullis.android.core

import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity

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
 * `androidx.enterprise.feedback.KeyedAppStatesReporter` as the glue uses it. The only
 * implementation that talks to the library is `AndroidxKeyedAppStatesReporter`, the one file
 * of the module that needs a Google-Maven-only artifact (android/README.md lists it); tests
 * pass their own.
 */
interface KeyedAppStatesReporterPort {
    /**
     * Sends [states] with `setStatesImmediate` when [immediate], else `setStates`; [answer] gets
     * the callback's `STATUS_*` value (the core reads it: `androidKeyedAppStatesOutcome`) and error, on any thread, maybe never.
     */
    fun send(states: List<KeyedStateSpec>, immediate: Boolean, answer: (status: Int, error: Throwable?) -> Unit)
}
