import Dispatch
import Glibc
import Raft
import Storage
import Synchronization
import XCTest

/// The background writer runs jobs on its own thread, in order, and stops cleanly.
final class SnapshotWriterTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("snapwriter") }
    override func tearDown() { dir.cleanup() }

    func testJobsRunInOrderOffTheCallersThreadAndFilesAreDurable() throws {
        let store = SnapshotStore(fileSystem: PosixFileSystem(), directory: dir.path, retention: 5)
        let writer = SnapshotWriter(store: store)
        let results = Mutex<[LogIndex]>([])
        let done = DispatchSemaphore(value: 0)
        let caller = pthread_self()
        let others = Mutex(0)
        for index: LogIndex in 1...3 {
            writer.submit(.init(metadata: SnapshotMetadata(index: index, term: 1, config: config()),
                                encode: { [UInt8](repeating: UInt8(index), count: 10) }) { result, _ in
                if pthread_equal(pthread_self(), caller) == 0 { others.withLock { $0 += 1 } }
                results.withLock { $0.append((try? result.get().metadata.index) ?? 0) }
                done.signal()
            })
        }
        for _ in 1...3 { XCTAssertEqual(done.wait(timeout: .now() + 10), .success) }
        XCTAssertEqual(results.withLock { $0 }, [1, 2, 3])
        XCTAssertEqual(others.withLock { $0 }, 3, "every job ran on the writer thread")
        XCTAssertEqual(try store.list().map(\.index), [3, 2, 1])
        XCTAssertEqual(try store.read(path: store.list()[0].path).data, [UInt8](repeating: 3, count: 10))
        writer.shutdown()
        writer.shutdown()  // idempotent
        let ranAfterShutdown = Mutex(false)
        writer.submit(.init(metadata: SnapshotMetadata(index: 9, term: 1, config: config()), encode: { [] }) { _, _ in
            ranAfterShutdown.withLock { $0 = true }
        })
        XCTAssertFalse(ranAfterShutdown.withLock { $0 })
        XCTAssertEqual(try store.list().count, 3, "nothing written after shutdown")
    }

    func testAFailedWriteIsReportedNotThrownAway() {
        let store = SnapshotStore(fileSystem: PosixFileSystem(), directory: dir.file("missing-dir"))
        let writer = SnapshotWriter(store: store)
        defer { writer.shutdown() }
        let outcome = Mutex<Result<Snapshot, StorageError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        writer.submit(.init(metadata: SnapshotMetadata(index: 4, term: 2, config: config()), encode: { [1] }) { r, _ in
            outcome.withLock { $0 = r }
            done.signal()
        })
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        guard case .failure(.io)? = outcome.withLock({ $0 }) else { return XCTFail("expected an I/O failure, got \(String(describing: outcome.withLock { $0 }))") }
    }
}
