/// The in-memory view of the replicated log, with the bookkeeping of what has been handed
/// to storage and to the state machine.
///
/// Indexes, in order (all invariants enforced by `checkInvariants`):
///   compactedIndex <= applied <= committed <= lastIndex
///   compactedIndex + 1 <= unstable <= lastIndex + 1
///   persisted <= lastIndex
public struct RaftLog: Sendable {
    /// Index and term of the last entry folded into a snapshot; entries start after it.
    public private(set) var compactedIndex: LogIndex
    public private(set) var compactedTerm: Term
    /// Invariant: entries[i].index == compactedIndex + 1 + i, terms non-decreasing.
    public private(set) var entries: [Entry]
    /// Highest index known committed (§5.3).
    public internal(set) var committed: LogIndex
    /// Highest index the state machine has applied (acknowledged through `advance`).
    public internal(set) var applied: LogIndex
    /// Highest committed index already handed out for applying (applied <= applying <= committed).
    public internal(set) var applying: LogIndex
    /// First index not yet handed to storage.
    public internal(set) var unstable: LogIndex
    /// Highest index known durable on this node's disk.
    public internal(set) var persisted: LogIndex

    init(snapshot: SnapshotMetadata?, entries: [Entry], commit: LogIndex) {
        compactedIndex = snapshot?.index ?? 0
        compactedTerm = snapshot?.term ?? 0
        self.entries = entries.filter { $0.index > (snapshot?.index ?? 0) }
        let last = compactedIndex + LogIndex(self.entries.count)
        committed = min(max(commit, compactedIndex), last)
        applied = compactedIndex
        applying = compactedIndex
        unstable = last + 1
        persisted = last
    }

    public var firstIndex: LogIndex { compactedIndex + 1 }
    public var lastIndex: LogIndex { compactedIndex + LogIndex(entries.count) }
    public var lastTerm: Term { entries.last?.term ?? compactedTerm }

    /// The term of the entry at `index`, or nil when it is compacted away or beyond the end.
    public func term(at index: LogIndex) -> Term? {
        if index == compactedIndex { return compactedTerm }
        if index < compactedIndex || index > lastIndex { return nil }
        return entries[Int(index - compactedIndex - 1)].term
    }

    public func matchTerm(_ index: LogIndex, _ term: Term) -> Bool {
        self.term(at: index) == term
    }

    /// §5.4.1: a candidate's log is at least as up to date as ours.
    public func isUpToDate(lastIndex: LogIndex, lastTerm: Term) -> Bool {
        lastTerm > self.lastTerm || (lastTerm == self.lastTerm && lastIndex >= self.lastIndex)
    }

    public func entry(at index: LogIndex) -> Entry? {
        guard index > compactedIndex, index <= lastIndex else { return nil }
        return entries[Int(index - compactedIndex - 1)]
    }

    /// Entries in [from, through], at most `maxCount` and about `maxBytes` (always at least one).
    func slice(from: LogIndex, through: LogIndex, maxCount: Int, maxBytes: Int) -> [Entry] {
        precondition(from > compactedIndex, "slice below the compacted prefix")
        guard from <= through, through <= lastIndex else { return [] }
        let start = Int(from - compactedIndex - 1)
        let end = min(Int(through - compactedIndex), start + maxCount)
        var bytes = 0
        var stop = start
        while stop < end {
            bytes += entries[stop].byteSize
            if stop > start && bytes > maxBytes { break }
            stop += 1
        }
        return Array(entries[start..<stop])
    }

    /// The first index of the term of the entry at `index`, not looking below `floor`.
    func firstIndex(ofTermAt index: LogIndex, floor: LogIndex) -> LogIndex {
        guard let t = term(at: index) else { return index }
        var i = index
        while i > max(floor, compactedIndex + 1), term(at: i - 1) == t { i -= 1 }
        return i
    }

    /// The last index <= `index` whose term is `term`, if any (looked up from the leader's side).
    func lastIndex(ofTerm t: Term, atOrBelow index: LogIndex) -> LogIndex? {
        var i = min(index, lastIndex)
        while i > compactedIndex {
            guard let ti = term(at: i) else { return nil }
            if ti == t { return i }
            if ti < t { return nil }
            i -= 1
        }
        return compactedTerm == t && i == compactedIndex ? i : nil
    }

