import Raft
@testable import Storage
import XCTest

/// Cuts the newest segment at many offsets, as a crash mid-write would, and checks recovery
/// keeps everything before the cut record and invents nothing.
final class CrashPointTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("crashpoint") }
    override func tearDown() { dir.cleanup() }

    let options = tinyOptions(segmentSize: 2048)
    let count: LogIndex = 60

    /// Writes entries 1...count (the last one large), each synced; returns the newest segment's
    /// name, bytes, and the offset where each of its records starts.
    func buildLog() throws -> (name: String, bytes: [UInt8], recordStarts: [Int]) {
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        _ = try w.load()
        for i in LogIndex(1)..<count {
            try w.append(entries(i...i, term: 1), hardState: nil)
            try w.sync()
        }
        try w.append(entries(count...count, term: 1, size: 300), hardState: nil)
        try w.sync()
        try w.close()
        let name = segmentNames(dir).last!
        XCTAssertGreaterThan(segmentNames(dir).count, 1, "the test needs older segments too")
        let bytes = dir.read(name)
        let scan = try SegmentScanner.scan(bytes, path: name, maxRecordSize: options.maxRecordSize)
        XCTAssertNil(scan.damage)
        return (name, bytes, scan.records.map(\.offset))
    }

    /// Entries the cut keeps: every entry whose record ends at or before `cut`.
    func expectedLastIndex(cut: Int, bytes: [UInt8], name: String) throws -> LogIndex {
        let scan = try SegmentScanner.scan(bytes, path: name, maxRecordSize: options.maxRecordSize)
        var last = scan.header.firstIndex - 1
        for (k, r) in scan.records.enumerated() {
            let end = k + 1 < scan.records.count ? scan.records[k + 1].offset : bytes.count
            if end <= cut, case let .entry(e) = r.record { last = e.index }
        }
        return last
    }

    func recover(cut: Int, name: String, bytes: [UInt8]) throws -> (WALStorage, PersistentState) {
        dir.write(name, Array(bytes[..<cut]))
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        return (w, try w.load())
    }

    func testCutAtEveryByteOfTheLastRecordKeepsEverythingBefore() throws {
        let (name, bytes, starts) = try buildLog()
        let lastStart = starts.last!
        for cut in lastStart..<bytes.count {
            let (w, s) = try recover(cut: cut, name: name, bytes: bytes)
            XCTAssertEqual(s.entries, entries(1...count - 1, term: 1), "cut at \(cut)")
            if cut == lastStart {
                XCTAssertTrue(w.warnings.isEmpty, "a cut on a record boundary is a clean end")
            } else {
                XCTAssertEqual(w.warnings.count, 1, "cut at \(cut)")
                XCTAssertEqual(w.warnings.first?.offset, Int64(lastStart))
                XCTAssertEqual(w.warnings.first?.path, dir.file(name))
            }
            XCTAssertEqual(dir.read(name).count, lastStart, "torn tail truncated on disk")
        }
        // The repaired log accepts the lost entry again and keeps it.
        let (w, _) = try recover(cut: lastStart + 5, name: name, bytes: bytes)
        try w.append(entries(count...count, term: 1), hardState: nil)
        try w.sync()
        let w2 = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        XCTAssertEqual(try w2.load().entries, entries(1...count, term: 1))
        XCTAssertTrue(w2.warnings.isEmpty)
    }

    func testCutAtRandomOffsetsKeepsExactlyTheCompleteRecords() throws {
        let (name, bytes, _) = try buildLog()
        var rng = SeededRandom(seed: 42)
        for _ in 0..<60 {
            let cut = SegmentHeader.size + Int(rng.below(UInt64(bytes.count - SegmentHeader.size)))
            let expected = try expectedLastIndex(cut: cut, bytes: bytes, name: name)
            let (_, s) = try recover(cut: cut, name: name, bytes: bytes)
            XCTAssertEqual(s.entries, expected == 0 ? [] : entries(1...expected, term: 1), "cut at \(cut)")
        }
    }

    func testCutInsideTheSegmentHeaderIsRefused() throws {
        let (name, bytes, _) = try buildLog()
        for cut in [0, 1, 13, SegmentHeader.size - 1] {
            dir.write(name, Array(bytes[..<cut]))
            let w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
            let e = assertStorageError({ () throws(StorageError) in try w.load() }, isCorrupt)
            if case let .corrupt(path, _, reason)? = e {
                XCTAssertEqual(path, dir.file(name))
                XCTAssertTrue(reason.contains("header"), reason)
            }
        }
    }

    func testGarbageAfterTheLastRecordIsCutOff() throws {
        let (name, bytes, _) = try buildLog()
        var rng = SeededRandom(seed: 7)
        let junk = (0..<100).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        dir.write(name, bytes + [UInt8](repeating: 0, count: 50))
        var w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        XCTAssertEqual(try w.load().entries.count, Int(count))
        XCTAssertEqual(w.warnings.first?.offset, Int64(bytes.count))
        dir.write(name, bytes + junk)
        w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        XCTAssertEqual(try w.load().entries.count, Int(count))
        XCTAssertEqual(w.warnings.count, 1)
    }
}
