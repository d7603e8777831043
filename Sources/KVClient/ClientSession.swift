/// Exactly-once bookkeeping for one client session (Raft dissertation §6.3): every new
/// request takes the next sequence; a retry reuses it; `firstUnacknowledged` tells the
/// server which cached results it may drop.
struct ClientSession: Sendable {
    let clientID: UInt64
    private var nextSequence: UInt64 = 1
    /// Sequences handed out whose call has not finished.
    private var outstanding: Set<UInt64> = []

    init(clientID: UInt64) {
        precondition(clientID != 0, "client id 0 is reserved")
        self.clientID = clientID
    }

    /// Starts a new request.
    mutating func begin() -> UInt64 {
        let s = nextSequence
        nextSequence += 1
        outstanding.insert(s)
        return s
    }

    /// The call for `sequence` finished, successfully or not. A caller that gave up will not
    /// retry it, so the server may forget it too (a late duplicate is then refused as expired
    /// rather than applied twice).
    mutating func finish(_ sequence: UInt64) {
        outstanding.remove(sequence)
    }

    /// Lowest sequence whose reply the caller has not received yet.
    var firstUnacknowledged: UInt64 {
        outstanding.min() ?? nextSequence
    }

    var inFlight: Int { outstanding.count }

    /// Sequences from the oldest unacknowledged one to the next new one. The server caches
    /// results only for a bounded window per session, so new requests wait while this is full.
    var window: UInt64 { nextSequence - firstUnacknowledged }
}