    /// Leader append: entries continue the log.
    mutating func appendAsLeader(_ entry: Entry) {
        precondition(entry.index == lastIndex + 1, "leader append must continue the log")
        precondition(entry.term >= lastTerm, "terms in the log never decrease")
        entries.append(entry)
    }

    /// Follower append (§5.3 step 3-4): skips entries already present with the same term,
    /// truncates from the first conflict, appends the rest. Returns false (changing
    /// nothing) if the conflict is at or below `committed`, which a correct leader never sends.
    mutating func appendAsFollower(_ new: [Entry]) -> Bool {
        var firstNew = new.count
        for (i, e) in new.enumerated() {
            if let t = term(at: e.index) {
                if t != e.term { firstNew = i; break }
            } else if e.index > lastIndex {
                firstNew = i; break
            }
            // e.index <= compactedIndex: covered by the snapshot, hence committed and matching.
        }
        guard firstNew < new.count else { return true }
        let from = new[firstNew].index
        if from <= committed { return false }
        precondition(from <= lastIndex + 1, "appended entries must be contiguous with the log")
        if from <= lastIndex {
            // Only the conflicting suffix goes; matching entries stay (a stale or duplicated
            // AppendEntries must never erase them).
            entries.removeSubrange(Int(from - compactedIndex - 1)...)
            unstable = min(unstable, from)
            persisted = min(persisted, from - 1)
        }
        entries.append(contentsOf: new[firstNew...])
        return true
    }

    mutating func commit(to index: LogIndex) {
        if index > committed {
            precondition(index <= lastIndex, "commit beyond the last index")
            committed = index
        }
    }

    /// Drops entries up to `index` (which must be applied) after a local snapshot.
    mutating func compact(through index: LogIndex) {
        guard index > compactedIndex else { return }
        precondition(index <= applied, "compacting unapplied entries")
        let t = term(at: index)!
        entries.removeSubrange(0..<Int(index - compactedIndex))
        compactedIndex = index
        compactedTerm = t
        unstable = max(unstable, index + 1)
    }

    /// Installs a snapshot received from the leader (§7): keeps the suffix if our entry at
    /// the snapshot index matches, otherwise discards the whole log.
    mutating func restore(_ meta: SnapshotMetadata) {
        if matchTerm(meta.index, meta.term) && meta.index >= compactedIndex {
            entries.removeSubrange(0..<Int(meta.index - compactedIndex))
            unstable = max(unstable, meta.index + 1)
        } else {
            // Our suffix conflicts with (or is behind) the snapshot: it all goes.
            entries.removeAll()
            persisted = min(persisted, meta.index)
            unstable = meta.index + 1
        }
        compactedIndex = meta.index
        compactedTerm = meta.term
        committed = max(committed, meta.index)
    }

    mutating func setApplied(_ index: LogIndex) {
        precondition(index <= committed, "applied beyond committed")
        applied = max(applied, index)
        applying = max(applying, applied)
    }

    func checkInvariants() {
        precondition(compactedIndex <= applied, "applied below the compacted prefix")
        precondition(applied <= applying && applying <= committed, "applied <= applying <= committed")
        precondition(committed <= lastIndex, "committed <= lastIndex")
        precondition(unstable >= compactedIndex + 1 && unstable <= lastIndex + 1, "unstable out of range")
        precondition(persisted <= lastIndex, "persisted <= lastIndex")
    }
}

extension RaftLog: CustomStringConvertible {
    /// One line for failure traces: the indexes in order, and the terms at the ends.
    public var description: String {
        let span = entries.isEmpty ? "no entries" : "entries \(firstIndex)...\(lastIndex) (terms \(entries.first!.term)...\(lastTerm))"
        return "log: compacted \(compactedIndex)@t\(compactedTerm), \(span), applied \(applied), applying \(applying),"
            + " committed \(committed), persisted \(persisted), unstable from \(unstable)"
    }
}
