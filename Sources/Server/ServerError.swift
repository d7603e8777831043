import Storage
import Transport

/// Why a server could not start or had to stop. Each description is one line for
/// "Error: ..." on stderr.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A bad flag or configuration value.
    case config(String)
    /// A listener could not bind; `which` is "client" or "peer".
    case listen(which: String, TransportError)
    /// The data directory is unusable (foreign cluster or node, corrupt, unreadable).
    case storage(dataDir: String, StorageError)
    /// The event loop could not be created or is gone.
    case transport(TransportError)
    /// start() was called twice, or after shutdown.
    case notStartable(String)

    public var description: String {
        switch self {
        case let .config(s): return s
        case let .listen(which, .addressInUse(address)): return "\(which) port in use: \(address)"
        case let .listen(which, e): return "cannot listen for \(which)s: \(e)"
        case let .storage(dir, e): return "data dir \(dir): \(e)"
        case let .transport(e): return "transport: \(e)"
        case let .notStartable(s): return s
        }
    }
}
