import Glibc

/// An IPv4 host:port. Names other than "localhost" are not resolved: DNS would block the loop.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Dotted-quad form.
    public let host: String
    public let port: UInt16

    public init(host: String, port: Int) throws(TransportError) {
        let text = "\(host):\(port)"
        guard (0...65_535).contains(port) else {
            throw .badAddress(address: text, reason: "port out of range 0...65535")
        }
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var addr = in_addr()
        guard inet_pton(AF_INET, numeric, &addr) == 1 else {
            throw .badAddress(address: text, reason: "not an IPv4 address")
        }
        self.host = numeric
        self.port = UInt16(port)
    }

    /// Parses "host:port", e.g. "127.0.0.1:0".
    public init(parsing text: String) throws(TransportError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw .badAddress(address: text, reason: "expected host:port")
        }
        let host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]) else {
            throw .badAddress(address: text, reason: "port is not a number")
        }
        try self.init(host: host, port: port)
    }

    init(_ sin: sockaddr_in) {
        var addr = sin.sin_addr
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        let ok = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil
        self.host = ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        self.port = UInt16(bigEndian: sin.sin_port)
    }

    public var description: String { "\(host):\(port)" }

    /// Calls `body` with this address as a sockaddr; the pointer is valid only inside `body`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, host, &sin.sin_addr)  // validated in init
        return withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
