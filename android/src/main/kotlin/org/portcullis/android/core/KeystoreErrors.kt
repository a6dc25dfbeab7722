// A key-store failure as the short reason a PortcullisException.DeviceKey carries: the
// exception's class and the first line of its message, bounded, never a stack trace or a
// chained cause (those reach logs and the console through the core's error).

package org.portcullis.android.core

object KeystoreErrors {
    /** Longest reason handed to the core. */
    const val MAX_REASON = 160

    /** `Android Keystore: ProviderException: Keystore operation failed`, at most [MAX_REASON] characters. */
    fun reason(e: Throwable): String {
        val first = e.message.orEmpty().lineSequence().firstOrNull().orEmpty().trim()
        // Stack frames and digit runs (key handles, uids) are not reasons.
        val cleaned = first.substringBefore("\tat ").replace(Regex("[0-9]{5,}"), "#")
        val text = if (cleaned.isEmpty()) "Android Keystore: ${e.javaClass.simpleName}" else "Android Keystore: ${e.javaClass.simpleName}: $cleaned"
        return if (text.length <= MAX_REASON) text else text.take(MAX_REASON - 1) + "\u2026"
    }
}
