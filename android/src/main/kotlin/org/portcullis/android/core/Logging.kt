// The core's log records -> a platform log (logcat in the glue) through the Logger trait.

package org.portcullis.android.core

import org.portcullis.LogLevel
import org.portcullis.androidLogPriority
import org.portcullis.Logger

object LogMapping {
    /** The logcat tag; the record's target (e.g. `portcullis_core::sim`) goes into the message. */
    const val TAG = "portcullis"

    fun line(target: String, message: String): String = "$target: $message"
}

/**
 * A [Logger] (install it with `org.portcullis.setLogger`) that hands each record to
 * [sink] as (priority, tag, line); the glue passes `android.util.Log::println`. Records at a
 * priority below [minPriority] are dropped. The library never logs identifiers or keys.
 */
class ForwardingLogger(
    private val minPriority: Int = androidLogPriority(LogLevel.INFO),
    private val sink: (priority: Int, tag: String, line: String) -> Unit,
) : Logger {
    override fun log(level: LogLevel, target: String, message: String) {
        val priority = androidLogPriority(level) // the core's table
        if (priority < minPriority) return
        try {
            sink(priority, LogMapping.TAG, LogMapping.line(target, message))
        } catch (e: RuntimeException) {
            // A logger must never throw into the library (it would surface as a callback error).
        }
    }
}
