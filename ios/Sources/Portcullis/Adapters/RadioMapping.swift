// CoreTelephony / Network framework values -> core observation records. Foundation only:
// no platform decision is made here, and this file builds wherever the bindings do.

import Foundation

/// Maps what iOS reports about the radio onto the core's records.
public enum RadioMapping {
    /// A `CTRadioAccessTechnology*` value -> `Rat`. Those constants' values are their own names
    /// (`CTRadioAccessTechnologyLTE == "CTRadioAccessTechnologyLTE"`), so no CoreTelephony
    /// import is needed. EV-DO and eHRPD (3G CDMA2000 data) have no core variant and map to
    /// `.unknown`, as do names newer than this table.
    public static func rat(_ technology: String) -> Rat {
        switch technology {
        case "CTRadioAccessTechnologyGPRS": return .gprs
        case "CTRadioAccessTechnologyEdge": return .edge
        case "CTRadioAccessTechnologyCDMA1x": return .oneXRtt
        case "CTRadioAccessTechnologyWCDMA": return .umts
        case "CTRadioAccessTechnologyHSDPA", "CTRadioAccessTechnologyHSUPA": return .hspa
        case "CTRadioAccessTechnologyLTE": return .lte
        case "CTRadioAccessTechnologyNRNSA", "CTRadioAccessTechnologyNR": return .nr
        default: return .unknown
        }
    }

    /// The observation for one service of `serviceCurrentRadioAccessTechnology`. iOS reports
    /// no registration state: a service that has a technology is camped on a cell, so it is
    /// reported in service; a service without one yields nothing, because iOS cannot tell
    /// "no service" from "not reported".
    public static func serviceObservation(slot: Int32, technology: String) -> ServiceObservation {
        ServiceObservation(slot: slot, state: .inService, roaming: nil, rat: rat(technology))
    }

    /// Connectivity from the two path monitors. iOS does not expose airplane mode to apps, so
    /// it is always reported off; with no SIM readings on iOS the port-out detector, which
    /// airplane mode would pause, does not run anyway.
    public static func connectivity(wifiSatisfied: Bool, cellularSatisfied: Bool) -> Connectivity {
        Connectivity(wifi: wifiSatisfied, cellularData: cellularSatisfied, airplaneMode: false)
    }
}

/// Stable slot numbers for iOS's opaque service identifiers (the keys of
/// `serviceCurrentRadioAccessTechnology`): the first identifier seen gets 0, the next 1, and so
/// on, remembered in `UserDefaults` so a slot keeps its number across launches. The core
/// accepts slots 0...7; identifiers beyond that get no slot.
public final class ServiceSlots: @unchecked Sendable {
    public static let defaultsKey = "org.portcullis.serviceSlots"
    public static let maxSlot = 7

    private let defaults: UserDefaults
    private let lock = NSLock()

    public init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    public func slot(for serviceIdentifier: String) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        var slots = (defaults.dictionary(forKey: Self.defaultsKey) as? [String: Int]) ?? [:]
        if let known = slots[serviceIdentifier] {
            return Int32(known)
        }
        let next = (slots.values.max() ?? -1) + 1
        guard next <= Self.maxSlot else { return nil }
        slots[serviceIdentifier] = next
        defaults.set(slots, forKey: Self.defaultsKey)
        return Int32(next)
    }
}

/// Everything the platform adapters hand to the agent, in the order it happened.
public enum PlatformInput {
    case service(ServiceObservation)
    case connectivity(Connectivity)
    case reboot
    /// A signed console instruction (an envelope from `portcullis instruction sign`), from a
    /// channel other than the managed configuration; the core verifies it.
    case instruction(Data)
    /// Instruction actions still owed an outcome (queued by `PortcullisHost.wake`): after a
    /// restart, or published for the MDM and since collected.
    case instructionsAwaiting
    /// The managed app configuration (as read): applied through the core's `syncManagedConfig`.
    case managedConfig(ManagedConfigValues)
}

/// Detects a reboot since the last launch from the boot time (now minus the system uptime),
/// remembered in `UserDefaults`. iOS has no boot broadcast for apps.
public enum BootDetector {
    public static let defaultsKey = "org.portcullis.lastBootTime"

    /// True when the device booted since the previous call (false on the very first call).
    public static func rebootedSinceLastLaunch(defaults: UserDefaults = .standard,
                                               now: Date = Date(),
                                               uptime: TimeInterval = ProcessInfo.processInfo.systemUptime) -> Bool {
        let bootTime = now.timeIntervalSince1970 - uptime
        let previous = defaults.object(forKey: defaultsKey) as? Double
        defaults.set(bootTime, forKey: defaultsKey)
        guard let previous else { return false }
        // The derived boot time drifts by seconds (clock adjustments); a reboot moves it by more.
        return abs(bootTime - previous) > 120
    }
}

/// When the platform scheduler (BGTaskScheduler) should wake the agent.
public enum WakeupPlanner {
    /// The earlier of the given dates, ignoring nils.
    public static func earliest(_ dates: Date?...) -> Date? {
        dates.compactMap { $0 }.min()
    }

    /// `earliestBeginDate` for the core's `nextWakeup()` and a delivery retry; nil when nothing
    /// is due. A date in the past means "as soon as possible".
    public static func earliestBeginDate(nextWakeup: Date?, retryAt: Date? = nil, now: Date = Date()) -> Date? {
        guard let at = earliest(nextWakeup, retryAt) else { return nil }
        return max(at, now)
    }
}
