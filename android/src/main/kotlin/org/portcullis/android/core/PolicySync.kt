// Managed configuration -> the core: the console's trust root is installed once (enrollment,
// with the device id and groups the bundles are scoped to), then every delivered policy
// bundle is handed to the core, which verifies it and decides. Nothing is verified or
// compared here; the result says what the core answered, in a form the glue can show the
// console as a keyed app state (key `portcullis.policy`).

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.portcullis.AgentInterface
import org.portcullis.PolicyStatus
import org.portcullis.PortcullisException
import org.portcullis.TrustRootUpdate

/** The agent calls policy sync makes (the real agent through [policyAgentOf], or a test double). */
interface PolicyAgent {
    suspend fun trustRootInstalled(): Boolean
    suspend fun installTrustRoot(signedRoot: ByteArray, deviceId: String, groups: List<String>, now: Instant)
    suspend fun applyRootUpdate(signedRoot: ByteArray, now: Instant): TrustRootUpdate
    suspend fun applyPolicy(bundle: ByteArray, now: Instant): PolicyStatus
    suspend fun policyStatus(): PolicyStatus?
}

/** [PolicyAgent] over [agent] (or the agent it returns, opened lazily). */
fun policyAgentOf(agent: suspend () -> AgentInterface): PolicyAgent = object : PolicyAgent {
    override suspend fun trustRootInstalled(): Boolean = agent().trustRootInstalled()

    override suspend fun installTrustRoot(signedRoot: ByteArray, deviceId: String, groups: List<String>, now: Instant) =
        agent().installTrustRoot(signedRoot, deviceId, groups, now)

    override suspend fun applyRootUpdate(signedRoot: ByteArray, now: Instant): TrustRootUpdate =
        agent().applyRootUpdate(signedRoot, now)

    override suspend fun applyPolicy(bundle: ByteArray, now: Instant): PolicyStatus = agent().applyPolicy(bundle, now)
    override suspend fun policyStatus(): PolicyStatus? = agent().policyStatus()
}

/** What one [PolicySync.sync] did. Messages come from the core and name fields, never values. */
sealed class PolicySyncResult {
    /**
     * The core put the configured bundle in force; [rootInstalled]: this sync enrolled the trust
     * root too; [rootRotatedTo]: this sync rotated the trust root to that version first.
     */
    data class Applied(val status: PolicyStatus, val rootInstalled: Boolean, val rootRotatedTo: ULong? = null) :
        PolicySyncResult()

    /** The configured bundle is the one already in force (`changed=false`). */
    data class Unchanged(val status: PolicyStatus, val rootRotatedTo: ULong? = null) : PolicySyncResult()

    /** No `policy_bundle` configured; [rootInstalled]: this sync enrolled the trust root. */
    data class NoBundle(val rootInstalled: Boolean, val rootRotatedTo: ULong? = null) : PolicySyncResult()

    /**
     * The core refused [input] (`policy_bundle` or `trust_root`) with a stable [code]
     * (`rollback`, `expired`, `out_of_scope`, `bad_signature`, ...). Nothing changed: [inForce]
     * is the policy still in force. The core has journaled it and raised `policy_refused`.
     */
    data class Rejected(val input: String, val code: String, val reason: String, val inForce: PolicyStatus?) :
        PolicySyncResult()

    /** The configuration cannot be applied as it is (a key missing, a value the core refused as input). */
    data class Problem(val reason: String) : PolicySyncResult()

    /** The agent failed (storage, key, opening): nothing decided, try again at the next sync. */
    data class Failed(val error: Exception) : PolicySyncResult()
}

/**
 * Applies the managed configuration's trust root and policy bundle through the core.
 *
 * - **Enrollment.** While the core has no trust root (`trustRootInstalled`), the configured
 *   `trust_root` is installed with `device_id` and `device_groups`. Without `device_id` nothing
 *   is installed.
 * - **Rotation.** Once a root is installed, the configured `trust_root` is offered as a rotation
 *   (`applyRootUpdate`) on every sync, before the bundle (which may be signed under the new
 *   root): the root in force comes back `changed=false`, a newer one signed by the current
 *   root's keys is put in force. A refused rotation is reported in place of the bundle's
 *   outcome (the policy in force stays, as `inForce`) until the console fixes `trust_root`.
 * - A root the core refused is not offered again until `trust_root` changes.
 * - **Bundle.** The configured `policy_bundle` is given to the core on every sync; the core
 *   answers `changed=false` for the bundle already in force, and refuses (PolicyRejected)
 *   anything it does not accept, keeping the policy in force.
 *
 * Syncs run one at a time. The state kept here is only what avoids repeated install calls;
 * it lives in memory, so a new process asks the core again.
 */
