import Raft

/// Rebuilds the log from WAL records in write order. Later records win: an entry at an index
/// already present replaces it and everything after it; the newest hard state counts. Entries
/// at or below a snapshot marker are kept (when their terms agree) so that an older snapshot
/// can still be used if the newest snapshot file turns out to be damaged.
struct LogReplay {
    /// Contiguous: `entries[k].index == base + 1 + k`.
    private(set) var entries: [Entry] = []
    /// Index just before the first entry.
    private(set) var base: LogIndex = 0
    /// Term of the entry at `base` when known (0 for base 0).
    private(set) var baseTerm: Term? = 0
    private(set) var hardState = HardState()
    /// The highest snapshot marker seen.
    private(set) var latestMarker: (index: LogIndex, term: Term)?

    var lastIndex: LogIndex { base + LogIndex(entries.count) }

    func term(at index: LogIndex) -> Term? {
        if index == base { return baseTerm }
        if index > base && index <= lastIndex { return entries[Int(index - base - 1)].term }
        return nil
    }

    /// The first segment read starts the log right before its first index.
    mutating func start(at firstIndex: LogIndex) {
        precondition(entries.isEmpty && firstIndex >= 1, "start only on an empty replay")
        base = firstIndex - 1
        baseTerm = base == 0 ? 0 : nil
    }

    /// Applies one record; returns why it is inconsistent, or nil.
    mutating func apply(_ record: WALRecord) -> String? {
        switch record {
        case let .entry(e):
            if e.index > lastIndex + 1 {
                return "gap in the log: entry \(e.index) follows last index \(lastIndex)"
            }
            if e.index <= base {
                // Overwrite reaching below what this replay has seen: restart the log there.
                entries.removeAll(keepingCapacity: true)
                base = e.index - 1
                baseTerm = base == 0 ? 0 : nil
            } else {
                entries.removeLast(Int(lastIndex - (e.index - 1)))
            }
            if let prev = term(at: e.index - 1), e.term < prev {
                return "entry \(e.index) has term \(e.term), lower than the previous entry's term \(prev)"
            }
            entries.append(e)
        case let .hardState(h):
            if h.term < hardState.term {
                return "hard state term went backwards from \(hardState.term) to \(h.term)"
            }
            hardState = h
        case let .snapshotMarker(index, term):
            if latestMarker == nil || index > latestMarker!.index { latestMarker = (index, term) }
            if index < base { return nil }
            if index == base {
                if baseTerm == nil { baseTerm = term } else if baseTerm != term { discard(through: index, term: term) }
            } else if index > lastIndex || self.term(at: index) != term {
                // Contract rule 4: the snapshot replaces a log that does not contain it.
                discard(through: index, term: term)
            }
        }
        return nil
    }

    private mutating func discard(through index: LogIndex, term: Term) {
        entries.removeAll()
        base = index
        baseTerm = term
    }

    /// Can recovery start from a snapshot at (index, term) (index 0: no snapshot) without
    /// losing anything? Returns why not, or nil.
    func coverageProblem(snapshotIndex f: LogIndex, term ft: Term) -> String? {
        let m = latestMarker?.index ?? 0
        if f >= m && f > 0 {
            // Newest snapshot (or newer than any marker): it replaces whatever it contradicts,
            // but the log must not start after it.
            if base > f { return "the log starts at index \(base + 1), after snapshot index \(f): entries \(f + 1)...\(base) are missing" }
            return nil
        }
        // Falling back below the newest recorded snapshot: the log must still hold every entry
        // after `f`, and agree with it at `f`.
        if base > f { return "the log starts at index \(base + 1), so it cannot bridge from index \(f) to the newest snapshot at \(m)" }
        if f > lastIndex { return "the log ends at index \(lastIndex), before index \(f)" }
        if let t = term(at: f), t != ft { return "the log's entry \(f) has term \(t), not \(ft)" }
        return nil
    }

    /// The durable state when starting from `snapshot` (after `coverageProblem` said yes).
    func finish(with snapshot: Snapshot?) -> PersistentState {
        guard let s = snapshot else { return PersistentState(hardState: hardState, snapshot: nil, entries: entries) }
        let f = s.metadata.index
        let kept: [Entry]
        if f >= lastIndex { kept = [] }
        else if let t = term(at: f), t != s.metadata.term { kept = [] }
        else { kept = Array(entries[Int(f - base)...]) }
        return PersistentState(hardState: hardState, snapshot: s, entries: kept)
    }
}
