/// A long-lived outgoing link to one peer: connects, and after any failure or disconnect
/// reconnects with exponential backoff and jitter, until `stop()`. While disconnected, sent
/// messages wait in a bounded queue that drops the oldest (Raft tolerates lost messages;
/// stale ones are the least useful). Loop thread only.
///
/// On each connection `onConnected(connection)` runs before any queued message is written, so
/// the owner can write a handshake first. The link owns the connection's `onBytes` / `onClose`
/// (incoming bytes are forwarded to the link's `onBytes`): do not replace them.
public final class PeerLink: @unchecked Sendable {
    // @unchecked Sendable: loop-confined; public entry points call assertInLoop(), and timer
    // closures only run on the loop.

    public struct Configuration: Sendable {
        public var address: SocketAddress
        public var connectTimeoutMilliseconds: Int
        public var minBackoffMilliseconds: Int
        public var maxBackoffMilliseconds: Int
        /// Bounds on what waits while disconnected; the oldest messages go first.
        public var maxQueuedMessages: Int
        public var maxQueuedBytes: Int
        public var connectionOptions: TCPConnection.Options

        public init(address: SocketAddress, connectTimeoutMilliseconds: Int = 1_000,
                    minBackoffMilliseconds: Int = 50, maxBackoffMilliseconds: Int = 5_000,
                    maxQueuedMessages: Int = 1_024, maxQueuedBytes: Int = 8 << 20,
                    connectionOptions: TCPConnection.Options = .init()) {
            self.address = address
            self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
            self.minBackoffMilliseconds = minBackoffMilliseconds
            self.maxBackoffMilliseconds = maxBackoffMilliseconds
            self.maxQueuedMessages = max(0, maxQueuedMessages)
            self.maxQueuedBytes = max(0, maxQueuedBytes)
            self.connectionOptions = connectionOptions
        }
    }

    public enum SendOutcome: Sendable, Equatable {
        /// Handed to the live connection.
        case written
        /// Queued until connected; `dropped` older messages were discarded to make room.
        case queued(dropped: Int)
        /// Not sent: the link is stopped, the message alone exceeds the queue, or the write
        /// overflowed the connection's outbound limit (which closed it; the link reconnects).
        case rejected
    }

    private enum State {
        case idle
        case connecting(ConnectAttempt)
        case connected(TCPConnection)
        case waiting(TimerHandle)
        case stopped
    }

    public let loop: EventLoop
    public let configuration: Configuration

    public var onConnected: ((TCPConnection) -> Void)?
    /// A live connection was lost (nil: the peer closed it cleanly). Reconnection follows.
    public var onDisconnected: ((TransportError?) -> Void)?
    /// A connection attempt failed; the next one is `retryInMilliseconds` away.
    public var onConnectFailed: ((_ error: TransportError, _ retryInMilliseconds: Int) -> Void)?
    public var onBytes: (([UInt8]) -> Void)?
    /// Messages discarded from the queue (count per event), for metrics.
    public var onDrop: ((Int) -> Void)?

    public private(set) var droppedMessages = 0

    private var state = State.idle
    private var backoff: Backoff
    private var random: ClosureRandom
    private var queue: [[UInt8]] = []
    private var queueHead = 0
    private var queuedBytes = 0

    /// `random` drives the backoff jitter (inject a seeded generator for reproducible tests).
    public init<R: RandomNumberGenerator>(loop: EventLoop, configuration: Configuration, random: R) {
        self.loop = loop
        self.configuration = configuration
        self.backoff = Backoff(minMilliseconds: configuration.minBackoffMilliseconds,
                               maxMilliseconds: configuration.maxBackoffMilliseconds)
        var generator = random
        self.random = ClosureRandom { generator.next() }
    }

    public convenience init(loop: EventLoop, configuration: Configuration) {
        self.init(loop: loop, configuration: configuration, random: SystemRandomNumberGenerator())
    }

    public var isConnected: Bool {
        loop.assertInLoop()
        if case .connected = state { return true }
        return false
    }

