import Raft
import Storage

/// A simulated disk for one node at the level of storage operations. Appends are volatile
/// until `sync`; a crash keeps what was synced plus, at random, a prefix of the unsynced
/// operations — the last of which may be torn (only some of its entries survive).
public final class SimStorage: RaftStorage {
    private var durable = PersistentState()
    /// Appends since the last sync, in order.
    private var unsynced: [(entries: [Entry], hardState: HardState?)] = []
    public private(set) var crashed = false
    public private(set) var syncs = 0

    public init() {}

    public func load() throws(StorageError) -> PersistentState {
        precondition(unsynced.isEmpty, "load only after a crash or at start")
        crashed = false
        return durable
    }

    public func append(_ entries: [Entry], hardState: HardState?) throws(StorageError) {
        if crashed { throw .crashed }
        unsynced.append((entries, hardState))
    }

    public func sync() throws(StorageError) {
        if crashed { throw .crashed }
        for op in unsynced { Self.apply(op.entries, op.hardState, to: &durable) }
        unsynced.removeAll()
        syncs += 1
    }

    public func saveSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        if crashed { throw .crashed }
        try sync()
        let meta = snapshot.metadata
        let keepSuffix = durable.entries.first(where: { $0.index == meta.index })?.term == meta.term
        durable.entries = keepSuffix ? durable.entries.filter { $0.index > meta.index } : []
        durable.snapshot = snapshot
        durable.hardState.commit = max(durable.hardState.commit, meta.index)
    }

    /// The records model has no files: recording a snapshot is saving it.
    public func snapshotWritten(_ snapshot: Snapshot) throws(StorageError) {
        try saveSnapshot(snapshot)
    }

    /// Power loss: unsynced operations survive only as a random prefix, the last one torn.
    public func crash(using rng: inout SeededRandom) {
        let keep = Int(rng.below(UInt64(unsynced.count + 1)))
        for (i, op) in unsynced.prefix(keep).enumerated() {
            if i == keep - 1 && !op.entries.isEmpty && rng.chance(0.5) {
                // Torn: a prefix of the entries reached the platter, the hard state did not.
                let n = Int(rng.below(UInt64(op.entries.count)))
                Self.apply(Array(op.entries.prefix(n)), nil, to: &durable)
            } else {
                Self.apply(op.entries, op.hardState, to: &durable)
            }
        }
        unsynced.removeAll()
        crashed = true
    }

    /// Durable contents (for invariant checks).
    public var durableState: PersistentState { durable }

    private static func apply(_ entries: [Entry], _ hs: HardState?, to state: inout PersistentState) {
        if let first = entries.first {
            let base = state.snapshot?.metadata.index ?? 0
            if first.index <= base {
                // Entries covered by the snapshot are never rewritten by a correct core.
                let tail = entries.filter { $0.index > base }
                if !tail.isEmpty { apply(tail, nil, to: &state) }
            } else {
                let keep = Int(first.index - base - 1)
                precondition(keep <= state.entries.count, "append leaves a gap in the log")
                state.entries.removeSubrange(keep...)
                state.entries.append(contentsOf: entries)
            }
        }
        if let hs { state.hardState = hs }
    }
}
