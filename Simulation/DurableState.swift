import Raft

/// What one simulated node has made durable, tracked from the Ready phases it ran: a snapshot
/// counts once `write` returned (`saveSnapshot` is durable on return), entries and hard state
/// once `sync` returned. The simulator checks every outgoing promise against it (rule 4:
/// persist before you promise). Rebuilt from `load()` on every restart.
struct DurableState: CustomStringConvertible {
    var hardState: HardState
    var snapshotIndex: LogIndex
    var snapshotTerm: Term
    /// Terms of the durable entries after the snapshot. Invariant: `terms[k]` is the term at
    /// index `snapshotIndex + 1 + k`.
    private var terms: [Term]

    /// What a node just opened from its disk holds (its in-memory state equals what `load` returned).
    init(openedNode n: RaftNode) {
        hardState = n.hardState
        snapshotIndex = n.log.compactedIndex
        snapshotTerm = n.log.term(at: n.log.compactedIndex) ?? 0
        terms = n.log.entries.map(\.term)
    }

    var lastIndex: LogIndex { snapshotIndex + LogIndex(terms.count) }

    func term(at i: LogIndex) -> Term? {
        if i == snapshotIndex { return snapshotTerm }
        guard i > snapshotIndex, i <= lastIndex else { return nil }
        return terms[Int(i - snapshotIndex - 1)]
    }

    /// Storage contract rule 4. Returns whether durable entries after the snapshot
    /// conflicted with it (the whole suffix was discarded).
    @discardableResult
    mutating func recordSnapshot(_ meta: SnapshotMetadata) -> Bool {
        guard meta.index > snapshotIndex else { return false }
        let matching = term(at: meta.index) == meta.term
        let conflicting = !matching && lastIndex > meta.index
        terms = matching ? Array(terms[Int(meta.index - snapshotIndex)...]) : []
        snapshotIndex = meta.index
        snapshotTerm = meta.term
        return conflicting
    }

    /// Entries and hard state of a synced Ready (storage contract rule 3). Returns how many
    /// durable entries the append replaced with other terms (a truncation).
    @discardableResult
    mutating func recordSync(_ entries: [Entry], _ hs: HardState?) -> Int {
        var replaced = 0
        let new = entries.drop { $0.index <= snapshotIndex }
        if let first = new.first {
            if first.index <= lastIndex {
                let keep = Int(first.index - snapshotIndex - 1)
                for k in keep..<terms.count {
                    let n = k - keep + new.startIndex
                    if n >= new.endIndex || terms[k] != new[n].term { replaced += 1 }
                }
                terms.removeLast(terms.count - keep)
            }
            precondition(first.index == lastIndex + 1, "the simulated node appended a gap after index \(lastIndex)")
            for e in new { terms.append(e.term) }
        }
        if let hs { hardState = hs }
        return replaced
    }

    var description: String {
        "durable term \(hardState.term), vote \(hardState.vote), commit \(hardState.commit), snapshot \(snapshotIndex)@\(snapshotTerm), entries through \(lastIndex) (last term \(term(at: lastIndex) ?? 0))"
    }
}

/// Rule 4 at the send path (Raft §5.1 and Figure 2: persistent state is updated on stable
/// storage before responding to RPCs): `m`, sent by a node whose durable state is `d` and whose
/// in-memory log has term `memTerm(i)` at index i, must not promise anything not durable.
/// Returns why it breaks the rule, or nil.
func brokenPromise(_ m: Message, durable d: DurableState, memTerm: (LogIndex) -> Term?) -> String? {
    if m.term > d.hardState.term {
        return "sent a message of term \(m.term) while its durable term is \(d.hardState.term)"
    }
    // One Ready may answer several messages: a reply made in an earlier term than the
    // durable one is superseded by a later, durable state the node reached legally (it can
    // never again vote or accept entries in that term), so only same-term replies are checked.
    guard m.term == d.hardState.term else { return nil }
    switch m.kind {
    case .requestVoteResponse(granted: true):
        if d.hardState.vote != m.to {
            return "granted its vote to n\(m.to) in term \(m.term) before votedFor was durable"
        }
    case let .appendEntriesResponse(success: true, index, _, _):
        guard index > d.snapshotIndex else { return nil }
        guard let t = d.term(at: index) else {
            return "acknowledged entries through \(index) before they were durable"
        }
        if let mt = memTerm(index), mt != t {
            return "acknowledged index \(index) (term \(mt) in memory) while the durable entry there has term \(t)"
        }
    case let .installSnapshotResponse(index, _, done: true):
        if index > max(d.snapshotIndex, d.lastIndex) {
            return "reported the snapshot at \(index) installed before it was durable"
        }
    default:
        break
    }
    return nil
}
