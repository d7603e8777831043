/// What the core asks its caller to do, produced by `RaftNode.ready()`.
///
/// The caller contract (modelled on etcd-io/raft's Ready/Advance):
/// 1. Call `ready()`; if it returns nil there is nothing to do.
/// 2. Send `eagerMessages` now. They depend on nothing unpersisted (a leader's appends
///    and heartbeats), so they may go out while the disk write runs (thesis §10.2.1).
/// 3. Persist, in this order, `snapshot` (if any), then `entries` (an entry whose index is
///    already stored replaces it and everything after it) and `hardState` (if any), and
///    sync. Nothing below may happen before the sync returns.
/// 4. Send `messages` (votes, acknowledgements, candidacy): they promise durable state.
/// 5. If `snapshot` is set, restore the state machine from it; then apply
///    `committedEntries` in order.
/// 6. Call `advance(ready)`. Only then may client replies for the applied entries go out.
/// Between `ready()` and `advance` the caller may keep calling `step`/`tick`/`propose`.
public struct Ready: Sendable {
    /// Changed hard state to persist, nil when unchanged.
    public var hardState: HardState?
    /// Entries to append to stable storage.
    public var entries: [Entry] = []
    /// A snapshot from the leader to persist and restore (§7).
    public var snapshot: Snapshot?
    /// Messages that may be sent before the persistence of this Ready completes.
    public var eagerMessages: [Message] = []
    /// Messages that must wait until everything above is durable.
    public var messages: [Message] = []
    /// Committed entries to apply, in order, after persisting.
    public var committedEntries: [Entry] = []
    /// Set when the role, term or known leader changed since the previous Ready.
    public var softState: SoftState?
    /// Events for the operator's log, in the order they happened.
    public var events: [RaftEvent] = []

    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && eagerMessages.isEmpty
            && messages.isEmpty && committedEntries.isEmpty && softState == nil && events.isEmpty
    }
}

/// Volatile state worth reporting: who leads, in which term, and our role.
public struct SoftState: Sendable, Equatable {
    public var role: Role
    public var term: Term
    public var leader: NodeID
}

/// Why a proposal was refused. The caller answers its client with this.
public enum ProposeError: Error, Sendable, Equatable {
    /// Only the leader accepts proposals; `leader` is the one we know of (or `noNode`).
    case notLeader(leader: NodeID)
    case tooLarge(size: Int, limit: Int)
    /// Too many uncommitted entries: back off and retry.
    case busy(uncommitted: Int)
}
