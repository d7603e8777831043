import ClientCore
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
///
/// All decisions (session, window, routing, back-off) are made by `ClientCore`, a pure
/// state machine the simulator's clients run too; this class adds sockets, real time and
/// the async API.
public final class KVClient: Sendable {
    public let configuration: KVClientConfiguration
    private let transport: ClientTransport
    private let state: Mutex<State>
    private let clock = ContinuousClock()
    /// Origin of the core's `ClientTime`.
    private let origin: ContinuousClock.Instant

    struct State: Sendable {
        var core: ClientCore<SocketAddress>
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
        self.origin = clock.now
        self.state = Mutex(State(core: ClientCore(
            endpoints: addresses, window: configuration.sessionWindow,
            policy: RetryPolicy(backoffMin: configuration.retryBackoffMin, backoffMax: configuration.retryBackoffMax),
            downMin: configuration.endpointDownMin, downMax: configuration.endpointDownMax)))
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
    public var endpoints: [String] { state.withLock { $0.core.router.endpoints.map(\.description) } }

    /// The session id the cluster assigned (nil before the first call registers one).
    public var sessionID: UInt64? { state.withLock { $0.core.session.sessionID } }

    /// Where the client currently believes the leader is.
    public var leaderHint: String? { state.withLock { $0.core.router.leader?.description } }

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
        learn(list)
        return list
    }

    // MARK: Session (the core decides; this waits and wakes)

    /// Takes the next sequence, registering a session first if there is none and waiting
    /// while the session window is full.
    private func begin(_ command: KVCommand) async throws(KVClientError) -> SessionSlot {
        try Self.validate(command)
        while true {
            let step = try state.withLock { s throws(KVClientError) -> ClientSession.Start in
                if s.closed { throw .closed }
                return s.core.session.start()
            }
            switch step {
            case let .go(slot): return slot
            case .register: try await register()
            case .wait: await waitForSessionChange()
            }
        }
    }

