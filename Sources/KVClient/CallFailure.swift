import Transport
import Wire

/// Why one attempt on one connection produced no reply. `sent` says whether the request
/// reached the socket: if not, the server cannot have seen it.
enum CallFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The TCP connection could not be established (refused, unreachable, dial timeout).
    case dial(TransportError)
    /// The connection closed (or broke) before the reply arrived.
    case connectionLost(TransportError?, sent: Bool)
    /// No reply within the attempt's timeout.
    case timedOut(milliseconds: Int, sent: Bool)
    /// The server's bytes broke framing or the reply body did not decode.
    case protocolError(String)
    /// The server reported a stream-level error (request id 0) before closing.
    case serverClosed(ClientError)
    case cancelled(sent: Bool)
    case loopShutdown

    /// Whether the server may have received (and so may apply) the request.
    var maybeDelivered: Bool {
        switch self {
        case .dial, .loopShutdown: return false
        // A connection-level refusal comes before the server reads anything.
        case .serverClosed(.busy), .serverClosed(.shuttingDown): return false
        case let .connectionLost(_, sent), let .timedOut(_, sent), let .cancelled(sent): return sent
        case .protocolError, .serverClosed: return true
        }
    }

    var description: String {
        switch self {
        case let .dial(e): return e.description
        case let .connectionLost(e, _): return "connection lost" + (e.map { ": \($0)" } ?? " (closed by server)")
        case let .timedOut(ms, _): return "no reply within \(ms)ms"
        case let .protocolError(why): return "protocol error: \(why)"
        case let .serverClosed(e): return "server closed the connection: \(e)"
        case .cancelled: return "cancelled"
        case .loopShutdown: return "client closed"
        }
    }
}
