// BGTaskScheduler at the core's nextWakeup(). iOS decides when an app-refresh task actually
// runs (it may be much later than asked, or not at all while the app is rarely used):
// deadlines on iOS are best effort, which is one more reason carrier-side checks matter there.

#if canImport(BackgroundTasks)
import BackgroundTasks
import Foundation

public enum BackgroundWakeup {
    /// Must be listed in Info.plist under `BGTaskSchedulerPermittedIdentifiers`.
    public static let taskIdentifier = "org.portcullis.wakeup"

    /// Registers the task handler. Call it synchronously in
    /// `application(_:didFinishLaunchingWithOptions:)`, before launch finishes and before any
    /// `await` (iOS raises an exception for a later registration); `wake` may await the host
    /// opened in a `Task`. `wake` runs the agent (e.g. `host.wake()`) and returns the core's
    /// next date (nil: none). When the task expires, the work is cancelled: `host.wake()`
    /// stops between steps, and the next date is still asked for.
    public static func register(wake: @escaping @Sendable () async -> Date?) {
        _ = BGTaskScheduler.shared.register(forTaskWithIdentifier: taskIdentifier, using: nil) { task in
            let work = Task {
                let next = await wake()
                try? schedule(at: next)
                task.setTaskCompleted(success: !Task.isCancelled)
            }
            task.expirationHandler = {
                work.cancel()
            }
        }
    }

    /// Asks for an app-refresh task at or after `date`, replacing any earlier request; nil
    /// cancels. Throws `BGTaskScheduler.Error` (e.g. the identifier is missing from Info.plist,
    /// or Background App Refresh is off).
    public static func schedule(at date: Date?) throws {
        guard let date else {
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: taskIdentifier)
            return
        }
        let request = BGAppRefreshTaskRequest(identifier: taskIdentifier)
        request.earliestBeginDate = date
        try BGTaskScheduler.shared.submit(request)
    }
}
#endif
