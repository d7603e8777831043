import Codec

/// Bounds on the client-session table, decided from the log alone so that every replica
/// evicts the same sessions at the same index.
public struct SessionLimits: Sendable, Equatable {
    /// At most this many registered sessions. A registration that pushes the table past it
    /// evicts the least recently used tenth (at least one) at once, ties broken by id.
    public var maxSessions: Int = 10_000
    /// At most this many remembered requests per session; when a new one pushes past it,
    /// the oldest is forgotten and the session's floor rises past it. The client library
    /// keeps its window of unacknowledged sequences within this (KVClientConfiguration.sessionWindow).
    public var maxResultsPerSession: Int = 256

    public init(maxSessions: Int = 10_000, maxResultsPerSession: Int = 256) {
        precondition(maxSessions >= 1 && maxResultsPerSession >= 1, "session limits must be positive")
        self.maxSessions = maxSessions
        self.maxResultsPerSession = maxResultsPerSession
    }
}

/// Registered client sessions for exactly-once requests (Raft dissertation §6.3). Kept apart
/// from the key-value map: it decides whether a request runs, never what it does.
public struct SessionTable: Sendable, Equatable {
    /// A request applied in a session, remembered until acknowledged or pushed out.
    struct Remembered: Sendable, Equatable {
        /// The command it was applied with; a retry must carry the same one.
        var digest: CommandDigest
        /// Nil for reads: a retried read runs again instead of being answered from a cache.
        var result: KVResult?
    }

    struct Session: Sendable, Equatable {
        /// Invariant: every sequence below this is acknowledged or forgotten, never re-applied.
        var floor: UInt64 = 1
        /// Invariant: keys are >= floor. Requests applied and not yet acknowledged.
        var remembered: [UInt64: Remembered] = [:]
        /// Log index of the registration or the last request applied in it (LRU order).
        var lastIndex: UInt64
    }

    /// What the table says about one request.
    public enum Admission: Sendable, Equatable {
        /// Apply it (nil) or answer it from the cache; then call `recordAccepted`.
        case accepted(cached: KVResult?)
        /// Answer this and change nothing.
        case refused(KVResult)
    }

    public let limits: SessionLimits
    private(set) var sessions: [UInt64: Session] = [:]

    public init(limits: SessionLimits = SessionLimits()) { self.limits = limits }

    public var count: Int { sessions.count }

    public func isRegistered(_ id: UInt64) -> Bool { sessions[id] != nil }

    /// Registers a session whose id is `index` (the registration entry's log index, unique).
    public mutating func register(at index: UInt64) -> UInt64 {
        precondition(sessions[index] == nil, "a log index registers at most one session")
        sessions[index] = Session(lastIndex: index)
        evictIfNeeded()
        return index
    }

    /// Decides a request without changing anything.
    public func admit(_ req: ClientRequest, digest: CommandDigest) -> Admission {
        guard let s = sessions[req.clientID] else { return .refused(.sessionExpired) }
        guard req.firstUnacknowledged <= req.sequence else {
            return .refused(.refused(.floorAboveSequence(sequence: req.sequence, firstUnacknowledged: req.firstUnacknowledged)))
        }
        if req.sequence < s.floor { return .refused(.sessionExpired) }
        guard let seen = s.remembered[req.sequence] else { return .accepted(cached: nil) }
        guard seen.digest == digest else { return .refused(.refused(.sequenceReused(sequence: req.sequence))) }
        return .accepted(cached: seen.result)
    }

    /// Records an accepted request applied at `index` with `result` (nil for a read): raises
    /// the floor to its `firstUnacknowledged` and remembers it for retries.
    public mutating func recordAccepted(_ req: ClientRequest, digest: CommandDigest, result: KVResult?, at index: UInt64) {
        guard var s = sessions[req.clientID] else { preconditionFailure("recordAccepted for an unregistered session") }
        s.lastIndex = index
        raiseFloor(&s, to: req.firstUnacknowledged)
        s.remembered[req.sequence] = Remembered(digest: digest, result: result)
        if s.remembered.count > limits.maxResultsPerSession, let oldest = s.remembered.keys.min() {
            raiseFloor(&s, to: oldest + 1)
        }
        sessions[req.clientID] = s
    }

    private func raiseFloor(_ s: inout Session, to floor: UInt64) {
        guard floor > s.floor else { return }
        // One by one when the step is small (the usual case), by rebuilding when it is large.
        if floor - s.floor <= UInt64(s.remembered.count) {
            for q in s.floor..<floor { s.remembered.removeValue(forKey: q) }
        } else {
            s.remembered = s.remembered.filter { $0.key >= floor }
        }
        s.floor = floor
    }

    private mutating func evictIfNeeded() {
        guard sessions.count > limits.maxSessions else { return }
        // The least recently used tenth at once amortizes the scan; ties broken by id.
        let excess = sessions.count - limits.maxSessions + max(1, limits.maxSessions / 10) - 1
        let victims = sessions.sorted { ($0.value.lastIndex, $0.key) < ($1.value.lastIndex, $1.key) }.prefix(max(1, excess))
        for (id, _) in victims { sessions.removeValue(forKey: id) }
    }
}

// MARK: - Snapshot encoding

extension SessionTable {
    /// count varint, then per session (ascending id): id, floor, lastIndex varints, remembered
    /// count varint, per request (ascending sequence): sequence varint, digest u64, bool
    /// hasResult, [KVResult].
    func encode(into w: inout ByteWriter) {
        w.writeVarint(UInt64(sessions.count))
        for id in sessions.keys.sorted() {
            let s = sessions[id]!
            w.writeVarint(id)
            w.writeVarint(s.floor)
            w.writeVarint(s.lastIndex)
            w.writeVarint(UInt64(s.remembered.count))
            for seq in s.remembered.keys.sorted() {
                let m = s.remembered[seq]!
                w.writeVarint(seq)
                w.writeUInt64(m.digest.rawValue)
                w.writeBool(m.result != nil)
                m.result?.encode(into: &w)
            }
        }
    }

    init(from r: inout ByteReader, limits: SessionLimits) throws(DecodeError) {
        self.init(limits: limits)
        let count = try r.readLength(limit: r.remaining)
        for _ in 0..<count {
            let at = r.offset
            let id = try r.readVarint()
            let floor = try r.readVarint()
            var s = Session(floor: floor, lastIndex: try r.readVarint())
            let n = try r.readLength(limit: r.remaining)
            for _ in 0..<n {
                let seqAt = r.offset
                let seq = try r.readVarint()
                guard seq >= floor else { throw .invalid(offset: seqAt, reason: "remembered sequence \(seq) below floor \(floor)") }
                let digest = CommandDigest(rawValue: try r.readUInt64())
                let result = try r.readBool() ? try KVResult.decode(from: &r) : nil
                s.remembered[seq] = Remembered(digest: digest, result: result)
            }
            guard id != 0, sessions.updateValue(s, forKey: id) == nil else {
                throw .invalid(offset: at, reason: "session id \(id) is zero or repeated")
            }
        }
    }
}
