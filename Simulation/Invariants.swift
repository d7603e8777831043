import Raft

/// Safety properties checked continuously during a simulation (Raft paper Figure 3).
/// The first violation is kept; the run stops there.
public struct InvariantChecker {
    /// Election Safety: at most one leader per term.
    private var leaders: [Term: NodeID] = [:]
    /// State Machine Safety: the entry applied at each index, by anyone (term, payload hash).
    private var applied: [LogIndex: (term: Term, hash: UInt64)] = [:]
    /// Highest index applied anywhere: committed entries that must never be lost.
    public private(set) var highestApplied: LogIndex = 0
    /// The term in which each index was first seen committed (index 1 at offset 0): the term
    /// of the first node whose commit index covered it. That node learned the commit from a
    /// leader of its term or an earlier one, so this is an upper bound on the true commit
    /// term, which keeps the Leader Completeness check free of false positives.
    private var commitTerms: [Term] = []
    public var highestCommitted: LogIndex { LogIndex(commitTerms.count) }
    public private(set) var violation: String?

    public init() {}

    mutating func fail(_ s: String) {
        if violation == nil { violation = s }
    }

    /// Called whenever a node's commit index may have moved; `term` is the node's term.
    @inline(__always)
    mutating func observeCommit(_ committed: LogIndex, term: Term) {
        while LogIndex(commitTerms.count) < committed { commitTerms.append(term) }
    }

    /// Called when a node is first seen leading `term`.
    mutating func observeLeader(_ id: NodeID, term: Term, log: RaftLog) {
        if let other = leaders[term], other != id {
            fail("election safety: nodes \(other) and \(id) both lead term \(term)")
            return
        }
        guard leaders[term] == nil else { return }
        leaders[term] = id
        // Leader Completeness (§5.4): a leader of term T holds every entry committed in a
        // term before T. Entries committed in T or later need not be there: a candidate
        // paused in T may legally win T after a later term committed entries.
        var i = max(log.compactedIndex + 1, 1)
        while i <= min(highestApplied, highestCommitted) {
            if commitTerms[Int(i - 1)] < term, let want = applied[i], log.term(at: i) != want.term {
                fail("leader completeness: leader \(id) of term \(term) has term \(log.term(at: i).map(String.init) ?? "none") at index \(i), but term \(want.term) was committed there in term \(commitTerms[Int(i - 1)])")
                return
            }
            i += 1
        }
    }

    /// Called for every entry a node applies.
    mutating func observeApply(node: NodeID, entry: Entry) {
        let h = fnv1a(entry.data, seed: UInt64(entry.kind.rawValue))
        if let prior = applied[entry.index] {
            if prior.term != entry.term || prior.hash != h {
                fail("state machine safety: node \(node) applied term \(entry.term) at index \(entry.index), others applied term \(prior.term)")
            }
        } else {
            applied[entry.index] = (entry.term, h)
            highestApplied = max(highestApplied, entry.index)
        }
    }

    /// Log Matching: if two logs hold an entry with the same index and term, they are
    /// identical up to it. Checked on the overlap of every pair of in-memory logs.
    mutating func checkLogMatching(_ logs: [(NodeID, RaftLog)]) {
        for a in 0..<logs.count {
            for b in (a + 1)..<logs.count {
                let (ia, la) = logs[a], (ib, lb) = logs[b]
                let lo = max(la.compactedIndex, lb.compactedIndex) + 1
                let hi = min(la.lastIndex, lb.lastIndex)
                guard lo <= hi else { continue }
                // Find the highest common (index, term); below it everything must agree.
                var i = hi
                while i >= lo, la.term(at: i) != lb.term(at: i) { i -= 1 }
                guard i >= lo else { continue }
                var j = i
                while j >= lo {
                    let ea = la.entry(at: j)!, eb = lb.entry(at: j)!
                    if ea != eb {
                        fail("log matching: nodes \(ia) and \(ib) agree at index \(i) but differ at index \(j)")
                        return
                    }
                    j -= 1
                }
            }
        }
    }

    /// Committed entries applied somewhere must be in every log's committed prefix.
    mutating func checkCommittedPrefix(node: NodeID, log: RaftLog) {
        var i = max(log.compactedIndex + 1, 1)
        while i <= log.committed {
            if let want = applied[i], log.term(at: i) != want.term {
                fail("committed entry lost: node \(node) has term \(log.term(at: i) ?? 0) at committed index \(i), term \(want.term) was applied")
                return
            }
            i += 1
        }
    }
}

/// FNV-1a, for trace and payload hashes (stable across runs and machines).
@inline(__always)
public func fnv1a<C: Sequence>(_ bytes: C, seed: UInt64 = 0) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
    for b in bytes {
        h ^= UInt64(b)
        h &*= 0x0000_0100_0000_01B3
    }
    return h
}

@inline(__always)
func mix(_ h: inout UInt64, _ v: UInt64) {
    h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
    h &*= 0x0000_0100_0000_01B3
}
