import KV
import Synchronization
import Transport
import Wire

/// A client for a RaftKV cluster. Safe to share between tasks: calls run concurrently over
/// one connection per endpoint, and all of them belong to one exactly-once session.
///
///     let c = try KVClient(endpoints: ["127.0.0.1:7101", "127.0.0.1:7102"])
///     try await c.put("greeting", "hello")
///     let v = try await c.get("greeting")   // "hello"
///
/// Writes and reads go to the leader (found by following `notLeader` redirects) and through
/// the Raft log, so they are linearizable. A call retries on other members until
/// `commandTimeout`; retries reuse its sequence number, so a retried put applies once.
/// The client registers a session through the log before its first key-value call; if the
/// cluster evicts it, the call in flight fails with `sessionExpired` (outcome unknown) and
/// the next call registers a new session.
public final class KVClient: Sendable {
    public let configuration: KVClientConfiguration
    private let transport: ClientTransport
    private let state: Mutex<State>

    struct State: Sendable {
        /// Nil until registered, and again after the cluster expired it.
        var session: ClientSession?
        /// A registration call is out; others wait for it.
        var registering = false
        var router: EndpointRouter
        var closed = false
        /// Calls waiting for a session or for the session window to have room.
        var windowWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public convenience init(endpoints: [String], dialTimeout: Duration = .seconds(2),
                            commandTimeout: Duration = .seconds(5)) throws(KVClientError) {
        try self.init(configuration: KVClientConfiguration(endpoints: endpoints, dialTimeout: dialTimeout,
                                                           commandTimeout: commandTimeout))
    }

    public init(configuration: KVClientConfiguration) throws(KVClientError) {
        var addresses: [SocketAddress] = []
        for e in configuration.endpoints {
            let text = e.trimmingWhitespace
            if text.isEmpty { continue }
            do {
                let a = try SocketAddress(parsing: text)
                if !addresses.contains(a) { addresses.append(a) }
            } catch {
                throw .invalidEndpoint(text, reason: Self.reason(error))
            }
        }
        guard !addresses.isEmpty else { throw .invalidEndpoint("", reason: "no endpoints given") }
        self.configuration = configuration
        self.transport = try ClientTransport(dialTimeout: configuration.dialTimeout)
        self.state = Mutex(State(
            router: EndpointRouter(endpoints: addresses, downMin: configuration.endpointDownMin,
                                   downMax: configuration.endpointDownMax)))
    }

    deinit { transport.shutdown() }

    /// Closes connections and stops the client's thread. Calls in flight fail with `.closed`.
    public func close() {
        let waiters = state.withLock { s in
            s.closed = true
            defer { s.windowWaiters.removeAll() }
            return s.windowWaiters
        }
        for w in waiters { w.resume() }
        transport.shutdown()
    }

    /// The endpoints this client was configured with, normalised.
    public var endpoints: [String] { state.withLock { $0.router.endpoints.map(\.description) } }

    /// The session id the cluster assigned (nil before the first call registers one).
    public var sessionID: UInt64? { state.withLock { $0.session?.clientID } }

    /// Where the client currently believes the leader is.
    public var leaderHint: String? { state.withLock { $0.router.leader?.description } }

    // MARK: Key-value operations

