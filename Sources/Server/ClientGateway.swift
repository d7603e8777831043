import KV
import Raft
import Replica
import Transport
import Wire

/// What the client port needs from the node behind it.
protocol ClientBackend: AnyObject {
    /// `Replica.submit`: nil means proposed (the outcome comes later through `complete`).
    func submit(_ request: ClientRequest, token: UInt64) -> ClientOutcome?
    func status() -> StatusInfo
    func memberList() -> [MemberInfo]
    /// The leader this node knows of (noNode if none) and whether that is itself.
    var knownLeader: NodeID { get }
    var selfID: NodeID { get }
    func clientURL(of id: NodeID) -> String?
    /// Asks for one `process()` after the current batch of events.
    func requestProcess()
}

/// The client port: accepts connections, decodes calls, submits KV requests and matches
/// outcomes back to (connection, request id). Many calls may be in flight per connection and
/// replies go out in completion order. Malformed framing gets an error frame and closes that
/// connection only. Loop thread only.
final class ClientGateway: @unchecked Sendable {
    // @unchecked Sendable: only so the sweep timer's closure (EventLoop wants @Sendable) may
    // capture it. Loop-confined like PeerNetwork: every use is on the loop thread.
    struct Limits {
        var maxRequestBytes: Int
        var requestTimeoutMilliseconds: Int
        var maxPending: Int
        var maxInflightPerConnection: Int
        var maxConnections: Int
        /// At most this many connections from one source address (<= maxConnections).
        var maxConnectionsPerAddress: Int
        /// A connection with nothing in flight and no bytes for this long is closed (0: never).
        var idleTimeoutMilliseconds: Int
        /// A frame must be complete this long after its first byte arrived, or the connection
        /// is closed (a half-sent frame must not hold a slot forever).
        var frameTimeoutMilliseconds: Int
        /// Replies queued for one connection before it is closed; reading pauses at a quarter.
        var maxOutboundBytesPerConnection: Int
        /// Replies queued for all connections together (shared fairly, see OutboundBudget).
        var outboundBudgetBytes: Int

        var pauseReadingAboveOutboundBytes: Int { max(64 << 10, maxOutboundBytesPerConnection / 4) }
    }

    let loop: EventLoop
    let limits: Limits
    private let log: ServerLog
    private weak var backend: ClientBackend?
    private var listener: TCPListener?
    private var connections: [UInt64: ClientConnection] = [:]
    private var nextConnectionID: UInt64 = 1
    private var pending: PendingRequests
    private var admission: ConnectionAdmission
    private var sweepTimer: TimerHandle?
    let outboundBudget: OutboundBudget
    private var shuttingDown = false
    /// Frames larger than this break framing (error + close); up to it, an over-limit body
    /// is answered `tooLarge` and the connection stays usable.
    private let frameLimit: Int

    init(loop: EventLoop, limits: Limits, backend: ClientBackend, log: ServerLog) {
        self.loop = loop
        self.limits = limits
        self.backend = backend
        self.log = log
        self.pending = PendingRequests(capacity: limits.maxPending)
        self.outboundBudget = OutboundBudget(limit: limits.outboundBudgetBytes)
        self.admission = ConnectionAdmission(maxTotal: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerAddress)
        self.frameLimit = max(WireLimits.default.maxFrameBytes, limits.maxRequestBytes + FrameHeader.size)
    }

    var listenAddress: SocketAddress? { listener?.address }
    var pendingCount: Int { pending.count }
    var connectionCount: Int { connections.count }

    func listen(on address: SocketAddress) throws(TransportError) {
        // Backpressure: stop reading a connection whose replies pile up; one budget bounds
        // what all connections queue together (a slow reader must not cost unbounded memory).
        let options = TCPConnection.Options(maxOutboundBytes: limits.maxOutboundBytesPerConnection,
                                            pauseReadingAboveOutboundBytes: limits.pauseReadingAboveOutboundBytes,
                                            budget: outboundBudget)
        listener = try TCPListener(loop: loop, address: address, connectionOptions: options) { [weak self] connection in
            self?.accept(connection)
        }
        listener?.onAcceptError = { [log] error in
            log.limited(.warn, cause: "client-accept", "client accept failed", ["error": error])
        }
        startSweeping()
    }

    /// Checks deadlines a few times per timeout: half-sent frames and idle connections.
    private func startSweeping() {
        let timeouts = [limits.idleTimeoutMilliseconds, limits.frameTimeoutMilliseconds].filter { $0 > 0 }
        guard let shortest = timeouts.min() else { return }
        let every = max(10, min(1_000, shortest / 4))
        sweepTimer = loop.scheduleRepeating(every: every) { [weak self] in
            self?.sweep(now: MonotonicClock.nanoseconds())
        }
    }

