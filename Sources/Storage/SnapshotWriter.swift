import Dispatch
import Foundation
import Raft
import Synchronization

/// Makes local snapshots durable on ONE dedicated background thread, started when the writer
/// is created (at start-up), so a large state never stalls the caller's thread (a leader that
/// stalls past the election timeout is deposed) and no thread or runtime machinery has to be
/// created later, when descriptors or memory may have run out.
///
/// Jobs run one at a time in submission order. The result goes to the job's `done` closure
/// on the writer thread; the caller hops back to its own thread from there.
public final class SnapshotWriter: Sendable {
    /// One snapshot to encode and write: `encode` produces the state bytes (it runs on the
    /// writer thread and must only touch its own copy of the state).
    public struct Job: Sendable {
        public var metadata: SnapshotMetadata
        public var encode: @Sendable () -> [UInt8]
        /// The outcome and how long encoding and writing took.
        public var done: @Sendable (Result<Snapshot, StorageError>, _ milliseconds: Int) -> Void

        public init(metadata: SnapshotMetadata, encode: @escaping @Sendable () -> [UInt8],
                    done: @escaping @Sendable (Result<Snapshot, StorageError>, Int) -> Void) {
            self.metadata = metadata
            self.encode = encode
            self.done = done
        }
    }

    private struct Queue {
        var jobs: [Job] = []
        var stopping = false
    }

    private let save: @Sendable (Snapshot) throws(StorageError) -> Void
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// Starts the thread. `store` must use a file system safe to use from another thread
    /// (`PosixFileSystem` is stateless).
    public convenience init(store: SnapshotStore, threadName: String = "snapshot-writer") {
        let box = UncheckedStore(store: store)
        self.init(threadName: threadName) { (s: Snapshot) throws(StorageError) in try box.store.save(s) }
    }

    /// Starts the thread; `save` makes one snapshot durable.
    public init(threadName: String, save: @escaping @Sendable (Snapshot) throws(StorageError) -> Void) {
        self.save = save
        let thread = Thread { [self] in run() }
        thread.name = threadName
        thread.start()
    }

    /// Queues a job. After `shutdown` it is dropped (its `done` never runs).
    public func submit(_ job: Job) {
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopping else { return false }
            q.jobs.append(job)
            return true
        }
        if accepted { wake.signal() }
    }

    /// Finishes the job in progress, drops queued ones, and joins the thread. Idempotent.
    public func shutdown() {
        let first = queue.withLock { q -> Bool in
            defer { q.stopping = true }
            q.jobs.removeAll()
            return !q.stopping
        }
        guard first else { return }
        wake.signal()
        exited.wait()
    }

    private func run() {
        while true {
            wake.wait()
            let next = queue.withLock { q -> Job?? in
                if q.stopping { return .none }
                return q.jobs.isEmpty ? .some(nil) : q.jobs.removeFirst()
            }
            guard let job = next else { break }
            guard let job else { continue }
            let started = DispatchTime.now().uptimeNanoseconds
            let snapshot = Snapshot(metadata: job.metadata, data: job.encode())
            let result: Result<Snapshot, StorageError>
            do {
                try save(snapshot)
                result = .success(snapshot)
            } catch {
                result = .failure(error)
            }
            job.done(result, Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000))
        }
        exited.signal()
    }
}

/// A `SnapshotStore` handed to the writer thread. Sound because the store is immutable and
/// its file system is stateless (each call opens and closes its own descriptors).
private struct UncheckedStore: @unchecked Sendable {
    let store: SnapshotStore
}
