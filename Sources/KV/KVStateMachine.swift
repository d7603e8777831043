import Codec

/// The replicated state: the key-value map plus the client-session table that makes
/// requests exactly-once. Applying the same entries in the same order always gives the same
/// state and results (nothing here reads a clock).
public struct KVStateMachine: Sendable {
    public internal(set) var store = KVStore()
    public internal(set) var sessions: SessionTable
    /// Invariant: only increases; entries are applied in log order.
    public internal(set) var appliedIndex: UInt64 = 0

    public init(limits: SessionLimits = SessionLimits()) {
        sessions = SessionTable(limits: limits)
    }

    public var limits: SessionLimits { sessions.limits }
    public var data: [[UInt8]: [UInt8]] { store.data }
    public var sessionCount: Int { sessions.count }

    /// Applies one committed log command at `index`.
    public mutating func apply(_ command: LogCommand, at index: UInt64) -> KVResult {
        switch command {
        case .register:
            markApplied(index)
            return .registered(clientID: sessions.register(at: index))
        case let .request(req):
            return apply(req, at: index)
        }
    }

    /// Applies a client request at `index`. A duplicate (same session and sequence, same
    /// command) is answered from the session and changes nothing (dissertation §6.3); a
    /// retried read runs again; anything the session rules refuse changes nothing.
    public mutating func apply(_ req: ClientRequest, at index: UInt64) -> KVResult {
        markApplied(index)
        let digest = CommandDigest(req.command)
        switch sessions.admit(req, digest: digest) {
        case let .refused(answer):
            return answer
        case let .accepted(cached):
            let result = cached ?? store.execute(req.command, at: index)
            sessions.recordAccepted(req, digest: digest, result: req.command.isRead ? nil : result, at: index)
            return result
        }
    }

    /// Records an entry that carries no command (leader no-op).
    public mutating func markApplied(_ index: UInt64) {
        precondition(index > appliedIndex, "entries are applied in log order, once")
        appliedIndex = index
    }

    /// Read without the log: only for status and tests (linearizable reads go through the log).
    public func value(for key: [UInt8]) -> [UInt8]? { store.value(for: key) }
}
