// Alert delivery through managed app feedback (UserDefaults "com.apple.feedback.managed"),
// which the MDM reads with the ManagedApplicationFeedback command. Foundation only.
//
// Acknowledgement: the MDM's command has a DeleteFeedback option; when it is set, iOS
// removes the feedback dictionary once the MDM has read it. An alert that was published and
// is no longer in the dictionary has therefore been collected and is acknowledged; until then
// it stays pending in the core and is published again. At least once: the console drops
// duplicates by id. Without DeleteFeedback nothing is ever acknowledged (see README).

import Foundation

public enum FeedbackEncoding {
    /// One alert as a property-list dictionary (ids as strings: plists hold signed integers).
    public static func entry(_ alert: Alert) -> [String: Any] {
        var entry: [String: Any] = [
            "id": String(alert.id),
            "at": timestamp(alert.at),
            "kind": alert.kindName,
            "severity": severityName(alert.severity),
            "detector": alert.detector,
            "detectorVersion": Int(alert.detectorVersion),
            "summary": alert.summary,
            "attempts": Int(alert.deliveryAttempts),
        ]
        if let slot = alert.slot {
            entry["slot"] = Int(slot)
        }
        var evidence: [String: String] = [:]
        for item in alert.evidence {
            evidence[item.key] = item.value
        }
        entry["evidence"] = evidence
        return entry
    }

    public static func severityName(_ severity: Severity) -> String {
        switch severity {
        case .info: return "info"
        case .low: return "low"
        case .medium: return "medium"
        case .high: return "high"
        case .critical: return "critical"
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

public final class ManagedFeedbackChannel: @unchecked Sendable {
    /// The UserDefaults key the MDM reads feedback from.
    public static let feedbackKey = "com.apple.feedback.managed"
    /// The field of the feedback dictionary holding the alerts.
    public static let alertsField = "portcullis_alerts"
    /// Ids published last time (kept apart from the feedback, which the MDM may delete).
    public static let publishedKey = "org.portcullis.feedback.published"

    private let defaults: UserDefaults

    public init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    /// One round: acknowledge what the MDM collected, then publish what is pending (up to
    /// `limit`, oldest first). Returns how many alerts were newly acknowledged.
    @discardableResult
    public func deliver(agent: Agent, limit: UInt32 = 50, now: Date = Date()) async throws -> UInt32 {
        let published = Set(defaults.stringArray(forKey: Self.publishedKey) ?? [])
        let present = Set(publishedIdsInFeedback())
        let collected = published.subtracting(present).compactMap { UInt64($0) }
        var acknowledged: UInt32 = 0
        if !collected.isEmpty {
            acknowledged = try await agent.ackAlerts(ids: collected, now: now)
        }
        let pending = try await agent.pendingAlerts(limit: limit)
        var feedback = defaults.dictionary(forKey: Self.feedbackKey) ?? [:]
        feedback[Self.alertsField] = pending.map(FeedbackEncoding.entry)
        defaults.set(feedback, forKey: Self.feedbackKey)
        defaults.set(pending.map { String($0.id) }, forKey: Self.publishedKey)
        return acknowledged
    }

    /// Publishes the outcome of the last policy sync under `portcullis_policy` (replacing the
    /// previous one; the alerts field is left as it is).
    public func publishPolicyState(_ entry: [String: Any]) {
        publish(field: PolicyStateEncoding.feedbackField, entry)
    }

    /// Publishes `entry` under `field` of the feedback, replacing the previous one and leaving
    /// the other fields as they are.
    public func publish(field: String, _ entry: [String: Any]) {
        var feedback = defaults.dictionary(forKey: Self.feedbackKey) ?? [:]
        feedback[field] = entry
        defaults.set(feedback, forKey: Self.feedbackKey)
    }

    private func publishedIdsInFeedback() -> [String] {
        guard let feedback = defaults.dictionary(forKey: Self.feedbackKey),
              let entries = feedback[Self.alertsField] as? [[String: Any]] else {
            return []
        }
        return entries.compactMap { $0["id"] as? String }
    }
}
