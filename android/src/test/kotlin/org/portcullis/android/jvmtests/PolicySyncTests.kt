// PolicySync against the real core with real signed fixtures: a trust root and baseline
// bundles v1 and v2 (group all-staff, valid 2026-03-01 to 2026-04-01) that
// scripts/android-jvm-tests.sh makes with the portcullis console tool and passes as
// -Dportcullis.fixtures.

package org.portcullis.android.jvmtests

import java.io.File
import java.time.Instant
import org.portcullis.Agent
import org.portcullis.PolicyStatus
import org.portcullis.PortcullisException
import org.portcullis.TrustRootUpdate
import org.portcullis.android.core.KeyedAppStateLimits
import org.portcullis.android.core.ManagedConfig
import org.portcullis.android.core.ManagedConfigKeys
import org.portcullis.android.core.PolicyAgent
import org.portcullis.android.core.PolicyStateEncoding
import org.portcullis.android.core.PolicySync
import org.portcullis.android.core.PolicySyncResult
import org.portcullis.android.core.policyAgentOf

private fun fixtureDir(): File =
    File(System.getProperty("portcullis.fixtures") ?: fail("-Dportcullis.fixtures not set (run scripts/android-jvm-tests.sh)"))

/** A fixture file as the console's form holds it: text, with the newline a paste adds. */
private fun fixture(name: String): String {
    val f = File(fixtureDir(), name)
    expect(f.isFile) { "missing fixture $f" }
    return f.readText(Charsets.UTF_8) + "\n"
}

private fun rootText() = fixture("root.signed")
private fun rootV2Text() = fixture("root-v2.signed")
private fun v1() = fixture("baseline-v1.bundle")
private fun v2() = fixture("baseline-v2.bundle")

/** Bundle version 3, signed under the rotated root (root version 2). */
private fun r2v3() = fixture("baseline-r2-v3.bundle")

/** The managed configuration as RestrictionsManager would hand it over. */
private fun config(
    bundle: String? = null,
    root: String? = rootText(),
    deviceId: String? = "dev-0001",
    groups: String? = "field, all-staff",
): ManagedConfig = ManagedConfig.from(
    buildMap {
        bundle?.let { put(ManagedConfigKeys.POLICY_BUNDLE, it) }
        root?.let { put(ManagedConfigKeys.TRUST_ROOT, it) }
        deviceId?.let { put(ManagedConfigKeys.DEVICE_ID, it) }
        groups?.let { put(ManagedConfigKeys.DEVICE_GROUPS, it) }
        put(ManagedConfigKeys.CONSOLE_ENDPOINT, "https://console.example.org/portcullis")
    },
)

/** The real agent, counting the calls PolicySync makes. */
private class CountingAgent(private val inner: PolicyAgent) : PolicyAgent {
    var installs = 0
    var rootUpdates = 0
    var applies = 0

    override suspend fun trustRootInstalled(): Boolean = inner.trustRootInstalled()

    override suspend fun installTrustRoot(signedRoot: ByteArray, deviceId: String, groups: List<String>, now: Instant) {
        installs++
        inner.installTrustRoot(signedRoot, deviceId, groups, now)
    }

    override suspend fun applyRootUpdate(signedRoot: ByteArray, now: Instant): TrustRootUpdate {
        rootUpdates++
        return inner.applyRootUpdate(signedRoot, now)
    }

    override suspend fun applyPolicy(bundle: ByteArray, now: Instant): PolicyStatus {
        applies++
        return inner.applyPolicy(bundle, now)
    }

    override suspend fun policyStatus(): PolicyStatus? = inner.policyStatus()
}

private class PolicyFixture(val agent: Agent) {
    val counting = CountingAgent(policyAgentOf { agent })
    val sync = PolicySync(counting) { T0 }

    suspend fun alertKinds(): List<String> = agent.pendingAlerts(50u).map { it.kindName }
}

private suspend fun withPolicy(s: Scratch, body: suspend (PolicyFixture) -> Unit) {
    openAgent(s).use { body(PolicyFixture(it)) }
}

private inline fun <reified T : PolicySyncResult> PolicySyncResult.expectIs(): T =
    this as? T ?: fail("expected ${T::class.simpleName}, got $this")

