import KV
import Raft
import Replica
import Service
import Transport
import Wire

/// What the client port needs from the node behind it.
protocol ClientBackend: AnyObject {
    func status() -> StatusInfo
    func memberList() -> [MemberInfo]
    var selfID: NodeID { get }
    var selfName: String { get }
    /// Asks for one `process()` after the current batch of events.
    func requestProcess()
    /// Asks for one `ClientGateway.expire` in about `milliseconds`.
    func scheduleExpiry(after milliseconds: Int)
}

/// The client port's transport side: accepts connections, decodes frames, enforces the
/// stream and request-id rules, answers calls any member can answer (hello, status, member
/// list) and hands KV calls to the shared `ClientRequestService`, which owns their lifecycle.
/// Replies go out in completion order. Loop thread only.
final class ClientGateway: @unchecked Sendable {
    // @unchecked Sendable: only so the sweep timer's closure (EventLoop wants @Sendable) may
    // capture it. Loop-confined like PeerNetwork: every use is on the loop thread.
    struct Limits {
        var maxRequestBytes: Int
        var requestTimeoutMilliseconds: Int
        var maxInflightPerConnection: Int
        /// Requests in flight over all connections (the service refuses `busy` beyond).
        var maxPendingTotal: Int
        var maxConnections: Int
        /// At most this many connections from one source address (see ConnectionAdmission).
        var maxConnectionsPerAddress: Int
        /// A connection with nothing in flight and no bytes for this long is closed (0: never).
        var idleTimeoutMilliseconds: Int
        /// A frame must be complete this long after its first byte arrived, or the connection
        /// is closed (a half-sent frame must not hold a slot forever; 0: no deadline).
        var frameTimeoutMilliseconds: Int
        /// Replies queued for one connection before it is closed; reading pauses at a quarter.
        var maxOutboundBytesPerConnection: Int
        /// Replies queued for all connections together (shared fairly, see OutboundBudget).
        var outboundBudgetBytes: Int

        var pauseReadingAboveOutboundBytes: Int { max(64 << 10, maxOutboundBytesPerConnection / 4) }
    }

    /// A refused frame with a body up to this long is read and discarded, so the client sees
    /// the `tooLarge` reply and keeps its connection; a longer one closes the connection.
    static let maxSkipBytes = 64 << 20

    let loop: EventLoop
    let limits: Limits
    private let log: ServerLog
    private weak var backend: ClientBackend?
    /// Set once the replica is open (the port is bound before the disk is touched).
    var service: ClientRequestService?
    private var listener: TCPListener?
    private var connections: [UInt64: ClientConnection] = [:]
    private var nextConnectionID: UInt64 = 1
    private var shuttingDown = false
    private var admission: ConnectionAdmission
    private var sweepTimer: TimerHandle?
    let outboundBudget: OutboundBudget
    /// Frames larger than this are refused with `tooLarge("frame")`; bodies over
    /// `maxRequestBytes` but within it get `tooLarge("call")`.
    let frameLimit: Int
    /// The earliest deadline a timer is armed for (monotonic ns).
    private var armedDeadline = UInt64.max

    init(loop: EventLoop, limits: Limits, backend: ClientBackend, log: ServerLog) {
        self.loop = loop
        self.limits = limits
        self.backend = backend
        self.log = log
        self.outboundBudget = OutboundBudget(limit: limits.outboundBudgetBytes)
        self.admission = ConnectionAdmission(maxTotal: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerAddress)
        self.frameLimit = max(WireLimits.default.maxFrameBytes, limits.maxRequestBytes + FrameHeader.size)
    }

    var listenAddress: SocketAddress? { listener?.address }
    var pendingCount: Int { service?.pendingCount ?? 0 }
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
            // A frame is incomplete because we stopped reading: not the client's delay.
            if client.connection.isReadingPaused { client.frameStarted = client.frameStarted.map { _ in now } }
            if let started = client.frameStarted {
                if frameLimit > 0, now &- started > frameLimit {
                    halfSent += 1
                    client.failed = true
                    let rid = client.decoder.pendingRequestID ?? 0
                    send(.error(.badRequest("frame not completed within \(limits.frameTimeoutMilliseconds)ms of its first byte")),
                         to: client, requestID: rid)
                    client.connection.closeAfterFlush()
                }
            } else if idleLimit > 0, (service?.inFlight(caller: client.id) ?? 0) == 0, now &- client.lastActivity > idleLimit {
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
                                      decoder: FrameDecoder(maxFrameBytes: frameLimit, channel: .client,
                                                            maxSkipBytes: Self.maxSkipBytes),
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
        connection.onOutboundDrained = { [weak self, weak client] in
            guard let self, let client else { return }
            self.updateHold(client)
        }
        log.debug("client connected", ["addr": connection.peerAddress, "conn": id])
    }

