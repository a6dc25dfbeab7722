// Managed app configuration (UserDefaults "com.apple.configuration.managed"), set by the MDM
// with the same keys as Android's app_restrictions.xml. Reading only: the values go to the
// core's syncManagedConfig as delivered; the core trims, splits, verifies and decides.

import Foundation

public enum ManagedConfigKeys {
    public static let policyBundle = "policy_bundle"
    public static let trustRoot = "trust_root"
    public static let consoleEndpoint = "console_endpoint"
    public static let deviceId = "device_id"
    public static let deviceGroups = "device_groups"
    public static let indicatorCollections = "indicator_collections"
    /// An array of strings, or one string with one envelope per line (as on Android).
    public static let instructions = "instructions"
}

public enum ManagedAppConfig {
    /// The UserDefaults key the MDM's managed app configuration lands under.
    public static let defaultsKey = "com.apple.configuration.managed"

    public static func read(from defaults: UserDefaults = .standard) -> ManagedConfigValues {
        values(defaults.dictionary(forKey: defaultsKey) ?? [:])
    }

    /// The dictionary's values as the core takes them; keys holding something that is not
    /// text are named in `notText` (never the value).
    public static func values(_ raw: [String: Any]) -> ManagedConfigValues {
        var notText: [String] = []
        func string(_ key: String) -> String? {
            guard let value = raw[key] else { return nil }
            if let text = value as? String { return text }
            notText.append(key)
            return nil
        }
        func entries(_ key: String) -> [String] {
            switch raw[key] {
            case nil: return []
            case let text as String: return [text]
            case let list as [String]: return list
            default:
                notText.append(key)
                return []
            }
        }
        return ManagedConfigValues(
            trustRoot: string(ManagedConfigKeys.trustRoot),
            deviceId: string(ManagedConfigKeys.deviceId),
            deviceGroups: string(ManagedConfigKeys.deviceGroups),
            policyBundle: string(ManagedConfigKeys.policyBundle),
            indicatorCollections: entries(ManagedConfigKeys.indicatorCollections),
            instructions: entries(ManagedConfigKeys.instructions),
            consoleEndpoint: string(ManagedConfigKeys.consoleEndpoint),
            notText: notText
        )
    }
}

/// Calls `onChange` with the managed configuration when the MDM changes it, by key-value
/// observation of `com.apple.configuration.managed` (iOS posts no notification for it).
/// Redelivering the same values is harmless: the core answers `unchanged`.
public final class ManagedAppConfigObserver: NSObject {
    private let defaults: UserDefaults
    private let onChange: (ManagedConfigValues) -> Void
    private var observing = false

    public init(defaults: UserDefaults = .standard, onChange: @escaping (ManagedConfigValues) -> Void) {
        self.defaults = defaults
        self.onChange = onChange
    }

    /// Hands over the configuration now, then on every change.
    public func start() {
        guard !observing else { return }
        observing = true
        defaults.addObserver(self, forKeyPath: ManagedAppConfig.defaultsKey, options: [.initial, .new], context: nil)
    }

    public func stop() {
        guard observing else { return }
        observing = false
        defaults.removeObserver(self, forKeyPath: ManagedAppConfig.defaultsKey)
    }

    override public func observeValue(forKeyPath keyPath: String?, of object: Any?,
                                      change: [NSKeyValueChangeKey: Any]?, context: UnsafeMutableRawPointer?) {
        guard keyPath == ManagedAppConfig.defaultsKey else {
            super.observeValue(forKeyPath: keyPath, of: object, change: change, context: context)
            return
        }
        onChange(ManagedAppConfig.read(from: defaults))
    }

    deinit {
        stop()
    }
}
