/// One budget for the bytes queued (accepted by `write`, not yet taken by the kernel) on a
/// group of connections, e.g. every client connection of a server: a bound on the memory
/// readers that do not read can make us hold, however many of them there are.
///
/// Fairness: when a write takes the total over `limit`, the connections holding the most are
/// closed (`.outboundBufferFull`) until the total fits again or every remaining holder is
/// within an equal share (`limit / holders`), so a well-behaved reader's replies are never
/// the ones refused. Loop-confined like the connections that use it.
public final class OutboundBudget: @unchecked Sendable {
    // @unchecked Sendable: so it can travel inside `TCPConnection.Options`; only the loop
    // thread that owns the connections touches it.

    /// Invariant: limit >= 1.
    public let limit: Int
    /// Bytes queued on all member connections. Invariant: equals the sum of their queues.
    public private(set) var used = 0
    /// Connections closed for holding more than their share.
    public private(set) var evictions = 0
    private var holders: [ObjectIdentifier: Unmanaged<TCPConnection>] = [:]

    public init(limit: Int) {
        precondition(limit >= 1, "an outbound budget must be positive")
        self.limit = limit
    }

    /// Connections with bytes queued.
    public var holderCount: Int { holders.count }

    func added(_ n: Int, by connection: TCPConnection) {
        used += n
        holders[ObjectIdentifier(connection)] = Unmanaged.passUnretained(connection)
    }

    func removed(_ n: Int, by connection: TCPConnection, nowEmpty: Bool) {
        used -= n
        precondition(used >= 0, "outbound budget went negative")
        if nowEmpty { holders[ObjectIdentifier(connection)] = nil }
    }

    /// Closes the largest holders while over the limit and above their equal share.
    func enforce() {
        while used > limit, !holders.isEmpty {
            let share = limit / holders.count
            guard let (_, largest) = holders.max(by: { $0.value.takeUnretainedValue().pendingOutboundBytes
                    < $1.value.takeUnretainedValue().pendingOutboundBytes }) else { return }
            let connection = largest.takeUnretainedValue()
            guard connection.pendingOutboundBytes > share else { return }
            evictions += 1
            connection.close(.outboundBufferFull(peer: connection.peerAddress, limit: share))  // calls removed(...)
        }
    }
}