    private func closed(_ client: ClientConnection, _ error: TransportError?) {
        connections[client.id] = nil
        admission.release(host: client.host)
        // Outcomes still owed to this connection have nowhere to go; forget them.
        service?.forget(caller: client.id)
        if case let .outboundBufferFull(_, limit)? = error {
            log.limited(.warn, cause: "client-overflow", "closed a client connection that does not read its replies",
                        ["addr": client.connection.peerAddress, "queued_limit": limit,
                         "budget_used": outboundBudget.used, "budget": outboundBudget.limit])
        } else {
            log.debug("client disconnected", ["conn": client.id, "error": error.map { "\($0)" } ?? "closed"])
        }
    }

    private func received(_ client: ClientConnection, _ bytes: [UInt8]) {
        guard !client.failed else { return }
        let now = MonotonicClock.nanoseconds()
        client.lastActivity = now
        defer {
            // The frame deadline runs from the first byte of a frame still incomplete.
            if client.decoder.bufferedBytes == 0 && client.decoder.skipping == 0 {
                client.frameStarted = nil
            } else if client.frameStarted == nil {
                client.frameStarted = now
            }
        }
        do {
            try client.decoder.feed(bytes)
        } catch {
            if !streamError(error, on: client) { return }
        }
        handleBuffered(client)
    }

    /// Handles the frames the decoder holds, stopping (frames stay buffered) while the
    /// connection is held at its in-flight share.
    private func handleBuffered(_ client: ClientConnection) {
        while client.connection.isOpen, !client.failed, !client.connection.holdReads {
            do {
                guard let frame = try client.decoder.next() else { return }
                handle(frame, from: client)
                updateHold(client)
            } catch {
                if !streamError(error, on: client) { return }
            }
        }
    }

    /// Answers a refused frame (to its request id when the header had one, else 0). Returns
    /// whether the connection goes on: it does when the decoder skipped the frame, and is
    /// closed once the reply is flushed when framing is lost.
    private func streamError(_ error: WireError, on client: ClientConnection) -> Bool {
        let connection = client.connection
        connection.write(error.clientErrorFrame())
        guard client.decoder.failure != nil else {
            log.debug("refused a client frame", ["conn": client.id, "error": error])
            return true
        }
        client.failed = true
        log.warn("malformed client stream; closing connection",
                 ["addr": connection.peerAddress, "conn": client.id, "error": error])
        connection.closeAfterFlush()
        return false
    }

    private func handle(_ frame: Frame, from client: ClientConnection) {
        let rid = frame.requestID
        guard frame.body.count <= limits.maxRequestBytes else {
            return send(.error(.tooLarge(limit: "call", bytes: UInt64(limits.maxRequestBytes))), to: client, requestID: rid)
        }
        let call: ClientCall, options: CallOptions
        do {
            (call, options) = try ClientCall.decodeWithOptions(frame)
        } catch {
            return send(.error(error.clientError), to: client, requestID: rid)
        }
        guard rid != 0 else {
            return send(.error(.badRequest("request id 0 is reserved for errors about the stream")), to: client, requestID: 0)
        }
        guard !shuttingDown, let backend else { return send(.error(.shuttingDown), to: client, requestID: rid) }
        switch call {
        case let .hello(hello):
            send(helloReply(hello, for: client, backend: backend), to: client, requestID: rid)
        case .status:
            send(.status(backend.status()), to: client, requestID: rid)
        case .memberList:
            send(.members(backend.memberList()), to: client, requestID: rid)
        case let .kv(request):
            propose(.request(request), options, from: client, requestID: rid, backend: backend)
        case .register:
            propose(.register, options, from: client, requestID: rid, backend: backend)
        }
    }

    private func propose(_ command: LogCommand, _ options: CallOptions, from client: ClientConnection, requestID rid: UInt64,
                         backend: ClientBackend) {
        guard let service else { return send(.error(.unavailable("starting up")), to: client, requestID: rid) }
        let origin = RequestOrigin(caller: client.id, requestID: rid)
        if let refused = service.submit(command, from: origin, now: MonotonicClock.nanoseconds(),
                                        timeout: callerBudget(options, client)) {
            return send(service.reply(for: refused), to: client, requestID: rid)
        }
        armExpiry()
        backend.requestProcess()
    }

