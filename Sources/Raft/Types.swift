/// Identifiers and the values the core persists or exchanges.

/// A member's identity. 0 means "none" (no vote, no known leader).
public typealias NodeID = UInt64
public typealias Term = UInt64
public typealias LogIndex = UInt64

public let noNode: NodeID = 0

/// What an entry carries. `noop` is the entry a new leader appends at the start
/// of its term so that earlier entries can commit through it (§5.4.2, §8).
public enum EntryKind: UInt8, Sendable, Equatable {
    case normal = 0
    case noop = 1
}

/// One log entry. Invariant: index >= 1, term >= 1.
public struct Entry: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Size used for batching limits: payload plus a fixed header allowance.
    @inlinable public var byteSize: Int { data.count + 24 }
}

/// State that must be durable before any message depending on it is sent (§5, Figure 2).
public struct HardState: Sendable, Equatable {
    public var term: Term
    /// `noNode` when this node has not voted in `term`.
    public var vote: NodeID
    /// Durable lower bound of the commit index; safe to lose (re-learned), kept to re-apply quickly.
    public var commit: LogIndex

    public init(term: Term = 0, vote: NodeID = noNode, commit: LogIndex = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The voting members. Static membership: fixed at bootstrap, recorded in snapshots.
public struct ClusterConfig: Sendable, Equatable {
    /// Sorted, unique, non-zero.
    public private(set) var voters: [NodeID]

    public init(voters: [NodeID]) {
        self.voters = Array(Set(voters)).sorted()
    }

    public var quorum: Int { voters.count / 2 + 1 }
    public func contains(_ id: NodeID) -> Bool { voters.contains(id) }
}

/// Describes the state a snapshot covers: everything up to and including `index`.
public struct SnapshotMetadata: Sendable, Equatable {
    public var index: LogIndex
    public var term: Term
    public var config: ClusterConfig

    public init(index: LogIndex, term: Term, config: ClusterConfig) {
        self.index = index
        self.term = term
        self.config = config
    }
}

/// A state-machine snapshot: metadata plus the opaque bytes the state machine produced.
public struct Snapshot: Sendable, Equatable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// What a node restarts from: the durable state alone (§5.1: term, vote, log).
public struct PersistentState: Sendable, Equatable {
    public var hardState: HardState
    public var snapshot: Snapshot?
    /// Entries after the snapshot, contiguous, ascending.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// The role a node plays in its current term (§5.1).
public enum Role: UInt8, Sendable, Equatable, CustomStringConvertible {
    case follower, candidate, leader
    public var description: String {
        switch self {
        case .follower: return "follower"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }
}
