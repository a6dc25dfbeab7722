// Alerts -> keyed app states (androidx.enterprise feedback) within the channel's limits:
// key <= 100, message <= 1,000, data <= 1,000 characters (Java String.length(), as
// KeyedAppState.Builder.build() checks), severity INFO or ERROR.

package org.portcullis.android.core

import org.portcullis.Alert
import org.portcullis.Severity

/** A keyed app state ready for `KeyedAppState.builder()`: every field already within the limits. */
data class KeyedStateSpec(
    val key: String,
    /** [KeyedAppStateLimits.SEVERITY_INFO] or [KeyedAppStateLimits.SEVERITY_ERROR]. */
    val severity: Int,
    val message: String,
    /** Compact JSON for the console (see [AlertEncoding.data]). */
    val data: String,
)

/**
 * How an alert travels as a keyed app state.
 *
 * - **key** `portcullis.alert.<id>.<kind>`: one key per alert, because a keyed app state
 *   replaces the previous state with the same key, and two alerts of one kind raised before
 *   the EMM collects them must not overwrite each other. The console drops duplicates by id.
 * - **severity** `ERROR` for medium and above, `INFO` for info and low (the channel has two).
 * - **message** one line for the console's screen: `[CRITICAL] sim_replaced (slot 0): summary`.
 * - **data** compact JSON with the alert's fields (`"v":1` is this format's version); when it
 *   would exceed the limit, evidence entries are dropped from the end and `"truncated":true`
 *   is added, so the data always parses.
 */
object AlertEncoding {
    const val KEY_PREFIX = "portcullis.alert."
    const val FORMAT_VERSION = 1
    private const val ELLIPSIS = "\u2026"

    fun encode(alert: Alert): KeyedStateSpec = KeyedStateSpec(
        key = key(alert),
        severity = severity(alert.severity),
        message = message(alert),
        data = data(alert),
    )

    fun key(alert: Alert): String =
        truncate("$KEY_PREFIX${alert.id}.${alert.kindName}", KeyedAppStateLimits.MAX_KEY_LENGTH, ellipsis = "")

    fun severity(severity: Severity): Int = when (severity) {
        Severity.INFO, Severity.LOW -> KeyedAppStateLimits.SEVERITY_INFO
        Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL -> KeyedAppStateLimits.SEVERITY_ERROR
    }

    fun message(alert: Alert): String {
        val slot = alert.slot?.let { " (slot $it)" } ?: ""
        val line = "[${alert.severity.name}] ${alert.kindName}$slot: ${alert.summary}"
        return truncate(line.replace('\n', ' ').replace('\r', ' '), KeyedAppStateLimits.MAX_MESSAGE_LENGTH)
    }

    fun data(alert: Alert): String {
        var evidence = alert.evidence.map { it.key to it.value }
        var truncated = false
        while (true) {
            val json = dataJson(alert, evidence, truncated)
            if (json.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) return json
            if (evidence.isEmpty()) break
            evidence = evidence.dropLast(1)
            truncated = true
        }
        // Only oversized names could get here (the core's are short): keep what identifies it.
        return Json.obj(
            "v" to Json.num(FORMAT_VERSION.toLong()),
            "id" to Json.num(alert.id),
            "kind" to Json.str(truncate(alert.kindName, 64)),
            "truncated" to "true",
        )
    }

    private fun dataJson(alert: Alert, evidence: List<Pair<String, String>>, truncated: Boolean): String {
        val fields = mutableListOf(
            "v" to Json.num(FORMAT_VERSION.toLong()),
            "id" to Json.num(alert.id),
            "at" to Json.str(alert.at.toString()),
            "kind" to Json.str(alert.kindName),
            "severity" to Json.str(alert.severity.name.lowercase()),
            "slot" to (alert.slot?.let { Json.num(it.toLong()) } ?: "null"),
            "detector" to Json.str(alert.detector),
            "detector_version" to Json.num(alert.detectorVersion.toLong()),
            "attempts" to Json.num(alert.deliveryAttempts.toLong()),
            "evidence" to Json.obj(*evidence.map { (k, v) -> k to Json.str(v) }.toTypedArray()),
        )
        if (truncated) fields += "truncated" to "true"
        return Json.obj(*fields.toTypedArray())
    }

    /**
     * [value] cut to at most [max] UTF-16 units, ending in [ellipsis] when cut, never
     * splitting a surrogate pair.
     */
    fun truncate(value: String, max: Int, ellipsis: String = ELLIPSIS): String {
        if (value.length <= max) return value
        var end = (max - ellipsis.length).coerceAtLeast(0)
        if (end > 0 && Character.isHighSurrogate(value[end - 1])) end--
        return value.substring(0, end) + ellipsis
    }
}

/** Just enough JSON writing for [AlertEncoding] (values are pre-encoded JSON fragments). */
internal object Json {
    fun str(value: String): String {
        val out = StringBuilder(value.length + 2)
        out.append('"')
        for (c in value) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' || c == '\u2028' || c == '\u2029' ->
                    out.append("\\u").append(c.code.toString(16).padStart(4, '0'))
                else -> out.append(c)
            }
        }
        return out.append('"').toString()
    }

    fun num(value: Long): String = value.toString()

    fun num(value: ULong): String = value.toString()

    fun obj(vararg fields: Pair<String, String>): String =
        fields.joinToString(",", "{", "}") { (k, v) -> "${str(k)}:$v" }
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
