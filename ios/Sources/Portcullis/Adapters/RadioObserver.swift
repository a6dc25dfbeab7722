// What iOS lets an app observe of the radio: the radio access technology per service
// (CTTelephonyNetworkInfo.serviceCurrentRadioAccessTechnology) and whether Wi-Fi and
// cellular paths are up (NWPathMonitor). SIM identities are not observable (CTCarrier returns
// placeholders since iOS 16.4), so no SimObservation is ever produced here.

#if canImport(CoreTelephony) && canImport(Network)
import CoreTelephony
import Foundation
import Network

public final class RadioObserver: @unchecked Sendable {
    private let networkInfo = CTTelephonyNetworkInfo()
    private let wifiMonitor = NWPathMonitor(requiredInterfaceType: .wifi)
    private let cellularMonitor = NWPathMonitor(requiredInterfaceType: .cellular)
    private let queue = DispatchQueue(label: "org.portcullis.radio")
    private let slots: ServiceSlots
    private let submit: (PlatformInput) -> Void
    private var token: NSObjectProtocol?
    // Touched on `queue` only.
    private var wifiUp = false
    private var cellularUp = false
    private var lastConnectivity: Connectivity?
    private var lastTechnology: [String: String] = [:]

    /// `submit` receives the inputs (e.g. `host.submit`).
    public init(slots: ServiceSlots = ServiceSlots(), submit: @escaping (PlatformInput) -> Void) {
        self.slots = slots
        self.submit = submit
    }

    public func start() {
        guard token == nil else { return }
        token = NotificationCenter.default.addObserver(
            forName: .CTServiceRadioAccessTechnologyDidChange, object: nil, queue: nil
        ) { [weak self] _ in
            self?.queue.async { self?.readTechnology() }
        }
        wifiMonitor.pathUpdateHandler = { [weak self] path in
            self?.wifiUp = path.status == .satisfied
            self?.reportConnectivity()
        }
        cellularMonitor.pathUpdateHandler = { [weak self] path in
            self?.cellularUp = path.status == .satisfied
            self?.reportConnectivity()
        }
        wifiMonitor.start(queue: queue)
        cellularMonitor.start(queue: queue)
        queue.async { [weak self] in self?.readTechnology() }
    }

    public func stop() {
        if let token { NotificationCenter.default.removeObserver(token) }
        token = nil
        wifiMonitor.cancel()
        cellularMonitor.cancel()
    }

    /// Re-reads the technologies and sends those that changed (on `queue`).
    private func readTechnology() {
        let current = networkInfo.serviceCurrentRadioAccessTechnology ?? [:]
        for (service, technology) in current.sorted(by: { $0.key < $1.key }) {
            guard lastTechnology[service] != technology, let slot = slots.slot(for: service) else { continue }
            submit(.service(RadioMapping.serviceObservation(slot: slot, technology: technology)))
        }
        lastTechnology = current
    }

    /// Sends the connectivity when it changed (on `queue`).
    private func reportConnectivity() {
        let now = RadioMapping.connectivity(wifiSatisfied: wifiUp, cellularSatisfied: cellularUp)
        guard now != lastConnectivity else { return }
        lastConnectivity = now
        submit(.connectivity(now))
    }
}
#endif
