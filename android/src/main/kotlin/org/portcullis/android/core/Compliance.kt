// Compliance on the phone: the inventory and settings become the core's device snapshot
// (portcullis/snapshot/v1, docs/compliance.md), the core judges it against the policy in
// force, and the remediation actions it asks for go to the enforcer. Nothing is judged here.

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import org.portcullis.AgentInterface
import org.portcullis.ComplianceReport
import org.portcullis.PortcullisException
import org.portcullis.RemediationAction

/** Builds the snapshot JSON the core's `evaluateCompliance` reads. */
object ComplianceSnapshots {
    const val SCHEMA = "portcullis/snapshot/v1"

    /**
     * [packages] `null`: the inventory could not be read (every app rule is then unknown);
     * [uninstallBlocked] `null`: not observed. Facts the settings leave `null` are left out:
     * absent means "not observed" to the core, never "compliant".
     */
    fun json(
        collectedAt: Instant,
        deviceOwner: Boolean,
        settings: SettingsSnapshot,
        packages: List<InstalledPackage>?,
        agentPackage: String,
        uninstallBlocked: Boolean?,
    ): String {
        val os = buildList {
            add("apiLevel" to Json.num(settings.sdkInt.toLong()))
            settings.securityPatch?.takeIf(::isDate)?.let { add("securityPatchLevel" to Json.str(it)) }
        }
        val fields = buildList {
            add("schema" to Json.str(SCHEMA))
            add("platform" to Json.str("android"))
            add("deviceOwner" to deviceOwner.toString())
            add("collectedAt" to Json.str(collectedAt.toString()))
            add("os" to Json.obj(*os.toTypedArray()))
            add("settings" to settings(settings))
            packages?.let { list -> add("apps" to list.distinctBy { it.packageName }.joinToString(",", "[", "]") { app(it) }) }
            add(
                "agent" to Json.obj(
                    *buildList {
                        add("packageName" to Json.str(agentPackage))
                        uninstallBlocked?.let { add("uninstallBlocked" to it.toString()) }
                    }.toTypedArray(),
                ),
            )
        }
        return Json.obj(*fields.toTypedArray())
    }

    /** `ENCRYPTION_STATUS_*` as the snapshot's three-way fact; `null` while encryption is still being set up. */
    fun encryption(status: Int, deviceSecure: Boolean): String? = when (status) {
        EncryptionStatuses.UNSUPPORTED, EncryptionStatuses.INACTIVE -> "UNENCRYPTED"
        EncryptionStatuses.ACTIVE_DEFAULT_KEY -> "ENCRYPTED_WITHOUT_PASSWORD"
        EncryptionStatuses.ACTIVE_PER_USER -> "ENCRYPTED_WITH_PASSWORD"
        // Full-disk encryption: the key is bound to the lock screen only when one is set.
        EncryptionStatuses.ACTIVE -> if (deviceSecure) "ENCRYPTED_WITH_PASSWORD" else "ENCRYPTED_WITHOUT_PASSWORD"
        else -> null
    }

    /** `PASSWORD_COMPLEXITY_*` as the snapshot's band; `null` for a value this module does not know. */
    fun passwordComplexity(value: Int): String? = when (value) {
        PasswordComplexities.NONE -> "NONE"
        PasswordComplexities.LOW -> "LOW"
        PasswordComplexities.MEDIUM -> "MEDIUM"
        PasswordComplexities.HIGH -> "HIGH"
        else -> null
    }

    private fun settings(s: SettingsSnapshot): String {
        val fields = buildList {
            s.passwordComplexity?.let(::passwordComplexity)?.let { add("passwordComplexity" to Json.str(it)) }
            s.maximumFailedPasswordsForWipe?.let { add("maximumFailedPasswordsForWipe" to Json.num(it.toLong())) }
            s.maximumTimeToLockMs?.let { add("maximumTimeToLock" to Json.num(it)) }
            s.encryptionStatus?.let { encryption(it, s.deviceSecure) }?.let { add("encryption" to Json.str(it)) }
            s.unknownSourcesAllowed?.let { add("unknownSourcesAllowed" to it.toString()) }
            add("developerOptionsEnabled" to s.developerSettings.toString())
            s.verifyAppsEnabled?.let { add("verifyAppsEnabled" to it.toString()) }
            add("usbDebuggingEnabled" to s.adbEnabled.toString())
            s.adbWifiEnabled?.let { add("wirelessDebuggingEnabled" to it.toString()) }
            s.cellular2gEnabled?.let { add("cellular2gEnabled" to it.toString()) }
            s.mobileNetworksConfigDisabled?.let { add("mobileNetworksConfigDisabled" to it.toString()) }
            s.usbDataAccess?.takeIf { it in USB_DATA_ACCESS }?.let { add("usbDataAccess" to Json.str(it)) }
            s.userCaCertsSha256?.let { certs -> add("userCaCertsSha256" to certs.distinct().joinToString(",", "[", "]") { Json.str(it) }) }
            s.accessibilityServices?.let { services ->
                add(
                    "accessibilityServices" to services.distinctBy { it.first }.joinToString(",", "[", "]") { (pkg, system) ->
                        Json.obj("packageName" to Json.str(pkg), "system" to system.toString())
                    },
                )
            }
        }
        return Json.obj(*fields.toTypedArray())
    }

