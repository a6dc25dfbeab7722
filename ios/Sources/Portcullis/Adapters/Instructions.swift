// Signed console instructions on iOS, as on Android (core/Instructions.kt): envelopes from
// the managed app configuration (key `instructions`) or an explicit call go to the core,
// which verifies them against the trust root's operations role and decides. iOS gives an
// app no lock or wipe, so the core routes those to the MDM: they are published in managed
// app feedback for the MDM's own DeviceLock / EraseDevice commands, like compliance actions,
// and reported once the MDM has collected them. Nothing is verified or chosen here.
// Foundation only.

import Foundation

/// The agent calls instructions make (`Agent` conforms; tests can substitute another).
public protocol InstructionAgent: AnyObject, Sendable {
    func applyInstruction(envelope: Data, now: Date) async throws -> InstructionResult
    func applyInstructionList(envelopes: [Data], now: Date) async throws -> [InstructionResult]
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
/// - MDM route (lock, wipes on iOS): published under `portcullis_mdm_actions` in managed
///   app feedback. When an entry the app published is gone from the feedback (the MDM read it
///   with DeleteFeedback, as for alerts), the MDM has it: reported `carriedOut`.
/// - AGENT route: a notice through `showNotice` (without one: not possible); key rotation
///   is done by the core (the Keychain device key is bound to the enrollment); inspections
///   are the kiosk's on iOS (not possible here).
///
/// Not thread-safe: `PortcullisHost` calls it from its ordered input queue, one at a time.
public final class InstructionLoop {
    /// The feedback field holding actions for the MDM.
    public static let mdmActionsField = "portcullis_mdm_actions"
    /// The feedback field holding the last pass's summary.
    public static let stateField = "portcullis_instructions"
    /// Action ids published for the MDM (kept apart from the feedback, which the MDM may delete).
    public static let publishedKey = "org.portcullis.feedback.mdmActions"

    private let agent: InstructionAgent
    private let defaults: UserDefaults
    /// Shows a notice to the person carrying the phone (e.g. a local notification); nil: not possible.
    public var showNotice: ((String, String) async -> ActionOutcome)?

    public init(agent: InstructionAgent, defaults: UserDefaults = .standard) {
        self.agent = agent
        self.defaults = defaults
    }

    /// The managed configuration's `instructions`: the core orders them by sequence, answers
    /// `unchanged` for those already accepted and refuses replays and forgeries.
    public func sync(_ envelopes: [String], now: Date = Date()) async -> InstructionPass {
        await pass(now: now) { try await self.agent.applyInstructionList(envelopes: envelopes.map { Data($0.utf8) }, now: now) }
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
            let collected = collectedByMdm()
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
            publishForMdm(forMdm)
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
        case .lockNow, .wipeWorkData, .wipeDevice:
            // The core routes these to the MDM on iOS; an AGENT route here is a deployment mistake.
            return .notPossible(reason: "an iOS app cannot lock or wipe; the MDM must")
        }
    }

    /// Published ids no longer in the feedback: the MDM collected them.
    private func collectedByMdm() -> Set<String> {
        let published = Set(defaults.stringArray(forKey: Self.publishedKey) ?? [])
        let feedback = defaults.dictionary(forKey: ManagedFeedbackChannel.feedbackKey) ?? [:]
        let present = (feedback[Self.mdmActionsField] as? [[String: Any]] ?? []).compactMap { $0["actionId"] as? String }
        return published.subtracting(present)
    }

    private func publishForMdm(_ actions: [HandedAction]) {
        var feedback = defaults.dictionary(forKey: ManagedFeedbackChannel.feedbackKey) ?? [:]
        feedback[Self.mdmActionsField] = actions.map(Self.entry)
        defaults.set(feedback, forKey: ManagedFeedbackChannel.feedbackKey)
        defaults.set(actions.map(\.actionId), forKey: Self.publishedKey)
    }

    /// One action for the MDM as a property-list dictionary.
    public static func entry(_ handed: HandedAction) -> [String: Any] {
        var entry: [String: Any] = [
            "actionId": handed.actionId,
            "sequence": String(handed.sequence),
            "action": name(handed.action),
        ]
        switch handed.action {
        case .wipeWorkData(let preserveFrp), .wipeDevice(let preserveFrp):
            entry["preserveFrp"] = preserveFrp
        default:
            break
        }
        return entry
    }

    /// The action's stable name, as the core's journal and alerts spell it.
    public static func name(_ action: InstructionAction) -> String {
        switch action {
        case .lockNow: return "lock_now"
        case .wipeWorkData: return "wipe_work_data"
        case .wipeDevice: return "wipe_device"
        case .startInspection: return "start_inspection"
        case .rotateKeys: return "rotate_keys"
        case .showNotice: return "show_notice"
        }
    }

    /// The pass's summary for the MDM under `portcullis_instructions`: counts and refusal
    /// codes, never an envelope.
    public static func stateEntry(_ pass: InstructionPass, at: Date) -> [String: Any] {
        var applied = 0, unchanged = 0
        var codes: [String] = []
        for r in pass.results {
            switch r {
            case .applied: applied += 1
            case .unchanged: unchanged += 1
            case .refused(let code, _, _): codes.append(code)
            }
        }
        var entry: [String: Any] = [
            "at": FeedbackEncoding.timestamp(at),
            "applied": applied,
            "unchanged": unchanged,
            "refused": codes.count,
            "refusalCodes": Array(Set(codes)).sorted(),
            "awaitingMdm": pass.awaitingMdm.count,
        ]
        if let error = pass.error {
            entry["severity"] = "error"
            entry["message"] = "instructions not applied (retried at the next sync)"
            entry["reason"] = error
        } else {
            entry["severity"] = codes.isEmpty ? "info" : "error"
            entry["message"] = "instructions: \(applied) applied, \(unchanged) unchanged, \(codes.count) refused"
        }
        return entry
    }
}
