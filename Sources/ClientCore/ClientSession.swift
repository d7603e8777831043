import KV

/// A call's place in a session: which session it was sent in, and its sequence there.
public struct SessionSlot: Sendable, Hashable {
    public let sessionID: UInt64
    public let sequence: UInt64

    public init(sessionID: UInt64, sequence: UInt64) {
        self.sessionID = sessionID
        self.sequence = sequence
    }
}

/// Exactly-once bookkeeping for one client (Raft dissertation §6.3), as a pure state machine:
/// registration, sequence numbers, the window of unacknowledged sequences and the floor
/// (`firstUnacknowledged`). The rules it follows are in docs/protocol.md, "Sessions".
public struct ClientSession: Sendable {
    /// What a new call should do next.
    public enum Start: Sendable, Equatable {
        /// Send in this slot.
        case go(SessionSlot)
        /// No session: this caller registers one (then calls `registered` or `registrationFailed`).
        case register
        /// A registration is out, or the window is full: wait for `finish` / `registered`.
        case wait
    }

    /// Invariant: 1 <= window <= SessionLimits.maxResultsPerSession on the server, so every
    /// retry inside the window is still remembered there.
    public let window: UInt64
    /// Nil until registered, and again after the cluster expired it.
    public private(set) var sessionID: UInt64?
    /// A registration call is out.
    public private(set) var registering = false
    private var nextSequence: UInt64 = 1
    /// Sequences handed out in the current session whose call has not finished.
    private var outstanding: Set<UInt64> = []

    public init(window: UInt64) {
        precondition(window >= 1, "the session window must hold at least one request")
        self.window = window
    }

    /// Starts a new call: a slot, or an instruction to register or to wait.
    public mutating func start() -> Start {
        guard let id = sessionID else {
            if registering { return .wait }
            registering = true
            return .register
        }
        guard windowUsed < window else { return .wait }
        let s = nextSequence
        nextSequence += 1
        outstanding.insert(s)
        return .go(SessionSlot(sessionID: id, sequence: s))
    }

    /// The registration call returned `id`: a new session, sequences from 1.
    public mutating func registered(_ id: UInt64) {
        precondition(id != 0, "session id 0 is reserved")
        registering = false
        sessionID = id
        nextSequence = 1
        outstanding = []
    }

    /// The registration call failed; the next `start` registers again.
    public mutating func registrationFailed() { registering = false }

    /// The call in `slot` ended, answered or not. A caller that gave up will not retry it, so
    /// the server may forget it too (a late duplicate is then refused as expired, not applied).
    public mutating func finish(_ slot: SessionSlot) {
        guard slot.sessionID == sessionID else { return }
        outstanding.remove(slot.sequence)
    }

    /// The cluster answered `sessionExpired` in `sessionID`: the next `start` registers anew.
    public mutating func expired(_ sessionID: UInt64) {
        guard sessionID == self.sessionID else { return }
        self.sessionID = nil
        outstanding = []
    }

    /// The request to send for `slot` now. The floor is recomputed per attempt (other calls
    /// may have finished meanwhile) and never exceeds the call's own sequence.
    public func request(_ slot: SessionSlot, _ command: KVCommand) -> ClientRequest {
        let floor = slot.sessionID == sessionID ? min(firstUnacknowledged, slot.sequence) : slot.sequence
        return ClientRequest(clientID: slot.sessionID, sequence: slot.sequence, firstUnacknowledged: floor, command: command)
    }

    /// Lowest sequence whose reply has not been received yet.
    public var firstUnacknowledged: UInt64 { outstanding.min() ?? nextSequence }

    public var inFlight: Int { outstanding.count }

    /// Sequences from the oldest unacknowledged one to the next new one.
    public var windowUsed: UInt64 { nextSequence - firstUnacknowledged }
}
