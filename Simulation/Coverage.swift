/// A path that rare bugs hide in. The simulator counts how often a run reached each one,
/// from what crosses its network and disks (not from inside the core), so a reader of a
/// sweep can see what it exercised: a path that never ran proves nothing.
public enum CoveragePath: Int, CaseIterable, Sendable, Codable {
    /// Follower rejections that named a conflicting term (the leader backtracks by term).
    case conflictHints
    /// Rejections because the follower's log was short.
    case shortLogHints
    /// Durable appends that replaced entries of another term (log truncations)...
    case truncations
    /// ... and the durable entries they discarded.
    case entriesTruncated
    /// Snapshots received from a leader and made durable...
    case snapshotInstalls
    /// ... of which discarded a durable suffix that conflicted with the snapshot.
    case snapshotInstallsWithConflictingSuffix
    /// Local snapshots taken (log compactions).
    case localSnapshots
    /// AppendEntries delivered with leaderCommit beyond their last entry to a follower that
    /// holds more entries: the follower's `commit = min(leaderCommit, last new)` rule decides.
    case commitClampedToLastNew
    case elections
    /// Elections won in a term below the highest term some node had already reached.
    case electionsWonLate
    /// Responses delivered to a node already in a higher term (late replies).
    case staleResponses
    /// Responses carrying a higher term delivered to a leader or candidate (they demote it).
    case higherTermResponses
    /// Crashes inside a Ready: after the eager sends, before the sync...
    case crashesBeforeSync
    /// ... and after the sync, before the promises were sent.
    case crashesAfterSync
    /// Messages delivered to a node while its disk write was in flight.
    case deliveriesDuringWrite
    /// Promises checked against durable state (granted votes, append and snapshot acks).
    case promisesChecked

    public var label: String {
        switch self {
        case .conflictHints: return "conflict hints (rejections naming a term)"
        case .shortLogHints: return "short-log hints"
        case .truncations: return "log truncations"
        case .entriesTruncated: return "entries truncated"
        case .snapshotInstalls: return "snapshot installs"
        case .snapshotInstallsWithConflictingSuffix: return "snapshot installs with a conflicting suffix"
        case .localSnapshots: return "local snapshots"
        case .commitClampedToLastNew: return "commit clamped to the last new entry"
        case .elections: return "elections won"
        case .electionsWonLate: return "elections won late (below the highest term)"
        case .staleResponses: return "stale-term responses delivered"
        case .higherTermResponses: return "higher-term responses to a leader/candidate"
        case .crashesBeforeSync: return "crashes mid-Ready before the sync"
        case .crashesAfterSync: return "crashes mid-Ready after the sync"
        case .deliveriesDuringWrite: return "deliveries during a disk write"
        case .promisesChecked: return "promises checked against durable state"
        }
    }
}

/// Counts per `CoveragePath` for one run or a whole sweep.
public struct Coverage: Sendable, Equatable, Codable {
    public private(set) var counts = [Int](repeating: 0, count: CoveragePath.allCases.count)

    public init() {}

    public subscript(_ p: CoveragePath) -> Int {
        get { counts[p.rawValue] }
        set { counts[p.rawValue] = newValue }
    }

    public static func += (a: inout Coverage, b: Coverage) {
        for i in a.counts.indices { a.counts[i] += b.counts[i] }
    }
}
