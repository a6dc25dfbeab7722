// InstructionLoop against the real core with instructions signed by the console tool
// (scripts/lib/fixtures.sh: an authorisation, carrier checks, a lock_now and a forgery for
// device dev-0001), and against a scripted agent for the MDM route the real core only
// chooses on a phone without device-owner powers.

package org.portcullis.android.jvmtests

import org.portcullis.ChannelOutcome
import java.io.File
import java.time.Instant
import org.portcullis.ActionRoute
import org.portcullis.Agent
import org.portcullis.Alert
import org.portcullis.AttestationAnswer
import org.portcullis.AttestationReceipt
import org.portcullis.android.core.AttestationKeystore
import org.portcullis.android.core.KeyAttestor
import org.portcullis.android.core.StrongBoxUnavailable
import org.portcullis.HandedAction
import org.portcullis.InstructionAction
import org.portcullis.InstructionKind
import org.portcullis.InstructionResult
import org.portcullis.InstructionsSync
import org.portcullis.android.core.ActionHandling
import org.portcullis.ActionOutcome
import org.portcullis.android.core.InspectionPass
import org.portcullis.android.core.InstructionAgent
import org.portcullis.android.core.InstructionDevice
import org.portcullis.android.core.InstructionLoop
import org.portcullis.android.core.InstructionPass
import org.portcullis.android.core.InstructionStateEncoding
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity
import org.portcullis.android.core.managedConfigValues
import org.portcullis.android.core.ManagedConfigKeys
import org.portcullis.android.core.instructionAgentOf

private fun instructionFixtureFile(name: String): File {
    val dir = System.getProperty("portcullis.fixtures") ?: fail("-Dportcullis.fixtures not set (run scripts/android-jvm-tests.sh)")
    return File(dir, name).also { expect(it.isFile) { "missing fixture $it" } }
}

/** An instruction envelope as the console's form holds it: text, with the newline a paste adds. */
private fun signedInstruction(name: String): String = instructionFixtureFile("instructions/$name").readText(Charsets.UTF_8) + "\n"

/** The managed configuration's `instructions` value: one envelope per line. */
private fun managedInstructions(vararg names: String): String = names.joinToString("\n") { signedInstruction(it) }

/**
 * A managed-configuration sync carrying only `instructions`, as the glue runs it: the core's
 * syncManagedConfig applies the list, then the loop carries out what it handed out.
 */
private suspend fun InstructionLoop.syncList(agent: Agent, instructions: String, now: Instant): InstructionPass {
    val sync = agent.syncManagedConfig(managedConfigValues(mapOf(ManagedConfigKeys.INSTRUCTIONS to instructions)), now)
    val results = (sync.instructions as? InstructionsSync.Applied)?.results ?: fail("not applied: ${sync.instructions}")
    val handled = handleAwaiting(now)
    val raised = results.flatMap {
        when (it) {
            is InstructionResult.Applied -> it.alerts
            is InstructionResult.Refused -> it.alerts
            is InstructionResult.Unchanged -> emptyList()
        }
    }
    return handled.copy(results = results, alerts = raised + handled.alerts)
}

/** What the phone was asked to do. */
private class RecordingInstructionDevice(var answer: ActionOutcome = ActionOutcome.CarriedOut) : InstructionDevice {
    val calls = mutableListOf<String>()
    override fun lockNow(): ActionOutcome = answer.also { calls += "lock" }
    override fun wipeWorkData(preserveFrp: Boolean): ActionOutcome = answer.also { calls += "wipe_work_data frp=$preserveFrp" }
    override fun wipeDevice(preserveFrp: Boolean): ActionOutcome = answer.also { calls += "wipe_device frp=$preserveFrp" }
    override fun showNotice(title: String, body: String): ActionOutcome = answer.also { calls += "notice $title" }
    override fun rotateKeys(): ActionOutcome = answer.also { calls += "rotate" }
}

private class PublishedStates(var answer: ChannelOutcome = ChannelOutcome.Sent) {
    val states = mutableListOf<ConsoleMessage>()
    suspend fun send(state: ConsoleMessage): ChannelOutcome = answer.also { states += state }
}

