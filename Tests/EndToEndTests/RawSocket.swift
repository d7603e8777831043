import Glibc

/// A blocking TCP socket with a receive timeout, for sending bytes no real client would.
struct RawSocket {
    let fd: Int32

    init(port: Int, receiveTimeoutMs: Int = 3000) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError.failed("socket") }
        var tv = timeval(tv_sec: receiveTimeoutMs / 1000, tv_usec: (receiveTimeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw RawSocketError.failed("connect to port \(port): errno \(errno)") }
        self.fd = fd
    }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the server may close mid-send: that is what some tests expect
            off += n
        }
    }

    /// Reads until the peer closes (closed = true) or nothing arrives for the timeout.
    func receive() -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buf[0..<n]; continue }
            if n == 0 { return (out, true) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return (out, false) }
            return (out, true)  // ECONNRESET: closed too
        }
    }

    /// One read: whatever arrives first (empty on timeout; closed when the peer closed).
    func receiveSome() -> (bytes: [UInt8], closed: Bool) {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return (Array(buf[0..<n]), false) }
            if n == 0 { return ([], true) }
            if errno == EINTR { continue }
            return ([], errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    /// Reads until at least `count` bytes arrived, the peer closed, or the timeout.
    func receive(atLeast count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buf[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return out
    }

    func close() { Glibc.close(fd) }
}

enum RawSocketError: Error { case failed(String) }
