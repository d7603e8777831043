import CEpoll
import Glibc
import Posix

/// An outbound non-blocking connect in progress. `cancel()` abandons it without calling the
/// completion. Loop thread only.
public final class ConnectAttempt: @unchecked Sendable, EventHandler {
    // @unchecked Sendable: loop-confined (the timeout timer's closure hops back onto the loop
    // before touching it); entry points call assertInLoop().

    public let loop: EventLoop
    public let address: SocketAddress
    private let timeoutMilliseconds: Int
    private let options: TCPConnection.Options
    private var completion: ((Result<TCPConnection, TransportError>) -> Void)?
    private var fd: Int32 = -1
    private var registrationID: UInt64 = 0
    private var timer: TimerHandle?

    init(loop: EventLoop, address: SocketAddress, timeoutMilliseconds: Int, options: TCPConnection.Options,
         completion: @escaping (Result<TCPConnection, TransportError>) -> Void) {
        self.loop = loop
        self.address = address
        self.timeoutMilliseconds = timeoutMilliseconds
        self.options = options
        self.completion = completion
    }

    public var isPending: Bool {
        loop.assertInLoop()
        return completion != nil
    }

    func start() {
        let text = address.description
        do {
            fd = try SocketOps.newTCPSocket(text)
        } catch {
            finishLater(.failure(.system(error)))
            return
        }
        do {
            let fd = self.fd
            _ = try syscall("connect", text) { address.withSockAddr { Glibc.connect(fd, $0, $1) } }
            finishLater(nil)  // connected at once (possible on loopback)
            return
        } catch where error.errno == EINPROGRESS {
            // The usual case: completion is signalled by EPOLLOUT.
        } catch {
            finishLater(.failure(classify(error)))
            return
        }
        do {
            registrationID = try loop.register(fd: fd, events: EPOLLOUT.rawValue, handler: self)
        } catch {
            finishLater(.failure(.system(error)))
            return
        }
        timer = loop.schedule(after: timeoutMilliseconds) { [weak self] in
            guard let self else { return }
            self.finish(.failure(.connectTimeout(address: self.address.description, milliseconds: self.timeoutMilliseconds)))
        }
    }

    /// Abandons the attempt; the completion is not called.
    public func cancel() {
        loop.assertInLoop()
        guard completion != nil else { return }
        completion = nil
        release()
    }

    func handleEvent(_ events: UInt32) {
        let error = SocketOps.pendingError(fd)
        if error != 0 {
            finish(.failure(classify(SystemError(call: "connect", context: address.description, errno: error))))
        } else if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            finish(.failure(.connectionRefused(address: address.description)))
        } else {
            finish(nil)
        }
    }

    func loopIsClosing() { finish(.failure(.loopShutdown)) }

    private func classify(_ error: SystemError) -> TransportError {
        // On connect, EADDRNOTAVAIL means no free local port, not a bad remote address.
        if error.errno == EADDRNOTAVAIL { return .system(error) }
        return TransportError(error, address: address.description, connectTimeoutMilliseconds: timeoutMilliseconds)
    }

    /// Immediate outcomes are delivered at the end of the iteration, so the completion never
    /// runs inside `connect(...)` itself.
    private func finishLater(_ outcome: Result<TCPConnection, TransportError>?) {
        loop.deferToTickEnd { [self] in finish(outcome) }
    }

    /// nil means "connected": the socket is handed to a new TCPConnection.
    private func finish(_ outcome: Result<TCPConnection, TransportError>?) {
        guard let completion else { return }
        self.completion = nil
        if let outcome {
            release()
            completion(outcome)
            return
        }
        timer?.cancel()
        if registrationID != 0 { loop.deregister(fd: fd, id: registrationID) }
        let fd = self.fd
        self.fd = -1
        do {
            completion(.success(try TCPConnection(adopting: fd, loop: loop, options: options, peer: address)))
        } catch {
            completion(.failure(error))
        }
    }

    private func release() {
        timer?.cancel()
        if registrationID != 0 { loop.deregister(fd: fd, id: registrationID) }
        registrationID = 0
        if fd >= 0 { SocketOps.close(fd) }
        fd = -1
    }
}

extension TCPConnection {
    /// Connects to `address` without blocking the loop. `completion` runs on the loop exactly
    /// once (unless the attempt is cancelled) with the open connection or
    /// `.connectionRefused` / `.unreachable` / `.connectTimeout` / another error.
    /// Must be called on the loop thread.
    @discardableResult
    public static func connect(to address: SocketAddress, on loop: EventLoop, timeoutMilliseconds: Int = 5_000,
                               options: Options = .init(),
                               completion: @escaping (Result<TCPConnection, TransportError>) -> Void) -> ConnectAttempt {
        loop.assertInLoop()
        let attempt = ConnectAttempt(loop: loop, address: address, timeoutMilliseconds: max(1, timeoutMilliseconds),
                                     options: options, completion: completion)
        attempt.start()
        return attempt
    }
}
