import CEpoll
import Glibc
import Posix

/// A listening IPv4 socket on a loop. Accepts every pending connection on each wake-up (up to
/// `maxAcceptsPerWake`, so one busy listener cannot starve the loop) and hands each one to
/// `onAccept`, where the owner sets the connection's callbacks. Loop thread only.
public final class TCPListener: @unchecked Sendable, EventHandler {
    // @unchecked Sendable: loop-confined; public entry points call assertInLoop().

    public let loop: EventLoop
    /// The bound address; for port 0 this holds the port the kernel chose.
    public let address: SocketAddress
    public var port: Int { Int(address.port) }

    public var onAccept: (TCPConnection) -> Void
    /// Accept failures that do not stop the listener (e.g. out of descriptors), for logs.
    public var onAcceptError: ((TransportError) -> Void)?

    public var connectionOptions: TCPConnection.Options
    public var maxAcceptsPerWake = 256
    /// How long to stop accepting after EMFILE/ENFILE: level-triggered epoll would otherwise
    /// report the same pending connection forever.
    public var acceptPauseMilliseconds = 100

    private let fd: Int32
    private var registrationID: UInt64 = 0
    private var open = true
    private var pauseTimer: TimerHandle?

    /// Binds with SO_REUSEADDR and listens. Throws `.addressInUse` or `.badAddress`
    /// (a host that is not local) among others. Must be called on the loop thread.
    public init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 1024,
                connectionOptions: TCPConnection.Options = .init(),
                onAccept: @escaping (TCPConnection) -> Void) throws(TransportError) {
        loop.assertInLoop()
        self.loop = loop
        self.onAccept = onAccept
        self.connectionOptions = connectionOptions
        let text = address.description
        let fd: Int32
        do {
            fd = try SocketOps.newTCPSocket(text)
        } catch {
            throw .system(error)
        }
        self.fd = fd
        do {
            try SocketOps.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, text)
            _ = try syscall("bind", text) { address.withSockAddr { Glibc.bind(fd, $0, $1) } }
            _ = try syscall("listen", text) { Glibc.listen(fd, backlog) }
        } catch {
            SocketOps.close(fd)
            throw TransportError(error, address: text)
        }
        self.address = SocketOps.localAddress(fd) ?? address
        do {
            registrationID = try loop.register(fd: fd, events: EPOLLIN.rawValue, handler: self)
        } catch {
            SocketOps.close(fd)
            throw .system(error)
        }
    }

    /// "host:port" convenience; port 0 picks a free port (read it back from `port`).
    public convenience init(loop: EventLoop, host: String, port: Int,
                            connectionOptions: TCPConnection.Options = .init(),
                            onAccept: @escaping (TCPConnection) -> Void) throws(TransportError) {
        try self.init(loop: loop, address: SocketAddress(host: host, port: port),
                      connectionOptions: connectionOptions, onAccept: onAccept)
    }

    public var isOpen: Bool {
        loop.assertInLoop()
        return open
    }

    /// Stops listening. Connections already accepted are unaffected.
    public func close() {
        loop.assertInLoop()
        guard open else { return }
        open = false
        pauseTimer?.cancel()
        loop.deregister(fd: fd, id: registrationID)
        SocketOps.close(fd)
    }

    func loopIsClosing() { close() }

    func handleEvent(_ events: UInt32) {
        var accepted = 0
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        while open && accepted < maxAcceptsPerWake {
            let client: Int32?
            do {
                client = try syscallAllowingWouldBlock("accept4", address.description) {
                    cepoll_accept4(fd, nil, nil, flags)
                }
            } catch {
                switch error.errno {
                case ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
                    continue  // that one connection failed; others may be waiting
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting()
                    onAcceptError?(.system(error))
                    return
                default:
                    onAcceptError?(.system(error))
                    return
                }
            }
            guard let client else { return }
            accepted += 1
            do {
                onAccept(try TCPConnection(adopting: client, loop: loop, options: connectionOptions))
            } catch {
                onAcceptError?(error)
            }
        }
    }

    private func pauseAccepting() {
        do {
            try loop.modify(fd: fd, id: registrationID, events: 0)
        } catch {
            return
        }
        pauseTimer = loop.schedule(after: acceptPauseMilliseconds) { [weak self] in
            guard let self, self.open else { return }
            try? self.loop.modify(fd: self.fd, id: self.registrationID, events: EPOLLIN.rawValue)
        }
    }
}
