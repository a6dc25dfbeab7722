// Managed app feedback (UserDefaults "com.apple.feedback.managed"), which the MDM reads with
// the ManagedApplicationFeedback command. Every entry is a console message the core built
// (`portcullis/console/v1`), stored under its key. Foundation only.
//
// One writer: every change goes through this actor, and each change reads, edits and writes
// the dictionary without suspending in between, so no path writes back a stale copy.
//
// Acknowledgement: the MDM's command has a DeleteFeedback option; when it is set, iOS removes
// the dictionary once the MDM has read it. An entry this actor wrote that is gone has been
// collected. Only entries recorded as written are ever taken as collected; until then an alert
// stays pending in the core and is written again. At least once: the console drops duplicates
// by id. Without DeleteFeedback nothing is ever acknowledged (see README).

import Foundation

public actor ManagedFeedbackChannel {
    /// The UserDefaults key the MDM reads feedback from.
    public static let feedbackKey = "com.apple.feedback.managed"
    /// Alert entries written (key -> alert id), kept apart from the feedback, which the MDM may delete.
    public static let alertsWrittenKey = "org.portcullis.feedback.alerts"
    /// MDM action entries written (key -> action id).
    public static let actionsWrittenKey = "org.portcullis.feedback.mdmActions"

    private let defaults: UserDefaults

    public init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    /// Writes `messages` under their keys, leaving every other entry as it is.
    public func publish(_ messages: [ConsoleMessage]) {
        var feedback = defaults.dictionary(forKey: Self.feedbackKey) ?? [:]
        for message in messages {
            feedback[message.key] = Self.entry(message)
        }
        defaults.set(feedback, forKey: Self.feedbackKey)
    }

    /// Ids of entries of a group (`alertsWrittenKey`, `actionsWrittenKey`) that were written
    /// and are gone from the feedback now: the MDM collected them.
    public func collected(_ group: String) -> [String] {
        let written = defaults.dictionary(forKey: group) as? [String: String] ?? [:]
        let feedback = defaults.dictionary(forKey: Self.feedbackKey) ?? [:]
        return written.filter { feedback[$0.key] == nil }.map { $0.value }
    }

    /// Makes `messages` (with their ids) the group's entries: entries written earlier and not
    /// among them are removed, and only what is written here is recorded as written.
    public func replace(_ group: String, with messages: [(id: String, message: ConsoleMessage)]) {
        var feedback = defaults.dictionary(forKey: Self.feedbackKey) ?? [:]
        let earlier = defaults.dictionary(forKey: group) as? [String: String] ?? [:]
        for key in earlier.keys {
            feedback[key] = nil
        }
        var written: [String: String] = [:]
        for (id, message) in messages {
            feedback[message.key] = Self.entry(message)
            written[message.key] = id
        }
        defaults.set(feedback, forKey: Self.feedbackKey)
        defaults.set(written, forKey: group)
    }

    /// One round: acknowledge the alerts the MDM collected, then write what is pending (up
    /// to `limit`, oldest first). Returns how many alerts were newly acknowledged.
    @discardableResult
    public func deliver(agent: Agent, limit: UInt32 = 50, now: Date = Date()) async throws -> UInt32 {
        let ids = collected(Self.alertsWrittenKey).compactMap { UInt64($0) }
        var acknowledged: UInt32 = 0
        if !ids.isEmpty {
            acknowledged = try await agent.ackAlerts(ids: ids, now: now)
        }
        let pending = try await agent.pendingAlerts(limit: limit)
        replace(Self.alertsWrittenKey, with: pending.map { (id: String($0.id), message: consoleAlert(alert: $0)) })
        return acknowledged
    }

    /// A console message as a property-list dictionary.
    public static func entry(_ message: ConsoleMessage) -> [String: String] {
        ["severity": message.severity == .error ? "error" : "info", "message": message.message, "data": message.data]
    }
}
