// Signed console instructions on the phone: envelopes from a push channel go to the core
// (the managed configuration's `instructions` go through the core's syncManagedConfig), which verifies them
// against the trust root's operations role and decides. What the core hands back as
// actions is carried out here (AGENT route) or published for the MDM (MDM route), and
// what became of each is reported back. Nothing is verified or chosen here.

package org.portcullis.android.core

import org.portcullis.ConsoleMessage
import org.portcullis.ActionOutcome
import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.AttestationAnswer
import org.portcullis.AttestationReceipt
import org.portcullis.ChannelOutcome
import org.portcullis.ActionRoute
import org.portcullis.HandedAction
import org.portcullis.InstructionAction
import org.portcullis.InstructionResult
import org.portcullis.PortcullisException
import org.portcullis.consoleActionForMdm
import org.portcullis.consoleInstructions
import org.portcullis.mdmPublicationOutcome

/** The agent calls instructions make (the real agent through [instructionAgentOf], or a test double). */
interface InstructionAgent {
    suspend fun applyInstruction(envelope: ByteArray, now: Instant): InstructionResult
    suspend fun reportActionOutcome(actionId: String, outcome: ActionOutcome, now: Instant): List<Alert>
    suspend fun actionsAwaitingOutcome(): List<HandedAction>
    suspend fun submitAttestation(actionId: String, answer: AttestationAnswer, now: Instant): AttestationReceipt
}

/** [InstructionAgent] over [agent] (or the agent it returns, opened lazily). */
fun instructionAgentOf(agent: suspend () -> AgentInterface): InstructionAgent = object : InstructionAgent {
    override suspend fun applyInstruction(envelope: ByteArray, now: Instant): InstructionResult =
        agent().applyInstruction(envelope, now)

    override suspend fun reportActionOutcome(actionId: String, outcome: ActionOutcome, now: Instant): List<Alert> =
        agent().reportActionOutcome(actionId, outcome, now)

    override suspend fun actionsAwaitingOutcome(): List<HandedAction> = agent().actionsAwaitingOutcome()

    override suspend fun submitAttestation(actionId: String, answer: AttestationAnswer, now: Instant): AttestationReceipt =
        agent().submitAttestation(actionId, answer, now)
}

/**
 * What the phone itself can do for an instruction (the Android implementation is
 * `DevicePolicyEnforcer`). Answers are the core's [ActionOutcome]: `NotPossible` when
 * this device or deployment cannot, `Failed` when the platform refused.
 */
interface InstructionDevice {
    /** `DevicePolicyManager.lockNow`. */
    fun lockNow(): ActionOutcome

    /** Removes the work profile (profile owner); a fully managed phone has no separate work data. */
    fun wipeWorkData(preserveFrp: Boolean): ActionOutcome

    /** Factory reset, keeping factory-reset protection data when [preserveFrp]. */
    fun wipeDevice(preserveFrp: Boolean): ActionOutcome

    /** Shows the person carrying the phone a notice. */
    fun showNotice(title: String, body: String): ActionOutcome

    /** Rotates what platform keys can be rotated without re-enrollment. */
    fun rotateKeys(): ActionOutcome
}

/** A phone where this app cannot act (no device-admin component): every action is reported not possible. */
object NoInstructionDevice : InstructionDevice {
    private val none = ActionOutcome.NotPossible("no device-admin component configured: this app cannot act")
    override fun lockNow() = none
    override fun wipeWorkData(preserveFrp: Boolean) = none
    override fun wipeDevice(preserveFrp: Boolean) = none
    override fun showNotice(title: String, body: String) = none
    override fun rotateKeys() = none
}

/** What became of one handed action on this pass. */
sealed class ActionHandling {
    /** Reported to the core as [outcome]. */
    data class Reported(val outcome: ActionOutcome) : ActionHandling()

    /**
     * Not reported yet (the MDM channel did not take it, or the core could not store the
     * outcome): the action stays awaiting and is tried again at the next pass.
     */
    data class Pending(val reason: String) : ActionHandling()
}

