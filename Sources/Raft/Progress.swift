/// The leader's view of one follower's log (etcd-io/raft's tracker.Progress).
///
/// Invariant: match < next. In `replicate`, next - 1 is what has been sent optimistically;
/// in `probe`, next - 1 is the index being probed.
public struct Progress: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Unknown match: send one AppendEntries at a time and wait for the answer.
        case probe
        /// Known match: stream AppendEntries, up to `maxInflightAppends` unacknowledged.
        case replicate
        /// The follower needs entries we compacted: send the snapshot in chunks.
        case snapshot(index: LogIndex, offset: UInt64)
    }

    public let id: NodeID
    public internal(set) var match: LogIndex = 0
    public internal(set) var next: LogIndex
    public internal(set) var state: State = .probe
    /// In probe (and snapshot) state: a message is out, wait for a reply or a heartbeat answer.
    var paused = false
    /// Last index of each AppendEntries in flight, ascending (replicate state).
    /// Invariant: count <= maxInflightAppends.
    var inflight: [LogIndex] = []
    /// Heard from since the last quorum check (checkQuorum).
    var recentActive = false
    /// `match` at the previous heartbeat answer: if it has not moved while entries are
    /// outstanding, the pipeline has lost a message and falls back to probing.
    var matchAtLastHeartbeat: LogIndex = 0
    /// Set when the follower turned out to lack entries it had acknowledged (its disk lost
    /// them): the highest index it had acknowledged. Until `match` reaches it again the
    /// follower does not count toward commit. 0: nothing lost.
    public internal(set) var lostThrough: LogIndex = 0

    /// What this follower contributes to the commit count.
    var commitMatch: LogIndex { lostThrough > match ? 0 : match }

    init(id: NodeID, next: LogIndex) {
        self.id = id
        self.next = next
    }

    mutating func becomeProbe() {
        if case let .snapshot(index, _) = state {
            next = max(match, index) + 1
        } else {
            next = match + 1
        }
        state = .probe
        paused = false
        inflight.removeAll(keepingCapacity: true)
    }

    /// The follower rejected an AppendEntries at or below `match`, which it had acknowledged:
    /// forget the match (it is re-learned from its next answers) and keep it out of the
    /// commit count until it holds everything it had acknowledged.
    mutating func lostEntries() {
        lostThrough = max(lostThrough, match)
        match = 0
        matchAtLastHeartbeat = 0
        becomeProbe()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        paused = false
        inflight.removeAll(keepingCapacity: true)
    }

    /// Records an acknowledgement of `index`; returns true if match advanced.
    mutating func acknowledge(_ index: LogIndex) -> Bool {
        var advanced = false
        if index > match {
            match = index
            advanced = true
        }
        if lostThrough > 0 && match >= lostThrough { lostThrough = 0 }
        if next < match + 1 { next = match + 1 }
        // Free every append whose last index is now acknowledged.
        var drop = 0
        while drop < inflight.count && inflight[drop] <= index { drop += 1 }
        if drop > 0 { inflight.removeFirst(drop) }
        return advanced
    }

    func checkInvariants(maxInflight: Int) {
        precondition(match < next, "progress: match < next")
        precondition(inflight.count <= maxInflight, "progress: inflight bounded")
    }
}
