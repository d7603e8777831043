import Posix
import Raft

/// Where a storage operation failed. Carries enough context to name the file and offset.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// Stored bytes failed validation (CRC, framing, gap in indexes, bad header).
    case corrupt(path: String, offset: Int64, reason: String)
    /// The data directory belongs to another cluster or node, or has an unknown format.
    case mismatch(path: String, reason: String)
    /// A caller broke the contract (e.g. appended a non-contiguous entry).
    case invalidArgument(String)
    /// The (simulated) disk has crashed; nothing more can be written until restart.
    case crashed

    public var description: String {
        switch self {
        case let .io(op, path, e): return "\(op) \(path): \(errnoDescription(e))"
        case let .corrupt(path, off, reason): return "corrupt data in \(path) at offset \(off): \(reason)"
        case let .mismatch(path, reason): return "\(path): \(reason)"
        case let .invalidArgument(s): return "invalid storage call: \(s)"
        case .crashed: return "disk crashed"
        }
    }
}

/// The durable half of a replica: what Raft must keep across crashes (§5.1, Figure 2).
/// Implemented by the real write-ahead log and by the simulator's disk, so the core and
/// the state machine cannot tell them apart.
///
/// Contract:
/// 1. `load` returns exactly what was durable (synced) before the last crash, possibly plus
///    some unsynced writes that happened to survive; never anything invented or reordered.
/// 2. `append` buffers; nothing is promised durable until `sync` returns.
/// 3. An appended entry whose index is <= the last stored index replaces that entry and
///    every entry after it (the core only does this for uncommitted entries).
/// 4. `saveSnapshot` is durable when it returns. It discards every entry at or below the
///    snapshot's index; when the log's entry at that index has another term (or is missing),
///    it discards the whole log.
/// 5. `snapshotWritten` is `saveSnapshot` for a snapshot whose file was already made durable
///    elsewhere (by a `SnapshotStore` on a background thread, so that encoding and writing a
///    large state does not stall the replica): it records it and discards what it covers.
public protocol RaftStorage: AnyObject {
    func load() throws(StorageError) -> PersistentState
    func append(_ entries: [Entry], hardState: HardState?) throws(StorageError)
    func sync() throws(StorageError)
    func saveSnapshot(_ snapshot: Snapshot) throws(StorageError)
    func snapshotWritten(_ snapshot: Snapshot) throws(StorageError)
}
