// Managed app configuration -> the core, as on Android (core/PolicySync.kt): the console's
// trust root is installed once (enrollment, with the device id and groups the bundles are
// scoped to) and offered as a rotation afterwards, then every delivered policy bundle is handed
// to the core, which verifies it and decides. Nothing is verified or compared here.
// Foundation only.

import Foundation

/// The agent calls policy sync makes (`Agent` conforms; tests can substitute another).
public protocol PolicyAgent: AnyObject, Sendable {
    func trustRootInstalled() async throws -> Bool
    func installTrustRoot(signedRoot: Data, deviceId: String, groups: [String], now: Date) async throws
    func applyRootUpdate(signedRoot: Data, now: Date) async throws -> TrustRootUpdate
    func applyPolicy(bundle: Data, now: Date) async throws -> PolicyStatus
    func policyStatus() async throws -> PolicyStatus?
}

extension Agent: PolicyAgent {}

/// What one sync did. Reasons come from the core and name fields, never values.
public enum PolicySyncResult: Equatable {
    /// The core put the configured bundle in force (and installed the trust root if
    /// `rootInstalled`, or first rotated it to version `rootRotatedTo`).
    case applied(PolicyStatus, rootInstalled: Bool, rootRotatedTo: UInt64?)
    /// The configured bundle is the one already in force (`changed == false`).
    case unchanged(PolicyStatus, rootRotatedTo: UInt64?)
    /// No `policy_bundle` configured.
    case noBundle(rootInstalled: Bool, rootRotatedTo: UInt64?)
    /// The core refused `input` (`policy_bundle` or `trust_root`) with a stable `code`
    /// (`rollback`, `expired`, `out_of_scope`, `bad_signature`, ...); `inForce` still applies.
    /// The core has journaled it and raised a `policy_refused` alert.
    case rejected(input: String, code: String, reason: String, inForce: PolicyStatus?)
    /// The configuration cannot be applied as it is (a key missing, an input the core refused).
    case problem(String)
    /// The agent failed (storage, key): nothing decided; the next sync tries again.
    case failed(String)
}

/// Applies the managed configuration's trust root and policy bundle through the core.
///
/// While the core has no trust root (`trustRootInstalled`), `trust_root` is installed with
/// `device_id` and `device_groups` (without `device_id` nothing is installed). Once one is
/// installed, `trust_root` is offered as a rotation (`applyRootUpdate`) on every sync, before
/// the bundle: the root in force comes back `changed == false`, a newer one signed by the
/// current root's keys is put in force, and a refused rotation is reported in place of the
/// bundle's outcome until the console fixes it. A root the core refused is not offered again
/// until `trust_root` changes. The bundle is given to the core on every sync; it answers
/// `changed == false` for the one in force.
///
/// Not thread-safe: `PortcullisHost` calls it from its ordered input queue, one at a time.
public final class PolicySync {
    private let agent: PolicyAgent
    private var rootKnown = false
    private var refusedRoot: (root: String, result: PolicySyncResult)?

    public init(agent: PolicyAgent) {
        self.agent = agent
    }

    public func sync(_ config: ManagedAppConfig, now: Date = Date()) async -> PolicySyncResult {
        do {
            return try await syncOrThrow(config, now: now)
        } catch {
            return .failed(String(describing: error))
        }
    }

    private func syncOrThrow(_ config: ManagedAppConfig, now: Date) async throws -> PolicySyncResult {
        var installed = false
        var rotatedTo: UInt64?
        // Why enrollment did not happen, reported when the bundle cannot be applied without it.
        var enrollment: PolicySyncResult?
        // A rotation the core refused: reported whatever the bundle's outcome.
        var refusedRotation: (code: String, reason: String)?
        if !rootKnown {
            rootKnown = try await agent.trustRootInstalled()
        }
        if let root = config.trustRoot {
            if let refused = refusedRoot, refused.root == root {
                if rootKnown, case .rejected(_, let code, let reason, _) = refused.result {
                    refusedRotation = (code: code, reason: reason)
                } else {
                    enrollment = refused.result
                }
            } else if rootKnown {
                do {
                    let update = try await agent.applyRootUpdate(signedRoot: Data(root.utf8), now: now)
                    if update.changed {
                        rotatedTo = update.version
                    }
                } catch PortcullisError.PolicyRejected(let code, let reason) {
                    refusedRoot = (root: root, result: .rejected(input: ManagedConfigKeys.trustRoot, code: code,
                                                                 reason: reason, inForce: nil))
                    refusedRotation = (code: code, reason: reason)
                }
            } else if let deviceId = config.deviceId {
                do {
                    try await agent.installTrustRoot(signedRoot: Data(root.utf8), deviceId: deviceId,
                                                     groups: config.deviceGroups, now: now)
                    rootKnown = true
                    installed = true
                } catch PortcullisError.InvalidInput(let field, let reason) {
                    enrollment = .problem("\(ManagedConfigKeys.trustRoot) not installed: \(field): \(reason)")
                } catch PortcullisError.PolicyRejected(let code, let reason) {
                    let rejected = PolicySyncResult.rejected(input: ManagedConfigKeys.trustRoot, code: code,
                                                             reason: reason, inForce: nil)
                    refusedRoot = (root: root, result: rejected)
                    enrollment = rejected
                }
            } else {
                enrollment = .problem("\(ManagedConfigKeys.deviceId) is not set: the \(ManagedConfigKeys.trustRoot) "
                    + "is installed only together with the device's enrollment id (and \(ManagedConfigKeys.deviceGroups))")
            }
        }

        let outcome = try await applyBundle(config, now: now, installed: installed, rotatedTo: rotatedTo,
                                            enrollment: enrollment)
        if let refused = refusedRotation {
            let inForce: PolicyStatus? = try? await agent.policyStatus()
            return .rejected(input: ManagedConfigKeys.trustRoot, code: refused.code, reason: refused.reason,
                             inForce: inForce)
        }
        return outcome
    }

