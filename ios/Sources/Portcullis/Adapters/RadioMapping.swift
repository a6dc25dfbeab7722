// CoreTelephony / Network framework values -> core observation records. Foundation only:
// no platform decision is made here, and this file builds wherever the bindings do.

import Foundation

/// Maps what iOS reports about the radio onto the core's records.
public enum RadioMapping {
    /// The observation for one service of `serviceCurrentRadioAccessTechnology`. iOS reports
    /// no registration state: a service that has a technology is camped on a cell, so it is
    /// reported in service; a service without one yields nothing, because iOS cannot tell
    /// "no service" from "not reported". The core reads the technology's name.
    public static func serviceObservation(slot: Int32, technology: String) -> ServiceObservation {
        ServiceObservation(slot: slot, state: .inService, roaming: nil, rat: iosRat(technology: technology))
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
    /// A signed console instruction (an envelope from `portcullis instruction sign`), from a
    /// channel other than the managed configuration; the core verifies it.
    case instruction(Data)
    /// Instruction actions still owed an outcome (queued by `PortcullisHost.wake`): after a
    /// restart, or published for the MDM and since collected.
    case instructionsAwaiting
    /// The managed app configuration (as read): applied through the core's `syncManagedConfig`.
    case managedConfig(ManagedConfigValues)
}

/// The instant the device booted (`kern.boottime`), handed to the core with every wake-up:
/// the core decides whether the device restarted. iOS has no boot broadcast for apps.
public enum BootClock {
    /// nil where the kernel does not answer (or off Darwin).
    public static func bootTime() -> Date? {
        #if canImport(Darwin)
        var boottime = timeval()
        var size = MemoryLayout<timeval>.size
        var mib: [Int32] = [CTL_KERN, KERN_BOOTTIME]
        guard sysctl(&mib, 2, &boottime, &size, nil, 0) == 0, boottime.tv_sec > 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(boottime.tv_sec) + TimeInterval(boottime.tv_usec) / 1_000_000)
        #else
        return nil
        #endif
    }
}
