import Codec

/// The replicated key-value map plus client sessions. Applying the same entries in the
/// same order always gives the same state and results (nothing here reads a clock).
public struct KVStateMachine: Sendable {
    /// Limits on session bookkeeping, decided from the log alone so that every replica
    /// evicts the same sessions at the same index.
    public struct Limits: Sendable, Equatable {
        /// At most this many sessions; the least recently used is forgotten first.
        public var maxSessions: Int = 10_000
        /// At most this many cached results per session; the oldest is forgotten first.
        public var maxResultsPerSession: Int = 256
        public init() {}
    }

    struct Session: Sendable, Equatable {
        /// Requests below this sequence are acknowledged or forgotten: never re-applied.
        var floor: UInt64 = 1
        /// Results of applied requests with sequence >= floor, for duplicate detection.
        var results: [UInt64: KVResult] = [:]
        /// Log index of the last request applied for this client (LRU order).
        var lastIndex: UInt64 = 0
    }

    public internal(set) var data: [[UInt8]: [UInt8]] = [:]
    var sessions: [UInt64: Session] = [:]
    /// Invariant: only increases; entries are applied in log order.
    public internal(set) var appliedIndex: UInt64 = 0
    public let limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var sessionCount: Int { sessions.count }

    /// Applies one committed command at `index`. Duplicates (same client and sequence)
    /// return the cached result and change nothing (dissertation §6.3).
    public mutating func apply(_ req: ClientRequest, at index: UInt64) -> KVResult {
        markApplied(index)
        var s = sessions.removeValue(forKey: req.clientID) ?? Session()
        defer { sessions[req.clientID] = s; evictSessionsIfNeeded() }
        s.lastIndex = index
        if req.firstUnacknowledged > s.floor {
            // Forget acknowledged results: one by one when the step is small (the usual case),
            // by rebuilding when the client jumped far ahead.
            if req.firstUnacknowledged - s.floor <= UInt64(s.results.count) {
                for q in s.floor..<req.firstUnacknowledged { s.results.removeValue(forKey: q) }
            } else {
                s.results = s.results.filter { $0.key >= req.firstUnacknowledged }
            }
            s.floor = req.firstUnacknowledged
        }
        if req.sequence < s.floor { return .sessionExpired }
        if let cached = s.results[req.sequence] { return cached }
        let result = execute(req.command, at: index)
        s.results[req.sequence] = result
        if s.results.count > limits.maxResultsPerSession, let oldest = s.results.keys.min() {
            s.results.removeValue(forKey: oldest)
            s.floor = max(s.floor, oldest + 1)
        }
        return result
    }

    /// Records an entry that carries no command (leader no-op, undecodable payload).
    public mutating func markApplied(_ index: UInt64) {
        precondition(index > appliedIndex, "entries are applied in log order, once")
        appliedIndex = index
    }

    private mutating func execute(_ cmd: KVCommand, at index: UInt64) -> KVResult {
        switch cmd {
        case let .put(k, v):
            data[k] = v
            return .stored(revision: index)
        case let .get(k):
            return .value(data[k])
        case let .delete(k):
            return .deleted(count: data.removeValue(forKey: k) == nil ? 0 : 1)
        }
    }

    private mutating func evictSessionsIfNeeded() {
        guard sessions.count > limits.maxSessions else { return }
        // Evict the least recently used tenth at once to amortize the scan; ties broken by id.
        let excess = sessions.count - limits.maxSessions + max(1, limits.maxSessions / 10)
        let victims = sessions.sorted { ($0.value.lastIndex, $0.key) < ($1.value.lastIndex, $1.key) }.prefix(excess)
        for (id, _) in victims { sessions.removeValue(forKey: id) }
    }

    /// Read without the log: only for status and tests (linearizable reads go through the log).
    public func value(for key: [UInt8]) -> [UInt8]? { data[key] }
}