    private func waitForSessionChange() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            // Checked again under the lock so a change between the two cannot be missed.
            let wake = state.withLock { s -> Bool in
                let session = s.core.session
                if s.closed || (session.sessionID == nil && !session.registering) { return true }
                if session.sessionID != nil && session.windowUsed < session.window { return true }
                s.windowWaiters.append(c)
                return false
            }
            if wake { c.resume() }
        }
    }

    /// Registers a new session through the log (this caller was told `.register`).
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
        updateSession { session in
            if case let .success(id) = outcome { session.registered(id) } else { session.registrationFailed() }
        }
        _ = try outcome.get()
    }

    private func finish(_ slot: SessionSlot) { updateSession { $0.finish(slot) } }

    /// Changes the session under the lock, then wakes every waiting call to re-check.
    private func updateSession(_ change: (inout ClientSession) -> Void) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            change(&s.core.session)
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

    /// Runs one key-value command in its fixed slot until it gets a result.
    private func withFailover<T>(_ operation: String, _ slot: SessionSlot, _ command: KVCommand,
                                 _ extract: (KVResult) -> T?) async throws(KVClientError) -> T {
        try await attempts(operation, call: {
            .kv(self.state.withLock { $0.core.session.request(slot, command) })
        }) { (reply: ClientReply) throws(KVClientError) -> T? in
            guard case let .kv(result) = reply else { return nil }
            if result == .sessionExpired {
                updateSession { $0.expired(slot.sessionID) }
                throw .sessionExpired(sequence: slot.sequence)
            }
            return extract(result)
        }
    }

    // MARK: Attempts (the core decides where and when; this sends and sleeps)

    private var now: ClientTime { clock.now - origin }

    /// The retry loop shared by every routed call: pick an endpoint, send, and on failure
    /// let the core decide (redirect, fail over, back off) until the command deadline.
    private func attempts<T>(_ operation: String, call makeCall: () -> ClientCall,
                             decode: (ClientReply) throws(KVClientError) -> T?) async throws(KVClientError) -> T {
        let policy = state.withLock { $0.core.policy }
        var retry = CallRetry(now: now, timeout: configuration.commandTimeout, policy: policy)
        var log = AttemptLog(operation: operation, timeout: configuration.commandTimeout)
        while true {
            if Task.isCancelled { throw .cancelled }
            guard !retry.expired(now: now) else { throw log.finalError() }
            guard let target = try await nextTarget(before: retry) else { continue }
            log.tried(target.description)
            let base = retry.attemptTimeout(base: configuration.attemptTimeout)
            let attemptTimeout = min(retry.remaining(now: now) ?? base, base)
            switch await transport.call(makeCall(), to: target, timeout: attemptTimeout) {
            case let .success(.error(e)):
                try await serverRefused(e, at: target, retry: &retry, log: &log)
            case let .success(reply):
                guard let value = try decode(reply) else {
                    throw .protocolViolation("\(target) answered \(operation) with \(reply)")
                }
                state.withLock { $0.core.succeeded(at: target) }
                return value
            case let .failure(f):
                try await attemptFailed(f, at: target, operation: operation, retry: &retry, log: &log)
            }
        }
    }

    /// The endpoint for the next attempt; nil after sleeping while every endpoint backs off.
    private func nextTarget(before retry: CallRetry) async throws(KVClientError) -> SocketAddress? {
        switch state.withLock({ $0.core.target(now: now) }) {
        case let .success(e): return e
        case let .failure(w):
            try await sleep(min(w.time, retry.deadline ?? w.time) - now)
            return nil
        }
    }

    /// A server answered with an error: fatal ones end the call, the rest go to the core.
    private func serverRefused(_ e: ClientError, at target: SocketAddress, retry: inout CallRetry,
                               log: inout AttemptLog) async throws(KVClientError) {
        log.answered(by: target, e)
        if let fatal = Self.map(e, at: target.description) { throw fatal }
        let event: AttemptEvent<SocketAddress>
        switch e {
        case let .notLeader(id, address): event = .notLeader(leaderID: id, leader: address.flatMap { try? SocketAddress(parsing: $0) })
        case .shuttingDown: event = .shuttingDown
        case .unavailable: event = .unavailable
        case .timeout: event = .serverTimedOut
        default: event = .busy  // busy: the cluster is working on it
        }
        var decision = state.withLock { $0.core.handle(event, at: target, call: &retry, now: now) }
        if decision == .learnMembers {
            await learnMembers(from: target, before: retry)
            decision = state.withLock { $0.core.handle(event, at: target, call: &retry, now: now, afterLearning: true) }
        }
        if case let .retry(after: wait) = decision { try await sleep(wait) }
    }

    /// No reply from `target`: a transport failure. Some end the call; the rest go to the core.
    private func attemptFailed(_ f: CallFailure, at target: SocketAddress, operation: String,
                               retry: inout CallRetry, log: inout AttemptLog) async throws(KVClientError) {
        log.failed(at: target, f)
        let event: AttemptEvent<SocketAddress>
        switch f {
        case .dial: event = .dialFailed
        case .timedOut:
            // Paused or partitioned: stop waiting on it. Other calls on that connection fail
            // over too; their retries keep their sequences.
            event = .timedOut
            transport.disconnect(target)
        case .connectionLost: event = .connectionLost
        case .serverClosed(.busy), .serverClosed(.shuttingDown):
            // The server refused the whole connection (too many connections, or it is
            // stopping) before reading a request: back off, try the others.
            event = .connectionRefused
        case .serverClosed, .protocolError, .cancelled, .loopShutdown:
            throw Self.map(f, operation: operation, timeout: configuration.commandTimeout, at: target.description)
        }
        let decision = state.withLock { $0.core.handle(event, at: target, call: &retry, now: now) }
        if case .dial = f, log.nobodyListening(on: state.withLock({ $0.core.router.endpoints }), times: 3) {
            throw log.finalError()
        }
        if case let .retry(after: wait) = decision { try await sleep(wait) }
    }

    private func sleep(_ wait: Duration) async throws(KVClientError) {
        guard wait > .zero else { return }
        do { try await Task.sleep(for: wait) } catch { throw .cancelled }
    }

    private func learn(_ list: [MemberInfo]) {
        let members = list.compactMap { m in (try? SocketAddress(parsing: m.clientURL)).map { (id: m.id, endpoint: $0) } }
        state.withLock { $0.core.router.learnMembers(members) }
    }

    private func learnMembers(from target: SocketAddress, before retry: CallRetry) async {
        let wait = min(configuration.attemptTimeout, retry.remaining(now: now) ?? configuration.attemptTimeout)
        guard wait > .zero else { return }
        if case let .success(.members(list)) = await transport.call(.memberList, to: target, timeout: wait) { learn(list) }
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
