import CEpoll
import Glibc
import Posix

/// A non-blocking TCP stream owned by one EventLoop. Bytes in via `onBytes`, bytes out via
/// `write`. All members must be used on the loop thread (checked with `assertInLoop`).
///
/// Lifecycle: open until `close` is called, the peer closes (`onClose(nil)`), or an error
/// occurs (`onClose(error)`). `onClose` fires exactly once; afterwards both callbacks are
/// released (breaking the usual connection <-> closure retain cycle) and writes return false.
/// Half-closed streams are not supported: EOF from the peer closes the connection.
public final class TCPConnection: @unchecked Sendable, EventHandler {
    // @unchecked Sendable: so a reference can travel in an `execute` closure to the loop.
    // Every mutable member is loop-confined and every public entry point calls assertInLoop().

    public struct Options: Sendable {
        /// Exceeding this with queued-but-unsent bytes closes the connection with
        /// `.outboundBufferFull`: a peer that does not read must not exhaust our memory.
        public var maxOutboundBytes: Int
        /// Fairness: after this many bytes in one wake-up, other sockets get a turn.
        public var maxReadBytesPerWake: Int
        public var noDelay: Bool
        /// Backpressure: with this many bytes queued, stop reading (so the peer's requests wait
        /// in TCP and its sends block) until the queue drains to half of it. Int.max: never.
        public var pauseReadingAboveOutboundBytes: Int
        /// Shared with other connections: a bound on what all of them queue together.
        public var budget: OutboundBudget?

        public init(maxOutboundBytes: Int = 16 << 20, maxReadBytesPerWake: Int = 256 << 10, noDelay: Bool = true,
                    pauseReadingAboveOutboundBytes: Int = Int.max, budget: OutboundBudget? = nil) {
            self.maxOutboundBytes = maxOutboundBytes
            self.maxReadBytesPerWake = max(1, maxReadBytesPerWake)
            self.noDelay = noDelay
            self.pauseReadingAboveOutboundBytes = max(1, pauseReadingAboveOutboundBytes)
            self.budget = budget
        }
    }

    public let loop: EventLoop
    public let options: Options
    /// "host:port" of the remote end, for logs.
    public let peerAddress: String
    public let localAddress: String

    /// Received bytes, in order, as they arrive (no framing). Set it in the accept/connect
    /// callback; bytes read while it is nil are discarded.
    public var onBytes: (([UInt8]) -> Void)?
    /// Fires once: nil for a clean close (ours or the peer's EOF), otherwise the cause.
    public var onClose: ((TransportError?) -> Void)?
    /// Fires when a flush empties the outbound queue (the peer is reading again).
    public var onOutboundDrained: (() -> Void)?

    private let fd: Int32
    private var registrationID: UInt64 = 0
    private var open = true
    private var outbound = OutboundBuffer()
    private var watchingWritable = false
    /// Reading is paused for backpressure: too much queued (see
    /// Options.pauseReadingAboveOutboundBytes) or the owner asked (`holdReads`).
    private var readingPaused = false
    private var outboundFull = false
    private var flushPending = false
    private var closeWhenFlushed = false