    private func sweep(now: UInt64) {
        let frameLimit = UInt64(limits.frameTimeoutMilliseconds) * 1_000_000
        let idleLimit = UInt64(limits.idleTimeoutMilliseconds) * 1_000_000
        var halfSent = 0, idle = 0
        for client in connections.values where !client.failed {
            if let started = client.frameStarted {
                if frameLimit > 0, now &- started > frameLimit {
                    halfSent += 1
                    client.failed = true
                    let rid = client.decoder.pendingRequestID ?? 0
                    send(.error(.badRequest("frame not completed within \(limits.frameTimeoutMilliseconds)ms of its first byte")),
                         to: client, requestID: rid)
                    client.connection.closeAfterFlush()
                }
            } else if idleLimit > 0, client.tokens.isEmpty, now &- client.lastActivity > idleLimit {
                idle += 1
                client.connection.close()
            }
        }
        if halfSent > 0 {
            log.limited(.warn, cause: "client-frame-timeout", "closed client connections holding a half-sent frame",
                        ["count": halfSent, "timeout_ms": limits.frameTimeoutMilliseconds])
        }
        if idle > 0 { log.debug("closed idle client connections", ["count": idle, "idle_ms": limits.idleTimeoutMilliseconds]) }
    }

    // MARK: Connections

