import Logging
import Raft
import Storage
import Transport

/// Wraps the durable storage to make disk latency and snapshots visible in the log without
/// touching the replica: a slow fsync stalls every reply of its group commit, so it is the
/// first thing an operator needs to see. Used only on the server's loop thread.
final class InstrumentedStorage: RaftStorage {
    private let inner: RaftStorage
    private let slowMilliseconds: Int
    let log: ServerLog
    private(set) var syncs: UInt64 = 0
    private(set) var slowSyncs: UInt64 = 0

    init(_ inner: RaftStorage, slowMilliseconds: Int, log: ServerLog) {
        self.inner = inner
        self.log = log
        self.slowMilliseconds = slowMilliseconds
    }

    func load() throws(StorageError) -> PersistentState { try inner.load() }

    func append(_ entries: [Entry], hardState: HardState?) throws(StorageError) {
        try inner.append(entries, hardState: hardState)
    }

    func sync() throws(StorageError) {
        let start = MonotonicClock.nanoseconds()
        try inner.sync()
        syncs += 1
        let ms = Int((MonotonicClock.nanoseconds() - start) / 1_000_000)
        if ms > slowMilliseconds {
            slowSyncs += 1
            log.warn("slow fsync", ["duration_ms": ms, "threshold_ms": slowMilliseconds])
        }
    }

    func saveSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        let start = MonotonicClock.nanoseconds()
        try inner.saveSnapshot(snapshot)
        let ms = Int((MonotonicClock.nanoseconds() - start) / 1_000_000)
        log.info("saved snapshot", ["index": snapshot.metadata.index, "snapshot_term": snapshot.metadata.term,
                                       "bytes": snapshot.data.count, "duration_ms": ms])
    }

    func snapshotWritten(_ snapshot: Snapshot) throws(StorageError) {
        let start = MonotonicClock.nanoseconds()
        try inner.snapshotWritten(snapshot)
        let ms = Int((MonotonicClock.nanoseconds() - start) / 1_000_000)
        log.info("recorded snapshot written in the background", ["index": snapshot.metadata.index, "snapshot_term": snapshot.metadata.term,
                                                                  "bytes": snapshot.data.count, "duration_ms": ms])
    }
}
