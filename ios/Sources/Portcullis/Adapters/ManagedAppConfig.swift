// Managed app configuration (UserDefaults "com.apple.configuration.managed"), set by the MDM
// with the same keys as Android's app_restrictions.xml. Reading only: the core verifies the
// bundle and the trust root; PolicySync hands them over.

import Foundation

public enum ManagedConfigKeys {
    /// The signed policy bundle (DSSE envelope JSON from `portcullis policy sign`).
    public static let policyBundle = "policy_bundle"
    /// The signed trust root installed at enrollment.
    public static let trustRoot = "trust_root"
    /// The console's HTTPS endpoint.
    public static let consoleEndpoint = "console_endpoint"
    /// The device's enrollment id, as bundles address it (`portcullis policy sign --device`).
    public static let deviceId = "device_id"
    /// The device's groups at enrollment, comma-separated (`portcullis policy sign --group`).
    public static let deviceGroups = "device_groups"
    /// Signed console instructions (`portcullis instruction sign`): an array of strings, or
    /// one string with one envelope per line (as on Android).
    public static let instructions = "instructions"

    public static let all = [policyBundle, trustRoot, consoleEndpoint, deviceId, deviceGroups, instructions]
}

public struct ManagedAppConfig: Equatable {
    /// The UserDefaults key the MDM's managed app configuration lands under.
    public static let defaultsKey = "com.apple.configuration.managed"

    public var policyBundle: String?
    public var trustRoot: String?
    public var consoleEndpoint: URL?
    /// The enrollment id (installed with the trust root; the core checks the name).
    public var deviceId: String?
    /// `device_groups` split at commas, trimmed, blanks and repeats dropped, order kept.
    public var deviceGroups: [String]
    /// Values of the wrong type or form, naming the key (never the value).
    public var problems: [String]
    /// The signed instruction envelopes, each trimmed, blanks and repeats dropped, order kept;
    /// the core verifies and orders them.
    public var instructions: [String] = []

    public static func read(from defaults: UserDefaults = .standard) -> ManagedAppConfig {
        parse(defaults.dictionary(forKey: defaultsKey) ?? [:])
    }

    /// Absent or blank values are nil; surrounding whitespace is trimmed from the envelopes
    /// (the signed envelope itself never has any).
    public static func parse(_ values: [String: Any]) -> ManagedAppConfig {
        var problems: [String] = []
        func string(_ key: String) -> String? {
            guard let value = values[key] else { return nil }
            guard let text = value as? String else {
                problems.append("\(key): expected a string")
                return nil
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        var endpoint: URL?
        if let raw = string(ManagedConfigKeys.consoleEndpoint) {
            if let url = URL(string: raw), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty {
                endpoint = url
            } else {
                problems.append("\(ManagedConfigKeys.consoleEndpoint): expected an https URL")
            }
        }
        let bundle = string(ManagedConfigKeys.policyBundle)
        let root = string(ManagedConfigKeys.trustRoot)
        let deviceId = string(ManagedConfigKeys.deviceId)
        let groupNames = string(ManagedConfigKeys.deviceGroups).map { ManagedAppConfig.groups($0) } ?? []
        var instructions: [String] = []
        switch values[ManagedConfigKeys.instructions] {
        case nil:
            break
        case let list as [String]:
            instructions = ManagedAppConfig.envelopes(list)
        case let text as String:
            instructions = ManagedAppConfig.envelopes(text.components(separatedBy: .newlines))
        default:
            problems.append("\(ManagedConfigKeys.instructions): expected an array of strings or a string")
        }
        return ManagedAppConfig(policyBundle: bundle, trustRoot: root, consoleEndpoint: endpoint,
                                deviceId: deviceId, deviceGroups: groupNames, problems: problems,
                                instructions: instructions)
    }

    /// Envelopes trimmed, blanks and repeats dropped, order kept.
    public static func envelopes(_ entries: [String]) -> [String] {
        var seen = Set<String>()
        var kept: [String] = []
        for entry in entries {
            let text = entry.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, seen.insert(text).inserted {
                kept.append(text)
            }
        }
        return kept
    }

    /// `device_groups`: comma-separated names, trimmed; blanks and repeats dropped, order kept.
    public static func groups(_ value: String) -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty, seen.insert(name).inserted {
                names.append(name)
            }
        }
        return names
    }
}

/// Calls `onChange` when the managed configuration changes (the MDM pushes it while the app
/// runs; UserDefaults posts `didChangeNotification` for any change, so unchanged values are
/// filtered out).
public final class ManagedAppConfigObserver {
    private let defaults: UserDefaults
    private let onChange: (ManagedAppConfig) -> Void
    private var token: NSObjectProtocol?
    private var last: ManagedAppConfig?

    public init(defaults: UserDefaults = .standard, onChange: @escaping (ManagedAppConfig) -> Void) {
        self.defaults = defaults
        self.onChange = onChange
    }

    public func start() {
        guard token == nil else { return }
        check()
        token = NotificationCenter.default.addObserver(
            forName: UserDefaults.didChangeNotification, object: defaults, queue: .main
        ) { [weak self] _ in
            self?.check()
        }
    }

    public func stop() {
        if let token { NotificationCenter.default.removeObserver(token) }
        token = nil
    }

    private func check() {
        let config = ManagedAppConfig.read(from: defaults)
        guard config != last else { return }
        last = config
        onChange(config)
    }

    deinit {
        stop()
    }
}