/** The keyed state never carries the signed inputs. */
private fun expectNoSecrets(spec: org.portcullis.android.core.KeyedStateSpec) {
    for (text in listOf(spec.message, spec.data)) {
        expect(!text.contains("payloadType")) { "keyed state carries an envelope: $text" }
        val payload = Regex(""""payload":"([^"]{40})""").find(v1())?.groupValues?.get(1) ?: fail("no payload in v1")
        expect(!text.contains(payload)) { "keyed state carries the bundle: $text" }
    }
    expect(spec.message.length <= KeyedAppStateLimits.MAX_MESSAGE_LENGTH) { "message too long" }
    expect(spec.data.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) { "data too long" }
    jsonObject(spec.data)
}

fun policySyncTests() {
    test("policy sync: the first sync installs the trust root with the device id and groups, then applies v1") { s ->
        withPolicy(s) { f ->
            eq(null, f.agent.policyStatus(), "status before")
            val applied = f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            expect(applied.rootInstalled) { "root not reported installed: $applied" }
            eq(1uL, applied.status.version, "version")
            expect(applied.status.changed) { "changed" }
            eq(1uL, f.agent.policyStatus()?.version, "agent status")
            eq(1, f.counting.installs, "install calls")
            eq(emptyList<String>(), f.alertKinds(), "alerts")

            val spec = PolicyStateEncoding.encode(applied)
            eq(PolicyStateEncoding.KEY, spec.key, "key")
            eq(KeyedAppStateLimits.SEVERITY_INFO, spec.severity, "severity")
            expect(spec.message.contains("version 1")) { spec.message }
            val data = jsonObject(spec.data)
            eq("applied", data["state"], "state")
            eq(1L, data["version"], "data version")
            eq(applied.status.payloadSha256, data["payload_sha256"], "digest")
            expectNoSecrets(spec)
        }
    }

    test("policy sync: re-syncing the same configuration is a no-op (changed=false), also after a restart") { s ->
        openAgent(s).use { agent ->
            val f = PolicyFixture(agent)
            f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            val again = f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Unchanged>()
            expect(!again.status.changed) { "changed" }
            eq(1uL, again.status.version, "version")
            eq(1, f.counting.installs, "the installed root is not offered again")
            eq(KeyedAppStateLimits.SEVERITY_INFO, PolicyStateEncoding.encode(again).severity, "severity")
        }
        // A new process: a new PolicySync over the reopened agent.
        openAgent(s, at(60)).use { agent ->
            val f = PolicyFixture(agent)
            val again = f.sync.sync(config(bundle = v1()), at(60)).expectIs<PolicySyncResult.Unchanged>()
            eq(1uL, again.status.version, "version after restart")
            eq(0, f.counting.installs, "a root with a policy in force is not offered again")
            eq(emptyList<String>(), f.alertKinds(), "alerts")
        }
    }

    test("policy sync: an older bundle after v2 is refused with code rollback and v2 stays in force") { s ->
        withPolicy(s) { f ->
            f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            val v2 = f.sync.sync(config(bundle = v2())).expectIs<PolicySyncResult.Applied>()
            eq(2uL, v2.status.version, "v2")
            expect(!v2.rootInstalled) { "root installed twice" }

            val refused = f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Rejected>()
            eq(ManagedConfigKeys.POLICY_BUNDLE, refused.input, "input")
            eq("rollback", refused.code, "code")
            eq(2uL, refused.inForce?.version, "in force per the result")
            eq(2uL, f.agent.policyStatus()?.version, "agent status")

            val spec = PolicyStateEncoding.encode(refused)
            eq(PolicyStateEncoding.KEY, spec.key, "key")
            eq(KeyedAppStateLimits.SEVERITY_ERROR, spec.severity, "severity")
            expect(spec.message.contains("rollback")) { spec.message }
            val data = jsonObject(spec.data)
            eq("rejected", data["state"], "state")
            eq("rollback", data["code"], "data code")
            @Suppress("UNCHECKED_CAST")
            eq(2L, (data["in_force"] as Map<String, Any?>)["version"], "data in force")
            expectNoSecrets(spec)

            // Redelivered: refused again, alerted once (the core's decision).
            f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Rejected>()
            eq(listOf("policy_refused"), f.alertKinds(), "alerts")
            eq(1, f.counting.installs, "install calls")
        }
    }

    test("policy sync: without device_id nothing is installed and the problem names the key") { s ->
        withPolicy(s) { f ->
            val problem = f.sync.sync(config(bundle = v1(), deviceId = null)).expectIs<PolicySyncResult.Problem>()
            expect(problem.reason.contains(ManagedConfigKeys.DEVICE_ID)) { problem.reason }
            eq(0, f.counting.installs, "install calls")
            eq(null, f.agent.policyStatus(), "status")
            eq(emptyList<String>(), f.alertKinds(), "alerts")
            val spec = PolicyStateEncoding.encode(problem)
            eq(KeyedAppStateLimits.SEVERITY_ERROR, spec.severity, "severity")
            expect(spec.message.contains(ManagedConfigKeys.DEVICE_ID)) { spec.message }
            expectNoSecrets(spec)

            // Nothing was installed: once the console adds the id, enrollment happens.
            val applied = f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            expect(applied.rootInstalled) { "root installed now" }
        }
    }

    test("policy sync: a garbled or truncated bundle is refused and the policy in force stays") { s ->
        withPolicy(s) { f ->
            f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            val text = v2()
            val i = text.indexOf("\"payload\":\"") + 11 + 200
            val garbled = text.substring(0, i) + (text[i].code xor 1).toChar() + text.substring(i + 1)
            val refused = f.sync.sync(config(bundle = garbled)).expectIs<PolicySyncResult.Rejected>()
            eq(ManagedConfigKeys.POLICY_BUNDLE, refused.input, "input")
            eq("bad_signature", refused.code, "code")
            eq(1uL, refused.inForce?.version, "in force")
            expectNoSecrets(PolicyStateEncoding.encode(refused))
            // Not an envelope at all (a truncated paste).
            val junk = f.sync.sync(config(bundle = v2().take(120))).expectIs<PolicySyncResult.Rejected>()
            eq("garbled", junk.code, "code")
            eq(1uL, f.agent.policyStatus()?.version, "agent status")
            eq(listOf("policy_refused", "policy_refused"), f.alertKinds(), "alerts")
        }
    }

    test("policy sync: a root already installed is not installed again; offered as a rotation, it is no news") { s ->
        withPolicy(s) { f ->
            f.agent.installTrustRoot(rootText().trim().toByteArray(), "dev-0001", listOf("all-staff"), T0)
            val none = f.sync.sync(config(bundle = null)).expectIs<PolicySyncResult.NoBundle>()
            eq(PolicySyncResult.NoBundle(false, null), none, "nothing installed or rotated by this sync")
            eq(0, f.counting.installs, "the core says a root is installed: no install call")
            f.sync.sync(config(bundle = null)).expectIs<PolicySyncResult.NoBundle>()
            val applied = f.sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
            expect(!applied.rootInstalled && applied.rootRotatedTo == null) { "$applied" }
            eq(0, f.counting.installs, "install calls")
            eq(3, f.counting.rootUpdates, "the configured root is offered at every sync")
            eq(emptyList<String>(), f.alertKinds(), "alerts")
        }
    }

    test("policy sync: a newer trust root rotates first, then the bundle signed under it applies") { s ->
        withPolicy(s) { f ->
            f.sync.sync(config(bundle = v2())).expectIs<PolicySyncResult.Applied>()
            val applied = f.sync.sync(config(bundle = r2v3(), root = rootV2Text())).expectIs<PolicySyncResult.Applied>()
            eq(2uL, applied.rootRotatedTo, "rotated to")
            eq(3uL, applied.status.version, "bundle version")
            eq(2uL, applied.status.rootVersion, "bundle's root version")
            val spec = PolicyStateEncoding.encode(applied)
            expect(spec.message.contains("trust root rotated to version 2")) { spec.message }
            eq(2L, jsonObject(spec.data)["root_rotated_to"], "data")
            expectNoSecrets(spec)

            val again = f.sync.sync(config(bundle = r2v3(), root = rootV2Text())).expectIs<PolicySyncResult.Unchanged>()
            eq(null, again.rootRotatedTo, "no second rotation")
            eq(emptyList<String>(), f.alertKinds(), "alerts")
        }
        // A new process over the rotated agent: still version 2, nothing refused.
        openAgent(s, at(60)).use { agent ->
            val f = PolicyFixture(agent)
            val again = f.sync.sync(config(bundle = r2v3(), root = rootV2Text()), at(60))
                .expectIs<PolicySyncResult.Unchanged>()
            eq(2uL, again.status.rootVersion, "root version after restart")
            eq(emptyList<String>(), f.alertKinds(), "alerts")
        }
    }

    test("policy sync: the old root after a rotation is refused once, reported, and the policy stays") { s ->
        withPolicy(s) { f ->
            f.sync.sync(config(bundle = null)).expectIs<PolicySyncResult.NoBundle>()
            f.sync.sync(config(bundle = r2v3(), root = rootV2Text())).expectIs<PolicySyncResult.Applied>()
            val refused = f.sync.sync(config(bundle = r2v3(), root = rootText())).expectIs<PolicySyncResult.Rejected>()
            eq(ManagedConfigKeys.TRUST_ROOT, refused.input, "input")
            expect(refused.code.isNotEmpty()) { "code" }
            eq(3uL, refused.inForce?.version, "the policy in force stays and is reported")
            eq(KeyedAppStateLimits.SEVERITY_ERROR, PolicyStateEncoding.encode(refused).severity, "severity")
            val updates = f.counting.rootUpdates
            val again = f.sync.sync(config(bundle = r2v3(), root = rootText())).expectIs<PolicySyncResult.Rejected>()
            eq(refused.code, again.code, "same answer")
            eq(updates, f.counting.rootUpdates, "the refused root is not offered again")
            eq(listOf("policy_refused"), f.alertKinds(), "alerts")
            eq(3uL, f.agent.policyStatus()?.version, "agent status")
        }
    }

    test("policy sync: a refused trust root is not offered again until it changes; no bundle goes in") { s ->
        withPolicy(s) { f ->
            val good = rootText()
            val i = good.indexOf("\"payload\":\"") + 11 + 40
            val bad = good.substring(0, i) + (good[i].code xor 1).toChar() + good.substring(i + 1)
            val refused = f.sync.sync(config(bundle = v1(), root = bad)).expectIs<PolicySyncResult.Rejected>()
            eq(ManagedConfigKeys.TRUST_ROOT, refused.input, "input")
            expect(refused.code.isNotEmpty()) { "code" }
            eq(KeyedAppStateLimits.SEVERITY_ERROR, PolicyStateEncoding.encode(refused).severity, "severity")
            eq(null, refused.inForce, "nothing in force")
            val again = f.sync.sync(config(bundle = v1(), root = bad)).expectIs<PolicySyncResult.Rejected>()
            eq(refused.code, again.code, "same answer")
            eq(1, f.counting.installs, "the refused root is offered once")
            eq(listOf("policy_refused"), f.alertKinds(), "alerts")
            eq(null, f.agent.policyStatus(), "status")

            val applied = f.sync.sync(config(bundle = v1(), root = good)).expectIs<PolicySyncResult.Applied>()
            expect(applied.rootInstalled) { "the corrected root is installed" }
            eq(2, f.counting.installs, "install calls")
        }
    }

    test("policy sync: groups come from device_groups; a bundle for other groups is refused out_of_scope") { s ->
        withPolicy(s) { f ->
            val refused = f.sync.sync(config(bundle = v1(), groups = "contractors,field"))
                .expectIs<PolicySyncResult.Rejected>()
            eq(ManagedConfigKeys.POLICY_BUNDLE, refused.input, "input")
            eq("out_of_scope", refused.code, "code")
            eq(null, f.agent.policyStatus(), "status")
        }
    }

    test("policy sync: no trust root anywhere is reported as a problem; no bundle and no root is NoBundle") { s ->
        withPolicy(s) { f ->
            eq(PolicySyncResult.NoBundle(false), f.sync.sync(config(root = null)), "empty configuration")
            val problem = f.sync.sync(config(bundle = v1(), root = null)).expectIs<PolicySyncResult.Problem>()
            expect(problem.reason.contains("trust root")) { problem.reason }
            eq(0, f.counting.installs, "install calls")
            eq(null, f.agent.policyStatus(), "status")
        }
    }

    test("policy sync: an agent failure is reported as Failed and the next sync tries again") {
        var failNext = true
        val agent = object : PolicyAgent {
            var installed = false
            override suspend fun trustRootInstalled(): Boolean = installed

            override suspend fun applyRootUpdate(signedRoot: ByteArray, now: Instant): TrustRootUpdate =
                TrustRootUpdate(1uL, false)

            override suspend fun installTrustRoot(signedRoot: ByteArray, deviceId: String, groups: List<String>, now: Instant) {
                if (failNext) {
                    failNext = false
                    throw PortcullisException.Storage("database is locked")
                }
                installed = true
            }

            override suspend fun applyPolicy(bundle: ByteArray, now: Instant): PolicyStatus =
                PolicyStatus(7uL, 1uL, "ab".repeat(32), T0, at(86_400), T0, true)

            override suspend fun policyStatus(): PolicyStatus? = null
        }
        val sync = PolicySync(agent) { T0 }
        val failed = sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Failed>()
        expect(failed.error is PortcullisException.Storage) { "${failed.error}" }
        val spec = PolicyStateEncoding.encode(failed)
        eq(KeyedAppStateLimits.SEVERITY_ERROR, spec.severity, "severity")
        expect(spec.message.contains("Storage")) { spec.message }
        val applied = sync.sync(config(bundle = v1())).expectIs<PolicySyncResult.Applied>()
        expect(applied.rootInstalled && agent.installed) { "retried" }
    }

    test("policy state: every result encodes within the keyed-app-state limits as JSON") {
        val long = "x\"\\\n\u0001".repeat(500)
        val status = PolicyStatus(3uL, 1uL, "cd".repeat(32), T0, at(86_400), T0, false)
        val results = listOf(
            PolicySyncResult.Applied(status, true),
            PolicySyncResult.Applied(status, false, ULong.MAX_VALUE),
            PolicySyncResult.Unchanged(status),
            PolicySyncResult.Unchanged(status, 2uL),
            PolicySyncResult.NoBundle(true),
            PolicySyncResult.NoBundle(false, 2uL),
            PolicySyncResult.Rejected(ManagedConfigKeys.POLICY_BUNDLE, "c".repeat(300), long, status),
            PolicySyncResult.Rejected(ManagedConfigKeys.TRUST_ROOT, "bad_signature", "no valid signature", null),
            PolicySyncResult.Problem(long),
            PolicySyncResult.Failed(IllegalStateException(long)),
        )
        for (r in results) {
            val spec = PolicyStateEncoding.encode(r)
            eq(PolicyStateEncoding.KEY, spec.key, "key")
            expect(spec.message.length <= KeyedAppStateLimits.MAX_MESSAGE_LENGTH) { "message ${spec.message.length}" }
            expect(spec.data.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) { "data ${spec.data.length}" }
            expect('\n' !in spec.message) { "newline in message" }
            val data = jsonObject(spec.data)
            eq(PolicyStateEncoding.FORMAT_VERSION.toLong(), data["v"], "format version")
            expect(data["state"] is String) { "state: ${spec.data}" }
        }
    }

    test("managed configuration: device_id and device_groups (comma-separated, trimmed, repeats dropped)") {
        val cfg = ManagedConfig.from(
            mapOf(ManagedConfigKeys.DEVICE_ID to "  dev-0001\n", ManagedConfigKeys.DEVICE_GROUPS to " all-staff, ,field ,all-staff,"),
        )
        eq("dev-0001", cfg.deviceId, "device id")
        eq(listOf("all-staff", "field"), cfg.deviceGroups, "groups")
        eq(emptyList<String>(), cfg.problems, "problems")
        expect(!cfg.toString().contains("dev-0001") && !cfg.toString().contains("field")) { "toString prints ids: $cfg" }

        val bad = ManagedConfig.from(mapOf(ManagedConfigKeys.DEVICE_ID to 7, ManagedConfigKeys.DEVICE_GROUPS to arrayOf("a")))
        eq(null, bad.deviceId, "wrong type")
        eq(emptyList<String>(), bad.deviceGroups, "wrong type")
        eq(2, bad.problems.size, "problems: ${bad.problems}")
        eq(emptyList<String>(), ManagedConfig.from(mapOf(ManagedConfigKeys.DEVICE_GROUPS to " , ")).deviceGroups, "blank")
    }

    test("managed configuration: app_restrictions.xml declares exactly the keys, each with its strings") {
        val android = File(System.getProperty("portcullis.androidDir") ?: fail("-Dportcullis.androidDir not set"))
        val xml = File(android, "src/main/res/xml/app_restrictions.xml").readText()
        val strings = File(android, "src/main/res/values/strings.xml").readText()
        val keys = Regex("""android:key="([^"]+)"""").findAll(xml).map { it.groupValues[1] }.toList()
        eq(ManagedConfigKeys.ALL.sorted(), keys.sorted(), "declared keys")
        for (name in Regex("""@string/([A-Za-z0-9_]+)""").findAll(xml).map { it.groupValues[1] }) {
            expect(strings.contains("<string name=\"$name\">")) { "strings.xml lacks $name" }
        }
    }
}