/** What one instruction pass (a managed-config sync or a pushed envelope) did. */
data class InstructionPass(
    /** The core's answer for each envelope, in the order it applied them; empty when [error] is set. */
    val results: List<InstructionResult>,
    /** Every action awaiting an outcome at this pass (new ones and earlier leftovers) and what became of it. */
    val actions: List<Pair<HandedAction, ActionHandling>>,
    /** Alerts the core queued during the pass (refusals, windows, carrier results, outcomes). */
    val alerts: List<Alert>,
    /** The agent failed (storage, no trust root, opening): nothing was applied; the next sync tries again. */
    val error: Exception? = null,
)

/**
 * Hands instructions to the core and carries out what it hands back.
 *
 * - **Managed configuration.** The core's `syncManagedConfig` applies the `instructions`
 *   list; [handleAwaiting] then carries out what it handed out.
 * - **Push.** [apply] takes one envelope.
 * - **Actions.** After either, every action the core still awaits an outcome for is
 *   handled: AGENT-routed ones through [device] (lock, wipes, notice, keys) or [inspect]
 *   (the inspection loop, for `StartInspection`); MDM-routed ones are published with
 *   [publishForMdm] as a keyed app state the MDM reads. Each outcome is reported to the
 *   core; an MDM publication the channel did not take stays awaiting and is retried.
 *
 * Calls must not overlap: the glue makes them from its ordered input queue.
 */