class PolicySync(private val agent: PolicyAgent, private val clock: () -> Instant = Instant::now) {
    private val lock = Mutex()
    private var rootKnown = false
    private var refusedRoot: Pair<String, PolicySyncResult.Rejected>? = null

    suspend fun sync(config: ManagedConfig, now: Instant = clock()): PolicySyncResult = lock.withLock {
        try {
            syncLocked(config, now)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            PolicySyncResult.Failed(e)
        }
    }

    private suspend fun syncLocked(config: ManagedConfig, now: Instant): PolicySyncResult {
        var installed = false
        var rotatedTo: ULong? = null
        // Why enrollment did not happen, reported when the bundle cannot be applied without it.
        var enrollment: PolicySyncResult? = null
        // A rotation the core refused: reported whatever the bundle's outcome.
        var refusedRotation: PolicySyncResult.Rejected? = null
        if (!rootKnown) rootKnown = agent.trustRootInstalled()
        val root = config.trustRoot
        if (root != null) {
            val deviceId = config.deviceId
            val digest = sha256(root)
            val refused = refusedRoot?.takeIf { it.first == digest }?.second
            when {
                refused != null -> if (rootKnown) refusedRotation = refused else enrollment = refused
                rootKnown -> try {
                    val update = agent.applyRootUpdate(root.toByteArray(Charsets.UTF_8), now)
                    if (update.changed) rotatedTo = update.version
                } catch (e: PortcullisException.PolicyRejected) {
                    val rejected = PolicySyncResult.Rejected(ManagedConfigKeys.TRUST_ROOT, e.code, e.reason, null)
                    refusedRoot = digest to rejected
                    refusedRotation = rejected
                }
                deviceId == null -> enrollment = PolicySyncResult.Problem(
                    "${ManagedConfigKeys.DEVICE_ID} is not set: the ${ManagedConfigKeys.TRUST_ROOT} is installed " +
                        "only together with the device's enrollment id (and ${ManagedConfigKeys.DEVICE_GROUPS})",
                )
                else -> try {
                    agent.installTrustRoot(root.toByteArray(Charsets.UTF_8), deviceId, config.deviceGroups, now)
                    rootKnown = true
                    installed = true
                } catch (e: PortcullisException.InvalidInput) {
                    enrollment = PolicySyncResult.Problem("${ManagedConfigKeys.TRUST_ROOT} not installed: ${e.field}: ${e.reason}")
                } catch (e: PortcullisException.PolicyRejected) {
                    val rejected = PolicySyncResult.Rejected(ManagedConfigKeys.TRUST_ROOT, e.code, e.reason, null)
                    refusedRoot = digest to rejected
                    enrollment = rejected
                }
            }
        }
        val outcome = applyBundle(config, now, installed, rotatedTo, enrollment)
        return refusedRotation?.copy(inForce = inForce()) ?: outcome
    }

    private suspend fun applyBundle(
        config: ManagedConfig,
        now: Instant,
        installed: Boolean,
        rotatedTo: ULong?,
        enrollment: PolicySyncResult?,
    ): PolicySyncResult {

        val bundle = config.policyBundle ?: return enrollment ?: PolicySyncResult.NoBundle(installed, rotatedTo)
        return try {
            val status = agent.applyPolicy(bundle.toByteArray(Charsets.UTF_8), now)
            rootKnown = true
            if (status.changed) {
                PolicySyncResult.Applied(status, installed, rotatedTo)
            } else {
                PolicySyncResult.Unchanged(status, rotatedTo)
            }
        } catch (e: PortcullisException.PolicyRejected) {
            PolicySyncResult.Rejected(ManagedConfigKeys.POLICY_BUNDLE, e.code, e.reason, inForce())
        } catch (e: PortcullisException.NotEnrolled) {
            // No trust root yet: the enrollment's reason says why.
            enrollment ?: PolicySyncResult.Problem("${ManagedConfigKeys.POLICY_BUNDLE} not applied: no trust root is installed")
        } catch (e: PortcullisException.InvalidInput) {
            enrollment ?: PolicySyncResult.Problem("${ManagedConfigKeys.POLICY_BUNDLE} not applied: ${e.field}: ${e.reason}")
        }
    }