    /// Takes ownership of a connected non-blocking socket; closes it if registration fails.
    init(adopting fd: Int32, loop: EventLoop, options: Options, peer: SocketAddress? = nil) throws(TransportError) {
        self.loop = loop
        self.options = options
        self.fd = fd
        self.peerAddress = (peer ?? SocketOps.peerAddress(fd))?.description ?? "fd \(fd)"
        self.localAddress = SocketOps.localAddress(fd)?.description ?? "?"
        do {
            if options.noDelay {
                try SocketOps.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, peerAddress)
            }
            registrationID = try loop.register(fd: fd, events: Self.readEvents, handler: self)
        } catch {
            SocketOps.close(fd)
            throw TransportError(error, address: peerAddress)
        }
    }

    private static let readEvents = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
    private static let readWriteEvents = readEvents | EPOLLOUT.rawValue

    public var isOpen: Bool {
        loop.assertInLoop()
        return open
    }

    /// Bytes accepted by `write` but not yet handed to the kernel.
    public var pendingOutboundBytes: Int {
        loop.assertInLoop()
        return outbound.count
    }

    // MARK: Writing

    /// Queues bytes; they are sent at the end of the current loop iteration together with any
    /// other writes made in it. Returns false if the connection is closed (or closing after a
    /// flush), or if this write overflowed the outbound limit, which also closes it.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool { append(bytes) }

    @discardableResult
    public func write(_ bytes: ArraySlice<UInt8>) -> Bool { append(bytes) }

    private func append<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        loop.assertInLoop()
        guard open, !closeWhenFlushed else { return false }
        if bytes.isEmpty { return true }
        if outbound.count + bytes.count > options.maxOutboundBytes {
            close(.outboundBufferFull(peer: peerAddress, limit: options.maxOutboundBytes))
            return false
        }
        outbound.append(bytes)
        if let budget = options.budget {
            budget.added(bytes.count, by: self)
            budget.enforce()
            guard open else { return false }  // this connection held the most
        }
        if !outboundFull && outbound.count >= options.pauseReadingAboveOutboundBytes {
            outboundFull = true
            updateInterest(pausingReads: true)
        }
        if !flushPending && !watchingWritable {
            flushPending = true
            loop.deferToTickEnd { [self] in
                flushPending = false
                flush()
            }
        }
        return true
    }

    /// Sends what is queued now instead of at the end of the loop iteration: for bytes that
    /// should be on the wire before the loop blocks (e.g. on an fsync).
    public func flushNow() {
        loop.assertInLoop()
        if open && !watchingWritable && !outbound.isEmpty { flush() }
    }

    /// Sends until the kernel buffer is full; then waits for EPOLLOUT.
    private func flush() {
        guard open else { return }
        while !outbound.isEmpty {
            let sent: Int?
            do {
                sent = try syscallAllowingWouldBlock("send", peerAddress) {
                    outbound.withUnsentBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                close(TransportError(error, address: peerAddress))
                return
            }
            guard let sent else {
                setWatchingWritable(true)
                return
            }
            outbound.consume(sent)
            options.budget?.removed(sent, by: self, nowEmpty: outbound.isEmpty)
        }
        if outboundFull && outbound.count <= options.pauseReadingAboveOutboundBytes / 2 {
            outboundFull = false
            updateInterest(pausingReads: holdReads)
        }
        setWatchingWritable(false)
        if closeWhenFlushed { close(nil) }
        if open { onOutboundDrained?() }
    }

    private func setWatchingWritable(_ on: Bool) {
        guard on != watchingWritable, open else { return }
        apply(writable: on, paused: readingPaused)
    }

    private func updateInterest(pausingReads paused: Bool) {
        guard paused != readingPaused, open else { return }
        apply(writable: watchingWritable, paused: paused)
    }

    /// The epoll interest for a state. A paused reader still hears hang-ups (EPOLLHUP and
    /// EPOLLERR are always reported).
    private func apply(writable: Bool, paused: Bool) {
        let read = paused ? 0 : Self.readEvents
        do {
            try loop.modify(fd: fd, id: registrationID, events: read | (writable ? EPOLLOUT.rawValue : 0))
            watchingWritable = writable
            readingPaused = paused
        } catch {
            close(TransportError(error, address: peerAddress))
        }
    }

    /// Reading is paused, for either reason (for tests and status).
    public var isReadingPaused: Bool {
        loop.assertInLoop()
        return readingPaused
    }

    /// Set by the owner to stop reading (e.g. the peer has as many requests in flight as it
    /// may): the peer's further bytes wait in TCP. Cleared, reading resumes unless the
    /// outbound queue is still over its mark.
    public var holdReads = false {
        didSet {
            loop.assertInLoop()
            if holdReads != oldValue { updateInterest(pausingReads: holdReads || outboundFull) }
        }
    }

    // MARK: Events

    func handleEvent(_ events: UInt32) {
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            readAvailable()
            // EPOLLERR with nothing left to read: the socket error is the reason.
            if open && events & EPOLLERR.rawValue != 0 {
                let e = SocketOps.pendingError(fd)
                close(e == 0 ? nil : TransportError(SystemError(call: "socket", context: peerAddress, errno: e), address: peerAddress))
            }
            // A hang-up while reads are paused would be reported again and again (level
            // triggered) with nothing read: the peer is gone both ways, so close.
            if open && readingPaused && events & EPOLLHUP.rawValue != 0 { close(nil) }
        }
        if open && events & EPOLLOUT.rawValue != 0 {
            flush()
        }
    }

    private func readAvailable() {
        var budget = options.maxReadBytesPerWake
        while open && budget > 0 && !readingPaused {
            let want = min(budget, loop.readBuffer.count)
            let received: Int?
            do {
                received = try syscallAllowingWouldBlock("recv", peerAddress) {
                    loop.readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
                }
            } catch {
                close(TransportError(error, address: peerAddress))
                return
            }
            guard let received else { return }  // drained
            if received == 0 {
                close(nil)  // orderly EOF from the peer
                return
            }
            budget -= received
            let bytes = Array(loop.readBuffer[0..<received])
            onBytes?(bytes)
        }
    }

    func loopIsClosing() { close(.loopShutdown) }

    // MARK: Closing

    /// Closes now, discarding unsent bytes. `onClose(error)` fires synchronously unless it
    /// already fired. Safe to call from inside any callback.
    public func close(_ error: TransportError? = nil) {
        loop.assertInLoop()
        guard open else { return }
        open = false
        loop.deregister(fd: fd, id: registrationID)
        SocketOps.close(fd)
        options.budget?.removed(outbound.count, by: self, nowEmpty: true)
        outbound.removeAll()
        let callback = onClose
        onClose = nil
        onBytes = nil
        onOutboundDrained = nil
        callback?(error)
    }

    /// Stops accepting writes and closes once everything queued has been sent.
    public func closeAfterFlush() {
        loop.assertInLoop()
        guard open else { return }
        closeWhenFlushed = true
        // Send the last bytes now rather than at the end of the loop iteration, so a closing
        // connection gives its descriptor back at once: a flood of refused connections
        // accepted in one wake (up to maxAcceptsPerWake) must not hold that many descriptors
        // until the tick ends, eating the reserve kept for the WAL and snapshots.
        if outbound.isEmpty { close(nil) } else if !watchingWritable { flush() }
    }
}