    // The core's parser is strict: one value out of its range would fail the whole snapshot,
    // so a value an app controls and the core cannot take is left out (not observed) instead.
    private fun app(p: InstalledPackage): String {
        val certs = p.signingCertsSha256.distinct()
        val fields = buildList {
            add("id" to Json.str(p.packageName))
            // A negative versionCodeMajor makes the long version code negative.
            if (p.versionCode >= 0) add("versionCode" to Json.num(p.versionCode))
            if (p.system) add("system" to "true")
            if (p.installerObserved) {
                add("installSource" to (p.installer?.let { Json.obj("installingPackageName" to Json.str(it)) } ?: "{}"))
            }
            if (certs.isNotEmpty() && certs.size <= MAX_CERTS_PER_APP) {
                add("signingCertsSha256" to certs.joinToString(",", "[", "]") { Json.str(it) })
            }
        }
        return Json.obj(*fields.toTypedArray())
    }

    /** The core's limit on signing certificates per app. */
    const val MAX_CERTS_PER_APP = 16

    /** A real calendar date `YYYY-MM-DD` (the core refuses 2024-02-30). */
    fun isDate(text: String): Boolean = PATCH_DATE.matches(text) &&
        runCatching { java.time.LocalDate.parse(text) }.isSuccess

    private val PATCH_DATE = Regex("""\d{4}-\d{2}-\d{2}""")
    private val USB_DATA_ACCESS = setOf("ALLOW_USB_DATA_TRANSFER", "DISALLOW_USB_FILE_TRANSFER", "DISALLOW_USB_DATA_TRANSFER")
}

/** The agent calls the compliance loop makes (the real agent through [complianceAgentOf], or a test double). */
interface ComplianceAgent {
    suspend fun evaluateCompliance(snapshotJson: String, now: Instant): ComplianceReport
    suspend fun takeActions(now: Instant): List<RemediationAction>
}

/** [ComplianceAgent] over [agent] (or the agent it returns, opened lazily). */
fun complianceAgentOf(agent: suspend () -> AgentInterface): ComplianceAgent = object : ComplianceAgent {
    override suspend fun evaluateCompliance(snapshotJson: String, now: Instant): ComplianceReport =
        agent().evaluateCompliance(snapshotJson, now)

    override suspend fun takeActions(now: Instant): List<RemediationAction> = agent().takeActions(now)
}

/** What one compliance pass did. */
sealed class CompliancePass {
    /**
     * The core took nothing to judge ([reason]: no policy in force yet, or a snapshot it
     * refused); the next pass waits for a change or a day, since the same input would give
     * the same answer.
     */
    data class Skipped(val reason: String) : CompliancePass()

    /** The core judged the snapshot; [enforcement] is what became of the actions it asked for. */
    data class Evaluated(val report: ComplianceReport, val enforcement: EnforcementReport) : CompliancePass()

    /** Reading the device or the core failed; nothing was decided, the next pass tries again. */
    data class Failed(val error: Exception) : CompliancePass()
}

/**
 * Runs compliance passes: when something changed ([markChanged]: packages, settings, a new
 * policy) and when the core's wake-up duties ask for one (its daily cadence).
 * A pass reads the device ([snapshot]), lets the core judge it, takes the actions the core
 * asks for (each handed out once) and carries out the AGENT-routed ones with [enforcer].
 *
 * Passes must not overlap: the glue runs them from its ordered input queue, one at a time.
 */
