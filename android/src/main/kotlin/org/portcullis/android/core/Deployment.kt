// How the agent is deployed, as the console sees it: the keyed app state
// `portcullis.deployment`, published when it changes. The mode and the scope names are the
// core's reading of the platform's facts (androidDeployment); nothing is decided here.

package org.portcullis.android.core

import org.portcullis.AndroidDeployment

object DeploymentStateEncoding {
    const val KEY = "portcullis.deployment"

    /** `companion: delegated PACKAGE_ACCESS, BLOCK_UNINSTALL (API 34)` and the same as data. */
    fun encode(deployment: AndroidDeployment, apiLevel: Int): KeyedStateSpec {
        val scopes = deployment.delegatedScopes
        val message = deployment.modeName +
            (if (scopes.isEmpty()) "" else ": delegated ${scopes.joinToString(", ")}") +
            " (API $apiLevel)"
        val data = Json.obj(
            "v" to Json.num(1L),
            "mode" to Json.str(deployment.modeName),
            "delegated_scopes" to scopes.joinToString(",", "[", "]") { Json.str(it) },
            "api_level" to Json.num(apiLevel.toLong()),
        )
        return KeyedStateSpec(
            key = KEY,
            severity = KeyedAppStateLimits.SEVERITY_INFO,
            message = AlertEncoding.truncate(message, KeyedAppStateLimits.MAX_MESSAGE_LENGTH),
            data = data,
        )
    }
}
