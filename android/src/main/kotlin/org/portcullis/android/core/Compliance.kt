// Compliance on the phone: the inventory and settings become the core's typed device
// snapshot (the library's `ComplianceSnapshot` record; docs/compliance.md), the core judges it
// against the policy in force and checks every limit, and the remediation actions it asks for
// go to the enforcer. Nothing is judged here.

package org.portcullis.android.core

import org.portcullis.ActionOutcome
import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import org.portcullis.AgentInterface
import org.portcullis.AndroidPackage
import org.portcullis.AndroidSettings
import org.portcullis.androidComplianceSnapshot
import org.portcullis.ComplianceReport
import org.portcullis.ActionHandled
import org.portcullis.RemediationAction
import org.portcullis.ComplianceSnapshot
import org.portcullis.ConsoleMessage
import org.portcullis.PackageRoles
import org.portcullis.PortcullisException
import org.portcullis.Remediation
import org.portcullis.consoleCompliancePass

/** The snapshot the core's `evaluateCompliance` judges, built by the core from the readings as they are. */
object ComplianceSnapshots {
    /** [packages] `null`: the inventory could not be read; [uninstallBlocked] `null`: not observed. */
    fun snapshot(
        collectedAt: Instant,
        deviceOwner: Boolean,
        settings: AndroidSettings,
        packages: List<AndroidPackage>?,
        agentPackage: String,
        uninstallBlocked: Boolean?,
        delegatedScopes: List<String> = emptyList(),
        packageRoles: PackageRoles? = null,
    ): ComplianceSnapshot =
        androidComplianceSnapshot(collectedAt, deviceOwner, settings, packages, agentPackage, uninstallBlocked, delegatedScopes, packageRoles)
}

/** The agent calls the compliance loop makes (the real agent through [complianceAgentOf], or a test double). */
interface ComplianceAgent {
    suspend fun evaluateCompliance(snapshot: ComplianceSnapshot, now: Instant): ComplianceReport
    suspend fun takeActions(now: Instant): List<RemediationAction>
}

/** [ComplianceAgent] over [agent] (or the agent it returns, opened lazily). */
fun complianceAgentOf(agent: suspend () -> AgentInterface): ComplianceAgent = object : ComplianceAgent {
    override suspend fun evaluateCompliance(snapshot: ComplianceSnapshot, now: Instant): ComplianceReport =
        agent().evaluateCompliance(snapshot, now)

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
    data class Evaluated(val report: ComplianceReport, val enforcement: EnforcementReport) : CompliancePass() {
        /** The pass as the core's console message `portcullis.compliance`. */
        fun console(now: Instant): ConsoleMessage = consoleCompliancePass(
            report.compliant,
            report.openRules,
            enforcement.outcomes.map { (requested, outcome) -> ActionHandled(requested, outcome) },
            now,
        )
    }

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
    private val snapshot: (Instant) -> ComplianceSnapshot,
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
            CompliancePass.Evaluated(report, enforcer.carryOutAll(agent.takeActions(now)))
        } catch (e: CancellationException) {
            throw e
        } catch (e: PortcullisException.NoPolicy) {
            // Nothing to judge until a policy arrives (markChanged); the core asks for no
            // pass meanwhile, so no inventory scan at every wake-up.
            CompliancePass.Skipped("no policy in force")
        } catch (e: PortcullisException.InvalidInput) {
            // The core refused a field of the snapshot: the same device gives the same answer
            // until something changes or the core's cadence asks again.
            CompliancePass.Skipped("${e.field}: ${e.reason}")
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
    override fun carryOut(action: Remediation): ActionOutcome =
        ActionOutcome.NotPossible("no device-admin component configured: this app cannot enforce")
}
