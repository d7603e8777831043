import Raft
@testable import Storage
import XCTest

/// Damage that is not a torn tail must be refused with a typed error naming file and offset.
final class CorruptionTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("corrupt") }
    override func tearDown() { dir.cleanup() }

    let options = tinyOptions(segmentSize: 600)

    func build(count: LogIndex = 40) throws {
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        _ = try w.load()
        try w.append(entries(1...count, term: 1), hardState: HardState(term: 1, vote: 1, commit: count))
        try w.sync()
        try w.close()
    }

    func load() throws(StorageError) -> PersistentState {
        try WALStorage(directory: dir.path, identity: testIdentity, options: options).load()
    }

    func testFlippingAnyByteOfAnOlderSegmentIsRefused() throws {
        try build()
        let segs = segmentNames(dir)
        XCTAssertGreaterThanOrEqual(segs.count, 3)
        let name = segs[1]
        let original = dir.read(name)
        for at in 0..<original.count {
            var bad = original
            bad[at] ^= 0x5A
            dir.write(name, bad)
            let e = assertStorageError({ () throws(StorageError) in try load() }, isCorrupt)
            if case let .corrupt(path, offset, reason)? = e {
                XCTAssertEqual(path, dir.file(name), "flip at \(at)")
                XCTAssertLessThanOrEqual(offset, Int64(at), "flip at \(at)")
                XCTAssertTrue(reason.contains("Refusing to start"), reason)
            }
        }
        dir.write(name, original)
        XCTAssertEqual(try load().entries.count, 40)
    }

    func testDamagedRecordFollowedByValidOnesInTheNewestSegmentIsRefused() throws {
        try build()
        let name = segmentNames(dir).last!
        var bytes = dir.read(name)
        let scan = try SegmentScanner.scan(bytes, path: name, maxRecordSize: options.maxRecordSize)
        XCTAssertGreaterThanOrEqual(scan.records.count, 3)
        let victim = scan.records[1].offset
        bytes[victim + WALRecord.frameHeaderSize + 3] ^= 0xFF
        dir.write(name, bytes)
        let e = assertStorageError({ () throws(StorageError) in try load() }, isCorrupt)
        if case let .corrupt(path, offset, reason)? = e {
            XCTAssertEqual(path, dir.file(name))
            XCTAssertEqual(offset, Int64(victim))
            XCTAssertTrue(reason.contains("valid records follow"), reason)
        }
    }

    func testMissingMiddleSegmentIsRefused() throws {
        try build()
        let segs = segmentNames(dir)
        try FileManager.default.removeItem(atPath: dir.file(segs[segs.count / 2]))
        assertStorageError({ () throws(StorageError) in try load() }, isCorrupt)
    }

    func testSegmentWhoseHeaderDisagreesWithItsNameIsRefused() throws {
        try build()
        let segs = segmentNames(dir)
        let moved = SegmentHeader(sequence: 99, firstIndex: 1).fileName
        try FileManager.default.moveItem(atPath: dir.file(segs.last!), toPath: dir.file(moved))
        assertStorageError({ () throws(StorageError) in try load() }, isCorrupt)
    }

    func testCorruptNewestSnapshotFallsBackToAnOlderOneWhileTheLogCoversIt() throws {
        var o = options
        o.retainedTail = 1000
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: o)
        _ = try w.load()
        try w.append(entries(1...40, term: 1), hardState: nil)
        let old = Snapshot(metadata: SnapshotMetadata(index: 10, term: 1, config: config()), data: [10])
        try w.saveSnapshot(old)
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 30, term: 1, config: config()), data: [30]))
        try w.close()
        let newest = SnapshotFileName(index: 30, term: 1).fileName
        var bytes = dir.read(newest)
        bytes[bytes.count / 2] ^= 1
        dir.write(newest, bytes)
        let w2 = try WALStorage(directory: dir.path, identity: testIdentity, options: o)
        let s = try w2.load()
        XCTAssertEqual(s.snapshot, old)
        XCTAssertEqual(s.entries, entries(11...40, term: 1))
        XCTAssertTrue(w2.warnings.contains { $0.path == dir.file(newest) }, "\(w2.warnings)")
        // Moved aside, never counted again: retention keeps the valid snapshots, not the broken one.
        XCTAssertTrue(dir.names().contains(newest + ".broken"), "\(dir.names())")
        XCTAssertFalse(dir.names().contains(newest))
        XCTAssertEqual(try w2.snapshotStore(fileSystem: PosixFileSystem()).list().map(\.index), [10])
    }

    func testRetentionNeverCountsACorruptSnapshotNorDeletesAValidOneForIt() throws {
        var o = options
        o.retainedTail = 1000
        o.snapshotRetention = 2
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: o)
        _ = try w.load()
        try w.append(entries(1...60, term: 1), hardState: nil)
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 10, term: 1, config: config()), data: [10]))
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 20, term: 1, config: config()), data: [20]))
        try w.close()
        let bad = SnapshotFileName(index: 20, term: 1).fileName
        var bytes = dir.read(bad)
        bytes[bytes.count - 1] ^= 0xFF
        dir.write(bad, bytes)
        let w2 = try WALStorage(directory: dir.path, identity: testIdentity, options: o)
        XCTAssertEqual(try w2.load().snapshot?.metadata.index, 10)
        // A new snapshot: retention 2 must keep it and the valid one at 10 (the broken one is not a snapshot any more).
        try w2.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 30, term: 1, config: config()), data: [30]))
        XCTAssertEqual(try w2.snapshotStore(fileSystem: PosixFileSystem()).list().map(\.index), [30, 10])
        XCTAssertTrue(dir.names().contains(bad + ".broken"))
    }

    func testCorruptSnapshotThatTheLogNoLongerCoversIsRefused() throws {
        let w = try WALStorage(directory: dir.path, identity: testIdentity, options: options)  // retainedTail 0
        _ = try w.load()
        try w.append(entries(1...60, term: 1), hardState: nil)
        try w.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: 50, term: 1, config: config()), data: [1, 2, 3, 4]))
        try w.close()
        let name = SnapshotFileName(index: 50, term: 1).fileName
        let original = dir.read(name)
        // Every single-byte flip anywhere in the file: a typed refusal, never a crash.
        for at in 0..<original.count {
            var bad = original
            bad[at] ^= 0x80
            dir.write(name, bad)
            let e = assertStorageError({ () throws(StorageError) in try load() }, isCorrupt)
            if case let .corrupt(_, _, reason)? = e {
                XCTAssertTrue(reason.contains("no usable starting point"), "flip at \(at): \(reason)")
            }
        }
        dir.write(name, original)
        XCTAssertEqual(try load().snapshot?.metadata.index, 50)
    }

    func testDirectoryOfAnotherClusterOrNodeIsRefused() throws {
        try build()
        let isMismatch: (StorageError) -> Bool = { if case .mismatch = $0 { return true } else { return false } }
        assertStorageError({ () throws(StorageError) in
            try WALStorage(directory: dir.path, identity: DataDirIdentity(clusterToken: "other", nodeID: 1), options: options)
        }, isMismatch)
        assertStorageError({ () throws(StorageError) in
            try WALStorage(directory: dir.path, identity: DataDirIdentity(clusterToken: testIdentity.clusterToken, nodeID: 2), options: options)
        }, isMismatch)
        // A damaged meta file is called damaged, with the way to recover; a foreign file is
        // "not a RaftKV data directory".
        let original = dir.read("meta")
        var meta = original
        meta[9] ^= 1
        dir.write("meta", meta)
        let damaged = assertStorageError({ () throws(StorageError) in
            try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        }, isCorrupt)
        XCTAssertTrue("\(damaged.map { "\($0)" } ?? "")".contains("meta file is damaged (checksum mismatch)"), "\(String(describing: damaged))")
        XCTAssertTrue("\(damaged.map { "\($0)" } ?? "")".contains("lost its disk"), "says how to recover")
        dir.write("meta", Array("name=n1\ncluster=x\n".utf8) + [UInt8](repeating: 0, count: 20))
        let foreign = assertStorageError({ () throws(StorageError) in
            try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        }, isMismatch)
        XCTAssertTrue("\(foreign.map { "\($0)" } ?? "")".contains("not a RaftKV meta file"), "\(String(describing: foreign))")
        dir.write("meta", original)
        try FileManager.default.removeItem(atPath: dir.file("meta"))
        assertStorageError({ () throws(StorageError) in
            try WALStorage(directory: dir.path, identity: testIdentity, options: options)
        }, isMismatch)
    }
}