    private func applyBundle(_ config: ManagedAppConfig, now: Date, installed: Bool, rotatedTo: UInt64?,
                             enrollment: PolicySyncResult?) async throws -> PolicySyncResult {
        guard let bundle = config.policyBundle else {
            return enrollment ?? .noBundle(rootInstalled: installed, rootRotatedTo: rotatedTo)
        }
        do {
            let status = try await agent.applyPolicy(bundle: Data(bundle.utf8), now: now)
            rootKnown = true
            return status.changed
                ? .applied(status, rootInstalled: installed, rootRotatedTo: rotatedTo)
                : .unchanged(status, rootRotatedTo: rotatedTo)
        } catch PortcullisError.PolicyRejected(let code, let reason) {
            let inForce: PolicyStatus? = try? await agent.policyStatus()
            return .rejected(input: ManagedConfigKeys.policyBundle, code: code, reason: reason, inForce: inForce)
        } catch PortcullisError.NotEnrolled {
            // No trust root yet: the enrollment's reason says why.
            return enrollment ?? .problem("\(ManagedConfigKeys.policyBundle) not applied: no trust root is installed")
        } catch PortcullisError.InvalidInput(let field, let reason) {
            return enrollment ?? .problem("\(ManagedConfigKeys.policyBundle) not applied: \(field): \(reason)")
        }
    }
}

/// A `PolicySyncResult` for the MDM: the dictionary `PortcullisHost` publishes under
/// `portcullis_policy` in managed app feedback (the counterpart of Android's keyed app state
/// `portcullis.policy`). Never carries the bundle or the root.
public enum PolicyStateEncoding {
    /// The feedback field.
    public static let feedbackField = "portcullis_policy"

    public static func entry(_ result: PolicySyncResult, at: Date) -> [String: Any] {
        var entry: [String: Any] = ["at": FeedbackEncoding.timestamp(at)]
        func status(_ s: PolicyStatus) -> [String: Any] {
            [
                "version": Int(clamping: s.version),
                "rootVersion": Int(clamping: s.rootVersion),
                "payloadSha256": s.payloadSha256,
                "expires": FeedbackEncoding.timestamp(s.expires),
            ]
        }
        func rotated(_ version: UInt64?) -> String {
            version.map { " (trust root rotated to version \($0))" } ?? ""
        }
        switch result {
        case .applied(let s, let rootInstalled, let rotatedTo):
            entry["state"] = "applied"
            entry["severity"] = "info"
            entry["message"] = "policy version \(s.version) applied" + (rootInstalled ? " (trust root installed)" : "")
                + rotated(rotatedTo)
            if let rotatedTo {
                entry["rootRotatedTo"] = Int(clamping: rotatedTo)
            }
            entry["policy"] = status(s)
        case .unchanged(let s, let rotatedTo):
            entry["state"] = "in_force"
            entry["severity"] = "info"
            entry["message"] = "policy version \(s.version) in force" + rotated(rotatedTo)
            if let rotatedTo {
                entry["rootRotatedTo"] = Int(clamping: rotatedTo)
            }
            entry["policy"] = status(s)
        case .noBundle(let rootInstalled, let rotatedTo):
            entry["state"] = "no_bundle"
            entry["severity"] = "info"
            entry["message"] = "no \(ManagedConfigKeys.policyBundle) configured" + (rootInstalled ? " (trust root installed)" : "")
                + rotated(rotatedTo)
            if let rotatedTo {
                entry["rootRotatedTo"] = Int(clamping: rotatedTo)
            }
        case .rejected(let input, let code, let reason, let inForce):
            entry["state"] = "rejected"
            entry["severity"] = "error"
            entry["message"] = "\(input) refused: \(code)" + (inForce.map { " (policy version \($0.version) stays in force)" } ?? "")
            entry["input"] = input
            entry["code"] = code
            entry["reason"] = reason
            if let inForce {
                entry["policy"] = status(inForce)
            }
        case .problem(let reason):
            entry["state"] = "problem"
            entry["severity"] = "error"
            entry["message"] = "managed configuration not applied: \(reason)"
            entry["reason"] = reason
        case .failed(let reason):
            entry["state"] = "failed"
            entry["severity"] = "error"
            entry["message"] = "policy not applied (retried at the next sync)"
            entry["reason"] = reason
        }
        return entry
    }
}
