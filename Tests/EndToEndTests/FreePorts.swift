import Glibc

/// Distinct free TCP ports on 127.0.0.1: all are bound (port 0) at once, so the kernel
/// hands out different ones, then released for the child processes to bind.
func freePorts(_ count: Int) -> [Int] {
    var fds: [Int32] = []
    var ports: [Int] = []
    defer { for fd in fds { close(fd) } }
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        fds.append(fd)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        precondition(ok, "bind/getsockname failed")
        ports.append(Int(UInt16(bigEndian: addr.sin_port)))
    }
    return ports
}
