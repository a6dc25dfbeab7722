// Signed console instructions on iOS, as on Android (core/Instructions.kt): envelopes from an
// explicit call go to the core (the managed configuration's `instructions` go through the
// core's syncManagedConfig), which verifies them against the trust root's operations role and decides. iOS gives an
// app no lock or wipe, so the core routes those to the MDM: they are published in managed
// app feedback for the MDM's own DeviceLock / EraseDevice commands, like compliance actions,
// and reported once the MDM has collected them. Nothing is verified or chosen here.
// Foundation only.

import Foundation

/// The agent calls instructions make (`Agent` conforms; tests can substitute another).
public protocol InstructionAgent: AnyObject, Sendable {
    func applyInstruction(envelope: Data, now: Date) async throws -> InstructionResult
    func reportActionOutcome(actionId: String, outcome: ActionOutcome, now: Date) async throws -> [Alert]
    func actionsAwaitingOutcome() async throws -> [HandedAction]
}

extension Agent: InstructionAgent {}

/// What one instruction pass did.
public struct InstructionPass {
    /// The core's answer for each envelope, in the order it applied them.
    public var results: [InstructionResult] = []
    /// Actions whose outcome was reported on this pass.
    public var reported: [(HandedAction, ActionOutcome)] = []
    /// Actions published for the MDM and not collected yet (reported once collected).
    public var awaitingMdm: [HandedAction] = []
    /// Alerts the core queued during the pass.
    public var alerts: [Alert] = []
    /// The agent failed (storage, no trust root): nothing was applied; the next sync tries again.
    public var error: String?
}

/// Hands instructions to the core and answers for what it hands back.
///
/// - MDM route (lock, wipes on iOS): published in managed app feedback as the core's
///   `portcullis.instruction.<action id>` message. When an entry written is gone from the
///   feedback (the MDM read it with DeleteFeedback, as for alerts), the MDM has it: reported
///   `handedToMdm`.
/// - AGENT route: a notice through `showNotice` (without one: not possible); key rotation
///   is done by the core (the Keychain device key is bound to the enrollment); inspections
///   are the kiosk's on iOS (not possible here).
///
/// Not thread-safe: `PortcullisHost` calls it from its ordered input queue, one at a time.
public final class InstructionLoop {
    private let agent: InstructionAgent
    private let feedback: ManagedFeedbackChannel
    /// Shows a notice to the person carrying the phone (e.g. a local notification); nil: not possible.
    public var showNotice: ((String, String) async -> ActionOutcome)?

    public init(agent: InstructionAgent, feedback: ManagedFeedbackChannel) {
        self.agent = agent
        self.feedback = feedback
    }

    /// One envelope from another channel (a push, a deep link from the console's app).
    public func apply(_ envelope: Data, now: Date = Date()) async -> InstructionPass {
        await pass(now: now) {
            let result = try await self.agent.applyInstruction(envelope: envelope, now: now)
            return [result]
        }
    }

    /// Actions still owed an outcome (after a restart, or published and not yet collected).
    public func handleAwaiting(now: Date = Date()) async -> InstructionPass {
        await pass(now: now) { [] }
    }

    private func pass(now: Date, _ apply: () async throws -> [InstructionResult]) async -> InstructionPass {
        var result = InstructionPass()
        do {
            result.results = try await apply()
            for r in result.results {
                switch r {
                case .applied(_, _, _, _, _, let alerts), .refused(_, _, let alerts):
                    result.alerts += alerts
                case .unchanged:
                    break
                }
            }
            let awaiting = try await agent.actionsAwaitingOutcome()
            let collected = Set(await feedback.collected(ManagedFeedbackChannel.actionsWrittenKey))
            var forMdm: [HandedAction] = []
            for handed in awaiting {
                let outcome: ActionOutcome
                switch handed.route {
                case .mdm:
                    guard collected.contains(handed.actionId) else {
                        forMdm.append(handed)
                        continue
                    }
                    outcome = .handedToMdm
                case .agent:
                    outcome = await carryOut(handed.action)
                case .notPossible:
                    // The core reports these itself and never hands them out.
                    outcome = .notPossible(reason: "not possible in this deployment")
                }
                do {
                    result.alerts += try await agent.reportActionOutcome(actionId: handed.actionId, outcome: outcome, now: now)
                    result.reported.append((handed, outcome))
                } catch PortcullisError.InvalidInput {
                    // Reported meanwhile: nothing is owed any more.
                }
            }
            await feedback.replace(ManagedFeedbackChannel.actionsWrittenKey,
                                   with: forMdm.map { (id: $0.actionId, message: consoleActionForMdm(action: $0, now: now)) })
            result.awaitingMdm = forMdm
        } catch {
            result.error = String(describing: error)
        }
        return result
    }

    private func carryOut(_ action: InstructionAction) async -> ActionOutcome {
        switch action {
        case .showNotice(let title, let body):
            guard let showNotice else { return .notPossible(reason: "no notifier to show the notice") }
            return await showNotice(title, body)
        case .rotateKeys:
            // The core rotated the journal keys; the Keychain device key is bound to the enrollment.
            return .carriedOut
        case .startInspection:
            return .notPossible(reason: "iOS apps cannot inspect the phone; the kiosk inspects it")
        case .attest:
            // Android key attestation; App Attest, iOS's counterpart, is not built yet.
            return .notPossible(reason: "key attestation is not available on iOS yet")
        case .lockNow, .wipeWorkData, .wipeDevice:
            // The core routes these to the MDM on iOS; an AGENT route here is a deployment mistake.
            return .notPossible(reason: "an iOS app cannot lock or wipe; the MDM must")
        }
    }

    /// The pass as the console message `portcullis.instructions` (counts and refusal codes,
    /// never an envelope).
    public static func message(_ pass: InstructionPass, now: Date) -> ConsoleMessage {
        consoleInstructions(results: pass.results, actionsPending: UInt32(pass.awaitingMdm.count),
                            errorName: pass.error.map { String($0.prefix(while: \.isLetter)) }, now: now)
    }
}