    /// The live connection, if any.
    public var connection: TCPConnection? {
        loop.assertInLoop()
        if case .connected(let c) = state { return c }
        return nil
    }

    public var queuedMessages: Int {
        loop.assertInLoop()
        return queue.count - queueHead
    }

    /// Begins connecting (immediately). Calling it again has no effect.
    public func start() {
        loop.assertInLoop()
        guard case .idle = state else { return }
        connect()
    }

    /// Closes the link for good: cancels any attempt or retry, closes the connection without
    /// calling `onDisconnected`, and discards queued messages.
    public func stop() {
        loop.assertInLoop()
        let previous = state
        state = .stopped
        switch previous {
        case .connecting(let attempt): attempt.cancel()
        case .connected(let connection): connection.close()
        case .waiting(let timer): timer.cancel()
        case .idle, .stopped: break
        }
        clearQueue()
    }

    @discardableResult
    public func send(_ message: [UInt8]) -> SendOutcome {
        loop.assertInLoop()
        switch state {
        case .stopped:
            return .rejected
        case .connected(let connection):
            return connection.write(message) ? .written : .rejected
        case .idle, .connecting, .waiting:
            return enqueue(message)
        }
    }

    // MARK: Connecting

    private func connect() {
        let attempt = TCPConnection.connect(
            to: configuration.address, on: loop,
            timeoutMilliseconds: configuration.connectTimeoutMilliseconds,
            options: configuration.connectionOptions
        ) { [weak self] result in
            self?.connectFinished(result)
        }
        // A completion never runs inside connect(...), so this cannot overwrite a later state.
        state = .connecting(attempt)
    }

    private func connectFinished(_ result: Result<TCPConnection, TransportError>) {
        guard case .connecting = state else {
            if case .success(let connection) = result { connection.close() }
            return
        }
        switch result {
        case .failure(let error):
            let delay = scheduleRetry()
            onConnectFailed?(error, delay)
        case .success(let connection):
            state = .connected(connection)
            backoff.reset()
            connection.onBytes = { [weak self] bytes in self?.onBytes?(bytes) }
            connection.onClose = { [weak self, weak connection] error in
                guard let self, let connection else { return }
                self.connectionClosed(connection, error)
            }
            onConnected?(connection)
            guard case .connected(let current) = state, current === connection else { return }
            while queueHead < queue.count, connection.write(queue[queueHead]) {
                queueHead += 1
            }
            clearQueue()
        }
    }

    private func connectionClosed(_ connection: TCPConnection, _ error: TransportError?) {
        guard case .connected(let current) = state, current === connection else { return }
        _ = scheduleRetry()
        onDisconnected?(error)
    }

    /// Enters `.waiting` (unless stopped) and returns the chosen delay.
    private func scheduleRetry() -> Int {
        let delay = backoff.nextDelay(using: &random)
        let timer = loop.schedule(after: delay) { [weak self] in
            guard let self, case .waiting = self.state else { return }
            self.connect()
        }
        if case .stopped = state {
            timer.cancel()
        } else {
            state = .waiting(timer)
        }
        return delay
    }

    // MARK: Queue

    private func enqueue(_ message: [UInt8]) -> SendOutcome {
        guard message.count <= configuration.maxQueuedBytes, configuration.maxQueuedMessages > 0 else {
            noteDropped(1)
            return .rejected
        }
        queue.append(message)
        queuedBytes += message.count
        var dropped = 0
        while queue.count - queueHead > configuration.maxQueuedMessages || queuedBytes > configuration.maxQueuedBytes {
            queuedBytes -= queue[queueHead].count
            queue[queueHead] = []
            queueHead += 1
            dropped += 1
        }
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        if dropped > 0 { noteDropped(dropped) }
        return .queued(dropped: dropped)
    }

    private func noteDropped(_ n: Int) {
        droppedMessages += n
        onDrop?(n)
    }

    private func clearQueue() {
        let left = queue.count - queueHead
        if left > 0, case .stopped = state {
            // Stopping discards on purpose; not reported as drops.
        } else if left > 0 {
            noteDropped(left)  // a write failed mid-drain (connection overflowed)
        }
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
    }
}