class ComplianceLoop(
    private val agent: ComplianceAgent,
    private val enforcer: Enforcer,
    private val sdkInt: Int,
    private val snapshot: (Instant) -> String,
) {
    @Volatile
    private var changed = true

    /** Packages, settings or the policy changed: the next [due] check says yes. Any thread. */
    fun markChanged() {
        changed = true
    }

    /** Whether a pass is due: something changed, or the core's duties asked ([coreAsked]). */
    fun due(coreAsked: Boolean = false): Boolean = changed || coreAsked

    suspend fun run(now: Instant): CompliancePass {
        changed = false
        return try {
            val report = agent.evaluateCompliance(snapshot(now), now)
            val actions = agent.takeActions(now).map { Enforcement.request(it.route, it.rule, it.actionJson) }
            CompliancePass.Evaluated(report, enforcer.carryOutAll(actions, sdkInt))
        } catch (e: CancellationException) {
            throw e
        } catch (e: PortcullisException.InvalidInput) {
            // No policy in force: nothing to judge until one arrives (markChanged); the core
            // asks for no pass meanwhile, so no inventory scan at every wake-up.
            CompliancePass.Skipped(e.reason)
        } catch (e: Exception) {
            changed = true // retried at the next due check
            CompliancePass.Failed(e)
        }
    }

    /** [run] when [due]; `null` otherwise. */
    suspend fun runIfDue(now: Instant, coreAsked: Boolean = false): CompliancePass? =
        if (due(coreAsked)) run(now) else null
}

/** For a phone where this app is not the device owner: every AGENT action is reported not done. */
object NoEnforcer : Enforcer {
    override fun carryOut(action: Action): ActionOutcome =
        ActionOutcome.Unsupported("no device-admin component configured: this app cannot enforce")
}

/**
 * A compliance pass as the keyed app state `portcullis.compliance`: whether the device
 * complies, how many rules are open, and the actions the console must know about — those
 * routed to the MDM and those the agent could not carry out, by rule and action kind. Lists
 * are cut to the keyed state's 1,000 characters, with the count left out.
 */
object ComplianceStateEncoding {
    const val KEY = "portcullis.compliance"

    fun encode(pass: CompliancePass.Evaluated): KeyedStateSpec {
        val forMdm = pass.enforcement.forMdm.map { Json.obj("rule" to rule(it), "action" to Json.str(label(it.action))) }
        val notDone = pass.enforcement.notDone
            .filter { it.second != ActionOutcome.ForMdm }
            .map { (requested, outcome) ->
                Json.obj(
                    "rule" to rule(requested),
                    "action" to Json.str(label(requested.action)),
                    "why" to Json.str(AlertEncoding.truncate(outcome.toString(), 120)),
                )
            }
        val compliant = pass.report.compliant
        val head = listOf(
            "v" to Json.num(1L),
            "compliant" to compliant.toString(),
            "open_rules" to Json.num(pass.report.openRules.toLong()),
        )
        // Fill for_mdm, then not_done, as far as the limit allows.
        val budget = KeyedAppStateLimits.MAX_DATA_LENGTH - Json.obj(*head.toTypedArray()).length - 80
        val (mdmKept, left) = fit(forMdm, budget)
        val (notDoneKept, _) = fit(notDone, left)
        val data = Json.obj(
            *head.toTypedArray(),
            "for_mdm" to mdmKept.joinToString(",", "[", "]"),
            "not_done" to notDoneKept.joinToString(",", "[", "]"),
            "left_out" to Json.num((forMdm.size - mdmKept.size + notDone.size - notDoneKept.size).toLong()),
        )
        val message = (if (compliant) "compliant" else "not compliant: ${pass.report.openRules} open rule(s)") +
            (if (forMdm.isNotEmpty()) ", ${forMdm.size} action(s) for the MDM" else "") +
            (if (notDone.isNotEmpty()) ", ${notDone.size} not carried out" else "")
        return KeyedStateSpec(
            key = KEY,
            severity = if (compliant && notDone.isEmpty()) KeyedAppStateLimits.SEVERITY_INFO else KeyedAppStateLimits.SEVERITY_ERROR,
            message = AlertEncoding.truncate(message, KeyedAppStateLimits.MAX_MESSAGE_LENGTH),
            data = data,
        )
    }

    /** A short name for an action: its kind, and for a measure its kind (and restriction). */
    fun label(action: Action): String = when (action) {
        is Action.Apply -> "APPLY ${measure(action.measure)}"
        is Action.Lift -> "LIFT ${measure(action.measure)}"
        is Action.NotifyUser -> "NOTIFY_USER"
        is Action.RemoveCaCert -> "REMOVE_CA_CERT"
        Action.LockDevice -> "LOCK_DEVICE"
        is Action.WipeDevice -> "WIPE_DEVICE"
        is Action.Unsupported -> "UNREADABLE"
    }

    private fun measure(m: Measure): String = when (m) {
        is Measure.UserRestriction -> "USER_RESTRICTION ${m.constant}"
        else -> m.javaClass.simpleName
    }

    private fun rule(a: RequestedAction): String = a.rule?.let { Json.str(it) } ?: "null"

    private fun fit(items: List<String>, budget: Int): Pair<List<String>, Int> {
        var left = budget
        val kept = items.takeWhile { item -> (item.length + 1 <= left).also { if (it) left -= item.length + 1 } }
        return kept to left
    }
}