    private func accept(_ connection: TCPConnection) {
        let host = ConnectionAdmission.host(of: connection.peerAddress)
        if shuttingDown {
            connection.write(ClientReply.error(.shuttingDown).encodedFrame(requestID: 0))
            connection.closeAfterFlush()
            return
        }
        if let refusal = admission.admit(host: host) {
            log.limited(.warn, cause: "client-refused", "refusing client connection: \(refusal)", ["addr": connection.peerAddress])
            connection.write(ClientReply.error(.busy).encodedFrame(requestID: 0))
            connection.closeAfterFlush()
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        let client = ClientConnection(id: id, connection: connection, host: host,
                                      decoder: FrameDecoder(maxFrameBytes: frameLimit, channel: .client),
                                      now: MonotonicClock.nanoseconds())
        connections[id] = client
        connection.onBytes = { [weak self, weak client] bytes in
            guard let self, let client else { return }
            self.received(client, bytes)
        }
        connection.onClose = { [weak self, weak client] error in
            guard let self, let client else { return }
            self.closed(client, error)
        }
        log.debug("client connected", ["addr": connection.peerAddress, "conn": id])
    }

    private func closed(_ client: ClientConnection, _ error: TransportError?) {
        connections[client.id] = nil
        admission.release(host: client.host)
        // Outcomes still owed to this connection have nowhere to go; forget them.
        for token in client.tokens { _ = pending.remove(token) }
        client.tokens.removeAll()
        if case let .outboundBufferFull(_, limit)? = error {
            log.limited(.warn, cause: "client-overflow", "closed a client connection that does not read its replies",
                        ["addr": client.connection.peerAddress, "queued_limit": limit,
                         "budget_used": outboundBudget.used, "budget": outboundBudget.limit])
        } else {
            log.debug("client disconnected", ["conn": client.id, "error": error.map { "\($0)" } ?? "closed"])
        }
    }

    private func received(_ client: ClientConnection, _ bytes: [UInt8]) {
        let connection = client.connection
        let now = MonotonicClock.nanoseconds()
        client.lastActivity = now
        do {
            try client.decoder.feed(bytes)
            while connection.isOpen, !client.failed, let frame = try client.decoder.next() {
                handle(frame, from: client)
            }
            // The frame deadline runs from the first byte of a frame still incomplete.
            if client.decoder.bufferedBytes == 0 {
                client.frameStarted = nil
            } else if client.frameStarted == nil {
                client.frameStarted = now
            }
        } catch {
            // Framing is lost: answer (to the offending request id when known) and hang up.
            client.failed = true
            log.warn("malformed client stream; closing connection",
                     ["addr": connection.peerAddress, "conn": client.id, "error": error])
            connection.write(error.clientErrorFrame())
            connection.closeAfterFlush()
        }
    }

    private func handle(_ frame: Frame, from client: ClientConnection) {
        let rid = frame.requestID
        guard frame.body.count <= limits.maxRequestBytes else {
            return send(.error(.tooLarge(limit: UInt64(limits.maxRequestBytes))), to: client, requestID: rid)
        }
        let call: ClientCall
        do {
            call = try ClientCall.decode(frame)
        } catch {
            return send(.error(Self.clientError(for: error)), to: client, requestID: rid)
        }
        guard !shuttingDown, let backend else { return send(.error(.shuttingDown), to: client, requestID: rid) }
        switch call {
        case .status:
            send(.status(backend.status()), to: client, requestID: rid)
        case .memberList:
            send(.members(backend.memberList()), to: client, requestID: rid)
        case let .kv(request):
            guard client.tokens.count < limits.maxInflightPerConnection, !pending.isFull else {
                return send(.error(.busy), to: client, requestID: rid)
            }
            let token = pending.makeToken()
            if let refused = backend.submit(request, token: token) {
                return send(reply(for: refused), to: client, requestID: rid)
            }
            let deadline = MonotonicClock.nanoseconds() + UInt64(limits.requestTimeoutMilliseconds) * 1_000_000
            pending.add(token: token, .init(connection: client.id, requestID: rid, deadline: deadline))
            client.tokens.insert(token)
            backend.requestProcess()
        }
    }

    /// A body that fails to decode only because a field is over its limit is "too large",
    /// which tells the client not to retry; anything else is a bad request.
    static func clientError(for error: WireError) -> ClientError {
        if case let .malformedBody(_, _, .lengthTooLarge(_, _, limit)) = error { return .tooLarge(limit: UInt64(limit)) }
        return error.clientError
    }

    // MARK: Outcomes

    /// The replica's outcome for a proposed request (called from process's reply callback,
    /// i.e. after the entry was applied).
    func complete(token: UInt64, _ outcome: ClientOutcome) {
        guard let request = pending.remove(token), let client = connections[request.connection] else { return }
        client.tokens.remove(token)
        send(reply(for: outcome), to: client, requestID: request.requestID)
    }

    /// Answers requests past their deadline with `timeout`: outcome unknown, retry with the
    /// same sequence (the session dedupes).
    func expire(now: UInt64) {
        let expired = pending.expire(now: now)
        for (token, request) in expired {
            guard let client = connections[request.connection] else { continue }
            client.tokens.remove(token)
            send(.error(.timeout), to: client, requestID: request.requestID)
        }
        if !expired.isEmpty { log.debug("client requests timed out", ["count": expired.count]) }
    }

    private func reply(for outcome: ClientOutcome) -> ClientReply {
        switch outcome {
        case let .result(r): return .kv(r)
        case let .notLeader(leader): return .error(notLeader(leader))
        case .busy: return .error(.busy)
        case let .tooLarge(limit): return .error(.tooLarge(limit: UInt64(limit)))
        case .dropped:
            // Overwritten by another leader: it was not applied, so a retry is safe.
            let leader = backend?.knownLeader ?? noNode
            if leader != noNode, leader != backend?.selfID { return .error(notLeader(leader)) }
            return .error(.unavailable("leadership changed before the request committed; retry"))
        }
    }

    private func notLeader(_ leader: NodeID) -> ClientError {
        .notLeader(leaderID: leader, leaderClientAddress: leader == noNode ? nil : backend?.clientURL(of: leader))
    }

    private func send(_ reply: ClientReply, to client: ClientConnection, requestID: UInt64) {
        // write() returns false once the connection is closing or overflowed (which closes it).
        _ = client.connection.write(reply.encodedFrame(requestID: requestID))
    }

    // MARK: Shutdown

    /// Stops accepting, answers everything pending (outcome unknown: `timeout`) and closes
    /// connections once their replies are flushed.
    func shutdown() {
        shuttingDown = true
        sweepTimer?.cancel()
        listener?.close()
        for (token, request) in pending.removeAll() {
            guard let client = connections[request.connection] else { continue }
            client.tokens.remove(token)
            send(.error(.timeout), to: client, requestID: request.requestID)
        }
        for client in connections.values { client.connection.closeAfterFlush() }
    }
}

/// One client connection: its decoder and the tokens of its requests in flight.
private final class ClientConnection {
    let id: UInt64
    let connection: TCPConnection
    /// Source address, for the per-address cap.
    let host: String
    var decoder: FrameDecoder
    var tokens: Set<UInt64> = []
    /// Framing failed (or a deadline passed); the error reply is flushing and later bytes are ignored.
    var failed = false
    /// Monotonic time of the last bytes received (idle timeout).
    var lastActivity: UInt64
    /// When the first byte of the frame still incomplete arrived; nil between frames.
    var frameStarted: UInt64?

    init(id: UInt64, connection: TCPConnection, host: String, decoder: FrameDecoder, now: UInt64) {
        self.id = id
        self.connection = connection
        self.host = host
        self.decoder = decoder
        self.lastActivity = now
    }
}
