// Ties the agent to the adapters: one input queue (so the core sees readings in the order
// they happened), feedback delivery after each step, and the next wake-up date for
// BGTaskScheduler. Foundation only; the platform pieces are injected.

import Foundation

public final class PortcullisHost: @unchecked Sendable {
    public let agent: Agent
    public let feedback: ManagedFeedbackChannel
    private let continuation: AsyncStream<PlatformInput>.Continuation
    /// Called with a description when an input or a delivery fails (library messages name
    /// fields, never identifier values).
    public var onError: ((String) -> Void)?

    /// `Application Support/Portcullis/agent.db`, excluded from backups (the device key is
    /// this-device-only, so a restored database could not be opened elsewhere anyway).
    public static func defaultDatabaseURL() throws -> URL {
        var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                              appropriateFor: nil, create: true)
            .appendingPathComponent("Portcullis", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir.appendingPathComponent("agent.db")
    }

    /// Opens the agent (first use enrolls) with the platform's device key, e.g. `KeychainDeviceKey()`.
    public static func open(deviceKey: DeviceKey, databaseURL: URL? = nil) async throws -> PortcullisHost {
        let url = try databaseURL ?? defaultDatabaseURL()
        let agent = try await Agent.open(dbPath: url.path, deviceKey: deviceKey, now: Date())
        return PortcullisHost(agent: agent)
    }

    private init(agent: Agent, feedback: ManagedFeedbackChannel = ManagedFeedbackChannel()) {
        self.agent = agent
        self.feedback = feedback
        var captured: AsyncStream<PlatformInput>.Continuation?
        let stream = AsyncStream<PlatformInput> { captured = $0 }
        continuation = captured!
        Task { [weak self] in
            for await input in stream {
                guard let self else { return }
                await self.handle(input)
            }
        }
    }

    deinit {
        continuation.finish()
    }

    /// Queues an input; returns at once, from any thread.
    public func submit(_ input: PlatformInput) {
        continuation.yield(input)
    }

    /// A wake-up (BGTaskScheduler, launch): let the core handle the time, deliver, and return
    /// the date to ask the scheduler for next (nil: nothing due).
    public func wake(now: Date = Date()) async -> Date? {
        do {
            _ = try await agent.handleTimeout(now: now)
        } catch {
            onError?("timeout: \(error)")
        }
        let retry = await deliver(now: now)
        return WakeupPlanner.earliestBeginDate(nextWakeup: agent.nextWakeup(), retryAt: retry, now: now)
    }

    /// Publishes pending alerts; returns when to retry after a failure.
    @discardableResult
    public func deliver(now: Date = Date()) async -> Date? {
        do {
            try await feedback.deliver(agent: agent, now: now)
            return nil
        } catch {
            onError?("feedback delivery: \(error)")
            return now.addingTimeInterval(60)
        }
    }

    private func handle(_ input: PlatformInput) async {
        let now = Date()
        do {
            let alerts: [Alert]
            switch input {
            case .service(let observation):
                alerts = try await agent.handleService(observation: observation, now: now)
            case .connectivity(let connectivity):
                alerts = try await agent.handleConnectivity(connectivity: connectivity, now: now)
            case .reboot:
                alerts = try await agent.handleReboot(now: now)
            case .carrierCheck(let check):
                alerts = try await agent.handleCarrierCheck(check: check, now: now)
            case .authorizeSimChange(let until, let reason):
                alerts = try await agent.authorizeSimChange(until: until, reason: reason, now: now)
            }
            if !alerts.isEmpty {
                await deliver(now: now)
            }
        } catch {
            onError?("input not recorded: \(error)")
        }
    }
}
