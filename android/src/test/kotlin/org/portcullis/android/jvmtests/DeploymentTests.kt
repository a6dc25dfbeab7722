// Deployment facts on the JVM: the core reads the platform's delegation constants, keeps the
// critical packages out of the access block, and accepts the snapshot's capability fields;
// the connectivity tracker says nothing before the first network callback; key-store
// failures become short reasons.

package org.portcullis.android.jvmtests

import java.io.IOException
import java.security.ProviderException
import org.portcullis.DeploymentMode
import org.portcullis.PackageRoles
import org.portcullis.accessBlockTargets
import org.portcullis.android.core.ComplianceSnapshots
import org.portcullis.ConnectivityTracker
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.consoleDeployment
import java.time.Instant
import org.portcullis.android.core.KeystoreErrors
import org.portcullis.AndroidSettings
import org.portcullis.androidDeployment

fun deploymentTests() {
    test("the core reads owner or companion and the DELEGATION_* constants it knows") {
        val companion = androidDeployment(false, listOf("delegation-package-access", "delegation-cert-install", "delegation-unheard-of"))
        eq(DeploymentMode.COMPANION, companion.mode, "mode")
        eq("companion", companion.modeName, "mode name")
        eq(listOf("PACKAGE_ACCESS", "CERT_INSTALL"), companion.delegatedScopes, "scopes by AMAPI name")
        eq(DeploymentMode.OWNER, androidDeployment(true, emptyList()).mode, "owner")
    }

    test("the console's deployment state says the mode and the scopes the core read") {
        val state = consoleDeployment(androidDeployment(false, listOf("delegation-package-access")), 34u, Instant.EPOCH)
        eq("portcullis.deployment", state.key, "key")
        eq(ConsoleSeverity.INFO, state.severity, "severity")
        eq("companion: delegated PACKAGE_ACCESS (API 34)", state.message, "message")
        val o = jsonObject(state.data)
        eq("companion", o["mode"], "mode")
        eq(listOf<Any?>("PACKAGE_ACCESS"), o["delegated_scopes"], "scopes")
        eq("owner (API 33)", consoleDeployment(androidDeployment(true, emptyList()), 33u, Instant.EPOCH).message, "owner")
    }

    test("the access block never names the system, Play, GMS, the DPC, the resolved roles or the agent") {
        val installed = listOf(
            "android", "com.android.vending", "com.google.android.gms", "com.google.android.apps.work.clouddpc",
            "com.sec.android.app.launcher", "com.samsung.android.dialer", "com.emm.dpc", "org.portcullis",
            "com.anydesk.anydeskandroid", "com.whatsapp",
        )
        val roles = PackageRoles(
            home = "com.sec.android.app.launcher", installer = null, permissionController = null,
            deviceOwner = "com.emm.dpc", dialer = "com.samsung.android.dialer",
        )
        eq(listOf("com.anydesk.anydeskandroid", "com.whatsapp"), accessBlockTargets(installed, roles, "org.portcullis"), "targets")
    }

    test("the snapshot carries delegated scopes and package roles as the platform resolved them") {
        val settings = AndroidSettings(
            sdkInt = 34, securityPatch = null, developerSettings = false, adbEnabled = false,
            airplaneMode = false, autoTime = true, deviceSecure = true,
        )
        val roles = PackageRoles(home = "com.example.home", installer = null, permissionController = null, deviceOwner = "com.emm.dpc", dialer = null)
        val snapshot = ComplianceSnapshots.snapshot(
            T0, false, settings, null, "org.portcullis", null,
            delegatedScopes = listOf("PACKAGE_ACCESS", "BLOCK_UNINSTALL"),
            packageRoles = roles,
        )
        eq(listOf("PACKAGE_ACCESS", "BLOCK_UNINSTALL"), snapshot.delegatedScopes, "scopes")
        eq(roles, snapshot.packageRoles, "roles")
        val plain = ComplianceSnapshots.snapshot(T0, true, settings, null, "org.portcullis", null)
        expect(plain.delegatedScopes == null && plain.packageRoles == null) { "no capability fields when none: $plain" }
    }

    test("no connectivity reading before the first network callback") {
        val t = ConnectivityTracker()
        eq(null, t.reading(), "nothing heard yet")
        eq(null, t.airplaneModeChanged(false), "airplane mode alone is no reading")
        eq(null, t.airplaneModeChanged(true), "nor a change of it")
        val first = t.networkChanged(7, wifi = true, cellular = false) ?: fail("first callback not reported")
        expect(first.wifi && first.airplaneMode) { "$first" }
        eq(first, t.reading(), "reading after the first callback")
        // Losing the last network after hearing from the platform is a real reading.
        val none = t.networkLost(7) ?: fail("loss not reported")
        expect(!none.wifi && !none.cellularData) { "$none" }
    }

    test("key-store failures become one short line: class and first message line, no stack, no long numbers") {
        val trace = "Keystore operation failed\n\tat android.security.KeyStore2.getResponse(KeyStore2.java:1)\nCaused by: x"
        eq("Android Keystore: ProviderException: Keystore operation failed", KeystoreErrors.reason(ProviderException(trace)), "provider")
        eq("Android Keystore: IOException: uid # not allowed", KeystoreErrors.reason(IOException("uid 1010123 not allowed")), "io")
        eq("Android Keystore: IOException", KeystoreErrors.reason(IOException()), "no message")
        val long = KeystoreErrors.reason(ProviderException("x".repeat(1000)))
        eq(KeystoreErrors.MAX_REASON, long.length, "bounded")
    }
}