private suspend fun enrolledForInstructions(s: Scratch): Agent {
    val agent = openAgent(s)
    agent.installTrustRoot(instructionFixtureFile("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
    agent.handleConnectivity(org.portcullis.Connectivity(wifi = true, cellularData = false, airplaneMode = false), at(1))
    agent.handleSim(org.portcullis.SimObservation(slot = 0, state = org.portcullis.SimState.READY, iccid = ICCID_A), at(2))
    return agent
}

private fun alertKindsOf(pass: InstructionPass) = pass.alerts.map { it.kindName }

/** A scripted core: hands out [awaiting] and records the outcomes reported. */
private class ScriptedInstructionAgent(val awaiting: MutableList<HandedAction>) : InstructionAgent {
    val reported = mutableListOf<Pair<String, ActionOutcome>>()
    override suspend fun applyInstruction(envelope: ByteArray, now: Instant): InstructionResult =
        InstructionResult.Applied("scripted", 7uL, InstructionKind.WIPE_DEVICE, "wipe_device", awaiting.toList(), emptyList())

    override suspend fun reportActionOutcome(actionId: String, outcome: ActionOutcome, now: Instant): List<Alert> {
        reported += actionId to outcome
        awaiting.removeAll { it.actionId == actionId }
        return emptyList()
    }

    override suspend fun actionsAwaitingOutcome(): List<HandedAction> = awaiting.toList()

    val submitted = mutableListOf<Pair<String, AttestationAnswer>>()
    override suspend fun submitAttestation(actionId: String, answer: AttestationAnswer, now: Instant): AttestationReceipt {
        submitted += actionId to answer
        awaiting.removeAll { it.actionId == actionId }
        return AttestationReceipt(emptyList(), emptyList())
    }
}

/** A keystore that answers with a real chain from ../shared/attestation/, and records its calls. */
private class ScriptedKeystore(
    val strongBox: Boolean = true,
    val failure: Exception? = null,
) : AttestationKeystore {
    val generated = mutableListOf<Pair<String, Boolean>>()
    val signed = mutableListOf<ByteArray>()
    override fun generate(alias: String, challenge: ByteArray, strongBox: Boolean) {
        failure?.let { throw it }
        if (strongBox && !this.strongBox) throw StrongBoxUnavailable()
        generated += challenge.toString(Charsets.UTF_8) to strongBox
    }
    override fun sign(alias: String, data: ByteArray): ByteArray = byteArrayOf(0x30, 0x44, 1, 2).also { signed += data }
    override fun chain(alias: String): List<ByteArray> = realChain()
}

private fun realChain(): List<ByteArray> {
    val pem = File("../shared/attestation/caiman/sdk36/SB_EC_RKP.pem").also { expect(it.isFile) { "missing $it" } }.readText()
    return pem.split("-----BEGIN CERTIFICATE-----").drop(1).map { block ->
        java.util.Base64.getDecoder().decode(block.substringBefore("-----END CERTIFICATE-----").filterNot { it.isWhitespace() })
    }
}

fun instructionTests() {
    test("instructions: attest generates the key with the console's challenge, certifies the checkpoint key and sends the chain") { s ->
        enrolledForInstructions(s).use { agent ->
            val keystore = ScriptedKeystore()
            val published = PublishedStates()
            val loop = InstructionLoop(instructionAgentOf { agent }, RecordingInstructionDevice(), published::send, KeyAttestor(keystore)) { InspectionPass.NoWindow }
            val pass = loop.syncList(agent, managedInstructions("attest-7.instruction"), at(10))
            eq(null, pass.error, "error")
            eq(listOf(ActionHandling.Reported(ActionOutcome.CarriedOut)), pass.actions.map { it.second }, "handling")
            eq(listOf("7ccac1ea-4845-482e-858d-f6fa9aa8" to true), keystore.generated, "generated in StrongBox with the challenge")
            // What the key signed is the core's statement, ending in this device's checkpoint key.
            val action = pass.actions.single().first.action as? InstructionAction.Attest ?: fail("not an attest action")
            expect(keystore.signed.single().contentEquals(action.certify)) { "signed something else" }
            val parts = published.states.filter { it.key.startsWith("portcullis.attestation.") }
            expect(parts.size > 1) { "parts ${published.states.map { it.key }}" }
            eq((1..parts.size).map { "portcullis.attestation.$it" }, parts.map { it.key }, "part keys")
            expect("\"strong_box\":true" in parts.first().data) { parts.first().data }
            expect("instruction_outcome" in alertKindsOf(pass)) { "alerts ${alertKindsOf(pass)}" }
            eq(emptyList<HandedAction>(), agent.actionsAwaitingOutcome(), "awaiting")
        }
    }

    test("instructions: attest falls back from StrongBox and says so; a keystore failure is reported; no keystore is not possible") { _ ->
        val handed = HandedAction("attest-7", 7uL, InstructionAction.Attest("0123456789abcdef".toByteArray(), byteArrayOf(9)), ActionRoute.AGENT)
        val fallbackStore = ScriptedKeystore(strongBox = false)
        val scripted = ScriptedInstructionAgent(mutableListOf(handed))
        InstructionLoop(scripted, RecordingInstructionDevice(), PublishedStates()::send, KeyAttestor(fallbackStore)) { InspectionPass.NoWindow }.handleAwaiting(at(1))
        eq(listOf("0123456789abcdef" to false), fallbackStore.generated, "generated in the TEE after StrongBox was refused")
        val answer = scripted.submitted.single().second
        expect(!answer.strongBox && answer.strongBoxFallback) { "fallback not reported: $answer" }
        eq(realChain().size, answer.chain.size, "chain")

        val failing = ScriptedInstructionAgent(mutableListOf(handed))
        val failed = InstructionLoop(failing, RecordingInstructionDevice(), PublishedStates()::send,
            KeyAttestor(ScriptedKeystore(failure = java.security.KeyStoreException("keystore is locked")))) { InspectionPass.NoWindow }.handleAwaiting(at(1))
        val outcome = (failed.actions.single().second as? ActionHandling.Reported)?.outcome as? ActionOutcome.Failed ?: fail("not failed: ${failed.actions}")
        expect("KeyStoreException" in outcome.reason) { outcome.reason }
        eq(emptyList<Pair<String, AttestationAnswer>>(), failing.submitted, "nothing submitted")

        val none = ScriptedInstructionAgent(mutableListOf(handed))
        InstructionLoop(none, RecordingInstructionDevice(), PublishedStates()::send) { InspectionPass.NoWindow }.handleAwaiting(at(1))
        expect(none.reported.single().second is ActionOutcome.NotPossible) { "${none.reported}" }
    }

    test("instructions: a managed list applies in sequence order, the lock is carried out and reported once") { s ->
        enrolledForInstructions(s).use { agent ->
            val device = RecordingInstructionDevice()
            val loop = InstructionLoop(instructionAgentOf { agent }, device, PublishedStates()::send) { InspectionPass.NoWindow }
            val first = loop.syncList(agent, managedInstructions("lock-5.instruction", "auth-1.instruction"), at(10))
            eq(null, first.error, "error")
            eq(listOf(1uL, 5uL), first.results.map { (it as? InstructionResult.Applied ?: fail("not applied: $it")).sequence }, "applied")
            eq(listOf("lock"), device.calls, "platform calls")
            eq(listOf(ActionHandling.Reported(ActionOutcome.CarriedOut)), first.actions.map { it.second }, "handling")
            expect("sim_change_window_opened" in alertKindsOf(first) && "instruction_outcome" in alertKindsOf(first)) { "alerts ${alertKindsOf(first)}" }
            eq(emptyList<HandedAction>(), agent.actionsAwaitingOutcome(), "awaiting")

            // The EMM redelivers the same list at every sync: no news, nothing done again.
            val again = loop.syncList(agent, managedInstructions("auth-1.instruction", "lock-5.instruction"), at(20))
            expect(again.results.size == 2 && again.results.all { it is InstructionResult.Unchanged }) { "redelivered: ${again.results}" }
            eq(emptyList<String>(), alertKindsOf(again), "alerts on redelivery")
            eq(listOf("lock"), device.calls, "platform calls after redelivery")
            val state = InstructionStateEncoding.encode(again, at(40))
            eq(ConsoleSeverity.INFO, state.severity, "state severity")
            eq(2L, jsonObject(state.data)["unchanged"], "state data")
        }
    }

    test("instructions: a rolled-back sequence is refused as replayed, alerted once, and changes nothing") { s ->
        enrolledForInstructions(s).use { agent ->
            val loop = InstructionLoop(instructionAgentOf { agent }, RecordingInstructionDevice(), PublishedStates()::send) { InspectionPass.NoWindow }
            loop.syncList(agent, managedInstructions("auth-1.instruction", "lock-5.instruction"), at(10))
            agent.ackAlerts(agent.pendingAlerts(50u).map { it.id }, at(11))
            // Sequence 2 was never seen, but 5 was accepted: a replay or a console rolled back.
            val refused = loop.syncList(agent, managedInstructions("carrier-swap-2.instruction"), at(20))
            val result = refused.results.single() as? InstructionResult.Refused ?: fail("not refused: ${refused.results}")
            eq("replayed", result.code, "code")
            eq(listOf("instruction_refused"), alertKindsOf(refused), "alerts")
            val state = InstructionStateEncoding.encode(refused, at(40))
            eq(ConsoleSeverity.ERROR, state.severity, "state severity")
            eq(listOf("replayed"), jsonObject(state.data)["refusal_codes"], "state codes")
            // Redelivered: refused again, without a second alert.
            val again = loop.syncList(agent, managedInstructions("carrier-swap-2.instruction"), at(30))
            expect(again.results.single() is InstructionResult.Refused) { "redelivered: ${again.results}" }
            eq(emptyList<String>(), alertKindsOf(again), "alerts on redelivery")
            eq(listOf("instruction_refused"), agent.pendingAlerts(50u).map { it.kindName }, "outbox")
            eq(5uL, agent.instructionSequence(), "sequence")
        }
    }

    test("instructions: a forged push is refused and the SIM guard still raises sim_replaced") { s ->
        enrolledForInstructions(s).use { agent ->
            val loop = InstructionLoop(instructionAgentOf { agent }, RecordingInstructionDevice(), PublishedStates()::send) { InspectionPass.NoWindow }
            val pass = loop.apply(signedInstruction("forged-10.instruction").trim().toByteArray(), at(10))
            val result = pass.results.single() as? InstructionResult.Refused ?: fail("not refused: ${pass.results}")
            expect(result.code == "unknown_key" || result.code == "bad_signature") { "code ${result.code}" }
            eq(listOf("instruction_refused"), alertKindsOf(pass), "alerts")
            val swap = agent.handleSim(org.portcullis.SimObservation(slot = 0, state = org.portcullis.SimState.READY, iccid = ICCID_B), at(20))
            expect(swap.any { it.kindName == "sim_replaced" && it.severity == org.portcullis.Severity.CRITICAL }) { "alerts $swap" }
        }
    }

    test("instructions: a signed carrier check from the list raises carrier_reported_swap") { s ->
        enrolledForInstructions(s).use { agent ->
            val loop = InstructionLoop(instructionAgentOf { agent }, RecordingInstructionDevice(), PublishedStates()::send) { InspectionPass.NoWindow }
            val pass = loop.syncList(agent, managedInstructions("carrier-swap-2.instruction"), at(10))
            expect("carrier_reported_swap" in alertKindsOf(pass)) { "alerts ${alertKindsOf(pass)}" }
        }
    }

    test("instructions: without a trust root the pass fails and nothing is carried out") { s ->
        openAgent(s).use { agent ->
            val device = RecordingInstructionDevice()
            val sync = agent.syncManagedConfig(
                managedConfigValues(mapOf(ManagedConfigKeys.INSTRUCTIONS to managedInstructions("lock-5.instruction"))),
                at(10),
            )
            val problem = (sync.instructions as? InstructionsSync.NotApplied)?.problem ?: fail("${sync.instructions}")
            eq("instructions", problem.key, "problem key")
            InstructionLoop(instructionAgentOf { agent }, device, PublishedStates()::send) { InspectionPass.NoWindow }
                .handleAwaiting(at(10))
            eq(emptyList<String>(), device.calls, "platform calls")
            eq(ConsoleSeverity.ERROR, sync.console.severity, "state severity")
        }
    }

    test("instructions: MDM-routed actions are published for the MDM, never carried out here") {
        val wipe = HandedAction("ins-7", 7uL, InstructionAction.WipeDevice(preserveFrp = true), ActionRoute.MDM)
        val agent = ScriptedInstructionAgent(mutableListOf(wipe))
        val device = RecordingInstructionDevice()
        val channel = PublishedStates(ChannelOutcome.Failed("reporter buffer exceeded"))
        val loop = InstructionLoop(agent, device, channel::send) { InspectionPass.NoWindow }
        // The channel did not take it: not reported, still awaiting, tried again later.
        val first = loop.apply(ByteArray(1), at(10))
        expect(first.actions.single().second is ActionHandling.Pending) { "handling ${first.actions}" }
        eq(emptyList<Pair<String, ActionOutcome>>(), agent.reported, "reported while pending")
        channel.answer = ChannelOutcome.Sent
        val retried = loop.handleAwaiting(at(20))
        eq(listOf("ins-7" to ActionOutcome.HandedToMdm), agent.reported, "reported once the MDM has it")
        eq(ActionHandling.Reported(ActionOutcome.HandedToMdm), retried.actions.single().second, "handling")
        eq(emptyList<String>(), device.calls, "the phone itself did nothing")
        val state = channel.states.last()
        eq("portcullis.instruction.ins-7", state.key, "key")
        eq(ConsoleSeverity.ERROR, state.severity, "severity")
        val data = jsonObject(state.data)
        eq("wipe_device", data["action"], "action")
        eq(true, data["preserve_frp"], "preserve_frp")
        eq(7L, data["sequence"], "sequence")

        // No MDM reads app states on this phone: that is the platform's answer.
        val lock = HandedAction("ins-8", 8uL, InstructionAction.LockNow, ActionRoute.MDM)
        val lone = ScriptedInstructionAgent(mutableListOf(lock))
        InstructionLoop(lone, device, PublishedStates(ChannelOutcome.NoReceiver)::send) { InspectionPass.NoWindow }.handleAwaiting(at(30))
        expect(lone.reported.single().second is ActionOutcome.NotPossible) { "reported ${lone.reported}" }
    }

    test("instructions: AGENT actions go to the device and the inspection loop; their answers are reported") {
        val actions = mutableListOf(
            HandedAction("a", 1uL, InstructionAction.WipeWorkData(preserveFrp = false), ActionRoute.AGENT),
            HandedAction("b", 2uL, InstructionAction.ShowNotice("Travel", "Keep the phone with you"), ActionRoute.AGENT),
            HandedAction("c", 3uL, InstructionAction.StartInspection("after travel"), ActionRoute.AGENT),
            HandedAction("d", 4uL, InstructionAction.RotateKeys, ActionRoute.AGENT),
        )
        val agent = ScriptedInstructionAgent(actions)
        val device = RecordingInstructionDevice(ActionOutcome.NotPossible("fully managed device:\nno separate work data"))
        var inspected = 0
        InstructionLoop(agent, device, PublishedStates()::send) {
            inspected++
            InspectionPass.Failed(IllegalStateException("no evidence"))
        }.handleAwaiting(at(10))
        eq(listOf("wipe_work_data frp=false", "notice Travel", "rotate"), device.calls, "platform calls")
        eq(1, inspected, "inspections")
        val byId = agent.reported.toMap()
        // Handed on as the device said it: the core bounds the reason (one line, 256 bytes).
        eq(ActionOutcome.NotPossible("fully managed device:\nno separate work data"), byId["a"], "wipe work data")
        expect(byId["c"] is ActionOutcome.Failed) { "inspection outcome ${byId["c"]}" }
        eq(4, agent.reported.size, "every action reported")
    }
}
