/// Tunables of one core. Time is counted in ticks; the caller decides how long a tick is.
public struct RaftConfig: Sendable {
    /// This node's id (non-zero, one of `voters`).
    public var id: NodeID
    /// All voting members including this node.
    public var voters: [NodeID]
    /// Election timeout base E: each follower waits a random number of ticks in [E, 2E) (§5.2).
    public var electionTicks: Int = 10
    /// A leader sends heartbeats every H ticks. Invariant: 0 < H < E.
    public var heartbeatTicks: Int = 1
    /// A leader that has not heard from a quorum for E ticks steps down, so that clients
    /// of a cut-off leader look elsewhere instead of waiting (dissertation §6.2).
    public var checkQuorum: Bool = true
    /// PreVote (thesis §9.6): before raising its term, a would-be candidate asks whether a
    /// majority would vote for it; voters say yes only if they have not heard from a leader
    /// within the election timeout and its log is up to date. A node cut off from the
    /// cluster therefore never raises the term and never deposes a healthy leader on return.
    /// Off by default until disk-loss recovery learns the terms of a majority: with PreVote on,
    /// terms stay close enough for a wiped member to recover from a stale leader (docs/raft.md).
    public var preVote: Bool = false
    /// Start in recovery: this member lost its storage (or some of it) under an identity the
    /// cluster already knows, so it may have voted and acknowledged entries it no longer
    /// holds. Until it has caught up with a leader (see `RaftNode.recovering`) it never
    /// votes and never campaigns. The host decides when a node starts so (docs/raft.md).
    public var recovering: Bool = false

    /// At most this many entries in one AppendEntries.
    public var maxEntriesPerAppend: Int = 64
    /// At most this many payload bytes in one AppendEntries (one entry may exceed it alone).
    public var maxBytesPerAppend: Int = 1 << 20
    /// At most this many AppendEntries in flight to one follower in pipelined replication.
    public var maxInflightAppends: Int = 64
    /// A proposal larger than this is refused. The default holds the largest client request
    /// (a 64 KiB key, a 1 MiB value and their framing, docs/protocol.md "Limits").
    public var maxEntryBytes: Int = (1 << 20) + (64 << 10) + 4096
    /// Proposals are refused (busy) while this many entries are uncommitted.
    public var maxUncommittedEntries: Int = 8192
    /// At most this many committed entries handed out by one Ready.
    public var maxApplyBatch: Int = 1024
    /// Snapshot chunk size for InstallSnapshot.
    public var snapshotChunkBytes: Int = 512 * 1024
    /// The largest snapshot a follower will assemble.
    public var maxSnapshotBytes: UInt64 = 1 << 30

    public init(id: NodeID, voters: [NodeID]) {
        self.id = id
        self.voters = voters
    }

    /// Checks the configuration; the core refuses to start on a bad one.
    public func validate() -> String? {
        if id == noNode { return "node id must be non-zero" }
        if voters.isEmpty || voters.contains(noNode) { return "voters must be non-empty and non-zero" }
        if Set(voters).count != voters.count { return "voters must be unique" }
        if !voters.contains(id) { return "node \(id) is not among the voters \(voters)" }
        if recovering && voters.count == 1 { return "a single-member cluster has no peer to recover a lost disk from" }
        if electionTicks < 2 { return "election ticks must be at least 2" }
        if heartbeatTicks < 1 || heartbeatTicks >= electionTicks { return "heartbeat ticks must be in 1..<electionTicks" }
        if maxEntriesPerAppend < 1 || maxBytesPerAppend < 1 || maxInflightAppends < 1 { return "append limits must be positive" }
        if maxEntryBytes < 1 || maxUncommittedEntries < 1 || maxApplyBatch < 1 || snapshotChunkBytes < 1 { return "limits must be positive" }
        return nil
    }
}
