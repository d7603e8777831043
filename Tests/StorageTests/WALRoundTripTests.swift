import Raft
@testable import Storage
import XCTest

final class WALRoundTripTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("roundtrip") }
    override func tearDown() { dir.cleanup() }

    func open(_ options: WALOptions = tinyOptions()) throws -> WALStorage {
        try WALStorage(directory: dir.path, identity: testIdentity, options: options)
    }

    func reopen(_ options: WALOptions = tinyOptions()) throws -> (WALStorage, PersistentState) {
        let w = try open(options)
        let s = try w.load()
        return (w, s)
    }

    func testFreshDirectoryLoadsEmptyState() throws {
        let (_, s) = try reopen()
        XCTAssertEqual(s, PersistentState())
        XCTAssertTrue(dir.names().contains("meta"))
        XCTAssertEqual(segmentNames(dir).count, 1)
    }

    func testEntriesAndHardStateSurviveRestart() throws {
        let (w, _) = try reopen(WALOptions())
        let hs = HardState(term: 3, vote: 2, commit: 40)
        try w.append(entries(1...50, term: 3), hardState: hs)
        try w.sync()
        try w.close()
        let (_, s) = try reopen(WALOptions())
        XCTAssertEqual(s.hardState, hs)
        XCTAssertEqual(s.entries, entries(1...50, term: 3))
        XCTAssertNil(s.snapshot)
    }

    func testLatestHardStateWins() throws {
        let (w, _) = try reopen()
        try w.append([], hardState: HardState(term: 1, vote: 1, commit: 0))
        try w.append(entries(1...3, term: 2), hardState: HardState(term: 2, vote: 3, commit: 2))
        try w.sync()
        let (_, s) = try reopen()
        XCTAssertEqual(s.hardState, HardState(term: 2, vote: 3, commit: 2))
    }

    func testOverwritingASuffixSurvivesRestart() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...20, term: 1), hardState: nil)
        try w.sync()
        try w.append(entries(15...17, term: 2), hardState: nil)
        try w.sync()
        XCTAssertEqual(w.lastIndex, 17)
        let (w2, s) = try reopen()
        XCTAssertEqual(s.entries, entries(1...14, term: 1) + entries(15...17, term: 2))
        // And the log continues from the overwritten end.
        try w2.append(entries(18...18, term: 2), hardState: nil)
        try w2.sync()
        let (_, s2) = try reopen()
        XCTAssertEqual(s2.entries.last, entries(18...18, term: 2)[0])
        XCTAssertEqual(s2.entries.count, 18)
    }

    func testOverwriteReachingIntoAnOlderSegmentSurvivesRestart() throws {
        let (w, _) = try reopen(tinyOptions(segmentSize: 300))
        for i in LogIndex(1)...60 { try w.append(entries(i...i, term: 1), hardState: nil) }
        try w.sync()
        XCTAssertGreaterThan(segmentNames(dir).count, 3)
        try w.append(entries(5...7, term: 4), hardState: HardState(term: 4, vote: 1, commit: 4))
        try w.sync()
        let (_, s) = try reopen(tinyOptions(segmentSize: 300))
        XCTAssertEqual(s.entries, entries(1...4, term: 1) + entries(5...7, term: 4))
        XCTAssertEqual(s.hardState, HardState(term: 4, vote: 1, commit: 4))
    }

    func testSegmentRolloverKeepsEveryEntryAcrossRestart() throws {
        let (w, _) = try reopen(tinyOptions(segmentSize: 400))
        try w.append(entries(1...300, term: 1), hardState: HardState(term: 1, vote: 1, commit: 250))
        try w.sync()
        let segs = segmentNames(dir)
        XCTAssertGreaterThan(segs.count, 10)
        XCTAssertEqual(segs, segs.sorted())
        let (_, s) = try reopen(tinyOptions(segmentSize: 400))
        XCTAssertEqual(s.entries, entries(1...300, term: 1))
        XCTAssertEqual(s.hardState.commit, 250)
    }

    func testSnapshotDiscardsCoveredEntriesAndDeletesOldSegments() throws {
        let (w, _) = try reopen(tinyOptions(segmentSize: 400))
        try w.append(entries(1...200, term: 2), hardState: HardState(term: 2, vote: 1, commit: 200))
        try w.sync()
        let before = segmentNames(dir).count
        let snap = Snapshot(metadata: SnapshotMetadata(index: 150, term: 2, config: config()), data: [1, 2, 3])
        try w.saveSnapshot(snap)
        XCTAssertLessThan(segmentNames(dir).count, before)
        XCTAssertEqual(w.snapshotIndex, 150)
        let (w2, s) = try reopen(tinyOptions(segmentSize: 400))
        XCTAssertEqual(s.snapshot, snap)
        XCTAssertEqual(s.entries, entries(151...200, term: 2))
        XCTAssertEqual(s.hardState, HardState(term: 2, vote: 1, commit: 200))
        XCTAssertTrue(w2.warnings.isEmpty, "\(w2.warnings)")
    }

    func testRetainedTailKeepsSegmentsBelowTheSnapshot() throws {
        let (w, _) = try reopen(tinyOptions(segmentSize: 400, retainedTail: 1000))
        try w.append(entries(1...200, term: 2), hardState: nil)
        let before = segmentNames(dir)
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 150, term: 2, config: config()), data: []))
        XCTAssertEqual(segmentNames(dir).count, before.count, "all segments are within the retained tail")
    }

    func testSnapshotWithAnotherTermDiscardsTheWholeLog() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...10, term: 1), hardState: nil)
        try w.sync()
        let snap = Snapshot(metadata: SnapshotMetadata(index: 8, term: 3, config: config()), data: [9])
        try w.saveSnapshot(snap)
        XCTAssertEqual(w.lastIndex, 8)
        let (w2, s) = try reopen()
        XCTAssertEqual(s.snapshot, snap)
        XCTAssertEqual(s.entries, [])
        try w2.append(entries(9...9, term: 3), hardState: nil)
        try w2.sync()
        let (_, s2) = try reopen()
        XCTAssertEqual(s2.entries, entries(9...9, term: 3))
    }

    func testSnapshotBeyondTheLogDiscardsTheLog() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...10, term: 1), hardState: nil)
        let snap = Snapshot(metadata: SnapshotMetadata(index: 100, term: 2, config: config()), data: [])
        try w.saveSnapshot(snap)
        let (_, s) = try reopen()
        XCTAssertEqual(s.snapshot, snap)
        XCTAssertEqual(s.entries, [])
    }

    func testOnlyTheNewestThreeSnapshotsAreKept() throws {
        let (w, _) = try reopen()
        try w.append(entries(1...50, term: 1), hardState: nil)
        for i in stride(from: LogIndex(10), through: 50, by: 10) {
            try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: i, term: 1, config: config()), data: [UInt8(i)]))
        }
        let snaps = dir.names().filter { $0.hasPrefix("snap-") }
        XCTAssertEqual(snaps, [30, 40, 50].map { SnapshotFileName(index: $0, term: 1).fileName })
        let (_, s) = try reopen()
        XCTAssertEqual(s.snapshot?.metadata.index, 50)
        XCTAssertEqual(s.snapshot?.data, [50])
    }

    func testManySnapshotsAndSegmentsSurviveManyRestarts() throws {
        var expectedSnapshot: Snapshot?
        var next: LogIndex = 1
        for round in 0..<6 {
            let (w, s) = try reopen(tinyOptions(segmentSize: 500))
            XCTAssertEqual(s.snapshot, expectedSnapshot)
            XCTAssertEqual(s.entries.last?.index ?? s.snapshot?.metadata.index ?? 0, next - 1)
            for e in s.entries { XCTAssertEqual(e.data, payload(e.index)) }
            try w.append(entries(next...next + 39, term: 1), hardState: HardState(term: 1, vote: 1, commit: next))
            next += 40
            if round % 2 == 1 {
                let snap = Snapshot(metadata: SnapshotMetadata(index: next - 5, term: 1, config: config()), data: [UInt8(round)])
                try w.saveSnapshot(snap)
                expectedSnapshot = snap
            } else {
                try w.sync()
            }
            try w.close()
        }
    }

    func testLeftoverTempFileIsRemovedWithAWarning() throws {
        _ = try reopen()
        dir.write("wal-0000000000000002-0000000000000001.log.tmp", [1, 2, 3])
        let (w, _) = try reopen()
        XCTAssertFalse(dir.names().contains { $0.hasSuffix(".tmp") })
        XCTAssertEqual(w.warnings.count, 1)
        XCTAssertTrue(w.warnings[0].path.hasSuffix(".tmp"))
    }

    func testContractViolationsAreRejectedBeforeWriting() throws {
        let w = try open()
        assertStorageError({ () throws(StorageError) in try w.append(entries(1...1, term: 1), hardState: nil) }) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        _ = try w.load()
        try w.append(entries(1...5, term: 2), hardState: HardState(term: 2))
        let isInvalid: (StorageError) -> Bool = { if case .invalidArgument = $0 { return true } else { return false } }
        assertStorageError({ () throws(StorageError) in try w.append(entries(7...7, term: 2), hardState: nil) }, isInvalid)
        assertStorageError({ () throws(StorageError) in
            try w.append([Entry(term: 2, index: 6), Entry(term: 2, index: 8)], hardState: nil)
        }, isInvalid)
        assertStorageError({ () throws(StorageError) in try w.append(entries(6...6, term: 1), hardState: nil) }, isInvalid)
        assertStorageError({ () throws(StorageError) in try w.append([], hardState: HardState(term: 1)) }, isInvalid)
        assertStorageError({ () throws(StorageError) in
            try w.append([Entry(term: 2, index: 6, data: [UInt8](repeating: 0, count: 64 << 10))], hardState: nil)
        }, isInvalid)
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 3, term: 2, config: config()), data: []))
        assertStorageError({ () throws(StorageError) in try w.append(entries(3...3, term: 2), hardState: nil) }, isInvalid)
        assertStorageError({ () throws(StorageError) in
            try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 2, term: 2, config: config()), data: []))
        }, isInvalid)
        // Nothing rejected reached the disk.
        try w.sync()
        let (_, s) = try reopen()
        XCTAssertEqual(s.entries, entries(4...5, term: 2))
    }
}
