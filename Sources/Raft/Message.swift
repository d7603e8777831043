/// Messages between members. Every message carries the sender's term (§5.1).
public struct Message: Sendable, Equatable {
    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var kind: MessageKind

    public init(from: NodeID, to: NodeID, term: Term, kind: MessageKind) {
        self.from = from
        self.to = to
        self.term = term
        self.kind = kind
    }
}

public enum MessageKind: Sendable, Equatable {
    /// RequestVote RPC (§5.2, §5.4.1).
    case requestVote(lastLogIndex: LogIndex, lastLogTerm: Term)
    case requestVoteResponse(granted: Bool)

    /// AppendEntries RPC (§5.3). `entries` are contiguous starting at prevLogIndex + 1.
    case appendEntries(prevLogIndex: LogIndex, prevLogTerm: Term, entries: [Entry], leaderCommit: LogIndex)
    /// On success `index` is the last index known to match the leader.
    /// On rejection `index` is the rejected prevLogIndex and the hint says where to
    /// retry: `hintTerm` is the follower's term at that index (0 if its log is shorter)
    /// and `hintIndex` is the first index of `hintTerm` in its log (or lastIndex + 1).
    case appendEntriesResponse(success: Bool, index: LogIndex, hintTerm: Term, hintIndex: LogIndex)

    /// Leader liveness and commit propagation. `commit` is at most the
    /// follower's known match, so the follower may adopt it without a log check.
    case heartbeat(commit: LogIndex)
    case heartbeatResponse

    /// InstallSnapshot RPC (§7), sent in chunks. `offset` is the byte offset of `chunk`
    /// in the snapshot data of total size `totalSize`; `done` marks the last chunk.
    case installSnapshot(metadata: SnapshotMetadata, offset: UInt64, totalSize: UInt64, chunk: [UInt8], done: Bool)
    /// `nextOffset` is the byte the receiver wants next; when `done`, the snapshot at
    /// `index` has been installed and persisted (or was already covered).
    case installSnapshotResponse(index: LogIndex, nextOffset: UInt64, done: Bool)
}

/// The one table of message kinds: the tag a kind has on the wire (Wire's peer codec) and
/// its name in logs and simulation traces.
public enum MessageTag: UInt8, Sendable, CaseIterable {
    case requestVote = 1
    case requestVoteResponse = 2
    case appendEntries = 3
    case appendEntriesResponse = 4
    case heartbeat = 5
    case heartbeatResponse = 6
    case installSnapshot = 7
    case installSnapshotResponse = 8

    public var name: String {
        switch self {
        case .requestVote: return "RequestVote"
        case .requestVoteResponse: return "RequestVoteResponse"
        case .appendEntries: return "AppendEntries"
        case .appendEntriesResponse: return "AppendEntriesResponse"
        case .heartbeat: return "Heartbeat"
        case .heartbeatResponse: return "HeartbeatResponse"
        case .installSnapshot: return "InstallSnapshot"
        case .installSnapshotResponse: return "InstallSnapshotResponse"
        }
    }
}

extension MessageKind {
    public var tag: MessageTag {
        switch self {
        case .requestVote: return .requestVote
        case .requestVoteResponse: return .requestVoteResponse
        case .appendEntries: return .appendEntries
        case .appendEntriesResponse: return .appendEntriesResponse
        case .heartbeat: return .heartbeat
        case .heartbeatResponse: return .heartbeatResponse
        case .installSnapshot: return .installSnapshot
        case .installSnapshotResponse: return .installSnapshotResponse
        }
    }

    /// A short name for logs and traces.
    public var name: String { tag.name }

    /// Whether a message of this kind may leave before the Ready that produced it is
    /// persisted (thesis §10.2.1). The one place this is decided; `RaftNode.send` routes by it.
    ///
    /// The rule: a message may go early only if it promises nothing about the sender's
    /// disk. A leader's AppendEntries, heartbeats and snapshot chunks are such: the leader
    /// writes its own entries in parallel and counts itself in checkN only for what it has
    /// persisted. Everything else waits for the sync, because it promises durable state:
    /// a vote grant promises votedFor, an append or snapshot acknowledgement the entries or
    /// snapshot, a RequestVote the candidate's new term and self-vote; refusals and other
    /// replies carry a term that must survive a crash too.
    public var mayPrecedePersistence: Bool {
        switch self {
        case .appendEntries, .heartbeat, .installSnapshot:
            return true
        case .requestVote, .requestVoteResponse, .appendEntriesResponse, .heartbeatResponse, .installSnapshotResponse:
            return false
        }
    }
}
