/// Everything a `KVClient` call can fail with. Each case says whether the operation may
/// have taken effect, because that is what a caller must decide on.
public enum KVClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The deadline passed after the request may have reached a leader: it may or may not
    /// have been applied. `lastProblem` is the last thing that went wrong, for diagnosis.
    case timeout(operation: String, after: Duration, lastProblem: String?)
    /// The request was never accepted by any server: no endpoint could be reached, or the
    /// cluster has no quorum / no leader. It was not applied.
    case unavailable(String)
    /// No configured endpoint accepted a connection (the cluster is probably not running).
    /// The request was not applied.
    case noEndpointReachable(tried: [String], lastProblem: String?)
    /// The server rejected the request as malformed (not retried; not applied).
    case badRequest(String)
    /// A key, value or frame exceeded a limit (not retried; not applied).
    case tooLarge(String)
    /// The server no longer remembers this request's sequence (the session moved on);
    /// the outcome is unknown.
    case sessionExpired(sequence: UInt64)
    /// An endpoint string could not be parsed.
    case invalidEndpoint(String, reason: String)
    /// The server sent something that breaks the protocol (wrong reply kind, bad frame).
    case protocolViolation(String)
    /// The calling task was cancelled; the outcome is unknown if the request was sent.
    case cancelled
    /// `close()` was called on the client.
    case closed

    /// True when the operation might have been applied even though it failed.
    public var outcomeUnknown: Bool {
        switch self {
        case .timeout, .sessionExpired, .cancelled, .protocolViolation: return true
        case .unavailable, .noEndpointReachable, .badRequest, .tooLarge, .invalidEndpoint, .closed: return false
        }
    }

    public var description: String {
        switch self {
        case let .timeout(op, after, last):
            return "\(op) timed out after \(after.shortText); outcome unknown (it may or may not have been applied)"
                + (last.map { "; last problem: \($0)" } ?? "")
        case let .unavailable(why): return why
        case let .noEndpointReachable(tried, last):
            return "no endpoint reachable (tried \(tried.joined(separator: ", ")))" + (last.map { "; last error: \($0)" } ?? "")
        case let .badRequest(why): return "bad request: \(why)"
        case let .tooLarge(why): return "too large: \(why)"
        case let .sessionExpired(seq):
            return "server forgot request \(seq) of this client session; outcome unknown"
        case let .invalidEndpoint(e, why): return "invalid endpoint \"\(e)\": \(why)"
        case let .protocolViolation(why): return "protocol violation: \(why)"
        case .cancelled: return "cancelled; outcome unknown"
        case .closed: return "client is closed"
        }
    }
}

extension Duration {
    /// "250ms", "2s", "1.5s": for error messages.
    var shortText: String {
        let ms = Int64(components.seconds) * 1000 + Int64(components.attoseconds / 1_000_000_000_000_000)
        if ms < 1000 || ms % 100 != 0 { return "\(ms)ms" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(Double(ms) / 1000)s"
    }

    var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
