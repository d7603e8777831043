import Raft
import Storage
import XCTest

/// Local snapshots are written by a `SnapshotStore` off the replica's thread and recorded later
/// with `snapshotWritten` (contract rule 5).
final class BackgroundSnapshotTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("bgsnap") }
    override func tearDown() { dir.cleanup() }

    private func reopen() throws -> (WALStorage, PersistentState) {
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: tinyOptions())
        return (w, try w.load())
    }

    func testWrittenThenRecordedSnapshotCompactsAndSurvivesRestart() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...60, term: 2), hardState: HardState(term: 2, vote: 1, commit: 60))
        try w.sync()
        let snap = Snapshot(metadata: SnapshotMetadata(index: 40, term: 2, config: config()), data: [1, 2, 3])
        try w.snapshotStore(fileSystem: PosixFileSystem()).save(snap)
        try w.snapshotWritten(snap)
        XCTAssertEqual(w.snapshotIndex, 40)
        try w.close()
        let (_, s) = try reopen()
        XCTAssertEqual(s.snapshot, snap)
        XCTAssertEqual(s.entries, entries(41...60, term: 2))
    }

    func testRecordingASnapshotWhoseFileWasNeverWrittenIsRefused() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...10, term: 1), hardState: HardState(term: 1, vote: 1, commit: 10))
        try w.sync()
        let snap = Snapshot(metadata: SnapshotMetadata(index: 5, term: 1, config: config()), data: [9])
        do {
            try w.snapshotWritten(snap)
            XCTFail("recording a snapshot with no file must fail")
        } catch {
            guard case .invalidArgument = error else { return XCTFail("unexpected error \(error)") }
        }
        XCTAssertEqual(w.snapshotIndex, 0, "nothing was recorded")
    }

    func testCrashBetweenWritingAndRecordingKeepsAConsistentState() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...30, term: 3), hardState: HardState(term: 3, vote: 1, commit: 30))
        try w.sync()
        let snap = Snapshot(metadata: SnapshotMetadata(index: 20, term: 3, config: config()), data: [7, 7])
        try w.snapshotStore(fileSystem: PosixFileSystem()).save(snap)
        // The process dies before snapshotWritten: the file exists, no marker does.
        try w.close()
        let (_, s) = try reopen()
        // Either the snapshot plus the entries after it, or the whole log: never a gap.
        if let loaded = s.snapshot {
            XCTAssertEqual(loaded, snap)
            XCTAssertEqual(s.entries, entries(21...30, term: 3))
        } else {
            XCTAssertEqual(s.entries, entries(1...30, term: 3))
        }
    }
}
