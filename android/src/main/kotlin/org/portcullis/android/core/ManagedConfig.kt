// The managed configuration the console sets through the EMM (Android: RestrictionsManager,
// declared in res/xml/app_restrictions.xml; iOS uses the same keys). Reading only: the values
// go to the core's syncManagedConfig as delivered; the core trims, splits, verifies and decides.

package org.portcullis.android.core

import org.portcullis.ManagedConfigValues

/** Keys of the managed configuration (must match res/xml/app_restrictions.xml). */
object ManagedConfigKeys {
    const val POLICY_BUNDLE = "policy_bundle"
    const val TRUST_ROOT = "trust_root"
    const val CONSOLE_ENDPOINT = "console_endpoint"
    const val DEVICE_ID = "device_id"
    const val DEVICE_GROUPS = "device_groups"
    const val INDICATOR_COLLECTIONS = "indicator_collections"
    const val INSTRUCTIONS = "instructions"

    val ALL = listOf(
        POLICY_BUNDLE, TRUST_ROOT, CONSOLE_ENDPOINT, DEVICE_ID, DEVICE_GROUPS, INDICATOR_COLLECTIONS, INSTRUCTIONS,
    )
}

/**
 * The restriction bundle's entries (`Bundle.keySet()` with their values) as the core takes
 * them: strings as they are, a list of strings for the line-per-file keys, and the keys
 * whose value is not a string named in `notText` (never the value).
 */
fun managedConfigValues(values: Map<String, Any?>): ManagedConfigValues {
    val notText = mutableListOf<String>()
    fun string(key: String): String? = when (val v = values[key]) {
        null -> null
        is String -> v
        else -> null.also { notText += key }
    }
    return ManagedConfigValues(
        trustRoot = string(ManagedConfigKeys.TRUST_ROOT),
        deviceId = string(ManagedConfigKeys.DEVICE_ID),
        deviceGroups = string(ManagedConfigKeys.DEVICE_GROUPS),
        policyBundle = string(ManagedConfigKeys.POLICY_BUNDLE),
        indicatorCollections = listOfNotNull(string(ManagedConfigKeys.INDICATOR_COLLECTIONS)),
        instructions = listOfNotNull(string(ManagedConfigKeys.INSTRUCTIONS)),
        consoleEndpoint = string(ManagedConfigKeys.CONSOLE_ENDPOINT),
        notText = notText,
    )
}
