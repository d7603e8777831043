import Glibc
import Posix

/// Everything the transport reports. Each case names the address or peer it concerns so a log
/// line is useful on its own.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// bind() found the port taken (kvd reports this as "port in use").
    case addressInUse(address: String)
    /// The address text or port could not be used.
    case badAddress(address: String, reason: String)
    case connectionRefused(address: String)
    /// ENETUNREACH / EHOSTUNREACH.
    case unreachable(address: String, errno: Int32)
    /// The connect timer (or the kernel's SYN retries) expired.
    case connectTimeout(address: String, milliseconds: Int)
    /// ECONNRESET / EPIPE: the peer went away abruptly.
    case connectionReset(peer: String)
    /// A write would have grown the outbound buffer past its limit; the connection was closed.
    case outboundBufferFull(peer: String, limit: Int)
    /// EventLoop.execute refused work because its queue is at capacity.
    case queueFull(capacity: Int)
    /// The loop has been shut down (or is shutting down).
    case loopShutdown
    /// Any other failed system call.
    case system(SystemError)

    public var description: String {
        switch self {
        case .addressInUse(let a): return "address in use: \(a)"
        case .badAddress(let a, let r): return "bad address \(a): \(r)"
        case .connectionRefused(let a): return "connection refused by \(a)"
        case .unreachable(let a, let e): return "\(a) unreachable: \(errnoDescription(e))"
        case .connectTimeout(let a, let ms): return "connect to \(a) timed out after \(ms) ms"
        case .connectionReset(let p): return "connection reset by \(p)"
        case .outboundBufferFull(let p, let limit): return "outbound buffer to \(p) exceeded \(limit) bytes"
        case .queueFull(let c): return "event loop queue full (\(c) tasks)"
        case .loopShutdown: return "event loop shut down"
        case .system(let e): return e.description
        }
    }

    /// Maps a failed socket call to the most specific case; `address` is the remote (or bound) one.
    init(_ error: SystemError, address: String, connectTimeoutMilliseconds: Int = 0) {
        switch error.errno {
        case EADDRINUSE: self = .addressInUse(address: address)
        case EADDRNOTAVAIL: self = .badAddress(address: address, reason: "address not available")
        case ECONNREFUSED: self = .connectionRefused(address: address)
        case ENETUNREACH, EHOSTUNREACH: self = .unreachable(address: address, errno: error.errno)
        case ETIMEDOUT: self = .connectTimeout(address: address, milliseconds: connectTimeoutMilliseconds)
        case ECONNRESET, EPIPE: self = .connectionReset(peer: address)
        default: self = .system(error)
        }
    }
}