    /// Stores `value` under `key`; returns the revision (log index) that applied it.
    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8]) async throws(KVClientError) -> UInt64 {
        let call = try await begin(.put(key: key, value: value))
        defer { finish(call) }
        return try await withFailover("put", call, .put(key: key, value: value)) { (r: KVResult) -> UInt64? in
            if case let .stored(rev) = r { return rev }
            return nil
        }
    }

    /// The value under `key`, or nil when absent. Linearizable (goes through the log).
    public func get(_ key: [UInt8]) async throws(KVClientError) -> [UInt8]? {
        let call = try await begin(.get(key: key))
        defer { finish(call) }
        return try await withFailover("get", call, .get(key: key)) { (r: KVResult) -> [UInt8]?? in
            if case let .value(v) = r { return .some(v) }
            return nil
        }
    }

    /// Removes `key`; returns how many keys were deleted (0 or 1).
    @discardableResult
    public func delete(_ key: [UInt8]) async throws(KVClientError) -> Int {
        let call = try await begin(.delete(key: key))
        defer { finish(call) }
        return try await withFailover("delete", call, .delete(key: key)) { (r: KVResult) -> Int? in
            if case let .deleted(n) = r { return n }
            return nil
        }
    }

    @discardableResult
    public func put(_ key: String, _ value: String) async throws(KVClientError) -> UInt64 {
        try await put(Array(key.utf8), Array(value.utf8))
    }

    /// The value decoded as UTF-8 (invalid sequences are repaired; use the byte form for binary).
    public func get(_ key: String) async throws(KVClientError) -> String? {
        try await get(Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @discardableResult
    public func delete(_ key: String) async throws(KVClientError) -> Int {
        try await delete(Array(key.utf8))
    }

    // MARK: Cluster information

    /// One member's view of itself. Asks exactly `endpoint` (no redirects or retries).
    public func status(_ endpoint: String) async throws(KVClientError) -> StatusInfo {
        let address: SocketAddress
        do { address = try SocketAddress(parsing: endpoint) } catch { throw .invalidEndpoint(endpoint, reason: Self.reason(error)) }
        if state.withLock({ $0.closed }) { throw .closed }
        let result = await transport.call(.status, to: address, timeout: configuration.commandTimeout)
        switch result {
        case let .success(.status(info)): return info
        case let .success(.error(e)): throw Self.map(e, at: endpoint) ?? .unavailable("\(endpoint): \(e)")
        case let .success(other): throw .protocolViolation("\(endpoint) answered status with \(other)")
        case .failure(.timedOut):
            throw .unavailable("\(endpoint) did not answer within \(configuration.commandTimeout.shortText) (paused, overloaded or partitioned?)")
        case .failure(.connectionLost):
            throw .unavailable("\(endpoint) closed the connection before answering")
        case let .failure(f): throw Self.map(f, operation: "status of \(endpoint)", timeout: configuration.commandTimeout, at: endpoint)
        }
    }

    /// The configured members, from whichever member answers first.
    public func members() async throws(KVClientError) -> [MemberInfo] {
        if state.withLock({ $0.closed }) { throw .closed }
        let list = try await attempts("member list", call: { .memberList }) { (reply: ClientReply) -> [MemberInfo]? in
            if case let .members(m) = reply { return m }
            return nil
        }
        state.withLock { $0.router.learnMembers(list.map { ($0.id, $0.clientURL) }) }
        return list
    }

    // MARK: Internals

    /// One call's place in a session.
    struct SessionSlot {
        let sessionID: UInt64
        let sequence: UInt64
    }

    /// Takes the next sequence, registering a session first if there is none and waiting
    /// while the session window is full.
    private func begin(_ command: KVCommand) async throws(KVClientError) -> SessionSlot {
        try Self.validate(command)
        let limit = configuration.sessionWindow
        enum Step { case go(SessionSlot), register, wait }
        while true {
            let step = try state.withLock { s throws(KVClientError) -> Step in
                if s.closed { throw .closed }
                if var session = s.session {
                    guard session.window < limit else { return .wait }
                    let slot = SessionSlot(sessionID: session.clientID, sequence: session.begin())
                    s.session = session
                    return .go(slot)
                }
                if s.registering { return .wait }
                s.registering = true
                return .register
            }
            switch step {
            case let .go(slot): return slot
            case .register: try await register()
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    // Checked again under the lock so a change between the two cannot be missed.
                    let wake = state.withLock { s -> Bool in
                        if s.closed { return true }
                        if let session = s.session, session.window < limit { return true }
                        if s.session == nil && !s.registering { return true }
                        s.windowWaiters.append(c)
                        return false
                    }
                    if wake { c.resume() }
                }
            }
        }
    }

    /// Registers a new session through the log (the caller set `registering`).
    private func register() async throws(KVClientError) {
        let outcome: Result<UInt64, KVClientError>
        do {
            outcome = .success(try await attempts("register session", call: { .register }) { (r: ClientReply) -> UInt64? in
                if case let .kv(.registered(id)) = r { return id }
                return nil
            })
        } catch {
            outcome = .failure(error)
        }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.registering = false
            if case let .success(id) = outcome { s.session = ClientSession(clientID: id) }
            defer { s.windowWaiters.removeAll() }
            return s.windowWaiters
        }
        for w in waiters { w.resume() }
        _ = try outcome.get()
    }

    private func finish(_ slot: SessionSlot) {
        let limit = configuration.sessionWindow
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard var session = s.session, session.clientID == slot.sessionID else { return [] }
            session.finish(slot.sequence)
            s.session = session
            guard session.window < limit, !s.windowWaiters.isEmpty else { return [] }
            defer { s.windowWaiters.removeAll() }
            return s.windowWaiters
        }
        for w in waiters { w.resume() }
    }

    /// The cluster no longer knows `sessionID`: the next call registers a new session.
    private func expire(_ sessionID: UInt64) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.session?.clientID == sessionID else { return [] }
            s.session = nil
            defer { s.windowWaiters.removeAll() }
            return s.windowWaiters
        }
        for w in waiters { w.resume() }
    }

    static func validate(_ command: KVCommand) throws(KVClientError) {
        let key = command.key
        if key.isEmpty { throw .badRequest("key is empty") }
        if key.count > KVCommandLimits.maxKeyBytes {
            throw .tooLarge("key is \(key.count) bytes; the limit is \(KVCommandLimits.maxKeyBytes)")
        }
        if case let .put(_, value) = command, value.count > KVCommandLimits.maxValueBytes {
            throw .tooLarge("value is \(value.count) bytes; the limit is \(KVCommandLimits.maxValueBytes)")
        }
    }

    /// Runs one key-value command with its fixed sequence until it gets a result.
    private func withFailover<T>(_ operation: String, _ slot: SessionSlot, _ command: KVCommand,
                                 _ extract: (KVResult) -> T?) async throws(KVClientError) -> T {
        try await attempts(operation, call: {
            // Recomputed per attempt: other calls may have finished meanwhile. Never above
            // this call's own sequence (it has not been answered).
            let fua = self.state.withLock { s in
                s.session?.clientID == slot.sessionID ? s.session!.firstUnacknowledged : slot.sequence
            }
            return .kv(ClientRequest(clientID: slot.sessionID, sequence: slot.sequence,
                                     firstUnacknowledged: min(fua, slot.sequence), command: command))
        }) { (reply: ClientReply) throws(KVClientError) -> T? in
            guard case let .kv(result) = reply else { return nil }
            if result == .sessionExpired {
                expire(slot.sessionID)
                throw .sessionExpired(sequence: slot.sequence)
            }
            return extract(result)
        }
    }

    /// The retry loop shared by every routed call: pick an endpoint, send, and on failure
    /// redirect, fail over or back off until the command deadline.
    private func attempts<T>(_ operation: String, call makeCall: () -> ClientCall,
                             decode: (ClientReply) throws(KVClientError) -> T?) async throws(KVClientError) -> T {
        let clock = ContinuousClock()
        let timeout = configuration.commandTimeout
        let deadline = clock.now + timeout
        var log = AttemptLog(operation: operation, timeout: timeout)
        var backoff = configuration.retryBackoffMin
        var redirectsInRow = 0

        func pause() async throws(KVClientError) {
            let wait = min(backoff, deadline - clock.now)
            backoff = min(backoff * 2, configuration.retryBackoffMax)
            guard wait > .zero else { return }
            do { try await Task.sleep(for: wait) } catch { throw .cancelled }
        }

        while true {
            if Task.isCancelled { throw .cancelled }
            let now = clock.now
            guard now < deadline else { throw log.finalError() }
            let target: SocketAddress
            switch state.withLock({ $0.router.next(now: now) }) {
            case let .success(e): target = e
            case let .failure(w):
                // Every endpoint is backing off: sleep until the first comes back.
                let wait = min(w.instant, deadline) - now
                if wait > .zero { do { try await Task.sleep(for: wait) } catch { throw .cancelled } }
                continue
            }
            log.tried(target.description)
            let attemptTimeout = min(deadline - now, configuration.attemptTimeout)
            let result = await transport.call(makeCall(), to: target, timeout: attemptTimeout)

            switch result {
            case let .success(.error(e)):
                log.answered(by: target, e)
                if let fatal = Self.map(e, at: target.description) { throw fatal }
                switch e {
                case let .notLeader(id, address):
                    var moved = state.withLock { $0.router.redirect(leaderID: id, address: address, from: target) }
                    if !moved && id != 0 {
                        await learnMembers(from: target, deadline: deadline)
                        moved = state.withLock { $0.router.redirect(leaderID: id, address: address, from: target) }
                    }
                    redirectsInRow += 1
                    // Stale hints can ping-pong during an election: slow down after a few.
                    if !moved || redirectsInRow > 3 { try await pause() }
                case .shuttingDown:
                    state.withLock { $0.router.failed(target, now: clock.now) }
                default:  // unavailable, timeout, busy: the cluster is working on it.
                    if case .unavailable = e { state.withLock { $0.router.forgetLeader() } }
                    try await pause()
                }
            case let .success(reply):
                guard let value = try decode(reply) else {
                    throw .protocolViolation("\(target) answered \(operation) with \(reply)")
                }
                state.withLock { $0.router.succeeded(target) }
                return value
            case let .failure(f):
                log.failed(at: target, f)
                redirectsInRow = 0
                switch f {
                case .dial:
                    state.withLock { $0.router.failed(target, now: clock.now) }
                    if log.nobodyListening(on: state.withLock({ $0.router.endpoints }), times: 3) { throw log.finalError() }
                case .timedOut:
                    // Paused or partitioned: stop waiting on it. Other calls on that
                    // connection fail over too; their retries keep their sequences.
                    state.withLock { $0.router.failed(target, now: clock.now) }
                    transport.disconnect(target)
                case .connectionLost:
                    state.withLock { $0.router.forgetLeader() }
                    try await pause()
                case .serverClosed(.busy), .serverClosed(.shuttingDown):
                    // The server refused the whole connection (too many connections, or it
                    // is stopping) before reading a request: back off, try the others.
                    state.withLock { $0.router.failed(target, now: clock.now) }
                    try await pause()
                case .serverClosed, .protocolError, .cancelled, .loopShutdown:
                    throw Self.map(f, operation: operation, timeout: timeout, at: target.description)
                }
            }
        }
    }

    private func learnMembers(from target: SocketAddress, deadline: ContinuousClock.Instant) async {
        let wait = min(configuration.attemptTimeout, deadline - ContinuousClock().now)
        guard wait > .zero else { return }
        if case let .success(.members(list)) = await transport.call(.memberList, to: target, timeout: wait) {
            state.withLock { $0.router.learnMembers(list.map { ($0.id, $0.clientURL) }) }
        }
    }

    /// Server errors that end a call at once; nil for the ones worth retrying.
    static func map(_ e: ClientError, at endpoint: String) -> KVClientError? {
        switch e {
        case let .badRequest(why): return .badRequest("\(why) (from \(endpoint))")
        case let .tooLarge(limit, bytes): return .tooLarge("the \(limit) exceeds \(endpoint)'s limit of \(bytes) bytes")
        case let .failed(code, message): return .badRequest("\(message) (error \(code) from \(endpoint))")
        case .notLeader, .unavailable, .timeout, .busy, .shuttingDown: return nil
        }
    }

    static func map(_ f: CallFailure, operation: String, timeout: Duration, at endpoint: String) -> KVClientError {
        switch f {
        case .dial: return .noEndpointReachable(tried: [endpoint], lastProblem: f.description)
        case .timedOut, .connectionLost:
            return f.maybeDelivered ? .timeout(operation: operation, after: timeout, lastProblem: "\(endpoint): \(f)")
                : .unavailable("\(endpoint): \(f)")
        case let .serverClosed(.tooLarge(limit, bytes)): return .tooLarge("the \(limit) exceeds \(endpoint)'s limit of \(bytes) bytes")
        case let .serverClosed(e): return .protocolViolation("\(endpoint) rejected the stream: \(e)")
        case let .protocolError(why): return .protocolViolation(why)
        case .cancelled: return .cancelled
        case .loopShutdown: return .closed
        }
    }

    static func reason(_ error: TransportError) -> String {
        if case let .badAddress(_, why) = error { return why }
        return error.description
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
