import Glibc
import Posix

/// Thin socket helpers; every call goes through Posix.syscall.
enum SocketOps {
    /// A non-blocking, close-on-exec IPv4 TCP socket.
    static func newTCPSocket(_ context: String) throws(SystemError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return try syscall("socket", context) { socket(AF_INET, type, 0) }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ context: String) throws(SystemError) {
        var v = value
        _ = try syscall("setsockopt", context) {
            setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// SO_ERROR: the outcome of a non-blocking connect, or an asynchronous socket error.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        do {
            _ = try syscall("getsockopt", "SO_ERROR") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) }
        } catch {
            return error.errno
        }
        return value
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        name(fd, "getsockname") { getsockname(fd, $0, $1) }
    }

    static func peerAddress(_ fd: Int32) -> SocketAddress? {
        name(fd, "getpeername") { getpeername(fd, $0, $1) }
    }

    private static func name(_ fd: Int32, _ call: String, _ get: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var sin = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = (try? syscall(call, "fd \(fd)") {
            withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { get($0, &len) }
            }
        }) != nil
        return ok && Int32(sin.sin_family) == AF_INET ? SocketAddress(sin) : nil
    }

    /// Close errors are not actionable for sockets (the descriptor is gone either way).
    static func close(_ fd: Int32) {
        try? closeDescriptor(fd, "socket fd \(fd)")
    }
}
