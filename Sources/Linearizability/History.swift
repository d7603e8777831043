/// What a client asked the key-value store to do. Kept separate from `KVCommand` so the
/// checker describes observable behaviour only, not the wire or log format.
public enum KVOperationKind: Sendable, Hashable {
    case put(key: [UInt8], value: [UInt8])
    case get(key: [UInt8])
    case delete(key: [UInt8])

    public var key: [UInt8] {
        switch self {
        case let .put(key, _), let .get(key), let .delete(key): return key
        }
    }
}

/// What the client saw come back.
public enum KVOperationOutcome: Sendable, Hashable {
    /// A put was acknowledged.
    case ok
    /// A get; nil when the key was absent.
    case value([UInt8]?)
    /// A delete; how many keys it removed (0 or 1).
    case deleted(Int)
    /// The client gave up (timeout, lost connection): the operation may have taken effect at
    /// any point after its call, or never.
    case unknown
}

/// One client operation: its invocation, and its response if one arrived.
/// Times are opaque UInt64 (simulated ticks or nanoseconds); only their order matters.
public struct HistoryOperation: Sendable, Hashable {
    /// Unique within a history; used to name the operation in explanations.
    public var id: Int
    public var client: UInt64
    public var kind: KVOperationKind
    public var call: UInt64
    /// Nil exactly when `outcome` is `.unknown`: the response never came.
    public var returned: UInt64?
    public var outcome: KVOperationOutcome

    public init(
        id: Int, client: UInt64, kind: KVOperationKind, call: UInt64,
        returned: UInt64?, outcome: KVOperationOutcome
    ) {
        self.id = id
        self.client = client
        self.kind = kind
        self.call = call
        self.returned = returned
        self.outcome = outcome
    }

    /// Traps on histories that no correct recorder could produce: these are bugs in the
    /// caller, not in the system under test.
    func validate() {
        if let returned {
            precondition(returned >= call, "operation \(id) returns at \(returned) before its call at \(call)")
            precondition(outcome != .unknown, "operation \(id) has a return time but an unknown outcome")
        } else {
            precondition(outcome == .unknown, "operation \(id) has an outcome but no return time")
        }
        switch (kind, outcome) {
        case (_, .unknown), (.put, .ok), (.get, .value), (.delete, .deleted): break
        default: preconditionFailure("operation \(id): outcome \(outcome) does not fit \(kind)")
        }
    }
}
