// Ties the agent to the adapters: one input queue (so the core sees readings in the order
// they happened), feedback delivery after each step, the managed configuration applied through
// the core's syncManagedConfig and InstructionLoop, and the core's wake-ups: `wake()` carries out the
// duties the core hands out and returns its next wake-up date for BGTaskScheduler. Foundation only;
// the platform pieces are injected.

import Foundation

public final class PortcullisHost: @unchecked Sendable {
    public let agent: Agent
    public let feedback: ManagedFeedbackChannel
    private let continuation: AsyncStream<PlatformInput>.Continuation
    /// Signed console instructions; set `instructions.showNotice` to show notices.
    public let instructions: InstructionLoop
    private var configObserver: ManagedAppConfigObserver?
    /// Called with a description when an input or a delivery fails (library messages name
    /// fields, never identifier values).
    public var onError: ((String) -> Void)?
    /// Called after each managed-configuration sync (e.g. to log it, or to ask `wake()` for a
    /// new wake-up date: a new policy can move it).
    public var onPolicySync: ((ManagedConfigSync) -> Void)?
    /// Called after each instruction pass (managed configuration, `applyInstruction`, wake-up).
    public var onInstructions: ((InstructionPass) -> Void)?

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

    /// Opens the agent (first use enrolls) with the platform's device key, e.g. `KeychainDeviceKey()`,
    /// and applies the managed configuration in `managedDefaults` now and on every change
    /// (nil: not watched; call `watchManagedConfig` later).
    public static func open(deviceKey: DeviceKey, databaseURL: URL? = nil,
                            managedDefaults: UserDefaults? = .standard) async throws -> PortcullisHost {
        let url = try databaseURL ?? defaultDatabaseURL()
        let agent = try await Agent.open(dbPath: url.path, deviceKey: deviceKey, now: Date())
        let host = PortcullisHost(agent: agent)
        if let managedDefaults {
            host.watchManagedConfig(defaults: managedDefaults)
        }
        return host
    }

    private init(agent: Agent, feedback: ManagedFeedbackChannel = ManagedFeedbackChannel()) {
        self.agent = agent
        self.feedback = feedback
        self.instructions = InstructionLoop(agent: agent, feedback: feedback)
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

    /// Queues a signed console instruction from a channel other than the managed
    /// configuration. Only what the core verifies against the trust root's operations role
    /// reaches the SIM guard; a refusal raises `instruction_refused`.
    public func applyInstruction(_ envelope: Data) {
        submit(.instruction(envelope))
    }

    /// Queues the managed configuration now and whenever the MDM changes it (once; call from
    /// one thread, as `open` does).
    public func watchManagedConfig(defaults: UserDefaults = .standard) {
        guard configObserver == nil else { return }
        let observer = ManagedAppConfigObserver(defaults: defaults) { [weak self] config in
            self?.submit(.managedConfig(config))
        }
        configObserver = observer
        observer.start()
    }

    /// A wake-up (BGTaskScheduler, launch): the core lets time pass, judges the boot instant
    /// (`kern.boottime`) and hands out duties, which are carried out here; returns the core's
    /// next wake-up date for the scheduler. Stops between steps once the task is cancelled (the
    /// background task expired). The radio technology is observed continuously by
    /// `RadioObserver` and iOS offers no snapshot for compliance, so `rereadRadio` and
    /// `evaluateCompliance` have nothing more to read here.
    public func wake(now: Date = Date(), bootTime: Date? = BootClock.bootTime()) async -> Date? {
        do {
            let woken = try await agent.wake(now: now, bootTime: bootTime)
            try Task.checkCancellation()
            if woken.duties.resumeActions {
                submit(.instructionsAwaiting)
            }
            if woken.duties.upload {
                do {
                    try await CollectorSender().ship(agent: agent, now: now)
                } catch {
                    onError?("journal upload: \(error)")
                }
            }
            if woken.duties.deliverAlerts || !woken.alerts.isEmpty {
                await deliver(now: now)
            }
        } catch is CancellationError {
            onError?("wake-up cut short: the background task expired")
        } catch {
            onError?("wake-up: \(error)")
        }
        return agent.nextWakeup()
    }

    /// Publishes pending alerts and reports the attempt; the core decides when to retry
    /// (its backoff is part of `nextWakeup()`).
    public func deliver(now: Date = Date()) async {
        let result: DeliveryResult
        do {
            try Task.checkCancellation()
            try await feedback.deliver(agent: agent, now: now)
            result = .delivered
        } catch is CancellationError {
            return
        } catch {
            onError?("feedback delivery: \(error)")
            result = .failed
        }
        do {
            _ = try await agent.reportDelivery(sent: [], result: result, now: now)
        } catch {
            onError?("delivery report: \(error)")
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
            case .instruction(let envelope):
                let pass = await instructions.apply(envelope, now: now)
                await instructionsDone(pass, now: now)
                alerts = pass.alerts
            case .instructionsAwaiting:
                let pass = await instructions.handleAwaiting(now: now)
                await instructionsDone(pass, now: now)
                alerts = pass.alerts
            case .managedConfig(let config):
                await applyManagedConfig(config, now: now)
                alerts = []
            }
            if !alerts.isEmpty {
                await deliver(now: now)
            }
        } catch {
            onError?("input not recorded: \(error)")
        }
    }

    /// The managed configuration to the core (root, bundle, indicator collections,
    /// instructions); its console message goes to the MDM as the `portcullis.policy` feedback
    /// entry, and a refusal's `policy_refused` alert is delivered at once.
    private func applyManagedConfig(_ config: ManagedConfigValues, now: Date) async {
        do {
            let sync = try await agent.syncManagedConfig(config: config, now: now)
            await feedback.publish([sync.console])
            onPolicySync?(sync)
        } catch {
            onError?("managed configuration: \(error)")
            let name = String(String(describing: error).prefix(while: \.isLetter))
            await feedback.publish([consolePolicySyncFailed(errorName: name, now: now)])
        }
        // What the sync's instructions handed out.
        await instructionsDone(await instructions.handleAwaiting(now: now), now: now)
        await deliver(now: now)
    }

    /// Publishes an instruction pass as `portcullis.instructions` and reports failures.
    private func instructionsDone(_ pass: InstructionPass, now: Date) async {
        if pass.results.isEmpty && pass.reported.isEmpty && pass.awaitingMdm.isEmpty && pass.error == nil {
            return
        }
        await feedback.publish([InstructionLoop.message(pass, now: now)])
        if let error = pass.error {
            onError?("instructions: \(error)")
        }
        onInstructions?(pass)
    }
}