    private suspend fun inForce(): PolicyStatus? = try {
        agent.policyStatus()
    } catch (e: PortcullisException) {
        null
    }

    private fun sha256(text: String): String = Inventory.sha256Hex(text.toByteArray(Charsets.UTF_8))
}

/**
 * A [PolicySyncResult] as the keyed app state `portcullis.policy` (one key: each sync's
 * state replaces the last). `ERROR` for a refusal, a problem or a failure, `INFO` otherwise.
 * The message carries the refusal code; neither message nor data carries the bundle or root.
 */
object PolicyStateEncoding {
    const val KEY = "portcullis.policy"
    const val FORMAT_VERSION = 1
    private const val MAX_REASON = 400

    fun encode(result: PolicySyncResult): KeyedStateSpec {
        val (severity, message, fields) = when (result) {
            is PolicySyncResult.Applied -> Triple(
                KeyedAppStateLimits.SEVERITY_INFO,
                "policy version ${result.status.version} applied" +
                    (if (result.rootInstalled) " (trust root installed)" else "") + rotated(result.rootRotatedTo),
                listOf("state" to Json.str("applied")) + status(result.status) + rotation(result.rootRotatedTo),
            )
            is PolicySyncResult.Unchanged -> Triple(
                KeyedAppStateLimits.SEVERITY_INFO,
                "policy version ${result.status.version} in force" + rotated(result.rootRotatedTo),
                listOf("state" to Json.str("in_force")) + status(result.status) + rotation(result.rootRotatedTo),
            )
            is PolicySyncResult.NoBundle -> Triple(
                KeyedAppStateLimits.SEVERITY_INFO,
                "no ${ManagedConfigKeys.POLICY_BUNDLE} configured" +
                    (if (result.rootInstalled) " (trust root installed)" else "") + rotated(result.rootRotatedTo),
                listOf("state" to Json.str("no_bundle")) + rotation(result.rootRotatedTo),
            )
            is PolicySyncResult.Rejected -> Triple(
                KeyedAppStateLimits.SEVERITY_ERROR,
                "${result.input} refused: ${result.code}" +
                    (result.inForce?.let { " (policy version ${it.version} stays in force)" } ?: ""),
                listOf(
                    "state" to Json.str("rejected"),
                    "input" to Json.str(result.input),
                    "code" to Json.str(AlertEncoding.truncate(result.code, 64)),
                    "reason" to Json.str(AlertEncoding.truncate(result.reason, MAX_REASON)),
                    "in_force" to (result.inForce?.let { Json.obj(*status(it).toTypedArray()) } ?: "null"),
                ),
            )
            is PolicySyncResult.Problem -> Triple(
                KeyedAppStateLimits.SEVERITY_ERROR,
                "managed configuration not applied: ${result.reason}",
                listOf("state" to Json.str("problem"), "reason" to Json.str(AlertEncoding.truncate(result.reason, MAX_REASON))),
            )
            is PolicySyncResult.Failed -> Triple(
                KeyedAppStateLimits.SEVERITY_ERROR,
                "policy not applied: ${result.error.javaClass.simpleName} (retried at the next sync)",
                listOf("state" to Json.str("failed"), "error" to Json.str(result.error.javaClass.simpleName)),
            )
        }
        val data = Json.obj("v" to Json.num(FORMAT_VERSION.toLong()), *fields.toTypedArray())
        return KeyedStateSpec(
            key = KEY,
            severity = severity,
            message = AlertEncoding.truncate(message.replace('\n', ' ').replace('\r', ' '), KeyedAppStateLimits.MAX_MESSAGE_LENGTH),
            data = if (data.length <= KeyedAppStateLimits.MAX_DATA_LENGTH) {
                data
            } else {
                Json.obj("v" to Json.num(FORMAT_VERSION.toLong()), fields.first(), "truncated" to "true")
            },
        )
    }

    private fun rotated(version: ULong?): String = version?.let { " (trust root rotated to version $it)" } ?: ""

    private fun rotation(version: ULong?): List<Pair<String, String>> =
        version?.let { listOf("root_rotated_to" to Json.num(it)) } ?: emptyList()

    private fun status(s: PolicyStatus): List<Pair<String, String>> = listOf(
        "version" to Json.num(s.version),
        "root_version" to Json.num(s.rootVersion),
        "payload_sha256" to Json.str(s.payloadSha256),
        "expires" to Json.str(s.expires.toString()),
    )
}