class InstructionLoop(
    private val agent: InstructionAgent,
    private val device: InstructionDevice,
    private val publishForMdm: suspend (ConsoleMessage) -> ChannelOutcome,
    /** Carries out `Attest` actions; without one they are reported not possible. */
    private val attestor: KeyAttestor? = null,
    private val inspect: suspend (Instant) -> InspectionPass,
) {
    /** One envelope from a push channel. */
    suspend fun apply(envelope: ByteArray, now: Instant): InstructionPass =
        pass(now) { listOf(agent.applyInstruction(envelope, now)) }

    /** Handles actions left awaiting an outcome (after a restart, or a publication not taken). */
    suspend fun handleAwaiting(now: Instant): InstructionPass = pass(now) { emptyList() }

    private suspend fun pass(now: Instant, apply: suspend () -> List<InstructionResult>): InstructionPass {
        val results = try {
            apply()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            return InstructionPass(emptyList(), emptyList(), emptyList(), e)
        }
        val alerts = results.flatMap(::alertsOf).toMutableList()
        val awaiting = try {
            agent.actionsAwaitingOutcome()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            return InstructionPass(results, emptyList(), alerts, e)
        }
        val handled = awaiting.map { handed ->
            val action = handed.action
            if (handed.route == ActionRoute.AGENT && action is InstructionAction.Attest) {
                return@map handed to attest(handed, action, now, alerts)
            }
            val handling = when (val outcome = carryOut(handed, now)) {
                null -> ActionHandling.Pending("the MDM channel did not take it")
                else -> try {
                    alerts += agent.reportActionOutcome(handed.actionId, outcome, now)
                    ActionHandling.Reported(outcome)
                } catch (e: CancellationException) {
                    throw e
                } catch (e: PortcullisException.InvalidInput) {
                    // Reported meanwhile (another pass): nothing is owed any more.
                    ActionHandling.Reported(outcome)
                } catch (e: Exception) {
                    ActionHandling.Pending("outcome not stored: ${e.javaClass.simpleName}")
                }
            }
            handed to handling
        }
        return InstructionPass(results, handled, alerts)
    }

    /**
     * An `Attest` action: the attested key's chain goes back to the core, which journals it
     * and returns the console messages (`portcullis.attestation.<part>`) published here;
     * the core counts the action carried out once it has the chain. A keystore failure is
     * reported as the action's outcome; a core that could not store the answer leaves the
     * action awaiting, to be attested again at the next pass.
     */
    private suspend fun attest(
        handed: HandedAction,
        action: InstructionAction.Attest,
        now: Instant,
        alerts: MutableList<Alert>,
    ): ActionHandling {
        val result = attestor?.attest(action.challenge, action.certify)
            ?: AttestationResult.NotDone(ActionOutcome.NotPossible("no keystore for key attestation in this deployment"))
        return when (result) {
            is AttestationResult.NotDone -> {
                val outcome = result.outcome
                try {
                    alerts += agent.reportActionOutcome(handed.actionId, outcome, now)
                    ActionHandling.Reported(outcome)
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    ActionHandling.Pending("outcome not stored: ${e.javaClass.simpleName}")
                }
            }
            is AttestationResult.Answer -> try {
                val receipt = agent.submitAttestation(handed.actionId, result.answer, now)
                alerts += receipt.alerts
                receipt.messages.forEach { publish(it) }
                ActionHandling.Reported(ActionOutcome.CarriedOut)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                ActionHandling.Pending("attestation not stored: ${e.javaClass.simpleName}")
            }
        }
    }

    /** The outcome to report, or `null` to leave the action awaiting. */
    private suspend fun carryOut(handed: HandedAction, now: Instant): ActionOutcome? = when (handed.route) {
        // Handed to the MDM is what the agent can do: the MDM's own command carries it out,
        // so the core makes the console hear "handed to the MDM", never "carried out".
        ActionRoute.MDM -> mdmPublicationOutcome(publish(InstructionStateEncoding.forMdm(handed, now)))
        // The core reports these itself and never hands them out; should one arrive, say so.
        ActionRoute.NOT_POSSIBLE -> ActionOutcome.NotPossible("not possible in this deployment")
        ActionRoute.AGENT -> when (val action = handed.action) {
            is InstructionAction.StartInspection -> when (val pass = inspect(now)) {
                is InspectionPass.Submitted -> ActionOutcome.CarriedOut
                InspectionPass.NoWindow -> ActionOutcome.Failed("no inspection window was open")
                is InspectionPass.Failed -> ActionOutcome.Failed("inspection failed: ${pass.error.javaClass.simpleName}")
            }
            InstructionAction.LockNow -> onDevice { device.lockNow() }
            is InstructionAction.WipeWorkData -> onDevice { device.wipeWorkData(action.preserveFrp) }
            is InstructionAction.WipeDevice -> onDevice { device.wipeDevice(action.preserveFrp) }
            is InstructionAction.ShowNotice -> onDevice { device.showNotice(action.title, action.body) }
            InstructionAction.RotateKeys -> onDevice { device.rotateKeys() }
            // Handled by [attest] before this is reached.
            is InstructionAction.Attest -> ActionOutcome.NotPossible("key attestation is answered with its chain")
        }
    }

    /** The device's answer (the core bounds its reason); a platform exception is a failure. */
    private inline fun onDevice(call: () -> ActionOutcome): ActionOutcome = try {
        call()
    } catch (e: RuntimeException) {
        ActionOutcome.Failed("the platform threw ${e.javaClass.simpleName}")
    }

    private suspend fun publish(state: ConsoleMessage): ChannelOutcome = try {
        publishForMdm(state)
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        ChannelOutcome.Failed("the channel threw ${e.javaClass.simpleName}")
    }

    private fun alertsOf(result: InstructionResult): List<Alert> = when (result) {
        is InstructionResult.Applied -> result.alerts
        is InstructionResult.Refused -> result.alerts
        is InstructionResult.Unchanged -> emptyList()
    }
}

/**
 * Instructions as keyed app states, built by the core (`portcullis/console/v1`):
 * `portcullis.instructions` for the last pass, `portcullis.instruction.<action id>` for an
 * action routed to the MDM. Neither carries an envelope, a key or a phone identifier.
 */
object InstructionStateEncoding {
    fun forMdm(handed: HandedAction, now: Instant): ConsoleMessage = consoleActionForMdm(handed, now)

    fun encode(pass: InstructionPass, now: Instant): ConsoleMessage = consoleInstructions(
            pass.results,
            pass.actions.count { it.second is ActionHandling.Pending }.toUInt(),
            pass.error?.javaClass?.simpleName,
            now,
        )
}
