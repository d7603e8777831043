import KV
import Raft
import Replica
import Transport
import Wire

/// What the client port needs from the node behind it.
protocol ClientBackend: AnyObject {
    /// `Replica.submit`: nil means proposed (the outcome comes later through `complete`).
    func submit(_ command: LogCommand, token: UInt64) -> ClientOutcome?
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
final class ClientGateway {
    struct Limits {
        var maxRequestBytes: Int
        var requestTimeoutMilliseconds: Int
        var maxPending: Int
        var maxInflightPerConnection: Int
        var maxConnections: Int
    }

    let loop: EventLoop
    let limits: Limits
    private let log: ServerLog
    private weak var backend: ClientBackend?
    private var listener: TCPListener?
    private var connections: [UInt64: ClientConnection] = [:]
    private var nextConnectionID: UInt64 = 1
    private var pending: PendingRequests
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
        self.frameLimit = max(WireLimits.default.maxFrameBytes, limits.maxRequestBytes + FrameHeader.size)
    }

    var listenAddress: SocketAddress? { listener?.address }
    var pendingCount: Int { pending.count }
    var connectionCount: Int { connections.count }

    func listen(on address: SocketAddress) throws(TransportError) {
        listener = try TCPListener(loop: loop, address: address) { [weak self] connection in
            self?.accept(connection)
        }
        listener?.onAcceptError = { [log] error in log.warn("client accept failed", ["error": error]) }
    }

    // MARK: Connections

    private func accept(_ connection: TCPConnection) {
        guard !shuttingDown, connections.count < limits.maxConnections else {
            log.warn("refusing client connection: too many connections", ["addr": connection.peerAddress,
                                                                           "limit": limits.maxConnections])
            connection.write(ClientReply.error(shuttingDown ? .shuttingDown : .busy).encodedFrame(requestID: 0))
            connection.closeAfterFlush()
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        let client = ClientConnection(id: id, connection: connection,
                                      decoder: FrameDecoder(maxFrameBytes: frameLimit, channel: .client))
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
        // Outcomes still owed to this connection have nowhere to go; forget them.
        for token in client.tokens { _ = pending.remove(token) }
        client.tokens.removeAll()
        log.debug("client disconnected", ["conn": client.id, "error": error.map { "\($0)" } ?? "closed"])
    }

    private func received(_ client: ClientConnection, _ bytes: [UInt8]) {
        let connection = client.connection
        do {
            try client.decoder.feed(bytes)
            while connection.isOpen, !client.failed, let frame = try client.decoder.next() {
                handle(frame, from: client)
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
            propose(.request(request), from: client, requestID: rid, backend: backend)
        case .register:
            propose(.register, from: client, requestID: rid, backend: backend)
        }
    }

    private func propose(_ command: LogCommand, from client: ClientConnection, requestID rid: UInt64, backend: ClientBackend) {
        guard client.tokens.count < limits.maxInflightPerConnection, !pending.isFull else {
            return send(.error(.busy), to: client, requestID: rid)
        }
        let token = pending.makeToken()
        if let refused = backend.submit(command, token: token) {
            return send(reply(for: refused), to: client, requestID: rid)
        }
        let deadline = MonotonicClock.nanoseconds() + UInt64(limits.requestTimeoutMilliseconds) * 1_000_000
        pending.add(token: token, .init(connection: client.id, requestID: rid, deadline: deadline))
        client.tokens.insert(token)
        backend.requestProcess()
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
        case let .result(.refused(why)): return .error(.badRequest(why.description))
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
    var decoder: FrameDecoder
    var tokens: Set<UInt64> = []
    /// Framing failed; the error reply is flushing and later bytes are ignored.
    var failed = false

    init(id: UInt64, connection: TCPConnection, decoder: FrameDecoder) {
        self.id = id
        self.connection = connection
        self.decoder = decoder
    }
}
