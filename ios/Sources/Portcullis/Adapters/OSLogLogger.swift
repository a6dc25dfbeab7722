// The library's log records in the unified log, through the Logger trait (setLogger).

#if canImport(os)
import Foundation
import os

/// A `Logger` (the library's trait, not `os.Logger`) writing to `OSLog(subsystem:category:)`.
/// Without it the library logs to the unified log by itself; installing it puts the records on
/// the app's side. The library never logs identifiers or keys, so messages are public.
public final class OSLogLogger: Portcullis.Logger, @unchecked Sendable {
    private let osLog: OSLog
    private let minimum: LogLevel

    public init(subsystem: String = "org.portcullis", category: String = "core", minimum: LogLevel = .info) {
        self.osLog = OSLog(subsystem: subsystem, category: category)
        self.minimum = minimum
    }

    public func log(level: LogLevel, target: String, message: String) {
        guard Self.verbosity(level) <= Self.verbosity(minimum) else { return }
        os_log("%{public}@: %{public}@", log: osLog, type: Self.type(level), target, message)
    }

    /// Installs an `OSLogLogger` for the whole process.
    public static func install(minimum: LogLevel = .info) {
        setLogger(logger: OSLogLogger(minimum: minimum))
    }

    static func verbosity(_ level: LogLevel) -> Int {
        switch level {
        case .error: return 0
        case .warn: return 1
        case .info: return 2
        case .debug: return 3
        case .trace: return 4
        }
    }

    static func type(_ level: LogLevel) -> OSLogType {
        switch level {
        case .error: return .error
        case .warn: return .default // the unified log has no warning level
        case .info: return .info
        case .debug, .trace: return .debug
        }
    }
}
#endif
