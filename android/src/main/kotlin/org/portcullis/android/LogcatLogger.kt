// The library's log records in logcat, through the Logger trait (setLogger).

package org.portcullis.android

import android.util.Log
import org.portcullis.Logger
import org.portcullis.android.core.ForwardingLogger
import org.portcullis.setLogger

/**
 * Routes the library's records to logcat under the tag `portcullis`. Without it the library
 * logs to logcat by itself (android_logger); installing it puts the records on the app's
 * side of the boundary, where an app can also forward them elsewhere.
 */
object LogcatLogger {
    /** A [Logger] writing records at or above [minPriority] (an `android.util.Log` priority). */
    fun create(minPriority: Int = Log.INFO): Logger =
        ForwardingLogger(minPriority) { priority, tag, line -> Log.println(priority, tag, line) }

    /** Installs it for the whole process (`setLogger`). */
    fun install(minPriority: Int = Log.INFO) = setLogger(create(minPriority))
}