    private func helloReply(_ hello: ClientHello, for client: ClientConnection, backend: ClientBackend) -> ClientReply {
        guard let version = HelloReply.negotiate(hello) else {
            return .error(.badRequest("no common protocol version: client speaks \(hello.minVersion)...\(hello.maxVersion), "
                                      + "server speaks 1...\(FrameHeader.currentVersion)"))
        }
        client.features = hello.features.intersection(.supported)
        log.debug("client hello", ["conn": client.id, "client": hello.clientName, "features": client.features.rawValue])
        return .hello(HelloReply(version: version, features: client.features, nodeID: backend.selfID, nodeName: backend.selfName,
                                 maxKeyBytes: UInt64(KVCommandLimits.maxKeyBytes), maxValueBytes: UInt64(KVCommandLimits.maxValueBytes),
                                 maxCallBytes: UInt64(limits.maxRequestBytes), maxFrameBytes: UInt64(frameLimit),
                                 maxInflight: UInt64(limits.maxInflightPerConnection),
                                 requestTimeoutMilliseconds: UInt64(limits.requestTimeoutMilliseconds)))
    }

    /// The caller's deadline in ns (the service answers a margin before it). Honoured whether
    /// or not the client negotiated `deadlines` (the feature only tells the client it is).
    private func callerBudget(_ options: CallOptions, _ client: ClientConnection) -> UInt64? {
        guard let ms = options.deadlineMilliseconds else { return nil }
        let ns = ms.multipliedReportingOverflow(by: 1_000_000)
        return ns.overflow ? nil : ns.partialValue
    }

    // MARK: Outcomes

    /// Sends the reply for a resolved request to the connection that asked, if still open.
    func deliver(_ origin: RequestOrigin, _ outcome: ClientOutcome) {
        guard let client = connections[origin.caller], let service else { return }
        send(service.reply(for: outcome), to: client, requestID: origin.requestID)
        updateHold(client)
    }

    /// Backpressure and fairness: a connection with its share of the in-flight slots is not
    /// read until one of its requests completes, so its next requests wait in TCP instead of
    /// costing a `busy` each, and connections that pipeline hard (or never read) can never
    /// fill the global table and lock a well-behaved client out. The share is the per-
    /// connection cap, or an equal part of half the global one when many connections are open.
    /// Also held while its replies are not being drained (more than `holdAboveOutboundBytes`
    /// unsent): a reader that does not read gets no new requests admitted.
    private func updateHold(_ client: ClientConnection) {
        let connection = client.connection
        guard let service, connection.isOpen, !client.failed else { return }
        let hold = service.inFlight(caller: client.id) >= inFlightShare
            || connection.pendingOutboundBytes > Self.holdAboveOutboundBytes
        guard hold != connection.holdReads else { return }
        connection.holdReads = hold
        guard !hold else { return }
        // Frames that arrived before the hold are still buffered: handle them after the
        // current batch (not from inside the replica's reply callback).
        let id = client.id
        try? loop.execute { [weak self] in
            guard let self, let client = self.connections[id] else { return }
            self.handleBuffered(client)
        }
    }

    /// Unsent reply bytes past which a connection's further requests are not read.
    static let holdAboveOutboundBytes = 64 << 10

    /// Half the global table shared equally: the other half stays free for newcomers, so
    /// the connections already pipelining can never fill it between them.
    private var inFlightShare: Int {
        min(limits.maxInflightPerConnection, max(8, limits.maxPendingTotal / max(2, 2 * connections.count)))
    }

    /// Answers requests past their deadline with `timeout`: outcome unknown, retry with the
    /// same sequence (the session dedupes).
    func expire(now: UInt64) {
        if armedDeadline <= now { armedDeadline = UInt64.max }
        service?.expire(now: now) { origin, outcome in deliver(origin, outcome) }
        armExpiry()
    }

    /// Keeps a one-shot timer armed for the earliest deadline, so a short caller deadline is
    /// met to the millisecond rather than at the next tick.
    private func armExpiry() {
        guard let next = service?.nextDeadline else { return }
        let now = MonotonicClock.nanoseconds()
        guard next < armedDeadline || armedDeadline <= now else { return }
        armedDeadline = next
        backend?.scheduleExpiry(after: next > now ? Int(min((next - now + 999_999) / 1_000_000, 3_600_000)) : 0)
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
        service?.drainAll { origin, outcome in deliver(origin, outcome) }
        for client in connections.values { client.connection.closeAfterFlush() }
    }
}

/// One client connection: its decoder and what it negotiated.
private final class ClientConnection {
    let id: UInt64
    let connection: TCPConnection
    /// Source address, for the per-address cap.
    let host: String
    var decoder: FrameDecoder
    /// Features agreed in `hello` (none until then).
    var features: ProtocolFeatures = []
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
