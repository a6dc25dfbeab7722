// The managed configuration the console sets through the EMM (Android: RestrictionsManager,
// declared in res/xml/app_restrictions.xml; iOS uses the same keys). Reading only: the
// bundle and the trust root are verified by the core, never here; PolicySync hands them over.

package org.portcullis.android.core

import java.net.URI

/** Keys of the managed configuration (must match res/xml/app_restrictions.xml). */
object ManagedConfigKeys {
    /** The signed policy bundle: the DSSE envelope JSON `portcullis policy sign` writes. */
    const val POLICY_BUNDLE = "policy_bundle"
    /** The signed trust root installed at enrollment (`portcullis root sign` output). */
    const val TRUST_ROOT = "trust_root"
    /** The console's HTTPS endpoint (relayed carrier checks, checkpoints). */
    const val CONSOLE_ENDPOINT = "console_endpoint"
    /** The device's enrollment id, as bundles address it (`portcullis policy sign --device`). */
    const val DEVICE_ID = "device_id"
    /** The device's groups at enrollment, comma-separated (`portcullis policy sign --group`). */
    const val DEVICE_GROUPS = "device_groups"

    /** Signed indicator collections (`portcullis indicators sign`), one per line. */
    const val INDICATOR_COLLECTIONS = "indicator_collections"

    /** Signed console instructions (`portcullis instruction sign`), one envelope per line. */
    const val INSTRUCTIONS = "instructions"

    val ALL = listOf(
        POLICY_BUNDLE, TRUST_ROOT, CONSOLE_ENDPOINT, DEVICE_ID, DEVICE_GROUPS, INDICATOR_COLLECTIONS, INSTRUCTIONS,
    )
}

/**
 * The managed configuration as read. Absent or blank values are `null`. Surrounding
 * whitespace is removed from the envelopes (console forms add newlines; the signed envelope
 * itself never has any, and the core refuses any other deviation byte for byte).
 * [deviceGroups] is `device_groups` split at commas, each name trimmed, blanks and repeats
 * dropped; whether the id and the names are acceptable is the core's decision (at enrollment).
 * [problems] lists values of the wrong type or form, naming the key, never the value.
 */
data class ManagedConfig(
    val policyBundle: String?,
    val trustRoot: String?,
    val consoleEndpoint: URI?,
    val problems: List<String>,
    val deviceId: String? = null,
    val deviceGroups: List<String> = emptyList(),
    /** `indicator_collections` split into lines, each trimmed, blanks and repeats dropped. */
    val indicatorCollections: List<String> = emptyList(),
    /** `instructions` split into lines the same way; the core verifies and orders them. */
    val instructions: List<String> = emptyList(),
) {
    /** Sizes only: bundles can be large and endpoints and ids are configuration, not log material. */
    override fun toString(): String =
        "ManagedConfig(policyBundle=${policyBundle?.let { "${it.length} chars" }}, " +
            "trustRoot=${trustRoot?.let { "${it.length} chars" }}, consoleEndpoint=${consoleEndpoint != null}, " +
            "deviceId=${deviceId != null}, deviceGroups=${deviceGroups.size}, " +
            "indicatorCollections=${indicatorCollections.size}, instructions=${instructions.size}, problems=$problems)"

    companion object {
        /** `device_groups`: comma-separated names, trimmed; blanks and repeats dropped, order kept. */
        fun groups(value: String): List<String> =
            value.split(',').map { it.trim() }.filter { it.isNotEmpty() }.distinct()

        /** One signed file per line: each trimmed, blanks and repeats dropped, order kept. */
        fun splitLines(value: String): List<String> =
            value.lines().map { it.trim() }.filter { it.isNotEmpty() }.distinct()

        /** From the restriction bundle's entries (`Bundle.keySet()` with their values). */
        fun from(values: Map<String, Any?>): ManagedConfig {
            val problems = mutableListOf<String>()
            fun string(key: String): String? = when (val v = values[key]) {
                null -> null
                is String -> v.trim().takeIf { it.isNotEmpty() }
                else -> {
                    problems += "$key: expected a string, got ${v.javaClass.simpleName}"
                    null
                }
            }
            val endpoint = string(ManagedConfigKeys.CONSOLE_ENDPOINT)?.let { raw ->
                val uri = runCatching { URI(raw) }.getOrNull()
                if (uri == null || !uri.scheme.equals("https", ignoreCase = true) || uri.host.isNullOrEmpty()) {
                    problems += "${ManagedConfigKeys.CONSOLE_ENDPOINT}: expected an https URL"
                    null
                } else {
                    uri
                }
            }
            val bundle = string(ManagedConfigKeys.POLICY_BUNDLE)
            val root = string(ManagedConfigKeys.TRUST_ROOT)
            val deviceId = string(ManagedConfigKeys.DEVICE_ID)
            val deviceGroups = string(ManagedConfigKeys.DEVICE_GROUPS)?.let { groups(it) }.orEmpty()
            val indicators = string(ManagedConfigKeys.INDICATOR_COLLECTIONS)?.let { splitLines(it) }.orEmpty()
            val instructions = string(ManagedConfigKeys.INSTRUCTIONS)?.let { splitLines(it) }.orEmpty()
            return ManagedConfig(
                policyBundle = bundle,
                trustRoot = root,
                consoleEndpoint = endpoint,
                problems = problems.toList(),
                deviceId = deviceId,
                deviceGroups = deviceGroups,
                indicatorCollections = indicators,
                instructions = instructions,
            )
        }
    }
}
