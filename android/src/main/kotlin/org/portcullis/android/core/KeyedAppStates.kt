// Console messages -> keyed app states (androidx.enterprise feedback). The core builds every
// message within the channel's limits (key <= 100, message <= 1,000, data <= 1,000 UTF-16
// units, as KeyedAppState.Builder.build() checks); this file only carries the strings.

package org.portcullis.android.core

import org.portcullis.ConsoleMessage

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
    fun send(states: List<ConsoleMessage>, immediate: Boolean, answer: (status: Int, error: Throwable?) -> Unit)
}
